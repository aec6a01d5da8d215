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
