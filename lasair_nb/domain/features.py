"""Light-curve features of one band, from the ``light-curve`` package.

The same extractor runs in the ingester (the ``objects`` table) and in the
client, so a feature means the same thing everywhere. Features need
:data:`MIN_POINTS` detections in the band; the Lomb–Scargle period needs
:data:`MIN_POINTS_PERIOD`. With fewer, the values are NaN (NULL in the archive).
"""

from __future__ import annotations

import light_curve as lc
import numpy as np
import numpy.typing as npt

MIN_POINTS = 5
MIN_POINTS_PERIOD = 10

FEATURES: dict[str, str] = {
    "amplitude": "Half the peak-to-peak magnitude range [mag]",
    "beyond_1_std": "Fraction of points more than one standard deviation from the mean",
    "eta_e": "Von Neumann eta for unevenly sampled data (low = smooth trend)",
    "linear_fit_slope": "Slope of the weighted linear fit of magnitude against time [mag/day]",
    "linear_fit_slope_sigma": "Uncertainty of linear_fit_slope [mag/day]",
    "linear_fit_reduced_chi2": "Reduced chi-squared of the linear fit",
    "skew": "Skewness of the magnitudes",
    "standard_deviation": "Standard deviation of the magnitudes [mag]",
    "stetson_k": "Stetson K kurtosis index (0.798 for Gaussian noise)",
    "period": "Period of the highest Lomb-Scargle periodogram peak [days]",
    "period_snr": "Significance of that peak: (power - mean power) / std of power",
}
"""Feature name → description; the archive has one column ``{name}_{band}`` per band."""

_BASIC = lc.Extractor(
    lc.Amplitude(),
    lc.BeyondNStd(1.0),
    lc.EtaE(),
    lc.LinearFit(),
    lc.Skew(),
    lc.StandardDeviation(),
    lc.StetsonK(),
)
_BASIC_NAMES = (
    "amplitude",
    "beyond_1_std",
    "eta_e",
    "linear_fit_slope",
    "linear_fit_slope_sigma",
    "linear_fit_reduced_chi2",
    "skew",
    "standard_deviation",
    "stetson_k",
)
PERIOD_OVERSAMPLING = 10
"""Frequency-grid points per resolution element ``1 / T`` (``T``: the band's time span)."""
PERIOD_MAX_FREQ_FACTOR = 40
"""The highest frequency searched, in units of the median interval's Nyquist frequency."""
PERIOD_MAX_FREQ = 20.0
"""...and never above 20 cycles/day (periods of 72 minutes and longer): a band sampled
many times a night would otherwise search thousands of cycles/day, at a cost growing
with the square of its points, for periods ZTF's exposures cannot resolve."""

# ZTF revisits a field every 1-3 nights, so the Nyquist frequency of the median
# interval is ~0.25 cycles/day; searching 40 times higher (~5-20 cycles/day) reaches
# sub-day periods such as RR Lyrae's. The periodogram is evaluated exactly (direct
# sums, no FFT approximation): light-curve's fast (NFFT) periodogram put the period
# on a lower peak in most bands of real ZTF curves. On a linear grid light-curve's
# direct method uses trigonometric recurrences, about 4 ns per point and frequency.


def period_grid(time: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Frequencies [cycles/day] searched for the period of one band.

    ``time`` is strictly increasing with at least two points. With ``T`` its span
    and ``df = 1 / (PERIOD_OVERSAMPLING * T)``, the grid is ``df, 2 df, ... , K df``
    with ``K df`` the largest multiple of ``df`` not above
    ``min(PERIOD_MAX_FREQ_FACTOR * 0.5 / median(diff(time)), PERIOD_MAX_FREQ)``
    (at least 3 points).
    """
    step = 1.0 / (PERIOD_OVERSAMPLING * (time[-1] - time[0]))
    max_freq = min(PERIOD_MAX_FREQ_FACTOR * 0.5 / float(np.median(np.diff(time))), PERIOD_MAX_FREQ)
    count = max(int(max_freq / step), 3)
    return step * np.arange(1, count + 1, dtype=np.float64)


def _period(t: npt.NDArray[np.float64], m: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Period and signal-to-noise of the highest peak of the exact Lomb–Scargle periodogram.

    The classical (Lomb 1976, Scargle 1982) unweighted periodogram of the
    mean-subtracted magnitudes on :func:`period_grid` — astropy's
    ``LombScargle(t, m, fit_mean=False, center_data=True)`` — computed by light-curve's
    direct method. A peak is a grid point above its lower neighbour and not below its
    upper one (the grid's ends are never peaks, so a trend does not count);
    ``period_snr`` is (peak power − mean power) / standard deviation of the power
    (ddof = 1). NaN when the periodogram has no peak (e.g. constant magnitudes).
    """
    angular = 2.0 * np.pi * period_grid(t)
    periodogram = lc.Periodogram(peaks=1, freqs=angular, fast=False)
    period, snr = periodogram(t - t[0], m)  # the same periodogram; smaller phases
    if not period > 0.0:
        return float("nan"), float("nan")
    return float(period), float(snr)


def _combine_repeated_times(
    t: npt.NDArray[np.float64], m: npt.NDArray[np.float64], e: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Strictly increasing times (light-curve needs them), repeated times combined.

    Sorting on (time, magnitude, error) first makes every sum below run in the same
    order whatever the input order, so the result is bit-for-bit order-independent.
    """
    order = np.lexsort((e, m, t))
    t, m, e = t[order], m[order], e[order]
    times, group = np.unique(t, return_inverse=True)
    if len(times) == len(t):
        return t, m, e
    weight = 1.0 / e**2
    total = np.bincount(group, weights=weight)
    mean = np.bincount(group, weights=weight * m) / total
    return times, mean, 1.0 / np.sqrt(total)


def band_features(
    time: npt.ArrayLike, mag: npt.ArrayLike, error: npt.ArrayLike
) -> dict[str, float]:
    """Features of one band's light curve.

    Parameters
    ----------
    time
        Observation times [days], any order. Measurements at the same time are
        combined into one: their inverse-variance weighted mean magnitude, with
        error ``1 / sqrt(sum(1 / error**2))``. The result does not depend on the
        order of the inputs.
    mag, error
        Magnitudes and their 1-sigma errors.

    Returns
    -------
    dict
        Every name of :data:`FEATURES`, NaN where there are too few points.
    """
    t = np.asarray(time, dtype=np.float64)
    m = np.asarray(mag, dtype=np.float64)
    e = np.asarray(error, dtype=np.float64)
    good = np.isfinite(t) & np.isfinite(m) & np.isfinite(e) & (e > 0)
    t, m, e = _combine_repeated_times(t[good], m[good], e[good])

    result = dict.fromkeys(FEATURES, float("nan"))
    if len(t) >= MIN_POINTS:
        try:
            values = _BASIC(t, m, e)
        except ValueError:  # a flat light curve: no variability to describe
            return result
        result.update(zip(_BASIC_NAMES, (float(v) for v in values), strict=True))
    if len(t) >= MIN_POINTS_PERIOD:
        result["period"], result["period_snr"] = _period(t, m)
    return result
