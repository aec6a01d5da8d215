"""Light curves and summaries checked against the raw ZTF packets (a science audit).

Every expected number is computed here from the packet's own values and the
published formula (SNAD Viewer eqs. 1-9, the ZTF schema, Lasair-ZTF's ``dc_mag``),
never by calling the code under test.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lasair_nb as ln
from ingest.coverage import coverage_rows
from ingest.decode import AlertDecoder
from ingest.objects import DETECTION_COLUMNS, summarise_object
from lasair_nb.client.object_record import ObjectRecord
from lasair_nb.domain import photometry

KINDS = ("mag", "flux", "diffmag", "diffflux")
LN10 = math.log(10.0)


def _jy(mag: float) -> float:
    """SNAD eq. 1."""
    return 10 ** (-0.4 * (mag - 8.9))


def _packet(files: list[Path], name: str) -> dict:
    path = next(p for p in files if p.name.startswith(name))
    return AlertDecoder().decode(path.read_bytes()).records[0]


@pytest.fixture(scope="module")
def archive(make_seeded_archive) -> ln.Archive:
    return ln.connect(make_seeded_archive())


# --- 2. ZTF's sentinels are missing data ------------------------------------------------------


def test_a_sentinel_limit_is_missing_in_every_light_curve(
    archive: ln.Archive, ztf_alert_files: list[Path]
) -> None:
    packet = _packet(ztf_alert_files, "ZTF18aaxdjuj_595211876015015031")
    [sentinel] = [
        p
        for p in packet["prv_candidates"]
        if p.get("candid") is None and p["diffmaglim"] is not None and p["diffmaglim"] < -900
    ]
    assert sentinel["diffmaglim"] == pytest.approx(-1006.94)
    record = archive.object("ZTF18aaxdjuj")
    for kind in KINDS:
        curve = record.lightcurve(kind)
        row = curve[(curve["jd"] == sentinel["jd"]) & (curve["measurement"] == "nondetection")]
        assert len(row) == 1, kind  # the observation is kept ...
        value = "mag" if kind in ("mag", "diffmag") else "flux"
        assert row[value].isna().all(), kind  # ... its limit is missing, not -1006.94 mag
        if value == "mag":
            assert curve["mag"].dropna().between(-900, 99).all(), kind
    # The archive keeps the value as received.
    raw = archive.sql(
        "SELECT diffmaglim FROM noncandidates WHERE objectid = 'ZTF18aaxdjuj' AND diffmaglim < -900"
    )
    assert raw["diffmaglim"].tolist() == pytest.approx([sentinel["diffmaglim"]])
    # Nothing the archive summarises carries a sentinel.
    coverage = archive.sql("SELECT min(maglim_min) AS low FROM coverage")
    assert coverage["low"][0] > 0
    low = archive.sql(
        "SELECT least(min(maggmin), min(magrmin), min(magimin), min(gmag),"
        " min(rmag), min(maggmean), min(magrmean)) AS low FROM objects"
    )
    assert low["low"][0] > 0


def _detection(candid: int, jd: float, magpsf: float, isdiffpos: str = "t") -> tuple:
    values = {
        "objectid": "ZTF00sentinel",
        "candid": candid,
        "jd": jd,
        "fid": 1,
        "ra": 10.0,
        "dec": 20.0,
        "magpsf": magpsf,
        "sigmapsf": 0.1,
        "isdiffpos": isdiffpos,
        "dc_mag": None,
        "dc_sigmag": None,
        "distnr": 5.0,
        "in_alert": True,
    }
    return tuple(values.get(name) for name in DETECTION_COLUMNS)


def test_summaries_skip_sentinel_magnitudes() -> None:
    rows = [
        _detection(1, 2459000.5, 18.0),
        _detection(2, 2459001.5, 19.0),
        _detection(3, 2459002.5, -999.0),
    ]
    summary = summarise_object("ZTF00sentinel", rows)
    assert summary["ncand_g"] == 3  # still three detections
    assert summary["maggmin"] == 18.0 and summary["maggmax"] == 19.0
    assert summary["maggmean"] == pytest.approx(18.5)
    assert summary["gmag"] == 19.0  # the latest detection with a magnitude
    assert summary["dmdt_g"] == pytest.approx(-1.0)  # 18 -> 19 in one day: fading


def test_coverage_ignores_a_sentinel_limit() -> None:
    jd = 2459000.8
    [cell] = coverage_rows([], [(600, 1, jd, -1006.94), (600, 1, jd + 0.01, 20.5)])
    assert cell["nlimits"] == 2
    assert cell["maglim_min"] == 20.5 and cell["maglim_max"] == 20.5


# --- 3. negative differences without a reference ----------------------------------------------


def test_negative_difference_without_reference_is_unknown(
    archive: ln.Archive, ztf_alert_files: list[Path]
) -> None:
    candidate = _packet(ztf_alert_files, "ZTF19acttzqz_1445190506115010000")["candidate"]
    assert candidate["isdiffpos"] == "f" and candidate["distnr"] > 1.5  # pixels
    record = archive.object("ZTF19acttzqz")

    def row(kind: str) -> pd.Series:
        curve = record.lightcurve(kind)
        return curve[curve["candid"] == candidate["candid"]].iloc[0]

    for kind in ("mag", "flux"):
        shown = row(kind)
        assert shown["mag_type"] == "unknown"
        assert math.isnan(shown[kind]) and math.isnan(shown[f"{kind}_err"])
    diff_flux = -_jy(candidate["magpsf"])  # SNAD eq. 1 with isdiffpos' sign
    assert diff_flux == pytest.approx(-1.796e-4, rel=1e-3)
    assert row("diffflux")["flux"] == pytest.approx(diff_flux, rel=1e-6)
    assert row("diffflux")["flux_err"] == pytest.approx(
        0.4 * LN10 * _jy(candidate["magpsf"]) * candidate["sigmapsf"], rel=1e-6
    )
    assert row("diffmag")["mag"] == pytest.approx(candidate["magpsf"], abs=1e-6)


def test_positive_difference_without_reference_is_the_psf_magnitude(
    archive: ln.Archive, ztf_alert_files: list[Path]
) -> None:
    # The supernova ZTF21abiuvdk: its reference source is the host, 3-4 pixels away.
    candidate = _packet(ztf_alert_files, "ZTF21abiuvdk_")["candidate"]
    assert candidate["isdiffpos"] in ("t", "1") and candidate["distnr"] > 1.5
    curve = archive.object("ZTF21abiuvdk").lightcurve("mag")
    shown = curve[curve["candid"] == candidate["candid"]].iloc[0]
    assert shown["mag_type"] == "psf"
    assert shown["mag"] == pytest.approx(candidate["magpsf"], abs=1e-6)
    assert shown["mag_err"] == pytest.approx(candidate["sigmapsf"], abs=1e-6)


def test_apparent_magnitude_cases_by_hand() -> None:
    ref, diff = 17.0, 18.0
    mag, err, kind = photometry.apparent_magnitude(
        [diff, diff, diff, diff, -999.0],
        [0.1] * 5,
        [ref, ref, ref, None, ref],
        [0.02] * 5,
        ["f", "f", "t", "t", "t"],
        distnr=[0.5, 4.0, 4.0, None, 0.5],
    )
    assert kind.tolist() == ["dc", "unknown", "psf", "psf", "unknown"]
    assert mag[0] == pytest.approx(-2.5 * math.log10(10 ** (-0.4 * ref) - 10 ** (-0.4 * diff)))
    assert math.isnan(mag[1]) and math.isnan(err[1]) and math.isnan(mag[4])
    assert mag[2] == diff and err[2] == 0.1 and mag[3] == diff


# --- 4. and 5. forced photometry: 3 sigma threshold, SNAD eq. 9 errors ------------------------


def _schema35_forced(ztf_alert_files: list[Path], fid: int) -> list[dict]:
    packet = _packet(ztf_alert_files, "ZTF18aaxjdyr_1661382530015060001")
    return [p for p in packet["prv_candidates"] if "forcediffimflux" in p and p["fid"] == fid]


def _total_flux(point: dict) -> tuple[float, float]:
    """Reference + forced difference flux in Jy (SNAD eqs. 1-4; DN on magzpsci)."""
    scale = 10 ** (-0.4 * (point["magzpsci"] - 8.9))
    diff, diff_err = point["forcediffimflux"] * scale, point["forcediffimfluxunc"] * scale
    ref = _jy(point["magnr"])
    ref_err = 0.4 * LN10 * ref * point["sigmagnr"]
    return ref + diff, math.hypot(diff_err, ref_err)


def test_forced_points_below_3_sigma_are_upper_limits(
    archive: ln.Archive, ztf_alert_files: list[Path]
) -> None:
    points = _schema35_forced(ztf_alert_files, fid=1)
    assert all(p["distnr"] <= 1.5 for p in points)  # the reference source is the object
    snr = {p["jd"]: abs(_total_flux(p)[0]) / _total_flux(p)[1] for p in points}
    faint = min(snr, key=snr.get)
    assert snr[faint] == pytest.approx(0.16, abs=0.01)

    curve = archive.object("ZTF18aaxjdyr").lightcurve("mag")
    forced = curve[(curve["measurement"] == "forced") & (curve["fid"] == 1)].set_index("jd")
    assert len(forced) == len(points)
    for point in points:
        shown = forced.loc[point["jd"]]
        total, error = _total_flux(point)
        if snr[point["jd"]] < 3:
            assert shown["upper_limit"]
            assert shown["mag"] == pytest.approx(8.9 - 2.5 * math.log10(5 * error), abs=1e-6)
            assert math.isnan(shown["mag_err"])
        else:
            assert not shown["upper_limit"]
            assert shown["mag"] == pytest.approx(8.9 - 2.5 * math.log10(total), abs=1e-6)
            # SNAD eq. 9: sigma_m = 2.5 / ln 10 * sigma_f / f = 1.0857 sigma_f / f.
            assert shown["mag_err"] == pytest.approx(2.5 / LN10 * error / total, rel=1e-6)
        assert shown["mag_type"] == "dc"
    assert forced.loc[faint, "upper_limit"]

    # The threshold is a parameter: 0 shows every point as measured.
    everything = archive.object("ZTF18aaxjdyr").lightcurve("flux", forced_snr=0)
    assert not everything.loc[everything["measurement"] == "forced", "upper_limit"].any()
    strict = archive.object("ZTF18aaxjdyr").lightcurve("flux", forced_snr=1e6)
    assert strict.loc[strict["measurement"] == "forced", "upper_limit"].all()
    with pytest.raises(ln.ArgumentError, match="forced_snr"):
        archive.object("ZTF18aaxjdyr").lightcurve("mag", forced_snr=-1)
    # The default is 3 sigma, and the documentation says so.
    assert photometry.FORCED_SNR_DETECTION == 3.0
    assert "(3)" in inspect.getdoc(ObjectRecord.lightcurve)


def test_forced_difference_limits_use_the_difference_snr(
    archive: ln.Archive, ztf_alert_files: list[Path]
) -> None:
    packet = _packet(ztf_alert_files, "ZTF23abjjncz_")
    curve = archive.object("ZTF23abjjncz").lightcurve("diffflux").set_index("jd")
    seen = 0
    for point in packet["fp_hists"]:
        if point["forcediffimflux"] <= -99999:
            continue
        scale = 10 ** (-0.4 * (point["magzpsci"] - 8.9))
        flux, error = point["forcediffimflux"] * scale, point["forcediffimfluxunc"] * scale
        shown = curve.loc[[point["jd"]]]
        shown = shown[(shown["measurement"] == "forced") & (shown["fid"] == point["fid"])].iloc[0]
        if abs(flux) / error < 3:
            assert shown["upper_limit"] and shown["flux"] == pytest.approx(5 * error, rel=1e-6)
            assert math.isnan(shown["flux_err"])
        else:
            assert not shown["upper_limit"] and shown["flux"] == pytest.approx(flux, rel=1e-6)
        seen += 1
    assert seen > 10


def test_forced_magnitude_is_snad_equation_9() -> None:
    mag, err = photometry.forced_magnitude([1e-3, 1e-3, -1e-3], [1e-4, 5e-4, 1e-4])
    assert mag[0] == pytest.approx(16.4)
    assert err[0] == pytest.approx(1.0857 * 0.1, rel=1e-4)
    assert err[1] == pytest.approx(1.0857 * 0.5, rel=1e-4)
    assert math.isnan(mag[2])  # no magnitude for a negative flux


# --- 6. DC magnitude: ours (the ZTF schema's) against Lasair-ZTF's published formula ----------

LASAIR_REFERENCE_ZERO_POINTS = {1: 26.325, 2: 26.275, 3: 25.660}


def _lasair_dc_mag(c: dict) -> float | None:
    """Lasair-ZTF's dc_mag (R. Williams): fixed reference zero points, fluxes capped."""
    magzpref = LASAIR_REFERENCE_ZERO_POINTS[c["fid"]]
    ref_flux = 10 ** (0.4 * min(magzpref - c["magnr"], 12.0))
    magzpsci = c["magzpsci"] or magzpref
    diff_flux = 10 ** (0.4 * min(magzpsci - c["magpsf"], 12.0))
    positive = c["isdiffpos"] in ("t", "1")
    dc_flux = ref_flux + diff_flux if positive else ref_flux - diff_flux
    return magzpsci - 2.5 * math.log10(dc_flux) if dc_flux > 0 else None


