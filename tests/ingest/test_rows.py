"""Row building on every real alert, checked against counts taken straight from the packets."""

from __future__ import annotations

import io
import math
from pathlib import Path

import fastavro
import pytest

from ingest.rows import RowError, add_derived_columns, alert_rows
from lasair_nb.archive.schema import candidates as candidates_table


def read(path: Path) -> tuple[dict, dict]:
    reader = fastavro.reader(io.BytesIO(path.read_bytes()))
    return reader.writer_schema, next(reader)


def test_rows_of_every_sample_alert(ztf_alert_files: list[Path]) -> None:
    columns = {column.name for column in candidates_table.c}
    for path in ztf_alert_files:
        schema, record = read(path)
        rows = alert_rows(record, schema.get("version"))
        history = record["prv_candidates"] or []
        detections = [p for p in history if p.get("candid") is not None]
        upper_limits = [p for p in history if "candid" in p and p["candid"] is None]
        forced_in_history = [p for p in history if "forcediffimflux" in p]
        assert len(detections) + len(upper_limits) + len(forced_in_history) == len(history)

        assert rows.objectid == record["objectId"] and rows.candid == record["candid"]
        assert rows.schemavsn == record["schemavsn"]
        assert [r["candid"] for r in rows.candidates] == [record["candid"]] + [
            p["candid"] for p in detections
        ]
        assert [r["in_alert"] for r in rows.candidates] == [True] + [False] * len(detections)
        assert rows.candidates[0]["magpsf"] == record["candidate"]["magpsf"]
        assert all(
            columns - {"hpx", "dc_mag", "dc_sigmag", "ingested_at"} <= set(r)
            for r in rows.candidates
        )
        assert [(r["jd"], r["fid"]) for r in rows.noncandidates] == [
            (p["jd"], p["fid"]) for p in upper_limits
        ]
        assert len(rows.forced) == len(record.get("fp_hists") or []) + len(forced_in_history)
        assert rows.cutout is not None and rows.cutout["stamp_format"] == "fits.gz"
        assert rows.cutout["science"] == record["cutoutScience"]["stampData"]


def test_legacy_alerts_are_accepted_with_their_writer_version(
    legacy_alert_files: list[Path],
) -> None:
    formats = set()
    for path in legacy_alert_files:
        schema, record = read(path)
        rows = alert_rows(record, schema.get("version"))
        assert rows.schemavsn == (record.get("schemavsn") or schema["version"])
        formats.add(rows.cutout["stamp_format"])
        if schema["version"] == "1.5":
            # 1.5 named the nearest PS1 source's score "sgscore"; it is stored as sgscore1.
            assert rows.candidates[0]["sgscore1"] == record["candidate"]["sgscore"]
    assert formats == {"fits.gz", "jpeg"}


def test_derived_columns(ztf_alert_files: list[Path]) -> None:
    schema, record = read(next(p for p in ztf_alert_files if "ZTF21abiuvdk" in p.name))
    rows = alert_rows(record, schema["version"]).candidates
    add_derived_columns(rows)
    for row in rows:
        assert isinstance(row["hpx"], int) and 0 <= row["hpx"] < 12 * 4**29
        if row["dc_mag"] is not None:
            assert math.isfinite(row["dc_mag"]) and 10 < row["dc_mag"] < 25


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(objectId=None), "objectId"),
        (lambda r: r["candidate"].update(ra=400.0), "ra 400.0 outside"),
        (lambda r: r["candidate"].update(dec=float("nan")), "dec nan outside"),
        (lambda r: r["candidate"].update(candid=1), "does not match"),
        (lambda r: r.update(candidate=None), "no candidate"),
        (
            lambda r: r["prv_candidates"].append({"candid": None, "jd": None, "fid": 1}),
            "without jd",
        ),
        # a date no night can be computed for (it once failed the whole batch)
        (
            lambda r: r["prv_candidates"].append({"candid": None, "jd": 1e300, "fid": 1}),
            r"jd 1e\+300 is not a Julian date in \[2400000.0, 2600000.0\]",
        ),
        (lambda r: r["candidate"].update(jd=float("inf")), "jd inf is not a Julian date"),
        (lambda r: r.update(objectId="Z" * 3000), "string of 1 to 64 characters"),
        (  # a bool is an int to Python, not a candid
            lambda r: (r.update(candid=True), r["candidate"].update(candid=True)),
            "does not match",
        ),
    ],
)
def test_bad_content_raises_row_error(ztf_alert_files: list[Path], change, message: str) -> None:
    schema, record = read(ztf_alert_files[0])
    change(record)
    with pytest.raises(RowError, match=message):
        alert_rows(record, schema["version"])
