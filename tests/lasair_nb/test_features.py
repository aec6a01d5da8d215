"""Light-curve features do not depend on the order rows arrive in; repeated times are combined."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lasair_nb.domain.features import FEATURES, band_features


def _light_curve() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Twelve nights of a variable, with two measurements at t = 3 (17 and 19 mag)."""
    rng = np.random.default_rng(7)
    t = np.arange(12.0)
    m = 16.0 + 0.3 * np.sin(t)
    e = np.full(12, 0.05)
    t = np.append(t, 3.0)
    m[3] = 17.0
    m = np.append(m, 19.0)
    e = np.append(e, 0.05)
    noise = rng.normal(0, 0.01, len(m))
    noise[[3, -1]] = 0.0
    return t, m + noise, e


def test_repeated_times_are_averaged_not_first_kept() -> None:
    t, m, e = _light_curve()
    features = band_features(t, m, e)
    # Independent calculation: equal errors, so the two points at t = 3 become their
    # mean, 18 mag; amplitude is half the range of the combined series.
    combined = np.delete(m, -1)
    combined[3] = (17.0 + 19.0) / 2
    assert features["amplitude"] == pytest.approx((combined.max() - combined.min()) / 2, abs=1e-12)


def test_weighted_mean_of_repeated_times() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 4.0])
    m = np.array([15.0, 15.0, 15.0, 15.0, 16.0, 19.0])
    e = np.array([0.1, 0.1, 0.1, 0.1, 0.1, 0.2])
    # Inverse-variance mean of 16 (w = 100) and 19 (w = 25): (1600 + 475) / 125 = 16.6.
    features = band_features(t, m, e)
    assert features["amplitude"] == pytest.approx((16.6 - 15.0) / 2, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_features_do_not_depend_on_row_order(seed: int) -> None:
    t, m, e = _light_curve()
    reference = band_features(t, m, e)
    order = np.random.default_rng(seed).permutation(len(t))
    shuffled = band_features(t[order], m[order], e[order])
    assert set(shuffled) == set(FEATURES)
    for name in FEATURES:
        if math.isnan(reference[name]):
            assert math.isnan(shuffled[name]), name
        else:
            assert shuffled[name] == reference[name], name


def test_a_flat_light_curve_gives_missing_features_not_an_error() -> None:
    # A constant star (or a saturated one) must not stop the ingester.
    features = band_features(np.arange(12.0), np.full(12, 15.0), np.full(12, 0.1))
    assert set(features) == set(FEATURES)
    assert all(math.isnan(value) for value in features.values())