def _schema_dc_mag(c: dict) -> float | None:
    """The ZTF schema's calibrated magnitudes added as fluxes (both AB)."""
    sign = 1 if c["isdiffpos"] in ("t", "1") else -1
    flux = 10 ** (-0.4 * c["magnr"]) + sign * 10 ** (-0.4 * c["magpsf"])
    return -2.5 * math.log10(flux) if flux > 0 else None


def test_dc_magnitude_differs_from_lasairs_by_a_median_005_mag(
    ztf_alert_files: list[Path],
) -> None:
    decoder = AlertDecoder()
    own: dict[int, float] = {}
    history: dict[int, float] = {}
    for path in ztf_alert_files:
        packet = decoder.decode(path.read_bytes()).records[0]
        entries = [(packet["candidate"], True)] + [
            (p, False) for p in packet["prv_candidates"] or [] if p.get("candid") is not None
        ]
        for c, in_alert in entries:
            if c.get("magnr") is None or c["magnr"] <= 0 or c.get("magzpsci") is None:
                continue
            lasair, ours = _lasair_dc_mag(c), _schema_dc_mag(c)
            if lasair is None or ours is None:
                continue
            (own if in_alert else history)[c["candid"]] = lasair - ours
    every = np.abs(np.array(list({**history, **own}.values())))
    alerts = np.abs(np.array(list(own.values())))
    assert len(every) == 798 and len(alerts) == 123
    assert np.median(every) == pytest.approx(0.048, abs=0.002)
    assert np.median(alerts) == pytest.approx(0.055, abs=0.002)
    assert every.max() == pytest.approx(2.92, abs=0.01)
    # What the documentation states.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    bullet = readme[readme.index("- **DC magnitude**") :].split("\n- ")[0]
    assert "median of 0.05 mag" in bullet and "2.9 mag" in bullet and "1.5 pixels" in bullet
    assert "″)" not in bullet.replace("≈ 1.5″", "")
    module = inspect.getdoc(photometry)
    assert "median of 0.05 mag" in module and "2.9 mag" in module
    assert "pixels" in inspect.getdoc(photometry.is_coincident)
