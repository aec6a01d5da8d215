"""Ingest the real sample alerts into a real PostgreSQL and check the archive against the packets."""

from __future__ import annotations

import copy
import io
import math
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path

import fastavro
import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from astropy import units as u
from astropy.coordinates import SkyCoord

from ingest.connection import connect
from ingest.decode import AlertDecoder
from ingest.pipeline import Ingester, decode_packet
from ingest.sources import Packet, expand_paths, read_packets
from ingest.writer import ArchiveWriter
from lasair_nb.archive.migrate import alembic_config
from lasair_nb.archive.schema import candidates

DATA_TABLES = dict.fromkeys(
    ("candidates", "noncandidates", "forced_photometry", "cutouts", "objects", "quarantine",
     "coverage"),
    "*",
)  # fmt: skip


def ingest(url: str, packets: Iterable[Packet], batch_size: int = 40):
    connection = connect(url)
    try:
        return Ingester(connection, batch_size=batch_size).ingest(packets, "test", progress=False)
    finally:
        connection.close()


def file_packets(files: Iterable[Path]) -> list[Packet]:
    return list(read_packets(list(files)))


def records(files: Iterable[Path]) -> list[dict]:
    return [next(fastavro.reader(io.BytesIO(path.read_bytes()))) for path in files]


def expected_counts(alerts: list[dict]) -> dict[str, int]:
    """Counts computed straight from the packets, without the ingester's code."""
    detections, upper_limits, forced = set(), set(), set()
    for alert in alerts:
        detections.add(alert["candid"])
        for previous in alert["prv_candidates"] or []:
            if "forcediffimflux" in previous:  # schema 3.5 put forced photometry here
                forced.add(
                    (
                        alert["objectId"],
                        previous["jd"],
                        previous["fid"],
                        previous["field"],
                        previous["rcid"],
                    )
                )
            elif previous["candid"] is not None:
                detections.add(previous["candid"])
            else:
                upper_limits.add((alert["objectId"], previous["jd"], previous["fid"]))
        for point in alert.get("fp_hists") or []:
            forced.add(
                (alert["objectId"], point["jd"], point["fid"], point["field"], point["rcid"])
            )
    return {
        "candidates": len(detections),
        "alerts": len({alert["candid"] for alert in alerts}),
        "noncandidates": len(upper_limits),
        "forced_photometry": len(forced),
        "cutouts": len({alert["candid"] for alert in alerts}),
        "objects": len({alert["objectId"] for alert in alerts}),
    }


def scalar(url: str, sql: str, **params):
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(sa.text(sql), params).scalar()
    engine.dispose()
    return value


@pytest.fixture(scope="module")
def sample_archive(make_archive, ztf_alert_files: list[Path]) -> str:
    """An archive holding every real sample alert, ingested once."""
    url = make_archive()
    summary = ingest(url, file_packets(ztf_alert_files))
    assert (summary.new, summary.duplicates, summary.quarantined) == (len(ztf_alert_files), 0, 0)
    return url


def test_counts_match_the_packets(sample_archive: str, ztf_alert_files: list[Path]) -> None:
    expected = expected_counts(records(ztf_alert_files))
    for table in ("candidates", "noncandidates", "forced_photometry", "cutouts", "objects"):
        assert scalar(sample_archive, f"SELECT count(*) FROM {table}") == expected[table], table
    assert (
        scalar(sample_archive, "SELECT count(*) FROM candidates WHERE in_alert")
        == expected["alerts"]
    )
    assert scalar(sample_archive, "SELECT count(*) FROM quarantine") == 0
    # Every ingested object has a summary whose ncand counts its stored detections.
    assert (
        scalar(
            sample_archive,
            "SELECT count(*) FROM objects o WHERE ncand <> "
            "(SELECT count(*) FROM candidates c WHERE c.objectid = o.objectid)",
        )
        == 0
    )


def test_coverage_counts_every_stored_measurement(sample_archive: str) -> None:
    counted = scalar(sample_archive, "SELECT sum(ncandidates) FROM coverage")
    assert counted == scalar(
        sample_archive, "SELECT count(*) FROM candidates WHERE field IS NOT NULL"
    )
    limits = scalar(sample_archive, "SELECT sum(nlimits) FROM coverage")
    assert limits == scalar(
        sample_archive, "SELECT count(*) FROM noncandidates WHERE field IS NOT NULL"
    )
    # ZTF21abiuvdk's first alert: 2021-07-01 09:42 UTC, in the Palomar night begun on 06-30.
    night = scalar(
        sample_archive,
        "SELECT night FROM coverage c JOIN candidates d ON d.field = c.field AND d.fid = c.fid"
        " AND d.jd BETWEEN c.jd_first AND c.jd_last WHERE d.candid = 1642404680815015001",
    )
    assert str(night) == "2021-06-30"


