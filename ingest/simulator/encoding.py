"""The 4.02 alert schema and byte-exact Avro encoding of its records and packets."""

from __future__ import annotations

import json
import struct
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache, lru_cache
from itertools import repeat
from typing import Any

import numpy as np

from ingest.simulator.constants import PUBLISHER, SCHEMA_VERSION
from lasair_nb.domain.ztf import CANDIDATE_FIELDS, FP_HIST_FIELDS, PRV_CANDIDATE_FIELDS, Field

# ZTF's prv_candidate.avsc gives these nullable fields no default (the others have
# "default": null); lasair_nb.domain.ztf does not record defaults.
_NO_DEFAULT = {
    "prv_candidate": frozenset(
        ("candid", "isdiffpos", "ra", "dec", "magpsf", "sigmapsf", "ranr", "decnr")
    ),
}


def _avro_field(field: Field, no_default: frozenset[str]) -> dict[str, Any]:
    if not field.nullable:
        return {"name": field.name, "type": field.avro_type, "doc": field.doc}
    if field.name in no_default:
        return {"name": field.name, "type": ["null", field.avro_type], "doc": field.doc}
    return {
        "name": field.name,
        "type": ["null", field.avro_type],
        "default": None,
        "doc": field.doc,
    }


def _record_schema(name: str, fields: Sequence[Field]) -> dict[str, Any]:
    no_default = _NO_DEFAULT.get(name, frozenset())
    return {
        "namespace": "ztf.alert",
        "name": name,
        "doc": "avro alert schema",
        "version": SCHEMA_VERSION,
        "type": "record",
        "fields": [_avro_field(field, no_default) for field in fields],
    }


def alert_schema() -> dict[str, Any]:
    """The ZTF 4.02 alert schema, built from :mod:`lasair_nb.domain.ztf`.

    Same names, types, nullability, defaults and namespaces as ZTF's official
    ``alert.avsc``, with the named types ``ztf.alert.candidate``,
    ``ztf.alert.prv_candidate``, ``ztf.alert.fp_hist`` and ``ztf.alert.cutout``
    defined where first used, as in the schema ZTF embeds in its packets.

    Returns
    -------
    dict
        A new JSON-compatible Avro schema.
    """
    cutout = {
        "namespace": "ztf.alert",
        "name": "cutout",
        "doc": "avro alert schema",
        "version": SCHEMA_VERSION,
        "type": "record",
        "fields": [
            {"name": "fileName", "type": "string"},
            {"name": "stampData", "type": "bytes", "doc": "fits.gz"},
        ],
    }
    prv_candidate = _record_schema("prv_candidate", PRV_CANDIDATE_FIELDS)
    return {
        "namespace": "ztf",
        "type": "record",
        "name": "alert",
        "doc": "avro alert schema for ZTF (www.ztf.caltech.edu)",
        "version": SCHEMA_VERSION,
        "fields": [
            {"name": "schemavsn", "type": "string", "doc": "schema version used"},
            {"name": "publisher", "type": "string", "doc": "origin of alert packet"},
            {"name": "objectId", "type": "string", "doc": "object identifier or name"},
            {"name": "candid", "type": "long"},
            {"name": "candidate", "type": _record_schema("candidate", CANDIDATE_FIELDS)},
            {
                "name": "prv_candidates",
                "type": ["null", {"type": "array", "items": prv_candidate}],
                "default": None,
            },
            {
                "name": "fp_hists",
                "type": [
                    "null",
                    {"type": "array", "items": _record_schema("fp_hist", FP_HIST_FIELDS)},
                ],
                "default": None,
            },
            {"name": "cutoutScience", "type": ["null", cutout], "default": None},
            {"name": "cutoutTemplate", "type": ["null", "ztf.alert.cutout"], "default": None},
            {"name": "cutoutDifference", "type": ["null", "ztf.alert.cutout"], "default": None},
        ],
    }


@lru_cache(maxsize=1 << 16)  # pids recur in every history entry of their exposure
def _zigzag(value: int) -> bytes:
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL_LONGS = tuple(_zigzag(value) for value in range(1 << 15))


