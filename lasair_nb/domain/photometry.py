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
and back, so the factors cancel). The magnitude is undefined (NaN) when the
reference has no source or when a negative difference would leave no flux at all
(:math:`f_\mathrm{DC} \le 0`).

**Zero points: ours, not Lasair-ZTF's.** In the ZTF alert schema ``magpsf`` and
``magnr`` are both *calibrated* magnitudes (each on its own image's photometric
zero point), so their fluxes are on one scale and add directly, as above. Lasair-ZTF's
published ``dc_mag`` (R. Williams) instead turns ``magnr`` into counts on fixed
per-band zero points (26.325, 26.275, 25.660 for g, r, i) and ``magpsf`` into
counts on the science image's ``magzpsci``, caps each at 12 mag above its zero point
(10^4.8 counts), sums, and converts back on ``magzpsci`` (returning ``magzpsci``
itself when the sum is not positive). Where ``magzpsci`` differs from the fixed
value, or the reference star is brighter than about 14.3 mag, that mixes zero
points. On the 798 distinct detections with a reference source in the 124 real
sample alerts the two differ by a median of 0.05 mag (0.055 on the alerts' own 123
candidates) and by up to 2.9 mag; ``tests/lasair_nb/test_lightcurves.py`` measures it.
Ours is the schema's definition.