def test_the_migration_backfills_coverage_as_ingest_does(sample_archive: str, table_digest) -> None:
    before = table_digest(sample_archive, DATA_TABLES)
    command.downgrade(alembic_config(sample_archive), "0001")
    command.upgrade(alembic_config(sample_archive), "head")
    assert table_digest(sample_archive, DATA_TABLES)["coverage"] == before["coverage"]
    # Summaries the migrations cannot compute come back with `ingest resummarise`.
    assert table_digest(sample_archive, DATA_TABLES)["objects"] != before["objects"]
    connection = connect(sample_archive)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT objectid FROM objects")
            objectids = [row[0] for row in cursor.fetchall()]
        ArchiveWriter(connection).resummarise(objectids, progress=False)
    finally:
        connection.close()
    assert table_digest(sample_archive, DATA_TABLES) == before


def test_every_schema_version_is_archived(sample_archive: str) -> None:
    versions = scalar(
        sample_archive,
        "SELECT string_agg(DISTINCT schemavsn, ',' ORDER BY schemavsn) FROM candidates WHERE in_alert",
    )
    assert versions.split(",") == ["3.0", "3.1", "3.2", "3.3", "3.5", "4.01", "4.02"]


def test_stamps_are_stored_as_received(sample_archive: str, ztf_alert_files: list[Path]) -> None:
    alert = records(ztf_alert_files[:1])[0]
    engine = sa.create_engine(sample_archive)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT science, template, difference, stamp_format FROM cutouts WHERE candid = :c"
            ),
            {"c": alert["candid"]},
        ).one()
    engine.dispose()
    assert bytes(row.science) == alert["cutoutScience"]["stampData"]
    assert bytes(row.template) == alert["cutoutTemplate"]["stampData"]
    assert bytes(row.difference) == alert["cutoutDifference"]["stampData"]
    assert row.stamp_format == "fits.gz"


@pytest.mark.slow  # two full ingests of every sample packet
def test_ingesting_again_changes_nothing(
    make_archive, ztf_alert_files: list[Path], legacy_alert_files: list[Path], table_digest
) -> None:
    url = make_archive()
    packets = file_packets(ztf_alert_files + legacy_alert_files)
    first = ingest(url, packets)
    before = table_digest(url, DATA_TABLES)
    second = ingest(url, packets, batch_size=17)  # other batch boundaries, same result
    assert table_digest(url, DATA_TABLES) == before
    assert first.new == len(packets) and second.new == 0 and second.duplicates == len(packets)


@pytest.mark.slow  # two full ingests of every sample packet
def test_order_of_arrival_does_not_matter(make_archive, ztf_alert_files: list[Path]) -> None:
    forward, backward = make_archive(), make_archive()
    packets = file_packets(ztf_alert_files)
    ingest(forward, packets)
    ingest(backward, packets[::-1], batch_size=7)
    tables = ("candidates", "noncandidates", "forced_photometry", "cutouts", "objects")
    # ingested_at differs between the two runs; compare everything else.
    for table in tables:
        columns = (
            "*"
            if table != "candidates"
            else "candid, objectid, in_alert, magpsf, dc_mag, hpx, sgscore1"
        )
        query = f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT {columns} FROM {table}) t"
        assert scalar(forward, query) == scalar(backward, query), table


def test_bad_packets_are_quarantined_and_the_rest_ingest(
    archive_url: str, ztf_alert_files: list[Path], tmp_path: Path
) -> None:
    truncated = ztf_alert_files[5].read_bytes()[:20_000]
    random_bytes = np.random.default_rng(42).bytes(5000)
    (tmp_path / "truncated.avro").write_bytes(truncated)
    (tmp_path / "random.avro").write_bytes(random_bytes)
    files = [
        *ztf_alert_files[:10],
        tmp_path / "truncated.avro",
        *ztf_alert_files[10:20],
        tmp_path / "random.avro",
    ]

    summary = ingest(archive_url, file_packets(files), batch_size=8)

    assert (summary.new, summary.quarantined) == (20, 2)
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT source, raw, reason FROM quarantine ORDER BY source")
        ).all()
        alerts = connection.exec_driver_sql(
            "SELECT count(*) FROM candidates WHERE in_alert"
        ).scalar()
    engine.dispose()
    assert alerts == 20
    assert [Path(row.source).name for row in rows] == ["random.avro", "truncated.avro"]
    assert bytes(rows[0].raw) == random_bytes and bytes(rows[1].raw) == truncated
    assert "not an Avro container" in rows[0].reason
    assert "truncated" in rows[1].reason