def _avro_long(value: int) -> bytes:
    """Avro's zig-zag varint of an int or long."""
    if 0 <= value < 32768:
        return _SMALL_LONGS[value]
    return _zigzag(value)


def _avro_string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _avro_long(len(data)) + data


_FIXED_WIDTH = {"float": "f", "double": "d"}


class _RecordEncoder:
    """Avro binary encoding of one flat ZTF record type (primitive fields only).

    The layout is compiled once: each run of float/double fields of the same
    nullability becomes one :class:`struct.Struct`, other fields are encoded one
    by one. Output is byte-identical to ``fastavro.schemaless_writer``.
    """

    def __init__(self, fields: Sequence[Field]) -> None:
        self.names = tuple(field.name for field in fields)
        self._types = tuple(field.avro_type for field in fields)
        self._nullable = tuple(field.nullable for field in fields)
        self._steps: list[tuple[int, int, struct.Struct | None, bool, str]] = []
        self._tables: list[np.dtype[Any] | None] = []  # the same runs, for many records
        start = 0
        while start < len(fields):
            first = fields[start]
            stop = start + 1
            packer = None
            if first.avro_type in _FIXED_WIDTH:
                while (
                    stop < len(fields)
                    and fields[stop].avro_type in _FIXED_WIDTH
                    and fields[stop].nullable == first.nullable
                ):
                    stop += 1
                union = "B" if first.nullable else ""
                codes = "".join(union + _FIXED_WIDTH[f.avro_type] for f in fields[start:stop])
                packer = struct.Struct("<" + codes)
                table: list[tuple[str, str]] = []
                for offset, field in enumerate(fields[start:stop]):
                    if first.nullable:
                        table.append((f"u{offset}", "u1"))
                    table.append((f"v{offset}", "<" + _FIXED_WIDTH[field.avro_type]))
                self._tables.append(np.dtype(table))
            else:
                self._tables.append(None)
            self._steps.append((start, stop, packer, first.nullable, first.avro_type))
            start = stop

    def encode(self, values: Sequence[Any]) -> bytes:
        """Encode one record given as its values in field order (None for null)."""
        out: list[bytes] = []
        for start, stop, packer, nullable, avro_type in self._steps:
            if packer is None:
                value = values[start]
                if value is None:
                    if not nullable:
                        raise ValueError(f"field {self.names[start]!r} must not be null")
                    out.append(b"\x00")
                    continue
                if nullable:
                    out.append(b"\x02")
                out.append(_avro_string(value) if avro_type == "string" else _avro_long(value))
                continue
            run = values[start:stop]
            if None in run:
                out.extend(self._encode_with_nulls(start, run, nullable))
            elif nullable:
                arguments: list[Any] = [2] * (2 * len(run))
                arguments[1::2] = run
                out.append(packer.pack(*arguments))
            else:
                out.append(packer.pack(*run))
        return b"".join(out)

    def encode_record(self, record: dict[str, Any]) -> bytes:
        """Encode one record given as a dict (missing keys are null)."""
        return self.encode([record.get(name) for name in self.names])

    def encode_many(self, columns: dict[str, Any], count: int) -> list[bytes]:
        """Encode ``count`` records given column by column.

        A column is an array or list with a value per record, or one value shared
        by all; a missing column is null. Float and double columns must be
        complete: each run of them is packed for all records at once by numpy.
        """
        pieces: list[Any] = []
        for (start, stop, _, nullable, _), table in zip(self._steps, self._tables, strict=True):
            if table is None:
                pieces.append(self._encode_column(start, columns.get(self.names[start]), count))
                continue
            packed = np.empty(count, dtype=table)
            for offset, name in enumerate(self.names[start:stop]):
                if columns.get(name) is None:
                    raise ValueError(f"field {name!r} has no values to encode")
                if nullable:
                    packed[f"u{offset}"] = 2
                packed[f"v{offset}"] = columns[name]
            pieces.append(packed.view(np.dtype((np.void, table.itemsize))).tolist())
        # Shared values are endless repeats: the per-record columns set the length.
        return [b"".join(parts) for parts in zip(*pieces, strict=False)]

    def _encode_column(self, start: int, values: Any, count: int) -> Any:
        name, nullable = self.names[start], self._nullable[start]
        union = b"\x02" if nullable else b""
        encode = _avro_string if self._types[start] == "string" else _avro_long
        if values is None or isinstance(values, (str, int)):
            if values is None and not nullable:
                raise ValueError(f"field {name!r} must not be null")
            return repeat(b"\x00" if values is None else union + encode(values), count)
        if isinstance(values, np.ndarray):
            values = values.tolist()
        return [b"\x00" if value is None else union + encode(value) for value in values]

    def _encode_with_nulls(self, start: int, run: Sequence[Any], nullable: bool) -> list[bytes]:
        out = []
        for offset, value in enumerate(run):
            name = self.names[start + offset]
            if value is None:
                if not nullable:
                    raise ValueError(f"field {name!r} must not be null")
                out.append(b"\x00")
            else:
                code = _FIXED_WIDTH[self._types[start + offset]]
                out.append(
                    struct.pack("<B" + code, 2, value)
                    if nullable
                    else struct.pack("<" + code, value)
                )
        return out


