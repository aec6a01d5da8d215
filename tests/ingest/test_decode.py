"""Decoding real ZTF packets: same records as fastavro.reader, schemas parsed once, clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import fastavro
import pytest

from ingest.decode import AlertDecoder, DecodeError


def reference_records(data: bytes) -> list[dict]:
    return list(fastavro.reader(io.BytesIO(data)))


def test_every_sample_alert_decodes_like_fastavro(
    ztf_alert_files: list[Path], legacy_alert_files: list[Path]
) -> None:
    decoder = AlertDecoder()
    versions = set()
    for path in ztf_alert_files + legacy_alert_files:
        data = path.read_bytes()
        packet = decoder.decode(data)
        assert packet.records == reference_records(data), path.name
        versions.add(packet.schema_version)
    assert {
        "1.5",
        "1.7",
        "1.8",
        "2.0",
        "3.0",
        "3.1",
        "3.2",
        "3.3",
        "3.5",
        "4.01",
        "4.02",
    } <= versions
    # 189 packets, a handful of distinct writer schemas: each parsed once.
    assert decoder.cached_schemas < 20


def test_deflate_container_decodes(ztf_alert_files: list[Path]) -> None:
    data = ztf_alert_files[0].read_bytes()
    reader = fastavro.reader(io.BytesIO(data))
    schema, records = reader.writer_schema, list(reader)
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, records, codec="deflate")
    assert AlertDecoder().decode(buffer.getvalue()).records == records


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda data: data[: len(data) // 2], "truncated"),
        (lambda data: b"\x00" * 100, "not an Avro container"),
        (lambda data: b"", "not an Avro container"),
        (lambda data: data[:-8] + b"\x00" * 8, "sync marker"),
    ],
    ids=["truncated", "zeros", "empty", "bad-sync"],
)
def test_corrupt_packets_raise_decode_error_saying_why(
    ztf_alert_files: list[Path], corrupt, message: str
) -> None:
    data = corrupt(ztf_alert_files[0].read_bytes())
    with pytest.raises(DecodeError, match=message):
        AlertDecoder().decode(data)


def test_unsupported_codec_is_named(ztf_alert_files: list[Path]) -> None:
    data = ztf_alert_files[0].read_bytes()
    tampered = data.replace(b"\x14avro.codec\x08null", b"\x14avro.codec\x08zstd", 1)
    assert tampered != data
    with pytest.raises(DecodeError, match="unsupported Avro codec 'zstd'"):
        AlertDecoder().decode(tampered)


def test_garbage_inside_a_block_is_an_error(ztf_alert_files: list[Path]) -> None:
    data = bytearray(ztf_alert_files[0].read_bytes())
    # Scramble the first record bytes after the header; sizes and sync marker stay.
    sync = bytes(data[-16:])
    block_start = data.index(sync) + 16 + 6  # after the record count and byte size
    data[block_start : block_start + 64] = b"\xff" * 64
    with pytest.raises(DecodeError, match="corrupt record data"):
        AlertDecoder().decode(bytes(data))