The DC magnitude is computed (and stored) whatever the distance ``distnr`` to the
reference source. It is the object's own brightness only when that source *is*
the object (``distnr`` ≤ :data:`DC_MAX_DISTNR` = 1.5 **pixels**, the schema's unit
for ``distnr``; ZTF's pixels are 1.01″, so about 1.5″): a variable star or a nuclear
source. For a supernova a few arcseconds from its host's core it adds the host's
light. :func:`is_coincident` tells which case applies; :func:`apparent_magnitude`
and the object summaries use DC magnitudes only when it holds.

**Missing values.** ZTF writes sentinels such as −999 or −1006.94 for "no
value" (a ``diffmaglim`` of −1006.94 is no limit at all). :func:`valid_magnitude`
turns every magnitude below :data:`MISSING_BELOW` or at/above :data:`MISSING_ABOVE`,
and NaN, into NaN; :func:`valid_error` does the same for negative errors. Every
light curve and summary goes through them; the archive keeps the values as received.

**Forced photometry** (``fp_hists``) is a difference flux at the object's position
in every image, significant or not. A point whose shown flux is below
:data:`FORCED_SNR_DETECTION` (3) times its error is an upper limit, shown at
:data:`FORCED_LIMIT_SIGMA` (5) times the error, as ZTF's forced-photometry guide
recommends (SNT = 3, SNU = 5) and like ``diffmaglim``. Magnitudes of measured
forced points carry the symmetric error of SNAD eq. 9,
:math:`\sigma_m = (2.5/\ln 10)\,\sigma_f / f \approx 1.0857\,\sigma_f / f`
(:func:`forced_magnitude`); the asymmetric bounds of SNAD eqs. 6-7
(:func:`flux_to_magnitude`) are the ``"diffmag"`` light curve's.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DC_MAX_DISTNR = 1.5
"""Largest ``distnr`` [pixels; ZTF's are 1.01″, so ≈ 1.5″] at which the reference-image
source is the object itself."""

MISSING_BELOW = -900.0
"""Magnitudes and limits at or below this are ZTF sentinels (−999, −1006.94): missing."""
MISSING_ABOVE = 99.0
"""Magnitudes and errors at or above this are sentinels (99, 999): missing."""

POSITIVE_DIFFERENCE = frozenset({"t", "1"})
"""``isdiffpos`` values meaning science minus reference is positive (brighter now)."""

BANDS: dict[int, str] = {1: "g", 2: "r", 3: "i"}
"""ZTF filter id (``fid``) to band name."""

MAG_TYPES = ("dc", "psf", "unknown")
"""How :func:`apparent_magnitude` got a point's apparent magnitude (see there)."""


def _floats(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Floats, with None and pandas' NA as NaN."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        array = np.asarray(values, dtype=object)
        return np.array([_float(v) for v in array.ravel()], dtype=float).reshape(array.shape)


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def valid_magnitude(mag: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Magnitudes (or limits) as floats, NaN where ZTF wrote a sentinel or nothing."""
    m = _floats(mag)
    with np.errstate(invalid="ignore"):
        return np.where((m > MISSING_BELOW) & (m < MISSING_ABOVE), m, np.nan)


def valid_error(error: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """1-sigma errors as floats, NaN where negative, a sentinel or missing."""
    e = _floats(error)
    with np.errstate(invalid="ignore"):
        return np.where((e >= 0) & (e < MISSING_ABOVE), e, np.nan)


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
        Magnitude of the nearest reference-image source and its error (None/NaN,
        negative or a sentinel when there is none).
    isdiffpos
        ``'t'``/``'1'`` for a positive difference, ``'f'``/``'0'`` for a negative one.

    Returns
    -------
    tuple of numpy.ndarray
        DC magnitude and its error; NaN where undefined.
    """
    mag = valid_magnitude(magpsf)
    sig = valid_error(sigmapsf)
    ref_mag = valid_magnitude(magnr)
    ref_mag = np.where(ref_mag > 0, ref_mag, np.nan)  # no reference source: none, or <= 0
    ref_sig = valid_error(sigmagnr)

    diff_flux = 10.0 ** (-0.4 * mag)
    ref_flux = 10.0 ** (-0.4 * ref_mag)
    sign = np.where(is_positive(isdiffpos), 1.0, -1.0)
    dc_flux = ref_flux + sign * diff_flux
    with np.errstate(invalid="ignore"):
        dc_flux = np.where(dc_flux > 0, dc_flux, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        dc_mag = -2.5 * np.log10(dc_flux)
        dc_sig = np.hypot(diff_flux * sig, ref_flux * ref_sig) / dc_flux
    return dc_mag, dc_sig


def is_coincident(distnr: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where the reference-image source is the object itself.

    That is ``0 ≤ distnr ≤`` :data:`DC_MAX_DISTNR` = 1.5 pixels (``distnr`` is in
    pixels in the ZTF schema; 1.5 pixels of 1.01″ ≈ 1.5″).
    """
    distance = _floats(distnr)
    with np.errstate(invalid="ignore"):
        return (distance >= 0) & (distance <= DC_MAX_DISTNR)


def apparent_magnitude(
    magpsf: npt.ArrayLike,
    sigmapsf: npt.ArrayLike,
    magnr: npt.ArrayLike,
    sigmagnr: npt.ArrayLike,
    isdiffpos: npt.ArrayLike,
    *,
    distnr: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.str_]]:
    """The object's apparent magnitude at a detection, its error and how it was found.

    ``mag_type`` says which case applies:

    ``"dc"``
        The reference source is the object (:func:`is_coincident`) and has a
        magnitude: the DC magnitude, reference ± difference (:func:`dc_magnitude`).
    ``"psf"``
        A positive difference (``isdiffpos`` 't'/'1') with no usable reference
        source: ``magpsf``, the brightness of what appeared since the reference
        image. It is the object's apparent magnitude if the object was absent
        from the reference (a supernova on its host), and otherwise a faint bound:
        the object is at least this bright (apparent magnitude ≤ ``magpsf``).
    ``"unknown"``
        NaN: a negative difference with no usable reference source (the object
        faded by an amount, from an unknown brightness), a DC flux that would not
        be positive, or a missing (sentinel) ``magpsf``.
    """
    mag = valid_magnitude(magpsf)
    sig = valid_error(sigmapsf)
    dc, dc_err = dc_magnitude(mag, sig, magnr, sigmagnr, isdiffpos)
    coincident = is_coincident(distnr) & (valid_magnitude(magnr) > 0)
    use_dc = coincident & np.isfinite(dc)
    use_psf = ~coincident & is_positive(isdiffpos) & np.isfinite(mag)
    mag_type = np.where(use_dc, "dc", np.where(use_psf, "psf", "unknown"))
    return (
        np.where(use_dc, dc, np.where(use_psf, mag, np.nan)),
        np.where(use_dc, dc_err, np.where(use_psf, sig, np.nan)),
        mag_type,
    )


# --- fluxes in janskies: the SNAD Viewer's equations 1-9 --------------------------------

AB_ZERO_POINT_MAG = 8.9
"""AB magnitude of 1 Jy: f = 10^(-0.4 (m - 8.9)) Jy (SNAD Viewer eq. 1)."""
FORCED_SNR_DETECTION = 3.0
"""Forced-photometry points with |flux| / error below this (3) are upper limits.

The default of ``ObjectRecord.lightcurve(forced_snr=...)``; ZTF's forced-photometry
guide's SNT."""
FORCED_LIMIT_SIGMA = 5.0
"""A forced-photometry upper limit is this many times the flux error (ZTF's SNU, 5),
the same 5 sigma as ``diffmaglim``."""
MAG_ERROR_FACTOR = 2.5 / np.log(10.0)
"""σ_m = 1.0857 σ_f / f (SNAD Viewer eq. 9)."""


def magnitude_to_flux(
    mag: npt.ArrayLike, mag_err: npt.ArrayLike | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """AB magnitude → flux density in Jy and its error (SNAD eqs. 1-2).

    Sentinel magnitudes and errors (:func:`valid_magnitude`) give NaN.
    """
    m = valid_magnitude(mag)
    flux = 10.0 ** (-0.4 * (m - AB_ZERO_POINT_MAG))
    error = np.full_like(flux, np.nan) if mag_err is None else valid_error(mag_err)
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
    f = np.abs(_floats(flux))
    sigma = _floats(flux_err)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = AB_ZERO_POINT_MAG - 2.5 * np.log10(f)
        ratio = sigma / f
        fainter = np.where(ratio < 1, -2.5 * np.log10(1 - ratio), np.nan)
        brighter = 2.5 * np.log10(1 + ratio)
    return mag, fainter, brighter


def forced_magnitude(
    flux: npt.ArrayLike, flux_err: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Flux density in Jy → AB magnitude and symmetric error (SNAD eqs. 8-9).

    ``m = 8.9 − 2.5 lg f`` and ``σ_m = (2.5 / ln 10) σ_f / f ≈ 1.0857 σ_f / f``;
    NaN where the flux is not positive. Used for measured (≥ 3σ) points, where it
    lies between the asymmetric bounds of :func:`flux_to_magnitude`.
    """
    f = _floats(flux)
    sigma = _floats(flux_err)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(f > 0, f, np.nan)
        return AB_ZERO_POINT_MAG - 2.5 * np.log10(f), MAG_ERROR_FACTOR * sigma / f


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
    scale = 10.0 ** (-0.4 * (valid_magnitude(magzpsci) - AB_ZERO_POINT_MAG))
    flux = _floats(forcediffimflux)
    error = _floats(forcediffimfluxunc)
    # ZTF writes -99999 for a failed measurement.
    with np.errstate(invalid="ignore"):
        bad = ~((flux > -99999) & (error > 0))
    return np.where(bad, np.nan, flux * scale), np.where(bad, np.nan, error * scale)
