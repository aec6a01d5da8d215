"""``dmdt`` as in Lasair-ZTF: ``dmdt_g > 0`` (``dmdt_r > 0``) selects the brightening objects.

Checked against the simulator's truth: for each simulated supernova, the noise-free
Bazin (2009) light curve from its true rise and fall times says whether it brightened
between the two detections the rate is taken from — Lasair's definition, the band's
last two detections, both positive differences (written out here from the published
formulas, not taken from the simulator's or the ingester's code).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from ingest.simulator import AlertSimulator


def bazin_magnitude(t: float, peak_jd: float, rise: float, fall: float) -> float:
    """-2.5 log10 of Bazin's flux exp(-(t - t0)/fall) / (1 + exp(-(t - t0)/rise))."""
    t0 = peak_jd - rise * math.log(fall / rise - 1)  # the peak of that shape is at peak_jd
    flux = math.exp(-(t - t0) / fall) / (1 + math.exp(-(t - t0) / rise))
    return -2.5 * math.log10(flux)


@pytest.mark.slow
def test_positive_dmdt_is_brightening_on_simulated_supernovae(
    make_seeded_archive: Callable[[], str], seeded_simulation: dict[str, int]
) -> None:
    truth = AlertSimulator(**seeded_simulation).truth
    supernovae = truth[truth["class"] == "supernova"].set_index("object_id")
    engine = sa.create_engine(make_seeded_archive())
    checked = 0
    loose: list[bool] = []  # changes between 1 and 2.5 times the noise
    with engine.connect() as connection:
        rates = connection.execute(
            sa.text(
                "SELECT objectid, 1 AS fid, dmdt_g FROM objects WHERE dmdt_g IS NOT NULL"
                " UNION ALL"
                " SELECT objectid, 2, dmdt_r FROM objects WHERE dmdt_r IS NOT NULL"
            )
        ).all()
        for object_id, fid, rate in rates:
            if object_id not in supernovae.index:
                continue
            sn = supernovae.loc[object_id]
            points = connection.execute(
                sa.text(
                    "SELECT jd, magpsf, sigmapsf, isdiffpos FROM candidates"
                    " WHERE objectid = :id AND fid = :fid AND magpsf > -900 ORDER BY jd, candid"
                ),
                {"id": object_id, "fid": fid},
            ).all()
            (previous, m1, e1, p1), (last, m2, e2, p2) = points[-2], points[-1]
            assert p1 in ("t", "1") and p2 in ("t", "1")  # else Lasair's rate is NULL
            assert rate == pytest.approx((m1 - m2) / (last - previous), rel=1e-4)
            change = bazin_magnitude(last, sn.peak_jd, sn.tau_rise, sn.tau_fall) - bazin_magnitude(
                previous, sn.peak_jd, sn.tau_rise, sn.tau_fall
            )
            noise = math.hypot(e1, e2)
            agrees = (rate > 0) == (change < 0)  # brightening: the true magnitude fell
            if abs(change) >= 2.5 * noise and abs(change) >= 0.1:
                # A true change the photometric noise cannot hide: the sign must be right.
                assert agrees, (object_id, fid, rate, change, noise)
                checked += 1
            elif abs(change) >= noise:
                loose.append(agrees)
    engine.dispose()
    print(f"clear: {checked}, loose: {sum(loose)}/{len(loose)}")
    assert checked >= 5, f"only {checked} supernova bands changed clearly; widen the sample"
    # Between 1 and 2.5 sigma the measured sign still follows the truth most of the time
    # (a Gaussian error flips it with probability below 16 %).
    assert len(loose) >= 10 and sum(loose) / len(loose) >= 0.8