def test_batches_are_logged(archive_url: str, ztf_alert_files: list[Path]) -> None:
    ingest(archive_url, file_packets(ztf_alert_files[:30]), batch_size=12)
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        batches = connection.exec_driver_sql(
            "SELECT n_packets, n_new, n_duplicate, n_quarantined, alerts_per_s FROM ingest_batches ORDER BY id"
        ).all()
    engine.dispose()
    assert [tuple(b[:4]) for b in batches] == [(12, 12, 0, 0), (12, 12, 0, 0), (6, 6, 0, 0)]
    assert all(b.alerts_per_s > 0 for b in batches)


# --- ZTF21abiuvdk: a bright supernova with 34 alerts over 22 nights -------------------------


def dc_magnitude_lasair(magpsf, sigmapsf, magnr, sigmagnr, isdiffpos):
    """Lasair-ZTF's DC magnitude, written out independently with zero point 27."""
    ref_flux = 10 ** (0.4 * (27 - magnr))
    ref_sigflux = sigmagnr / 1.0857 * ref_flux
    diff_flux = 10 ** (0.4 * (27 - magpsf))
    diff_sigflux = sigmapsf / 1.0857 * diff_flux
    dc_flux = ref_flux + diff_flux if isdiffpos in ("t", "1") else ref_flux - diff_flux
    if dc_flux <= 0:
        return None, None
    dc_sigflux = math.sqrt(diff_sigflux**2 + ref_sigflux**2)
    return 27 - 2.5 * math.log10(dc_flux), dc_sigflux / dc_flux * 1.0857


@pytest.fixture(scope="module")
def supernova(sample_archive: str, ztf_alert_files: list[Path]) -> dict:
    alerts = records(p for p in ztf_alert_files if p.name.startswith("ZTF21abiuvdk_"))
    assert len(alerts) == 34
    detections: dict[int, dict] = {}
    for alert in alerts:
        for previous in alert["prv_candidates"] or []:
            if previous["candid"] is not None:
                detections.setdefault(previous["candid"], previous)
    for alert in alerts:
        detections[alert["candid"]] = alert["candidate"]  # the alert's own record wins
    engine = sa.create_engine(sample_archive)
    with engine.connect() as connection:
        summary = (
            connection.execute(sa.text("SELECT * FROM objects WHERE objectid = 'ZTF21abiuvdk'"))
            .mappings()
            .one()
        )
        stored = {
            row.candid: row
            for row in connection.execute(
                sa.text(
                    "SELECT candid, dc_mag, dc_sigmag, in_alert FROM candidates WHERE objectid = 'ZTF21abiuvdk'"
                )
            )
        }
    engine.dispose()
    latest_alert = max(alerts, key=lambda a: a["candidate"]["jd"])["candidate"]
    return {
        "alerts": alerts,
        "detections": detections,
        "summary": summary,
        "stored": stored,
        "latest": latest_alert,
    }


def test_supernova_dc_magnitudes(supernova: dict) -> None:
    assert set(supernova["stored"]) == set(supernova["detections"])
    for candid, detection in supernova["detections"].items():
        expected_mag, expected_sig = dc_magnitude_lasair(
            detection["magpsf"],
            detection["sigmapsf"],
            detection["magnr"],
            detection["sigmagnr"],
            detection["isdiffpos"],
        )
        row = supernova["stored"][candid]
        assert row.dc_mag == pytest.approx(expected_mag, abs=1e-6), candid
        assert row.dc_sigmag == pytest.approx(expected_sig, abs=1e-6), candid
    # The supernova sits 3-4" from its host's core, so the reference source is the
    # host: the DC magnitude includes host light and the summary does not use it.
    assert all(d["distnr"] > 1.5 for d in supernova["detections"].values())
    assert (
        supernova["summary"]["latest_dcmag_g"] is None
        and supernova["summary"]["latest_dcmag_r"] is None
    )


