"""The stored period is the highest peak of the exact Lomb–Scargle periodogram.

Checked against astropy's ``LombScargle`` (an independent, exact implementation)
on the same explicitly defined frequency grid, for the real ZTF light curves of
the sample alerts and for simulated periodic variables. light-curve's fast (NFFT)
periodogram, used before, put the period on a lower peak in most of these bands.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from astropy.timeseries import LombScargle

from ingest.decode import AlertDecoder
from ingest.simulator import AlertSimulator
from lasair_nb.domain.features import (
    MIN_POINTS_PERIOD,
    _period,
    band_features,
    period_grid,
)
from lasair_nb.domain.photometry import dc_magnitude

OVERSAMPLING = 10  # grid points per 1 / span
MAX_FREQ_FACTOR = 40  # × the Nyquist frequency of the median interval, 0.5 / median(dt)
MAX_FREQ = 20.0  # cycles/day, whatever the cadence


def _grid(t: np.ndarray) -> np.ndarray:
    """The documented grid, written out again: k / (10 T) for k = 1 .. K [cycles/day]."""
    step = 1.0 / (OVERSAMPLING * (t.max() - t.min()))
    max_freq = min(MAX_FREQ_FACTOR * 0.5 / np.median(np.diff(np.sort(t))), MAX_FREQ)
    return step * np.arange(1, max(int(max_freq / step), 3) + 1)


def _combined(t: np.ndarray, m: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times and inverse-variance mean magnitudes, one per distinct time."""
    times, group = np.unique(t, return_inverse=True)
    weight = 1.0 / e**2
    return times, np.bincount(group, weight * m) / np.bincount(group, weight)


def _astropy_peak(t: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Grid, exact astropy power, index of its highest interior local maximum, its SNR."""
    freq = _grid(t)
    power = LombScargle(t, m, fit_mean=False, center_data=True).power(freq, method="cython")
    inner = np.flatnonzero((power[1:-1] > power[:-2]) & (power[1:-1] >= power[2:])) + 1
    best = int(inner[np.argmax(power[inner])])
    snr = (power[best] - power.mean()) / power.std(ddof=1)
    return freq, power, best, float(snr)


def _check(name: str, t: np.ndarray, m: np.ndarray, e: np.ndarray) -> None:
    features = band_features(t, m, e)
    ct, cm = _combined(t, m, e)
    freq, power, best, snr = _astropy_peak(ct, cm)
    assert np.allclose(period_grid(ct), freq, rtol=1e-12, atol=0), name
    step = freq[0]
    stored = 1.0 / features["period"]
    index = int(np.rint(stored / step)) - 1
    # The stored frequency is a grid point ...
    assert abs(stored - freq[index]) < 1e-6 * step, name
    # ... and the same one as astropy's highest peak (or an exact tie with it).
    assert index == best or power[index] >= power[best] - 1e-9, (
        f"{name}: stored {features['period']:.6g} d, astropy's highest peak {1 / freq[best]:.6g} d"
    )
    assert features["period_snr"] == pytest.approx(snr, rel=1e-5), name


def _real_band_curves(shared_data: Path) -> dict[tuple[str, int], tuple[np.ndarray, ...]]:
    """The union of every alert's candidate and history, per object and band."""
    decoder = AlertDecoder()
    rows: dict[tuple[str, int], dict[int, tuple[float, float, float]]] = defaultdict(dict)
    for path in sorted((shared_data / "ztf" / "alerts").glob("*.avro")):
        alert = decoder.decode(path.read_bytes()).records[0]
        for entry in [alert["candidate"], *(alert["prv_candidates"] or [])]:
            if entry.get("candid") is None or entry.get("magpsf") is None:
                continue
            key = (alert["objectId"], entry["fid"])
            rows[key][entry["candid"]] = (entry["jd"], entry["magpsf"], entry["sigmapsf"])
    return {
        key: tuple(np.array(sorted(found.values())).T)
        for key, found in rows.items()
        if len({row[0] for row in found.values()}) >= MIN_POINTS_PERIOD
    }


@pytest.mark.slow
def test_period_is_the_highest_exact_peak_on_real_ztf_curves(shared_data: Path) -> None:
    curves = _real_band_curves(shared_data)
    assert len(curves) >= 30
    assert max(len(curve[0]) for key, curve in curves.items() if key[0] == "ZTF21abiuvdk") >= 16
    for (object_id, fid), (t, m, e) in sorted(curves.items()):
        _check(f"{object_id} fid={fid}", t, m, e)


def test_period_is_the_highest_exact_peak_on_simulated_periodic_variables() -> None:
    simulator = AlertSimulator(objects=60, nights=12, seed=5)
    truth = simulator.truth
    periodic = set(truth.loc[truth["class"] == "periodic", "object_id"])
    decoder = AlertDecoder()
    detections: dict[str, dict[int, dict]] = defaultdict(dict)
    for packet in simulator.packets():
        if packet.object_id not in periodic:
            continue
        alert = decoder.decode(packet.data).records[0]
        for entry in [alert["candidate"], *(alert["prv_candidates"] or [])]:
            if entry["candid"] is not None:
                detections[packet.object_id][entry["candid"]] = entry
    checked = 0
    for object_id, found in sorted(detections.items()):
        for fid in (1, 2):
            band = [d for d in found.values() if d["fid"] == fid]
            if len({d["jd"] for d in band}) < MIN_POINTS_PERIOD:
                continue
            columns = [
                [d[name] for d in band]
                for name in ("magpsf", "sigmapsf", "magnr", "sigmagnr", "isdiffpos")
            ]
            mag, error = dc_magnitude(*columns)
            t = np.array([d["jd"] for d in band])
            _check(f"{object_id} fid={fid}", t, np.asarray(mag), np.asarray(error))
            checked += 1
    assert checked >= 10


def test_a_sinusoid_on_the_grid_is_found_exactly() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 40, 30)) + 2459000.5
    grid = period_grid(t)
    true_freq = grid[len(grid) // 7]
    m = 17 + 0.5 * np.sin(2 * np.pi * true_freq * t + 1.0)
    features = band_features(t, m, np.full(30, 0.05))
    assert features["period"] == pytest.approx(1 / true_freq, rel=1e-9)
    assert features["period_snr"] > 5


def test_no_peak_gives_nan_not_zero() -> None:
    """Constant magnitudes have a flat periodogram: no peak, so no period (not 0 days)."""
    period, snr = _period(np.arange(12.0), np.full(12, 17.0))
    assert math.isnan(period) and math.isnan(snr)
