r"""Photometry of ZTF difference-image detections.

ZTF measures each detection on a difference image (science minus reference), so
``magpsf`` is the magnitude of the *change* in flux. Where the reference image
has a source at the position (``distnr`` small, ``magnr`` its magnitude), the
apparent ("DC") magnitude of the object at the time of the detection follows
from adding (``isdiffpos`` = 't'/'1') or subtracting ('f'/'0') the difference
flux to the reference flux:

.. math::

    f_\mathrm{ref} = 10^{-0.4\,\mathrm{magnr}}, \quad
    f_\mathrm{diff} = 10^{-0.4\,\mathrm{magpsf}}, \quad
    f_\mathrm{DC} = f_\mathrm{ref} \pm f_\mathrm{diff}

    m_\mathrm{DC} = -2.5 \log_{10} f_\mathrm{DC}, \quad
    \sigma_{m,\mathrm{DC}} = \frac{\sqrt{(f_\mathrm{diff}\,\sigma_\mathrm{magpsf})^2
        + (f_\mathrm{ref}\,\sigma_\mathrm{magnr})^2}}{f_\mathrm{DC}}

(the magnitude errors become flux errors through :math:`\sigma_f = f\,\sigma_m \ln 10 / 2.5`
and back, so the factors cancel; both magnitudes are on the same zero point).
The magnitude is undefined (NaN) when the reference has no source or when a
negative difference would leave no flux at all (:math:`f_\mathrm{DC} \le 0`).

As in Lasair-ZTF, it is computed whatever the distance ``distnr`` to the
reference source. It is the object's own brightness only when that source *is*
the object (``distnr`` ≤ :data:`DC_MAX_DISTNR`, a variable star or a nuclear
source); for a supernova a few arcseconds from its host's core it adds the
host's light. :func:`is_coincident` tells which case applies, and the object
summaries use DC magnitudes only when it holds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DC_MAX_DISTNR = 1.5
"""Largest distance (arcsec) at which the reference-image source is the object itself."""

POSITIVE_DIFFERENCE = frozenset({"t", "1"})
"""``isdiffpos`` values meaning science minus reference is positive (brighter now)."""

BANDS: dict[int, str] = {1: "g", 2: "r", 3: "i"}
"""ZTF filter id (``fid``) to band name."""


def is_positive(isdiffpos: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where ``isdiffpos`` says the detection is brighter than the reference."""
    values = np.asarray(isdiffpos, dtype=object)
    return np.isin(values, list(POSITIVE_DIFFERENCE))


def dc_magnitude(
    magpsf: npt.ArrayLike,
    sigmapsf: npt.ArrayLike,
    magnr: npt.ArrayLike,
    sigmagnr: npt.ArrayLike,
    isdiffpos: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Apparent (DC) magnitude and its error from difference and reference photometry.

    Parameters
    ----------
    magpsf, sigmapsf
        PSF-fit magnitude of the difference detection and its 1-sigma error.
    magnr, sigmagnr
        Magnitude of the nearest reference-image source and its error (None/NaN
        or negative when there is none).
    isdiffpos
        ``'t'``/``'1'`` for a positive difference, ``'f'``/``'0'`` for a negative one.

    Returns
    -------
    tuple of numpy.ndarray
        DC magnitude and its error; NaN where undefined.
    """
    mag = np.asarray(magpsf, dtype=float)
    sig = np.asarray(sigmapsf, dtype=float)
    ref_mag = np.asarray(magnr, dtype=float)
    ref_sig = np.asarray(sigmagnr, dtype=float)
    ref_mag = np.where(ref_mag > 0, ref_mag, np.nan)  # ZTF writes -999 for "none"
    ref_sig = np.where(ref_sig >= 0, ref_sig, np.nan)

    diff_flux = 10.0 ** (-0.4 * mag)
    ref_flux = 10.0 ** (-0.4 * ref_mag)
    sign = np.where(is_positive(isdiffpos), 1.0, -1.0)
    dc_flux = ref_flux + sign * diff_flux
    dc_flux = np.where(dc_flux > 0, dc_flux, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        dc_mag = -2.5 * np.log10(dc_flux)
        dc_sig = np.hypot(diff_flux * sig, ref_flux * ref_sig) / dc_flux
    return dc_mag, dc_sig


def is_coincident(distnr: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where the reference-image source is the object itself (``distnr`` ≤ 1.5″)."""
    distance = np.asarray(distnr, dtype=float)
    return (distance >= 0) & (distance <= DC_MAX_DISTNR)


# --- fluxes in janskies: the SNAD Viewer's equations 1-7 --------------------------------

AB_ZERO_POINT_MAG = 8.9
"""AB magnitude of 1 Jy: f = 10^(-0.4 (m - 8.9)) Jy (SNAD Viewer eq. 1)."""
FORCED_SNR_DETECTION = 3.0
"""Forced-photometry points with |flux| / error below this are shown as upper limits."""


def magnitude_to_flux(
    mag: npt.ArrayLike, mag_err: npt.ArrayLike | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """AB magnitude → flux density in Jy and its error (SNAD eqs. 1-2)."""
    m = np.asarray(mag, dtype=float)
    m = np.where(np.abs(m) < 90, m, np.nan)  # ZTF writes -999 for "no magnitude"
    flux = 10.0 ** (-0.4 * (m - AB_ZERO_POINT_MAG))
    error = np.full_like(flux, np.nan) if mag_err is None else np.asarray(mag_err, dtype=float)
    return flux, 0.4 * np.log(10.0) * flux * error


def flux_to_magnitude(
    flux: npt.ArrayLike, flux_err: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Flux density in Jy → AB magnitude with asymmetric errors (SNAD eqs. 5-7).

    Returns
    -------
    tuple of numpy.ndarray
        Magnitude of ``|flux|``, the error towards fainter magnitudes (``+``, NaN
        when the error bar reaches zero flux) and towards brighter (``-``, a
        positive number).
    """
    f = np.abs(np.asarray(flux, dtype=float))
    sigma = np.asarray(flux_err, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = AB_ZERO_POINT_MAG - 2.5 * np.log10(f)
        ratio = sigma / f
        fainter = np.where(ratio < 1, -2.5 * np.log10(1 - ratio), np.nan)
        brighter = 2.5 * np.log10(1 + ratio)
    return mag, fainter, brighter


def difference_flux(
    magpsf: npt.ArrayLike, sigmapsf: npt.ArrayLike, isdiffpos: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Signed difference flux (science − reference) in Jy and its error (SNAD eq. 3-4).

    ZTF measures the difference image directly: ``magpsf`` is the magnitude of
    ``|f − f_ref|`` and ``isdiffpos`` its sign.
    """
    flux, error = magnitude_to_flux(magpsf, sigmapsf)
    return np.where(is_positive(isdiffpos), flux, -flux), error


def forced_flux(
    forcediffimflux: npt.ArrayLike, forcediffimfluxunc: npt.ArrayLike, magzpsci: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Forced-photometry difference flux: DN on the image's zero point → Jy."""
    scale = 10.0 ** (-0.4 * (np.asarray(magzpsci, dtype=float) - AB_ZERO_POINT_MAG))
    flux = np.asarray(forcediffimflux, dtype=float)
    error = np.asarray(forcediffimfluxunc, dtype=float)
    # ZTF writes -99999 for a failed measurement.
    bad = (flux <= -99999) | (error <= 0)
    return np.where(bad, np.nan, flux * scale), np.where(bad, np.nan, error * scale)