def lasair_ztf_features(detections: list[dict]) -> dict:
    """Lasair-ZTF's object columns, written out from its published definitions.

    (lsst-uk's ``create_features``: Lasair counts every non-g detection as r; this
    object has no i-band points, so that makes no difference here.)
    """
    cands = sorted(detections, key=lambda d: d["jd"])
    good = [
        c
        for c in cands
        if ((c.get("rb") or 0) > 0.75 or (c.get("drb") or 0) > 0.75) and c["isdiffpos"] in "t1"
    ]
    jdmax = max(c["jd"] for c in cands)
    out: dict = {
        "ncand": len(cands),
        "jdmin": min(c["jd"] for c in cands),
        "jdmax": jdmax,
        "ramean": float(np.mean([c["ra"] for c in cands])),
        "decmean": float(np.mean([c["dec"] for c in cands])),
        "rastd": 3600 * float(np.std([c["ra"] for c in cands])),
        "decstd": 3600 * float(np.std([c["dec"] for c in cands])),
        "ncandgp": len(good),
        "ncandgp_7": sum(jdmax - c["jd"] < 7 for c in good),
        "ncandgp_14": sum(jdmax - c["jd"] < 14 for c in good),
    }
    nights: dict[int, dict] = {1: {}, 2: {}}
    for c in cands:
        if c["isdiffpos"] in "t1":
            nights[c["fid"]][c["nid"]] = (c["magpsf"], c["jd"])
    both = [nid for nid in nights[2] if nid in nights[1]]
    out["g_minus_r"] = nights[1][both[-1]][0] - nights[2][both[-1]][0] if both else None
    out["jd_g_minus_r"] = nights[1][both[-1]][1] if both else None
    for fid, band in ((1, "g"), (2, "r")):
        mags = [c["magpsf"] for c in cands if c["fid"] == fid]
        jds = [c["jd"] for c in cands if c["fid"] == fid]
        pos = [c["isdiffpos"] in "t1" for c in cands if c["fid"] == fid]
        out[f"mag{band}min"], out[f"mag{band}max"] = min(mags), max(mags)
        out[f"mag{band}mean"] = float(np.mean(mags))
        out[f"jd{band}max"] = max(jds)
        out[f"dmdt_{band}"] = (
            (mags[-2] - mags[-1]) / (jds[-1] - jds[-2]) if pos[-1] and pos[-2] else None
        )
        # Lasair's documented meaning (positive = brightening); one published version of
        # its code subtracts the other way round for dmdt_b_2 only.
        out[f"dmdt_{band}_2"] = (
            (mags[-3] - mags[-2]) / (jds[-2] - jds[-3]) if pos[-2] and pos[-3] else None
        )
        for tau in (2, 8, 28):
            ema, previous = 0.0, 0.0
            for jd, mag in zip(jds, mags, strict=True):
                f = math.exp(-(jd - previous) / tau)
                ema, previous = ema * f + mag * (1 - f), jd
            out[f"mag_{band}{tau:02d}"] = ema
    return out


