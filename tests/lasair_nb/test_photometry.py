"""DC magnitudes and light-curve features on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lasair_nb.domain.features import MIN_POINTS, MIN_POINTS_PERIOD, band_features
from lasair_nb.domain.photometry import (
    dc_magnitude,
    difference_flux,
    flux_to_magnitude,
    forced_flux,
    is_coincident,
    magnitude_to_flux,
    valid_magnitude,
)


def test_equal_reference_and_positive_difference_is_brighter_by_0_75_mag() -> None:
    mag, sig = dc_magnitude(18.0, 0.1, 18.0, 0.0, "t")
    assert mag == pytest.approx(18.0 - 2.5 * np.log10(2))
    assert sig == pytest.approx(0.05)  # half the flux carries the 0.1 mag error


def test_negative_difference_subtracts_flux() -> None:
    mag, _ = dc_magnitude(20.0, 0.1, 18.0, 0.05, "f")
    assert mag == pytest.approx(-2.5 * np.log10(10 ** (-0.4 * 18) - 10 ** (-0.4 * 20)))
    assert mag > 18.0


def test_undefined_cases_are_nan() -> None:
    mags, _ = dc_magnitude(
        [18.0, 17.0, 18.0], [0.1] * 3, [-999.0, 18.0, np.nan], [0.1] * 3, ["t", "0", "1"]
    )
    assert np.isnan(mags).all()  # no reference, flux below zero, missing reference


def test_coincidence() -> None:
    assert is_coincident([0.2, 1.5, 1.6, -999]).tolist() == [True, True, False, False]


def test_features_recover_a_sinusoid_period() -> None:
    rng = np.random.default_rng(1)
    time = np.sort(rng.uniform(0, 120, 60))
    mag = 17 + 0.4 * np.sin(2 * np.pi * time / 0.61) + rng.normal(0, 0.02, 60)
    features = band_features(time, mag, np.full(60, 0.02))
    assert features["period"] == pytest.approx(0.61, rel=1e-3)
    assert features["period_snr"] > 5
    assert features["amplitude"] == pytest.approx(0.4, abs=0.05)


def test_too_few_points_give_nan() -> None:
    time = np.arange(MIN_POINTS - 1, dtype=float)
    assert all(np.isnan(v) for v in band_features(time, time, np.ones_like(time)).values())
    time = np.arange(MIN_POINTS_PERIOD - 1, dtype=float)
    features = band_features(time, np.sin(time), np.full_like(time, 0.1))
    assert np.isfinite(features["amplitude"]) and np.isnan(features["period"])


def test_repeated_and_unsorted_times_are_handled() -> None:
    time = np.array([5.0, 1.0, 1.0, 3.0, 2.0, 4.0])
    features = band_features(time, time, np.full(6, 0.1))
    assert features["linear_fit_slope"] == pytest.approx(1.0)


def test_fluxes_in_janskys_follow_the_snad_equations() -> None:
    flux, error = magnitude_to_flux([8.9, 16.4, -999.0], [0.1, 0.1, 0.1])
    assert flux[0] == pytest.approx(1.0) and flux[1] == pytest.approx(1e-3)
    assert error[1] == pytest.approx(0.4 * np.log(10) * 1e-3 * 0.1)
    assert np.isnan(flux[2])  # ZTF's -999 means "no magnitude", not a huge flux
    mag, fainter, brighter = flux_to_magnitude([1e-3, -1e-3, 1e-3], [1e-4, 1e-4, 2e-3])
    assert mag[0] == pytest.approx(16.4) and mag[1] == pytest.approx(16.4)
    assert fainter[0] == pytest.approx(-2.5 * np.log10(0.9)) and brighter[0] == pytest.approx(
        2.5 * np.log10(1.1)
    )
    assert np.isnan(fainter[2])  # the error bar reaches zero flux: no faint-side magnitude error


def test_difference_and_forced_fluxes() -> None:
    flux, _ = difference_flux([16.4, 16.4], [0.1, 0.1], ["t", "f"])
    assert flux.tolist() == pytest.approx([1e-3, -1e-3])
    forced, forced_err = forced_flux([100.0, -99999.0], [10.0, 5.0], [26.0, 26.0])
    assert forced[0] == pytest.approx(100 * 10 ** (-0.4 * (26.0 - 8.9)))
    assert np.isnan(forced[1]) and np.isnan(forced_err[1])


def test_sentinels_are_missing_values() -> None:
    # ZTF writes -999, -1006.94 or 99 for "no value"; each is NaN, real values pass.
    cleaned = valid_magnitude([-1006.94, -999.0, 99.0, np.nan, None, 18.5, -5.0])
    assert np.isnan(cleaned[:5]).all() and cleaned[5:].tolist() == [18.5, -5.0]
    mag, sig = dc_magnitude([-999.0, 18.0], [0.1, -999.0], [18.0, 18.0], [0.0, 0.0], ["t", "t"])
    assert np.isnan(mag[0]) and np.isnan(sig[0])  # not a flux of 10^(0.4 * 999)
    assert mag[1] == pytest.approx(18.0 - 2.5 * np.log10(2)) and np.isnan(sig[1])
    flux, error = magnitude_to_flux([-1006.94, 20.0], [0.1, -999.0])
    assert np.isnan(flux[0]) and np.isnan(error[1])
