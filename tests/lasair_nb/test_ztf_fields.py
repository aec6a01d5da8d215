"""The ZTF field definitions of ``lasair_nb.domain.ztf`` equal the official 4.02 ``.avsc`` files.

The official schemas (ZwickyTransientFacility/ztf-avro-alert) carry no licence, so they
are not shipped; the transcription is checked field by field against them, read in place
from ``../shared/data/ztf/schema/4.02``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lasair_nb.domain.ztf import CANDIDATE_FIELDS, FP_HIST_FIELDS, PRV_CANDIDATE_FIELDS, Field


def _official(shared_data: Path, record: str) -> list[tuple[str, str, bool, str]]:
    schema = json.loads((shared_data / "ztf" / "schema" / "4.02" / f"{record}.avsc").read_text())
    fields = []
    for field in schema["fields"]:
        kind = field["type"]
        nullable = isinstance(kind, list) and "null" in kind
        if isinstance(kind, list):
            kind = next(item for item in kind if item != "null")
        fields.append((field["name"], kind, nullable, field.get("doc", "")))
    return fields


@pytest.mark.parametrize(
    ("record", "ours"),
    [
        ("candidate", CANDIDATE_FIELDS),
        ("prv_candidate", PRV_CANDIDATE_FIELDS),
        ("fp_hist", FP_HIST_FIELDS),
    ],
)
def test_field_names_types_and_nullability_match_the_official_schema(
    shared_data: Path, record: str, ours: tuple[Field, ...]
) -> None:
    official = _official(shared_data, record)
    assert [field.name for field in ours] == [name for name, *_ in official]
    for field, (name, kind, nullable, doc) in zip(ours, official, strict=True):
        assert (field.avro_type, field.nullable) == (kind, nullable), name
        # Descriptions are ZTF's own words (units moved into brackets in places).
        assert doc.split()[:2] == field.doc.split()[:2] or not doc, name