def test_supernova_summary(supernova: dict) -> None:
    summary, detections = supernova["summary"], list(supernova["detections"].values())
    assert summary["ncand"] == len(detections)
    assert summary["nalerts"] == 34
    assert summary["jdmin"] == min(d["jd"] for d in detections)
    assert summary["jdmax"] == max(d["jd"] for d in detections)
    assert summary["latest_candid"] == supernova["latest"]["candid"]

    mean = SkyCoord(
        [d["ra"] for d in detections] * u.deg, [d["dec"] for d in detections] * u.deg
    ).cartesian.mean()
    mean = SkyCoord(mean, representation_type="cartesian").spherical
    assert summary["ramean"] == pytest.approx(mean.lon.deg, abs=1e-9)
    assert summary["decmean"] == pytest.approx(mean.lat.deg, abs=1e-9)

    for fid, band in ((1, "g"), (2, "r")):
        points = sorted(
            (d for d in detections if d["fid"] == fid), key=lambda d: (d["jd"], d["candid"])
        )
        mags = [d["magpsf"] for d in points]
        assert summary[f"ncand_{band}"] == len(points)
        positive = [d["magpsf"] for d in points if d["isdiffpos"] in ("t", "1")]
        assert summary[f"amplitude_{band}"] == pytest.approx(
            (max(positive) - min(positive)) / 2, rel=1e-5
        )
        assert summary[f"period_{band}"] is not None and summary[f"period_snr_{band}"] is not None
        assert summary[f"{band}mag"] == pytest.approx(mags[-1])
    # magpsf is float32 (REAL): PostgreSQL returns its shortest decimal form, which
    # differs from the widened float32 in the 8th digit, hence rel=1e-4 on magnitudes.
    expected = lasair_ztf_features(detections)
    for name, value in expected.items():
        if value is None:
            assert summary[name] is None, name
        elif isinstance(value, int):
            assert summary[name] == value, name
        elif name in ("ramean", "decmean"):  # Lasair's arithmetic mean; ours the vector one
            assert summary[name] == pytest.approx(value, abs=1e-6), name
        else:
            assert summary[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    assert summary["dmdt_g"] is not None and summary["dmdt_r"] is not None
    assert summary["dmdt_g"] < 0 and summary["dmdt_r"] < 0  # fading after peak
    galactic = SkyCoord(summary["ramean"] * u.deg, summary["decmean"] * u.deg).galactic
    assert summary["glonmean"] == pytest.approx(galactic.l.deg, abs=1e-9)
    assert summary["glatmean"] == pytest.approx(galactic.b.deg, abs=1e-9)
    assert summary["ncand_i"] == 0 and summary["amplitude_i"] is None


def test_supernova_context(supernova: dict) -> None:
    latest = supernova["latest"]
    # Nearest PS1 source: not star-like (0.5 is PS1's "unclassified", typical of the
    # pieces PS1 splits a bright galaxy into) and a few arcsec away - a host.
    assert latest["sgscore1"] <= 0.5 and 1.0 < latest["distpsnr1"] <= 15.0
    assert supernova["summary"]["context"] == "near galaxy"


def test_context_classes_cover_the_sample(sample_archive: str) -> None:
    engine = sa.create_engine(sample_archive)
    with engine.connect() as connection:
        classes = dict(
            connection.exec_driver_sql("SELECT context, count(*) FROM objects GROUP BY 1").all()
        )
    engine.dispose()
    assert set(classes) == {"star-like", "nuclear", "near galaxy", "orphan"}
    assert sum(classes.values()) == 88


def test_tarball_and_directory_sources(tmp_path: Path, ztf_alert_files: list[Path]) -> None:
    tarball = tmp_path / "ztf_public_20210901.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in ztf_alert_files[:5]:
            tar.add(path, arcname=path.name)
    packets = list(read_packets(expand_paths([tarball, ztf_alert_files[5]])))
    assert [p.data for p in packets] == [p.read_bytes() for p in ztf_alert_files[:6]]
    assert packets[0].source == f"{tarball}:{ztf_alert_files[0].name}"
    assert os.path.basename(packets[5].source) == ztf_alert_files[5].name


@pytest.mark.parametrize("detection", [False, True], ids=["upper limit", "detection"])
def test_a_value_postgresql_cannot_store_is_quarantined(
    make_archive, ztf_alert_files: list[Path], detection: bool, table_digest
) -> None:
    """The batch is written again alert by alert: the others are stored exactly as alone."""
    reader = fastavro.reader(io.BytesIO(ztf_alert_files[5].read_bytes()))
    schema, record = reader.writer_schema, next(reader)
    for previous in record["prv_candidates"]:
        if (previous["candid"] is not None) == detection:  # PostgreSQL refuses the NUL
            previous["pdiffimfilename"] = "ztf\x00image.fits"
            break
    table = "candidates" if detection else "noncandidates"
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [record])
    poisoned = Packet(buffer.getvalue(), "poisoned.avro")
    good = file_packets(ztf_alert_files[:5])  # alerts 2 and 3 share coverage cells
    url, clean = make_archive(), make_archive()

    summary = ingest(url, [*good, poisoned], batch_size=10)
    ingest(clean, good)

    assert (summary.new, summary.quarantined) == (5, 1)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        source, reason = connection.exec_driver_sql("SELECT source, reason FROM quarantine").one()
    engine.dispose()
    assert source == "poisoned.avro" and "rejected a value" in reason
    assert f"staging_{table}" in reason and "column pdiffimfilename" in reason, reason
    stored = {name: "*" for name in DATA_TABLES if name != "quarantine"}
    stored["candidates"] = ", ".join(c.name for c in candidates.c if c.name != "ingested_at")
    assert table_digest(url, stored) == table_digest(clean, stored)