_CANDIDATE = _RecordEncoder(CANDIDATE_FIELDS)
_PRV_CANDIDATE = _RecordEncoder(PRV_CANDIDATE_FIELDS)
_PRV_NAMES = _PRV_CANDIDATE.names

# An fp_hists entry is exposure fields, then the measurement, then the reference
# source: encoded in three parts, the first cached per exposure and readout
# channel, the last per source and band.
_FP_NAMES = tuple(field.name for field in FP_HIST_FIELDS)
_FP_MEASURED = _FP_NAMES.index("forcediffimflux")
if _FP_NAMES[:5] != ("field", "rcid", "fid", "pid", "rfid") or _FP_NAMES[
    _FP_MEASURED : _FP_MEASURED + 3
] != ("forcediffimflux", "forcediffimfluxunc", "procstatus"):
    raise ImportError("fp_hist fields are not in the 4.02 order the simulator encodes")
_FP_HEAD = _RecordEncoder(FP_HIST_FIELDS[:5])  # varies with the readout channel
_FP_TAIL = _RecordEncoder(FP_HIST_FIELDS[5:_FP_MEASURED])  # the same for the whole exposure
_FP_REFERENCE = _RecordEncoder(FP_HIST_FIELDS[_FP_MEASURED + 3 :])
_FP_MEASUREMENT = struct.Struct("<BfBf")
_FP_PROCSTATUS = b"\x02" + _avro_string("0")


class _LRUCache:
    """A bounded mapping that forgets its least recently used entries."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[Any, bytes] = OrderedDict()

    def get(self, key: Any) -> bytes | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: Any, value: bytes) -> None:
        self._data[key] = value
        if len(self._data) > self.capacity:
            self._data.popitem(last=False)


@cache
def _container_header() -> bytes:
    """Magic and metadata of every packet's Avro container, up to the sync marker."""
    schema = json.dumps(alert_schema(), separators=(",", ":")).encode()
    header = bytearray(b"Obj\x01")
    header += _avro_long(2)
    header += _avro_string("avro.schema") + _avro_string(schema)
    header += _avro_string("avro.codec") + _avro_string("null")
    header += _avro_long(0)
    return bytes(header)


_ALERT_PREFIX = _avro_string(SCHEMA_VERSION) + _avro_string(PUBLISHER)


def _array(count: int, items: bytes) -> bytes:
    """An ``["null", array]`` union value: null when empty, else one block of items."""
    if count == 0:
        return b"\x00"
    return b"\x02" + _avro_long(count) + items + b"\x00"


def _packet_bytes(
    object_id: str,
    *,
    candidate: bytes,
    candid: int,
    history: bytes,
    forced: bytes,
    cutouts: Sequence[tuple[str, bytes]],
    sync: bytes,
) -> bytes:
    """One alert as an Avro object container file (codec null, one record)."""
    parts = [_ALERT_PREFIX, _avro_string(object_id), _avro_long(candid), candidate, history, forced]
    for name, data in cutouts:
        parts += (b"\x02", _avro_string(name), _avro_string(data))
    body = b"".join(parts)
    return b"".join((_container_header(), sync, b"\x02", _avro_long(len(body)), body, sync))
