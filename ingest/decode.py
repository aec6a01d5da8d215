"""Decode ZTF alert packets: Avro object container files that embed their writer schema.

``fastavro.reader`` parses the embedded JSON schema of every packet it opens. A
night of ZTF alerts carries the same few schemas millions of times, so
:class:`AlertDecoder` reads the container header itself, parses each distinct
schema once, and decodes the data blocks with ``fastavro.schemaless_reader``
(``bench/ingest.py`` measures what this gains).
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from typing import Any

import fastavro

from ingest.rows import LEGACY_RENAMES
from lasair_nb.domain.ztf import CANDIDATE_FIELDS, FP_HIST_FIELDS, PRV_CANDIDATE_FIELDS

MAGIC = b"Obj\x01"
SYNC_SIZE = 16

_FAMILY = {
    "int": "number", "long": "number", "float": "number", "double": "number",
    "string": "string", "boolean": "boolean", "bytes": "bytes", "null": "null",
}  # fmt: skip
EXPECTED_FAMILIES: dict[str, str] = {
    **{
        field.name: _FAMILY[field.avro_type]
        for field in (*CANDIDATE_FIELDS, *PRV_CANDIDATE_FIELDS, *FP_HIST_FIELDS)
    },
    "objectId": "string", "candid": "number", "schemavsn": "string", "stampData": "bytes",
}  # fmt: skip
"""What the archive stores for each ZTF field name: a number, a string, a boolean, bytes."""
EXPECTED_FAMILIES |= {old: EXPECTED_FAMILIES[new] for old, new in LEGACY_RENAMES.items()}


class DecodeError(ValueError):
    """A packet is not a readable Avro container; the message says why."""


@dataclass(frozen=True)
class DecodedPacket:
    """The records of one packet and the version its writer schema declares."""

    records: list[dict[str, Any]]
    schema_version: str | None


class _Cursor:
    """Reads Avro's zig-zag varints and length-prefixed bytes from a buffer."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read_long(self) -> int:
        shift = 0
        result = 0
        while True:
            if self.pos >= len(self.data):
                raise DecodeError("truncated packet: ended inside a number")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return (result >> 1) ^ -(result & 1)
            shift += 7
            if shift > 63:
                raise DecodeError("corrupt packet: a number is longer than 64 bits")

    def read_bytes(self, size: int | None = None) -> bytes:
        if size is None:
            size = self.read_long()
        if size < 0 or self.pos + size > len(self.data):
            raise DecodeError(
                f"truncated packet: needs {size} bytes at offset {self.pos}, "
                f"has {len(self.data) - self.pos}"
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


def _read_metadata(cursor: _Cursor) -> dict[str, bytes]:
    """Read the container header's metadata map (an Avro map of bytes)."""
    meta: dict[str, bytes] = {}
    while True:
        count = cursor.read_long()
        if count == 0:
            return meta
        if count < 0:  # a negative count is followed by the block size in bytes
            count = -count
            cursor.read_long()
        for _ in range(count):
            key = cursor.read_bytes().decode("utf-8", errors="replace")
            meta[key] = cursor.read_bytes()


def check_field_types(schema: Any) -> None:
    """Refuse a writer schema that gives a ZTF field a type the archive cannot store as sent.

    Each packet embeds its own writer schema, so a hostile one can call ``ra`` a boolean
    or ``magpsf`` a string. Checked once per distinct schema: every record field whose
    name the archive stores (:data:`EXPECTED_FAMILIES`) must be of that family (or null).

    Raises
    ------
    DecodeError
        Naming the record, the field, its declared types and what the archive stores.
    """
    named: dict[str, Any] = {}

    def families(kind: Any) -> set[str]:
        if isinstance(kind, str):
            if kind in _FAMILY:
                return {_FAMILY[kind]}
            return {"named"} if kind not in named else families(named[kind])
        if isinstance(kind, list):
            return set().union(*map(families, kind)) if kind else set()
        if isinstance(kind, dict):
            return complex_families(kind)
        return {"unknown"}

    def complex_families(kind: dict[str, Any]) -> set[str]:
        name = kind.get("type")
        if name in ("record", "error", "enum", "fixed"):
            full = str(kind.get("name", ""))
            space = kind.get("namespace")
            named[full] = named[full.rsplit(".", 1)[-1]] = {"type": "named"}
            if space and "." not in full:
                named[f"{space}.{full}"] = named[full]
            if name in ("record", "error"):
                record(full, kind.get("fields") or [])
            return {str(name)}
        if name in ("array", "map"):
            families(kind.get("items" if name == "array" else "values"))
            return {str(name)}
        return families(name)

    def record(owner: str, fields: list[Any]) -> None:
        for field in fields:
            if not isinstance(field, dict):
                continue
            declared = families(field.get("type")) - {"null"}
            expected = EXPECTED_FAMILIES.get(str(field.get("name")))
            if expected is not None and declared != {expected}:
                raise DecodeError(
                    f"the writer schema gives {owner}.{field.get('name')} the type "
                    f"{' or '.join(sorted(declared)) or 'null'}; the archive stores a {expected}"
                )

    families(schema)


class AlertDecoder:
    """Decode Avro container packets, parsing each distinct writer schema once.

    Examples
    --------
    >>> decoder = AlertDecoder()
    >>> packet = decoder.decode(open("ZTF21abiuvdk_1642404680815015001.avro", "rb").read())
    >>> packet.records[0]["objectId"]
    'ZTF21abiuvdk'
    """

    def __init__(self) -> None:
        self._schemas: dict[bytes, tuple[dict[str, Any], str | None]] = {}

    @property
    def cached_schemas(self) -> int:
        """How many distinct writer schemas have been parsed so far."""
        return len(self._schemas)

    def _schema(self, schema_json: bytes) -> tuple[dict[str, Any], str | None]:
        cached = self._schemas.get(schema_json)
        if cached is None:
            try:
                schema = json.loads(schema_json)
                parsed = fastavro.parse_schema(schema)
            except (ValueError, TypeError, KeyError) as error:
                raise DecodeError(f"embedded writer schema is not valid Avro: {error}") from error
            check_field_types(schema)
            version = schema.get("version") if isinstance(schema, dict) else None
            cached = (parsed, str(version) if version is not None else None)
            self._schemas[schema_json] = cached
        return cached

    def decode(self, data: bytes) -> DecodedPacket:
        """Decode every record of one packet.

        Parameters
        ----------
        data
            The bytes of one Avro object container file (one ZTF alert packet).

        Returns
        -------
        DecodedPacket
            The records and the ``version`` attribute of the writer schema.

        Raises
        ------
        DecodeError
            If the bytes are not a complete Avro container with a supported codec.
        """
        if not data.startswith(MAGIC):
            raise DecodeError(
                f"not an Avro container file: starts with {data[:4]!r}, expected {MAGIC!r}"
            )
        cursor = _Cursor(data)
        cursor.pos = len(MAGIC)
        meta = _read_metadata(cursor)
        sync = cursor.read_bytes(SYNC_SIZE)
        if "avro.schema" not in meta:
            raise DecodeError("Avro container header has no avro.schema entry")
        codec = meta.get("avro.codec", b"null").decode()
        if codec not in ("null", "deflate"):
            raise DecodeError(f"unsupported Avro codec {codec!r}; accepted: null, deflate")
        schema, version = self._schema(meta["avro.schema"])

        records: list[dict[str, Any]] = []
        while cursor.pos < len(data):
            count = cursor.read_long()
            block = cursor.read_bytes()
            if cursor.read_bytes(SYNC_SIZE) != sync:
                raise DecodeError("corrupt packet: block sync marker does not match the header")
            if codec == "deflate":
                try:
                    block = zlib.decompress(block, -15)
                except zlib.error as error:
                    raise DecodeError(f"corrupt deflate block: {error}") from error
            stream = io.BytesIO(block)
            try:
                for _ in range(count):
                    records.append(fastavro.schemaless_reader(stream, schema, None))
            except (EOFError, ValueError, IndexError, UnicodeDecodeError) as error:
                raise DecodeError(
                    f"corrupt record data: {type(error).__name__}: {error}"
                ) from error
            if stream.tell() != len(block):
                extra = len(block) - stream.tell()
                raise DecodeError(f"corrupt packet: block has {extra} bytes after its records")
        if not records:
            raise DecodeError("Avro container holds no records")
        return DecodedPacket(records=records, schema_version=version)