@pytest.mark.slow  # five ingests; the detection NUL test and the driver's net stay fast
@pytest.mark.parametrize(
    "case",
    [
        # a hostile writer schema gives a field another type: refused when decoded
        ("magzpsci", "string", "26.3", "magzpsci the type string; the archive stores a number"),
        ("ra", "boolean", True, "ra the type boolean; the archive stores a number"),
        # a number past its column's range: PostgreSQL's cast from the staging table refuses
        ("rcid", "long", 2**40, "the archive rejected a value: integer out of range"),
        ("magzpsci", "double", 1e300, "the archive rejected a value: value out of range"),
        ("jd", "double", 1e300, "is not a Julian date"),
    ],
)
def test_a_value_the_column_cannot_take_is_quarantined_with_its_reason(
    archive_url: str, ztf_alert_files: list[Path], case: tuple[str, str, object, str]
) -> None:
    """Any field can be any type in a hostile packet: its alert is quarantined, the batch's
    other alerts are written, and nothing is stored wrapped, rounded or as 1 for True."""
    field, avro_type, value, reason = case
    reader = fastavro.reader(io.BytesIO(ztf_alert_files[3].read_bytes()))
    schema, record = copy.deepcopy(reader.writer_schema), next(reader)
    candidate = next(f for f in schema["fields"] if f["name"] == "candidate")["type"]
    for entry in candidate["fields"]:
        if entry["name"] == field:
            entry["type"] = ["null", avro_type]
    record["candidate"][field] = value
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(schema), [record])
    hostile = Packet(buffer.getvalue(), "hostile.avro")

    summary = ingest(archive_url, [*file_packets(ztf_alert_files[:3]), hostile], batch_size=10)

    assert (summary.new, summary.quarantined) == (3, 1)
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        source, stored = connection.exec_driver_sql("SELECT source, reason FROM quarantine").one()
        kept = connection.exec_driver_sql(
            "SELECT count(*) FROM candidates WHERE candid = %s", (record["candid"],)
        ).scalar()
    engine.dispose()
    assert source == "hostile.avro" and kept == 0
    assert reason in stored, stored


def test_a_value_the_driver_cannot_send_quarantines_its_alert(
    archive_url: str, ztf_alert_files: list[Path]
) -> None:
    """The writer's own safety net, behind the decoder's type check: named, and alone."""
    decoder = AlertDecoder()
    alerts = [
        rows
        for packet in file_packets(ztf_alert_files[:3])
        for rows in decode_packet(decoder, packet)
    ]
    alerts[1].candidates[0]["magzpsci"] = "26.3"  # a str where the archive stores a number
    connection = connect(archive_url)
    try:
        result = ArchiveWriter(connection).write_batch(alerts, source="test")
        with connection.cursor() as cursor:
            cursor.execute("SELECT reason FROM quarantine")
            (reason,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM candidates WHERE in_alert")
            (stored,) = cursor.fetchone()
    finally:
        connection.close()
    assert (result.new, result.quarantined, stored) == (2, 1, 2)
    assert "candidates.magzpsci holds a str, the archive stores float8" in reason, reason


@pytest.mark.slow
def test_resummarise_restores_summaries_after_an_upgrade(sample_archive: str) -> None:
    """``lasair-nb ingest resummarise`` recomputes what a migration cleared, from detections."""
    engine = sa.create_engine(sample_archive)
    query = sa.text("SELECT * FROM objects ORDER BY objectid")
    with engine.begin() as connection:
        before = [dict(row) for row in connection.execute(query).mappings()]
        connection.execute(sa.text("UPDATE objects SET dmdt_g = NULL, gmag = NULL, ncandgp = 0"))
    env = {**os.environ, "LASAIR_DB_URL": sample_archive}
    done = subprocess.run(
        [sys.executable, "-m", "lasair_nb.cli", "ingest", "resummarise", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"recomputed {len(before)} object summaries" in done.stdout
    with engine.connect() as connection:
        after = [dict(row) for row in connection.execute(query).mappings()]
    engine.dispose()
    assert after == before
    unknown = subprocess.run(
        [sys.executable, "-m", "lasair_nb.cli", "ingest", "resummarise", "ZTF00nothere"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert unknown.returncode != 0 and "no object ZTF00nothere" in unknown.stderr
    assert "Traceback" not in unknown.stderr
