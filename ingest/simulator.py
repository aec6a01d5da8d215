"""A simulated ZTF alert stream: schema 4.02 packets of a known population.

:class:`AlertSimulator` turns ``objects``, ``nights`` and a ``seed`` into nights of
alert packets that look like ZTF's: each packet is an Avro object container file
(codec null, one record) embedding the 4.02 writer schema, with the candidate, 30
days of ``prv_candidates`` (detections and upper limits), 30 days of forced
photometry (``fp_hists``) and three gzipped 63×63 FITS cutouts. The same seed gives
the same bytes; the truth (class and parameters of every object) comes with them.

Population (``objects`` simulated sources; counts rounded from these fractions):

============  ========  ========================================================
class         fraction  model
============  ========  ========================================================
periodic      40 %      variable star on a PS1 star (``distnr`` < 0.5″,
                        ``magnr`` = mean magnitude, ``sgscore1`` ≈ 1): sinusoid
                        or sawtooth, period log-uniform 0.3–20 d, peak-to-peak
                        amplitude 0.3–1 mag (r; g × 1.2), mean r 13.5–17.5
supernova     25 %      Bazin rise and fall, peak r 17–19.5 mag between 20 days
                        before the start and the last night, 1–5″ from a galaxy
                        (``sgscore1`` < 0.15), blue at peak and reddening
agn           15 %      damped random walk (τ 50–400 d, SF∞ 0.2–0.5 mag) of a
                        nuclear source: a galaxy-like PS1 source within 0.5″
asteroid      10 %      a moving object: at most one detection a night, each a
                        new objectId (as ZTF does), ``ssnamenr`` set
bogus         10 %      one detection ever, low ``rb``/``drb``, sharp artefact
============  ========  ========================================================

Cadence: a ZTF-like grid of fields (the rows of ZTF's primary grid, ~7° tiles;
sources at dec > −30°) is observed every night from ``start_jd`` on, and during the
31 nights before it, so the first alerts already carry 30 days of history. A
night is lost to weather with probability 0.1; otherwise each field is visited
with probability 0.5 (a revisit every 1–3 nights), once in g and once in r, some
fields with a second g (35 %) or r (15 %) exposure. Visited fields are observed in
blocks, pass after pass, one exposure every ≤ 38 s between 04:00 and 11:00 UT, so a
field's exposures are typically 20–60 minutes apart. Each exposure has its own
zero point (``magzpsci`` ≈ 26.2), seeing (~2″) and 5σ limit (``diffmaglim``
19.5–21, shallower in g near full moon). A source is detected, and an alert
emitted, when its measured difference flux is brighter than ``diffmaglim``;
otherwise the epoch is an upper limit in later alerts' histories.

Truth (:attr:`AlertSimulator.truth`; ``truth.csv`` beside written packets): one
row per objectId — every non-moving source, detected or not, and every nightly
asteroid detection (an asteroid never detected has no objectId and no row;
:attr:`AlertSimulator.class_counts` counts the sources) — with ``object_id``,
``source`` (index of the simulated source; an asteroid's rows share it),
``class``, ``ra``, ``dec``, ``field``, ``rcid``, ``mag_g``/``mag_r`` (mean
magnitude for periodic and AGN, host magnitude for supernovae, magnitude that
night for asteroids; ``mag_r`` of a bogus row is its magnitude, in either band),
``period``, ``amplitude`` (r band, peak to peak; g is 1.2 times larger),
``shape`` (``sinusoid`` or ``sawtooth``), ``epoch_jd`` (a time of maximum light),
``peak_mag`` (r), ``peak_jd``, ``tau_rise``, ``tau_fall``, ``host_offset``
[arcsec], ``drw_tau``, ``drw_sf``, ``ssnamenr`` and ``jd`` (of an asteroid or
bogus detection); NaN or empty where a column does not apply.

Identifiers follow ZTF's: ``nid`` counts nights from 2017-01-01; ``pid`` is
``nid``, the UT fraction of day of the exposure, ``rcid`` and ``15``; ``candid``
is ``pid``, ``015`` and a table index, unique across the simulation; objectIds
are ``ZTF`` + two-digit year + seven letters, numbered in order of first
detection.

Speed: fastavro resolves every ``["null", type]`` union value by value, about a
microsecond a field, and a packet has thousands. Records are therefore encoded
here from precompiled layouts (:class:`_RecordEncoder`, byte-identical to
fastavro, checked by the tests): the history entries of every detection in an
observing block at once, column by column with numpy; upper limits once per
exposure and readout channel. An alert's history is then a slice of its
source's encoded entries. Stamps are gzipped with zlib's run-length strategy.
About 600–1000 packets/s on one core, fewer sources per field being slower.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate, repeat
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from astropy.io import fits

from lasair_nb.ztf_fields import CANDIDATE_FIELDS, FP_HIST_FIELDS, PRV_CANDIDATE_FIELDS, Field

SCHEMA_VERSION = "4.02"
PUBLISHER = "Lasair-NB simulator"
CLASS_FRACTIONS: dict[str, float] = {
    "periodic": 0.40,
    "supernova": 0.25,
    "agn": 0.15,
    "asteroid": 0.10,
    "bogus": 0.10,
}
"""Share of each class among the simulated sources."""

DEFAULT_START_JD = 2460462.5
"""2024-06-01 00:00 UT."""

HISTORY_DAYS = 30.0
STAMP_SIZE = 63
PIXEL_SCALE = 1.012  # arcsec per ZTF pixel
QUADRANT_PIXELS = (3072, 3080)
FIELD_SIZE_DEG = 7.5
TEMPLATE_FWHM = 2.0  # pixels, of the co-added reference image

PRE_NIGHTS = 31  # nights observed before start_jd, so the first alerts have a history
WEATHER_LOSS = 0.1
VISIT_PROBABILITY = 0.5
SECOND_VISIT = (0.35, 0.15)  # chance of a second exposure in the first, second filter
FIELDS_PER_BLOCK = 100
SOURCES_PER_BLOCK = 10_000  # bounds memory: a block keeps its sources' encoded histories
NIGHT_START_HOURS, NIGHT_END_HOURS = 4.0, 11.0  # UT, Palomar
EXPOSURE_SPACING = 38.0 / 86400.0  # 30 s exposure + readout and slew [days]
GAIN = 6.2  # electrons per DN: Poisson noise of the source in the science image
NID_EPOCH_JD = 2457754.5  # 2017-01-01: ZTF's night ids count from here
ZTF_START_JD = 2458194.5  # 2018-03-17
MAX_TABLE_INDEX = 985_000  # candid = pid · 10⁶ + 15000 + table index
UPPER_LIMIT_CACHE_SIZE = 200_000  # encoded upper limits kept between blocks (~50 MB at most)
PROGRAMPI = "Kulkarni"
RBVERSION, DRBVERSION = "t17_f5_c3", "d6_m7"

_CLASSES = ("periodic", "supernova", "agn", "asteroid", "bogus")
_PERIODIC, _SUPERNOVA, _AGN, _BOGUS = 0, 1, 2, 4  # codes of the non-moving classes
# Share of the reference source's light at the object's position, per class code.
_LOCAL_REFERENCE_LIGHT = np.array([1.0, 0.2, 1.0, 0.0, 0.0])
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ASTEROID_G_V, _ASTEROID_R_V = 0.2, -0.25  # colours of a typical asteroid: g − V, r − V
_FWHM_PER_SIGMA = 2.3548

# Rows of ZTF's primary field grid: declination of the row centre and number of
# fields in it, as in ZTF's public field list. Field ids run along the rows from
# the south pole, so ids and neighbours look like the real ones.
_GRID_ROWS: tuple[tuple[float, int], ...] = (
    (-89.05, 4),
    (-81.85, 11),
    (-74.65, 17),
    (-67.45, 23),
    (-60.25, 29),
    (-53.05, 34),
    (-45.85, 38),
    (-38.65, 42),
    (-31.45, 46),
    (-24.25, 49),
    (-17.05, 51),
    (-9.85, 51),
    (-2.65, 51),
    (4.55, 52),
    (11.75, 52),
    (18.95, 50),
    (26.15, 48),
    (33.35, 46),
    (40.55, 42),
    (47.75, 37),
    (54.95, 33),
    (62.15, 28),
    (69.35, 21),
    (76.55, 15),
    (83.75, 9),
    (88.0, 4),
)

# ------------------------------------------------------------------- schema, encoding


# ZTF's prv_candidate.avsc gives these nullable fields no default (the others have
# "default": null); lasair_nb.ztf_fields does not record defaults.
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
    """The ZTF 4.02 alert schema, built from :mod:`lasair_nb.ztf_fields`.

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


# --------------------------------------------------------------------------- field grid


@cache
def _grid() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row centre declinations, field counts and first field id of each row."""
    decs = np.array([row[0] for row in _GRID_ROWS])
    counts = np.array([row[1] for row in _GRID_ROWS])
    first = np.concatenate(([1], 1 + np.cumsum(counts)[:-1]))
    return decs, counts, first


def field_centres() -> pd.DataFrame:
    """The simulated ZTF field grid.

    Returns
    -------
    pandas.DataFrame
        ``field``, ``ra`` and ``dec`` of every field centre [deg].
    """
    decs, counts, first = _grid()
    rows = []
    for dec, count, start in zip(decs.tolist(), counts.tolist(), first.tolist(), strict=True):
        rows.extend((start + j, (j + 0.5) * 360.0 / count, dec) for j in range(count))
    return pd.DataFrame(rows, columns=["field", "ra", "dec"])


def locate(ra: npt.ArrayLike, dec: npt.ArrayLike) -> dict[str, npt.NDArray[Any]]:
    """Field, readout channel and pixel position of sky positions on the simulated grid.

    A position falls in the field of the nearest grid row and its RA cell. The
    field's 16 CCDs × 4 quadrants form an 8 × 8 grid of readout channels
    (``rcid`` = 4 (ccd − 1) + quadrant − 1) of 3072 × 3080 pixels.

    Parameters
    ----------
    ra, dec
        Positions [deg].

    Returns
    -------
    dict
        Arrays ``field``, ``rcid``, ``ccd``, ``quadrant``, ``xpos``, ``ypos``.
    """
    ra = np.asarray(ra, dtype=float) % 360.0
    dec = np.asarray(dec, dtype=float)
    decs, counts, first = _grid()
    row = np.clip(np.searchsorted((decs[1:] + decs[:-1]) / 2, dec), 0, len(decs) - 1)
    width = 360.0 / counts[row]
    column = np.floor(ra / width).astype(np.int64) % counts[row]
    east = ((ra - (column + 0.5) * width + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec))
    north = dec - decs[row]
    u = np.clip((east / FIELD_SIZE_DEG + 0.5) * 8, 0, 8 - 1e-9)
    v = np.clip((north / FIELD_SIZE_DEG + 0.5) * 8, 0, 8 - 1e-9)
    x, y = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    ccd = (y // 2) * 4 + x // 2 + 1
    quadrant = (y % 2) * 2 + x % 2 + 1
    return {
        "field": first[row] + column,
        "rcid": (ccd - 1) * 4 + quadrant - 1,
        "ccd": ccd,
        "quadrant": quadrant,
        "xpos": (u - x) * QUADRANT_PIXELS[0],
        "ypos": (v - y) * QUADRANT_PIXELS[1],
    }


# ------------------------------------------------------------------------ small helpers


def _datetime64(jd: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
    seconds = (np.asarray(jd, dtype=float) - 2440587.5) * 86400.0
    return np.round(seconds).astype("datetime64[s]")


def _date(jd: float) -> str:
    """UT date of a Julian date as ``YYYYMMDD``."""
    return str(_datetime64(jd).astype("datetime64[D]")).replace("-", "")


def _object_id(year: int, number: int) -> str:
    letters = []
    for _ in range(7):
        number, digit = divmod(number, 26)
        letters.append(_LETTERS[digit])
    return f"ZTF{year % 100:02d}{''.join(reversed(letters))}"


def _ps1_objid(ra: npt.ArrayLike, dec: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Pan-STARRS1-style object ids: a declination zone, then the RA."""
    zone = np.floor((np.asarray(dec) + 90.0) * 120.0).astype(np.int64)
    return zone * 10**13 + np.floor(np.asarray(ra) * 1e10).astype(np.int64)


def _offset(
    ra: npt.ArrayLike, dec: npt.ArrayLike, east: npt.ArrayLike, north: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Position moved by (east, north) arcsec."""
    new_dec = np.asarray(dec) + np.asarray(north) / 3600.0
    new_ra = np.asarray(ra) + np.asarray(east) / 3600.0 / np.cos(np.radians(new_dec))
    return new_ra % 360.0, new_dec


def _split_counts(total: int) -> dict[str, int]:
    """Class counts summing to ``total``, rounded from :data:`CLASS_FRACTIONS`."""
    exact = {name: total * share for name, share in CLASS_FRACTIONS.items()}
    counts = {name: int(value) for name, value in exact.items()}
    shortfall = total - sum(counts.values())
    for name in sorted(exact, key=lambda name: counts[name] - exact[name])[:shortfall]:
        counts[name] += 1  # largest remainders first
    return counts


def _bazin(t: Any, t0: Any, rise: Any, fall: Any) -> Any:
    """Bazin et al. (2009) light-curve shape (unnormalised)."""
    return np.exp(-np.clip((t - t0) / fall, -50, 700)) / (
        1.0 + np.exp(np.clip(-(t - t0) / rise, -50, 700))
    )


# ----------------------------------------------------------------------------- stamps


@cache
def _fits_header() -> bytes:
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = -32
    header["NAXIS"] = 2
    header["NAXIS1"] = STAMP_SIZE
    header["NAXIS2"] = STAMP_SIZE
    header["BUNIT"] = "DN"
    header["ORIGIN"] = (PUBLISHER, "simulated, not a ZTF observation")
    return header.tostring().encode("ascii")


_FITS_PADDING = b"\0" * (-(STAMP_SIZE * STAMP_SIZE * 4) % 2880)
_AXIS = np.arange(STAMP_SIZE, dtype=np.float64)
_CENTRE = (STAMP_SIZE - 1) / 2


def _profile(x0: float, y0: float, sigma: float) -> npt.NDArray[np.float64]:
    """A unit-flux circular Gaussian on the stamp grid centred at pixel (x0, y0)."""
    gx = np.exp(-0.5 * ((_AXIS - x0) / sigma) ** 2)
    gy = np.exp(-0.5 * ((_AXIS - y0) / sigma) ** 2)
    total_x, total_y = gx.sum(), gy.sum()
    if total_x < 1e-12 or total_y < 1e-12:  # centred off the stamp
        return np.zeros((STAMP_SIZE, STAMP_SIZE))
    return np.outer(gy / total_y, gx / total_x)


def _fits_gz(image: npt.NDArray[Any]) -> bytes:
    """A gzipped single-HDU FITS file of a 63×63 float32 image."""
    # Z_RLE compresses noisy float32 stamps as well as the default strategy, twice as fast.
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31, 8, zlib.Z_RLE)
    return b"".join(
        (
            compressor.compress(_fits_header()),
            compressor.compress(image.astype(">f4").tobytes()),
            compressor.compress(_FITS_PADDING),
            compressor.flush(),
        )
    )


class _Scene(NamedTuple):
    """What the stamps show besides the flux change at the centre."""

    ref_flux: float  # of the reference-image source [DN]
    distance: float  # of that source from the candidate [arcsec]
    angle: float  # its position angle [rad]
    extent: float  # its Gaussian sigma beyond the PSF [pixels]


# ------------------------------------------------------------------------- public types


class SimulatedPacket(NamedTuple):
    """One alert packet and what it is about."""

    jd: float
    """Time of the exposure that triggered the alert [JD]."""
    object_id: str
    candid: int
    data: bytes
    """The Avro object container file."""


@dataclass
class SimulatedNight:
    """One night of the simulation.

    ``packets`` is a one-pass iterator in time order. Consume the nights in order:
    ``ndethist`` and ``jdstarthist`` build on the earlier nights.
    """

    index: int
    """0 for the night of ``start_jd``."""
    date: str
    """UT date of the night, ``YYYYMMDD``, as in ZTF's nightly tarball names."""
    jd: float
    """Julian date of 00:00 UT on ``date``."""
    packets: Iterator[SimulatedPacket]


# --------------------------------------------------------------------------- schedule


class _Schedule:
    """Every exposure, from ``PRE_NIGHTS`` nights before the start to the last night."""

    def __init__(
        self,
        rng: np.random.Generator,
        night0_jd: float,
        nights: int,
        sources_per_field: dict[int, int],
    ) -> None:
        centres = field_centres()
        sky_fields = centres["field"].to_numpy()[centres["dec"].to_numpy() > -35.0]
        columns: dict[str, list[Any]] = {"night": [], "field": [], "fid": [], "jd": []}
        self.blocks: dict[int, list[tuple[int, int]]] = {}  # night -> [(first, end) exposure]
        for night in range(-PRE_NIGHTS, nights):
            self.blocks[night] = []
            if rng.random() < WEATHER_LOSS:
                continue
            visited = rng.permutation(sky_fields[rng.random(len(sky_fields)) < VISIT_PROBABILITY])
            groups = self._groups(visited.tolist(), sources_per_field)
            block_days = (NIGHT_END_HOURS - NIGHT_START_HOURS) / 24.0 / max(len(groups), 1)
            for block, group in enumerate(groups):
                fields = np.array(group)
                first = int(rng.integers(1, 3))
                passes = [
                    (first, fields),
                    (3 - first, fields),
                    (first, fields[rng.random(len(fields)) < SECOND_VISIT[0]]),
                    (3 - first, fields[rng.random(len(fields)) < SECOND_VISIT[1]]),
                ]
                total = sum(len(pass_fields) for _, pass_fields in passes)
                step = min(EXPOSURE_SPACING, block_days / total)
                start = night0_jd + night + NIGHT_START_HOURS / 24.0 + block * block_days
                begin = len(columns["jd"])
                columns["jd"].extend((start + step * np.arange(total)).tolist())
                for fid, pass_fields in passes:
                    columns["field"].extend(pass_fields.tolist())
                    columns["fid"].extend([fid] * len(pass_fields))
                columns["night"].extend([night] * total)
                self.blocks[night].append((begin, begin + total))
        self.night = np.array(columns["night"], dtype=np.int64)
        self.field = np.array(columns["field"], dtype=np.int64)
        self.fid = np.array(columns["fid"], dtype=np.int64)
        self.jd = np.array(columns["jd"], dtype=np.float64)
        self._conditions(rng, nights)
        self._index()
        self._forced_tails: dict[int, bytes] = {}

    @staticmethod
    def _groups(fields: list[int], sources_per_field: dict[int, int]) -> list[list[int]]:
        """Split a night's fields into blocks of at most ~100 fields and ~10⁴ sources."""
        groups: list[list[int]] = []
        sources = 0
        for field in fields:
            count = sources_per_field.get(field, 0)
            if (
                not groups
                or len(groups[-1]) >= FIELDS_PER_BLOCK
                or sources + count > SOURCES_PER_BLOCK
            ):
                groups.append([])
                sources = 0
            groups[-1].append(field)
            sources += count
        return groups

    def _conditions(self, rng: np.random.Generator, nights: int) -> None:
        """Seeing, depth, zero point and sky of every exposure."""
        count = len(self.jd)
        night_seeing = np.exp(rng.normal(np.log(2.0), 0.15, nights + PRE_NIGHTS))
        seeing = night_seeing[self.night + PRE_NIGHTS] * np.exp(rng.normal(0, 0.06, count))
        moon = 0.5 * (1 - np.cos(2 * np.pi * (self.jd - 2451550.26) / 29.530589))
        clouds = rng.exponential(0.04, count)
        g = self.fid == 1
        depth = np.where(g, 20.75 - 0.7 * moon, 20.45 - 0.35 * moon)
        depth += -1.6 * np.log10(seeing / 2.0) - clouds + rng.normal(0, 0.15, count)
        self.diffmaglim = np.clip(depth, 19.5, 21.0)
        self.magzpsci = np.where(g, 26.15, 26.25) - clouds + rng.normal(0, 0.04, count)
        self.fwhm = seeing / PIXEL_SCALE  # pixels
        self.sky = np.where(g, 110.0, 190.0) * (1 + moon * np.where(g, 2.0, 1.0))
        self.sky *= np.exp(rng.normal(0, 0.1, count))
        # The 5-sigma limit fixes the noise: 5 × PSF-flux error = flux at diffmaglim.
        self.flux_sigma = 10 ** (0.4 * (self.magzpsci - self.diffmaglim)) / 5.0
        self.pixel_sigma = self.flux_sigma / (np.sqrt(4 * np.pi) * self.fwhm / _FWHM_PER_SIGMA)
        self.magzpsciunc = rng.uniform(2e-6, 2e-5, count)
        self.magzpscirms = rng.uniform(0.012, 0.035, count)
        self.clrcoeff = np.where(g, -0.06, 0.09) + rng.normal(0, 0.015, count)
        self.clrcounc = rng.uniform(5e-6, 3e-5, count)
        self.zpclrcov = rng.normal(-5e-6, 2e-6, count)
        self.clrmed = np.where(g, 0.62, 0.55) + rng.normal(0, 0.05, count)
        self.clrrms = rng.uniform(0.1, 0.2, count)
        self.nmatches = rng.integers(400, 3000, count)
        self.adpctdif = rng.uniform(0.03, 0.08, (2, count))

    def _index(self) -> None:
        """Identifiers, file names and per-field lookups."""
        count = len(self.jd)
        self.nid = np.floor(self.jd - NID_EPOCH_JD).astype(np.int64)
        ut_fraction = (self.jd + 0.5) % 1.0
        self.pid_base = self.nid * 10**9 + np.floor(ut_fraction * 1e5).astype(np.int64) * 10**4 + 15
        self.file_stem = [
            f"{_date(jd)}{int(fraction * 1e6):06d}"
            for jd, fraction in zip(self.jd.tolist(), ut_fraction.tolist(), strict=True)
        ]
        field, fid = self.field, self.fid
        self.rfid_base = field * 10**6 + 120000 + fid * 100
        self.jdstartref = 2458200.623 + (field * 37 + fid * 11) % 200
        self.jdendref = self.jdstartref + 60 + (field * 13) % 120
        self.nframesref = 15 + (field * 7 + fid) % 25
        order = np.argsort(self.field, kind="stable")  # exposures are in time order already
        fields, starts = np.unique(self.field[order], return_index=True)
        self.field_exposures = dict(zip(fields.tolist(), np.split(order, starts[1:]), strict=True))
        self.field_rank = np.empty(count, dtype=np.int64)
        for exposures in self.field_exposures.values():
            self.field_rank[exposures] = np.arange(1, len(exposures) + 1)
        self.first_exposure: dict[tuple[int, int], int] = {}
        for index in range(count - 1, -1, -1):
            self.first_exposure[(int(self.night[index]), int(self.field[index]))] = index

    def diffim_name(self, exposure: int, ccd: int, quadrant: int) -> str:
        band = "g" if self.fid[exposure] == 1 else "r"
        return (
            f"ztf_{self.file_stem[exposure]}_{int(self.field[exposure]):06d}_z{band}"
            f"_c{ccd:02d}_o_q{quadrant}_scimrefdiffimg.fits"
        )

    def archive_name(self, exposure: int, ccd: int, quadrant: int) -> str:
        stem = self.file_stem[exposure]
        name = self.diffim_name(exposure, ccd, quadrant)
        return f"/ztf/archive/sci/{stem[:4]}/{stem[4:8]}/{stem[8:]}/{name}.fz"

    def nondetection(self, exposure: int, rcid: int) -> dict[str, Any]:
        """The prv_candidates entry of an upper limit."""
        ccd, quadrant = rcid // 4 + 1, rcid % 4 + 1
        return {
            "jd": float(self.jd[exposure]),
            "fid": int(self.fid[exposure]),
            "pid": int(self.pid_base[exposure]) + 100 * rcid,
            "diffmaglim": float(self.diffmaglim[exposure]),
            "pdiffimfilename": self.archive_name(exposure, ccd, quadrant),
            "programpi": PROGRAMPI,
            "programid": 1,
            "nid": int(self.nid[exposure]),
            "rcid": rcid,
            "field": int(self.field[exposure]),
            "magzpsci": float(self.magzpsci[exposure]),
            "magzpsciunc": float(self.magzpsciunc[exposure]),
            "magzpscirms": float(self.magzpscirms[exposure]),
            "clrcoeff": float(self.clrcoeff[exposure]),
            "clrcounc": float(self.clrcounc[exposure]),
            "rbversion": RBVERSION,
        }

    def forced_prefix(self, exposure: int, rcid: int) -> bytes:
        """The encoded exposure fields of an fp_hists entry (``field`` to ``jd``)."""
        tail = self._forced_tails.get(exposure)
        if tail is None:
            tail = _FP_TAIL.encode_record(self._forced_tail(exposure))
            self._forced_tails[exposure] = tail
        head = _FP_HEAD.encode(
            (
                int(self.field[exposure]),
                rcid,
                int(self.fid[exposure]),
                int(self.pid_base[exposure]) + 100 * rcid,
                int(self.rfid_base[exposure]) + rcid,
            )
        )
        return head + tail

    def _forced_tail(self, exposure: int) -> dict[str, Any]:
        return {
            "sciinpseeing": float(self.fwhm[exposure]),
            "scibckgnd": float(self.sky[exposure]),
            "scisigpix": float(self.pixel_sigma[exposure]),
            "magzpsci": float(self.magzpsci[exposure]),
            "magzpsciunc": float(self.magzpsciunc[exposure]),
            "magzpscirms": float(self.magzpscirms[exposure]),
            "clrcoeff": float(self.clrcoeff[exposure]),
            "clrcounc": float(self.clrcounc[exposure]),
            "exptime": 30.0,
            "adpctdif1": float(self.adpctdif[0, exposure]),
            "adpctdif2": float(self.adpctdif[1, exposure]),
            "diffmaglim": float(self.diffmaglim[exposure]),
            "programid": 1,
            "jd": float(self.jd[exposure]),
        }


# -------------------------------------------------------------- per-detection fields


def _detection_columns(
    schedule: _Schedule,
    *,
    exposure: npt.NDArray[np.int64],
    place: dict[str, npt.NDArray[Any]],
    tblid: npt.NDArray[np.int64],
    flux: npt.NDArray[np.float64],
    error: npt.NDArray[np.float64],
    draws: npt.NDArray[np.float64],
    bogus: npt.NDArray[np.bool_],
) -> dict[str, Any]:
    """Candidate fields of many detections at once: an array per field, or one value.

    ``place`` holds ``rcid``, ``ccd``, ``quadrant``, ``ra``, ``dec``, ``xpos`` and
    ``ypos``; ``draws`` five rows of random numbers (one normal, four uniform) per
    detection. Fields about the reference source, Pan-STARRS1 and Gaia, solar
    system objects and the history are the caller's.
    """
    sch = schedule
    rcid = place["rcid"]
    zp, limit, seeing = sch.magzpsci[exposure], sch.diffmaglim[exposure], sch.fwhm[exposure]
    snr = np.abs(flux) / error
    magpsf = zp - 2.5 * np.log10(np.abs(flux))
    sigmapsf = 1.0857 / snr
    z_ap, u_rb, u_drb, u_shape, u_misc = draws
    magap = magpsf + (0.03 + 0.5 * sigmapsf) * z_ap
    sigmagap = 1.1 * sigmapsf + 0.002
    quality = np.minimum(1.0, 0.6 + snr / 25)
    fwhm = seeing * np.where(bogus, 0.35 + 0.3 * u_shape, 0.9 + 0.25 * u_shape)
    elong = np.where(bogus, 1.3 + 1.5 * u_misc, 1.0 + 0.12 * u_misc)
    aimage = 0.42 * fwhm * np.sqrt(elong) * PIXEL_SCALE
    bimage = aimage / elong
    xpos, ypos = place["xpos"], place["ypos"]
    ssnrms = sch.pixel_sigma[exposure] * (3.0 + u_misc)
    dsnrms = ssnrms * (0.55 + 0.3 * u_shape)
    pid = sch.pid_base[exposure] + 100 * rcid
    columns: dict[str, Any] = {
        "jd": sch.jd[exposure],
        "fid": sch.fid[exposure],
        "pid": pid,
        "diffmaglim": limit,
        "pdiffimfilename": None,  # the caller's: formatted only when needed
        "programpi": PROGRAMPI,
        "programid": 1,
        "candid": pid * 10**6 + 15000 + tblid,
        "isdiffpos": np.where(flux > 0, "t", "f"),
        "tblid": tblid,
        "nid": sch.nid[exposure],
        "rcid": rcid,
        "field": sch.field[exposure],
        "xpos": xpos,
        "ypos": ypos,
        "ra": place["ra"],
        "dec": place["dec"],
        "magpsf": magpsf,
        "sigmapsf": sigmapsf,
        "chipsf": 0.8 + 0.6 * u_misc + (snr / 60) ** 2,
        "magap": magap,
        "sigmagap": sigmagap,
        "sky": 2 * u_misc - 1,
        "magdiff": magap - magpsf,
        "fwhm": fwhm,
        "mindtoedge": np.minimum.reduce(
            [xpos, ypos, QUADRANT_PIXELS[0] - xpos, QUADRANT_PIXELS[1] - ypos]
        ),
        "magfromlim": limit - magap,
        "seeratio": 0.85 + 0.3 * u_shape,
        "aimage": aimage,
        "bimage": bimage,
        "aimagerat": aimage / fwhm,
        "bimagerat": bimage / fwhm,
        "elong": elong,
        "nneg": np.where(bogus, np.floor(8 * u_misc), np.floor(3 * u_misc)).astype(np.int64),
        "nbad": np.where(bogus, np.floor(3 * u_rb), 0).astype(np.int64),
        "rb": np.where(bogus, 0.03 + 0.3 * u_rb, (0.5 + 0.48 * np.sqrt(u_rb)) * quality),
        "sumrat": np.where(bogus, 0.4 + 0.5 * u_drb, 0.93 + 0.07 * u_drb),
        "magapbig": magap - 0.01 * np.abs(z_ap),
        "sigmagapbig": 1.15 * sigmagap,
        "scorr": snr * (1 + 0.05 * z_ap),
        "magzpsci": zp,
        "magzpsciunc": sch.magzpsciunc[exposure],
        "magzpscirms": sch.magzpscirms[exposure],
        "clrcoeff": sch.clrcoeff[exposure],
        "clrcounc": sch.clrcounc[exposure],
        "rbversion": RBVERSION,
        # candidate-only fields
        "tooflag": 0,
        "rfid": sch.rfid_base[exposure] + rcid,
        "jdstartref": sch.jdstartref[exposure],
        "jdendref": sch.jdendref[exposure],
        "nframesref": sch.nframesref[exposure],
        "dsnrms": dsnrms,
        "ssnrms": ssnrms,
        "dsdiff": dsnrms - ssnrms,
        "nmatches": sch.nmatches[exposure],
        "zpclrcov": sch.zpclrcov[exposure],
        "zpmed": zp + 0.05,
        "clrmed": sch.clrmed[exposure],
        "clrrms": sch.clrrms[exposure],
        "exptime": 30.0,
        "drb": np.where(bogus, 0.15 * u_drb**2, 1 - 0.35 * (1 - u_drb) ** 3 / quality),
        "drbversion": DRBVERSION,
    }
    return columns


def _select(columns: dict[str, Any], index: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Some records of column-wise fields: a list per field, or the shared value."""
    chosen: dict[str, Any] = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray):
            chosen[name] = values[index].tolist()
        elif isinstance(values, list):
            chosen[name] = [values[i] for i in index.tolist()]
        else:
            chosen[name] = values
    return chosen


def _record(columns: dict[str, Any], k: int) -> dict[str, Any]:
    """Record ``k`` of fields chosen by :func:`_select`."""
    return {name: v[k] if isinstance(v, list) else v for name, v in columns.items()}


# ------------------------------------------------------------------------- simulator


class AlertSimulator:
    """A reproducible ZTF alert stream of a known population.

    Parameters
    ----------
    objects
        Number of simulated sources (asteroids included), split between the
        classes by :data:`CLASS_FRACTIONS`.
    nights
        Number of nights, from the night of ``start_jd``.
    seed
        Seed of everything: the same arguments give the same packets, byte for byte.
    start_jd
        A Julian date in the first night; nights start at 00:00 UT of its date.

    Attributes
    ----------
    class_counts : dict
        Number of simulated sources of each class.
    night0_jd : float
        Julian date of 00:00 UT of the first night.

    Raises
    ------
    ValueError
        If a count is below 1, the seed negative or ``start_jd`` before ZTF.

    Examples
    --------
    >>> simulator = AlertSimulator(objects=1000, nights=20, seed=1)
    >>> for night in simulator.nights():
    ...     for packet in night.packets:
    ...         producer.produce("ztf", key=packet.object_id, value=packet.data)
    >>> simulator.write(Path("alerts"))  # or files, with truth.csv
    """

    def __init__(
        self, objects: int, nights: int, seed: int = 0, start_jd: float = DEFAULT_START_JD
    ) -> None:
        if objects < 1:
            raise ValueError(f"objects must be at least 1, got {objects}")
        if nights < 1:
            raise ValueError(f"nights must be at least 1, got {nights}")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        if not start_jd >= ZTF_START_JD + PRE_NIGHTS:
            raise ValueError(
                f"start_jd must be a Julian date after {ZTF_START_JD + PRE_NIGHTS} "
                f"(ZTF's first alerts plus a month of history), got {start_jd}"
            )
        self.objects = objects
        self.night_count = nights
        self.seed = seed
        self.night0_jd = math.floor(start_jd - 0.5) + 0.5
        self.class_counts = _split_counts(objects)
        rng = np.random.default_rng([seed, 0])
        self._src: dict[str, Any] = {}
        self._place_sources(rng)
        fields, counts = np.unique(self._src["field"], return_counts=True)
        sources_per_field = dict(zip(fields.tolist(), counts.tolist(), strict=True))
        self._schedule = _Schedule(rng, self.night0_jd, nights, sources_per_field)
        self._describe_references(rng)
        self._draw_light_curves(rng)
        self._draw_bogus(rng)
        self._draw_asteroids(rng)
        self._name_objects(rng)
        self._truth: pd.DataFrame | None = None
        # Encoded upper limits, shared by the sources of a readout channel; pure
        # functions of their key, so the cache never changes the output.
        self._upper_limits = _LRUCache(UPPER_LIMIT_CACHE_SIZE)

    # ---------------------------------------------------------------- population

    def _place_sources(self, rng: np.random.Generator) -> None:
        """Class and position of every non-moving source, and its index in its field."""
        counts = self.class_counts
        codes = [_PERIODIC, _SUPERNOVA, _AGN, _BOGUS]
        cls = rng.permutation(np.repeat(codes, [counts[_CLASSES[code]] for code in codes]))
        n = len(cls)
        s = self._src
        s["cls"] = cls
        s["ra"] = rng.uniform(0, 360, n)
        s["dec"] = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-30.0)), 1.0, n)))
        s.update(locate(s["ra"], s["dec"]))
        order = np.lexsort((np.arange(n), s["field"]))
        fields, starts = np.unique(s["field"][order], return_index=True)
        self._field_sources = dict(zip(fields.tolist(), np.split(order, starts[1:]), strict=True))
        s["slot"] = np.empty(n, dtype=np.int64)  # table index of its detections
        for members in self._field_sources.values():
            s["slot"][members] = np.arange(len(members))
        self._max_slot = max((len(members) for members in self._field_sources.values()), default=0)

    def _describe_references(self, rng: np.random.Generator) -> None:
        """The reference-image source, Pan-STARRS1 and Gaia neighbours of each source.

        The reference source is the object itself for periodic variables and AGN,
        the host galaxy for supernovae and a neighbouring star for bogus detections.
        """
        s = self._src
        n = len(s["cls"])
        periodic, supernova, agn, bogus = (
            s["cls"] == code for code in (_PERIODIC, _SUPERNOVA, _AGN, _BOGUS)
        )
        starlike = periodic | bogus
        galaxy = supernova | agn
        mag_r = np.select(
            [periodic, supernova, agn],
            [rng.uniform(13.5, 17.5, n), rng.uniform(16.5, 20.5, n), rng.uniform(16.5, 19.0, n)],
            rng.uniform(12.0, 19.0, n),
        )
        colour = np.select(
            [periodic, supernova, agn],
            [rng.uniform(0.2, 0.9, n), rng.uniform(0.5, 0.9, n), rng.uniform(0.2, 0.6, n)],
            rng.uniform(0.3, 1.2, n),
        )
        s["mag_r"], s["mag_g"] = mag_r, mag_r + colour
        s["sigmagnr_r"] = 0.008 + 0.03 * 10 ** (0.4 * (mag_r - 19.0))
        s["sigmagnr_g"] = 0.008 + 0.03 * 10 ** (0.4 * (s["mag_g"] - 19.0))
        s["ref_distance"] = np.select(  # arcsec
            [periodic, supernova, agn],
            [
                np.minimum(np.abs(rng.normal(0, 0.12, n)), 0.3),
                rng.uniform(1, 5, n),
                rng.uniform(0, 0.3, n),
            ],
            rng.uniform(1.0, 5.0, n),
        )
        s["ref_angle"] = rng.uniform(0, 2 * np.pi, n)
        s["ref_extent"] = np.select(
            [supernova, agn], [rng.uniform(1.5, 3.0, n), rng.uniform(0.6, 1.5, n)], 0.0
        )
        s["ranr"], s["decnr"] = _offset(
            s["ra"],
            s["dec"],
            s["ref_distance"] * np.cos(s["ref_angle"]),
            s["ref_distance"] * np.sin(s["ref_angle"]),
        )
        s["chinr"] = np.where(galaxy, rng.uniform(1.0, 4.0, n), rng.uniform(0.4, 1.5, n))
        s["sharpnr"] = np.where(galaxy, rng.uniform(0.05, 0.4, n), rng.normal(0, 0.04, n))
        s["classtar"] = np.select(
            [starlike, agn],
            [rng.uniform(0.95, 1.0, n), rng.uniform(0.6, 0.9, n)],
            rng.uniform(0.2, 0.7, n),
        )

        # Pan-STARRS1: the object (or host, or the bogus' star) first, then two neighbours.
        score = np.select(
            [starlike, agn],
            [rng.uniform(0.95, 1.0, n), rng.uniform(0.02, 0.3, n)],
            rng.uniform(0.0, 0.15, n),
        )
        first = np.where(
            supernova,
            np.clip(s["ref_distance"] + rng.normal(0, 0.1, n), 1.0, 5.0),
            np.where(
                bogus,
                s["ref_distance"],
                np.minimum(s["ref_distance"] + np.abs(rng.normal(0, 0.05, n)), 0.45),
            ),
        )
        second = rng.uniform(5.0, 15.0, n)
        distances = np.stack([first, second, second + rng.uniform(0.5, 8.0, n)])
        scores = np.stack([score, rng.uniform(0, 1, n), rng.uniform(0, 1, n)])
        neighbour = rng.uniform(18.5, 22.5, (2, n))
        colours = np.array([1.0, 0.0, -0.4, -0.6])[
            :, None
        ]  # g, r, i, z relative to r, per unit g−r
        mags = np.stack(
            [
                mag_r + colours * colour + rng.normal(0, 0.03, (4, n)),
                neighbour[0] + colours * 0.7,
                neighbour[1] + colours * 0.9,
            ]
        )  # (3 sources, 4 bands, n)
        angles = rng.uniform(0, 2 * np.pi, (3, n))
        ps1_ra, ps1_dec = _offset(
            s["ra"], s["dec"], distances * np.cos(angles), distances * np.sin(angles)
        )
        s["ps1_ids"] = _ps1_objid(ps1_ra, ps1_dec)
        s["ps1_distance"], s["ps1_score"], s["ps1_mags"] = distances, scores, mags
        s["nmtchps"] = rng.integers(3, 30, n)
        # Gaia: the star itself, or an unrelated star further away.
        s["neargaia"] = np.where(
            starlike, s["ref_distance"] + np.abs(rng.normal(0, 0.05, n)), rng.uniform(5, 60, n)
        )
        s["maggaia"] = np.where(starlike, mag_r + 0.3 * colour - 0.2, rng.uniform(14, 20.5, n))
        bright = s["maggaia"] < 14
        s["neargaiabright"] = np.where(bright, s["neargaia"], rng.uniform(20, 60, n))
        s["maggaiabright"] = np.where(bright, s["maggaia"], rng.uniform(11, 14, n))

        # Persistent sources were found years before the simulation starts.
        start = self.night0_jd
        persistent = periodic | agn
        latest = max(ZTF_START_JD + 10, start - PRE_NIGHTS - 30)
        s["jdstarthist"] = np.where(persistent, rng.uniform(ZTF_START_JD + 10, latest, n), np.nan)
        years = np.nan_to_num((start - s["jdstarthist"]) / 365.25)
        s["ndet_base"] = np.where(persistent, np.round(years * rng.uniform(30, 150, n)), 0).astype(
            np.int64
        )
        s["ncov_base"] = np.round(
            (start - ZTF_START_JD) / 365.25 * rng.uniform(100, 250, n)
        ).astype(np.int64)

    def _draw_light_curves(self, rng: np.random.Generator) -> None:
        """Periodic, supernova and AGN light-curve parameters (NaN for other classes)."""
        s = self._src
        n = len(s["cls"])
        start = self.night0_jd
        periodic, supernova, agn = (s["cls"] == code for code in (_PERIODIC, _SUPERNOVA, _AGN))

        period = np.exp(rng.uniform(np.log(0.3), np.log(20.0), n))
        s["period"] = np.where(periodic, period, np.nan)
        s["amplitude"] = np.where(periodic, rng.uniform(0.3, 1.0, n), np.nan)
        s["sawtooth"] = periodic & (rng.random(n) < 0.5)
        s["epoch_jd"] = np.where(periodic, start + rng.uniform(0, 1, n) * period, np.nan)

        tau_rise, tau_fall = rng.uniform(2.0, 6.0, n), rng.uniform(15.0, 40.0, n)
        peak_jd = start + rng.uniform(-20.0, self.night_count, n)
        s["peak_jd"] = np.where(supernova, peak_jd, np.nan)
        s["peak_mag"] = np.where(supernova, rng.uniform(17.0, 19.5, n), np.nan)
        s["tau_rise"] = np.where(supernova, tau_rise, np.nan)
        s["tau_fall"] = np.where(supernova, tau_fall, np.nan)
        s["t0"] = peak_jd - tau_rise * np.log(tau_fall / tau_rise - 1)  # Bazin's t0 for that peak
        s["sn_colour"] = rng.uniform(-0.2, 0.1, n)  # g − r at peak

        # AGN: a damped random walk (Ornstein–Uhlenbeck) on a half-day grid, interpolated.
        s["drw_tau"] = np.where(agn, np.exp(rng.uniform(np.log(50.0), np.log(400.0), n)), np.nan)
        s["drw_sf"] = np.where(agn, rng.uniform(0.2, 0.5, n), np.nan)
        members = np.flatnonzero(agn)
        s["agn_row"] = np.full(n, -1)
        s["agn_row"][members] = np.arange(len(members))
        self._drw_t0 = start - PRE_NIGHTS - 1
        steps = 2 * (self.night_count + PRE_NIGHTS + 2)
        decay = np.exp(-0.5 / s["drw_tau"][members])
        sigma = s["drw_sf"][members] / np.sqrt(2)  # long-term rms [mag]
        kicks = rng.normal(0, 1, (steps, len(members))) * sigma * np.sqrt(1 - decay**2)
        walk = np.empty((steps, len(members)))
        walk[0] = rng.normal(0, 1, len(members)) * sigma
        for step in range(1, steps):
            walk[step] = walk[step - 1] * decay + kicks[step]
        self._drw = walk.T.copy()

    def _draw_bogus(self, rng: np.random.Generator) -> None:
        """One artefact per bogus source.

        It appears in the first exposure of its field on or after a random night,
        0.05–1.5 mag above that exposure's limit, positive 70 % of the time.
        """
        s, sch = self._src, self._schedule
        n = len(s["cls"])
        night = rng.integers(0, self.night_count, n)
        above_limit = rng.uniform(0.05, 1.5, n)
        sign = np.where(rng.random(n) < 0.7, 1.0, -1.0)
        s["fire_exposure"] = np.full(n, -1)
        for index in np.flatnonzero(s["cls"] == _BOGUS).tolist():
            exposures = sch.field_exposures.get(int(s["field"][index]), np.empty(0, np.int64))
            later = exposures[sch.night[exposures] >= night[index]]
            if len(later):
                s["fire_exposure"][index] = later[0]
        fired = s["fire_exposure"] >= 0
        exposure = np.where(fired, s["fire_exposure"], 0)
        mag = sch.diffmaglim[exposure] - above_limit
        s["fire_flux"] = np.where(fired, sign * 10 ** (0.4 * (sch.magzpsci[exposure] - mag)), 0.0)
        s["fire_mag"] = np.where(fired, mag, np.nan)
        s["fire_jd"] = np.where(fired, sch.jd[exposure], np.nan)

    def _draw_asteroids(self, rng: np.random.Generator) -> None:
        """Asteroid tracks near the ecliptic, and their detections.

        An asteroid is seen at most once a night: in the first exposure of the
        field it is in, when its measured flux is above the limit.
        """
        count = self.class_counts["asteroid"]
        sch = self._schedule
        self._tracks = {
            "ra0": rng.uniform(0, 360, count),
            "dec0": rng.uniform(-20, 30, count),
            "rate_ra": rng.choice([-1.0, 1.0], count, p=[0.7, 0.3]) * rng.uniform(0.1, 0.5, count),
            "rate_dec": rng.uniform(-0.15, 0.15, count),  # deg/day
        }
        mag_v0 = rng.uniform(17.5, 20.5, count)
        mag_slope = rng.uniform(-0.02, 0.02, count)
        self._asteroid_names = [
            str(number) for number in rng.choice(np.arange(1000, 700000), count, replace=False)
        ]
        detections: list[dict[str, Any]] = []
        everyone = np.arange(count)
        for night in range(self.night_count if count else 0):
            fields = locate(*self._asteroid_position(self.night0_jd + night + 0.3, everyone))
            first = [
                sch.first_exposure.get((night, field), -1) for field in fields["field"].tolist()
            ]
            index = np.flatnonzero(np.array(first) >= 0)
            exposure = np.array(first, dtype=np.int64)[index]
            ra, dec = self._asteroid_position(sch.jd[exposure], index)
            place = locate(ra, dec)
            mag_v = mag_v0[index] + mag_slope[index] * night
            mag = mag_v + np.where(sch.fid[exposure] == 1, _ASTEROID_G_V, _ASTEROID_R_V)
            true_flux = 10 ** (0.4 * (sch.magzpsci[exposure] - mag))
            error = np.sqrt(sch.flux_sigma[exposure] ** 2 + true_flux / GAIN)
            flux = true_flux + error * rng.standard_normal(len(index))
            draws = rng.random((len(index), 8))
            coverage = rng.integers(50, 1500, len(index))
            # Seen if bright enough, and still in the field it was in at mid-night.
            seen = (flux >= 5 * sch.flux_sigma[exposure]) & (
                place["field"] == fields["field"][index]
            )
            for k in np.flatnonzero(seen).tolist():
                detections.append(
                    {
                        "asteroid": int(index[k]),
                        "exposure": int(exposure[k]),
                        "jd": float(sch.jd[exposure[k]]),
                        "place": {
                            "ra": float(ra[k]),
                            "dec": float(dec[k]),
                            **{key: value[k].item() for key, value in place.items()},
                        },
                        "mag": float(mag[k]),
                        "mag_v": float(mag_v[k]),
                        "flux": float(flux[k]),
                        "error": float(error[k]),
                        "draws": draws[k].tolist(),
                        "ncov_base": int(coverage[k]),
                    }
                )
        self._asteroid_detections = detections
        self._asteroids_at: dict[int, list[int]] = {}
        for index, detection in enumerate(detections):
            self._asteroids_at.setdefault(detection["exposure"], []).append(index)

    def _asteroid_position(
        self, jd: npt.ArrayLike, index: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Positions of the asteroids ``index`` at times ``jd`` (one, or one each)."""
        tracks = self._tracks
        days = np.asarray(jd) - self.night0_jd
        dec = tracks["dec0"][index] + tracks["rate_dec"][index] * days
        ra = tracks["ra0"][index] + tracks["rate_ra"][index] * days / np.cos(np.radians(dec))
        return ra % 360.0, dec

    def _name_objects(self, rng: np.random.Generator) -> None:
        """ZTF-style objectIds, numbered within each year in order of first detection."""
        s = self._src
        first_jd = np.select(
            [np.isfinite(s["jdstarthist"]), s["cls"] == _SUPERNOVA, s["cls"] == _BOGUS],
            [
                s["jdstarthist"],
                np.maximum(s["t0"] - 2 * s["tau_rise"], self.night0_jd - PRE_NIGHTS),
                np.nan_to_num(s["fire_jd"], nan=self.night0_jd + self.night_count),
            ],
        )
        first_jd = np.concatenate([first_jd, [d["jd"] for d in self._asteroid_detections]])
        years = _datetime64(first_jd).astype("datetime64[Y]").astype(np.int64) + 1970
        names = np.empty(len(first_jd), dtype=object)
        for year in np.unique(years).tolist():
            members = np.flatnonzero(years == year)
            members = members[np.argsort(first_jd[members], kind="stable")]
            offset = int(rng.integers(0, 3 * 26**5))  # ZTF's names reach 'ac…' by year end
            names[members] = [_object_id(year, offset + rank) for rank in range(len(members))]
        n = len(s["cls"])
        s["object_id"] = names[:n]
        for detection, name in zip(self._asteroid_detections, names[n:].tolist(), strict=True):
            detection["object_id"] = name
        if self._max_slot + len(self._asteroid_detections) >= MAX_TABLE_INDEX:
            raise ValueError(
                f"{self.objects} objects over {self.night_count} nights need more than "
                f"{MAX_TABLE_INDEX} candids per exposure; use fewer objects or nights"
            )

    # --------------------------------------------------------------------- truth

    @property
    def truth(self) -> pd.DataFrame:
        """Class and parameters of every objectId (columns in the module docstring)."""
        if self._truth is None:
            self._truth = self._make_truth()
        return self._truth.copy()

    def _make_truth(self) -> pd.DataFrame:
        s = self._src
        n = len(s["cls"])
        bogus = s["cls"] == _BOGUS
        periodic = s["cls"] == _PERIODIC
        static = pd.DataFrame(
            {
                "object_id": s["object_id"].astype(str),
                "source": np.arange(n),
                "class": np.array(_CLASSES)[s["cls"]],
                "ra": s["ra"],
                "dec": s["dec"],
                "field": s["field"],
                "rcid": s["rcid"],
                "mag_g": np.where(bogus, np.nan, s["mag_g"]),
                "mag_r": np.where(bogus, s["fire_mag"], s["mag_r"]),
                "period": s["period"],
                "amplitude": s["amplitude"],
                "shape": np.where(periodic, np.where(s["sawtooth"], "sawtooth", "sinusoid"), ""),
                "epoch_jd": s["epoch_jd"],
                "peak_mag": s["peak_mag"],
                "peak_jd": s["peak_jd"],
                "tau_rise": s["tau_rise"],
                "tau_fall": s["tau_fall"],
                "host_offset": np.where(s["cls"] == _SUPERNOVA, s["ref_distance"], np.nan),
                "drw_tau": s["drw_tau"],
                "drw_sf": s["drw_sf"],
                "ssnamenr": "",
                "jd": s["fire_jd"],
            }
        )
        moving = pd.DataFrame(
            [
                {
                    "object_id": d["object_id"],
                    "source": n + d["asteroid"],
                    "class": "asteroid",
                    "ra": d["place"]["ra"],
                    "dec": d["place"]["dec"],
                    "field": d["place"]["field"],
                    "rcid": d["place"]["rcid"],
                    "mag_g": d["mag_v"] + _ASTEROID_G_V,
                    "mag_r": d["mag_v"] + _ASTEROID_R_V,
                    "ssnamenr": self._asteroid_names[d["asteroid"]],
                    "jd": d["jd"],
                }
                for d in self._asteroid_detections
            ],
            columns=static.columns,
        )
        if moving.empty:
            return static
        truth = pd.concat([static, moving.astype(static.dtypes.to_dict())], ignore_index=True)
        return truth

    # -------------------------------------------------------------------- nights

    def nights(self) -> Iterator[SimulatedNight]:
        """The simulated nights, in order, each with its packets in time order.

        Yields
        ------
        SimulatedNight
            Consume each night's ``packets`` before taking the next night.
        """
        n = len(self._src["cls"])
        state = {  # what earlier nights saw: ndethist and jdstarthist of new objects
            "ndet": self._src["ndet_base"].copy(),
            "counted_until": np.full(n, -np.inf),
            "first_jd": np.full(n, np.nan),
        }
        for night in range(self.night_count):
            jd = self.night0_jd + night
            yield SimulatedNight(night, _date(jd), jd, self._night_packets(night, state))

    def packets(self) -> Iterator[SimulatedPacket]:
        """Every packet of every night, in time order."""
        for night in self.nights():
            yield from night.packets

    def write(self, out_dir: Path) -> int:
        """Write the packets in ZTF's nightly layout, and the truth beside them.

        Parameters
        ----------
        out_dir
            Created if missing; gets ``ztf_YYYYMMDD_programid1/<objectId>_<candid>.avro``
            for each night and ``truth.csv``.

        Returns
        -------
        int
            Number of packets written.
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = 0
        for night in self.nights():
            folder = out_dir / f"ztf_{night.date}_programid1"
            folder.mkdir(exist_ok=True)
            for packet in night.packets:
                (folder / f"{packet.object_id}_{packet.candid}.avro").write_bytes(packet.data)
                written += 1
        self.truth.to_csv(out_dir / "truth.csv", index=False)
        return written

    # -------------------------------------------------------------- light curves

    def _fluxes(
        self, sources: npt.NDArray[np.int64], exposures: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Reference flux and true difference flux [DN], sources × exposures."""
        s, sch = self._src, self._schedule
        t = sch.jd[exposures][None, :]
        zp = sch.magzpsci[exposures][None, :]
        g = (sch.fid[exposures] == 1)[None, :]
        cls = s["cls"][sources]
        ref_mag = np.where(g, s["mag_g"][sources][:, None], s["mag_r"][sources][:, None])
        ref_flux = 10 ** (0.4 * (zp - ref_mag))
        difference = np.zeros((len(sources), len(exposures)))

        rows = np.flatnonzero(cls == _PERIODIC)
        if len(rows):
            p = sources[rows][:, None]
            phase = ((t - s["epoch_jd"][p]) / s["period"][p]) % 1.0
            sawtooth = np.where(phase < 0.85, 2 * phase / 0.85 - 1, 1 - 2 * (phase - 0.85) / 0.15)
            sinusoid = -np.cos(2 * np.pi * phase)
            shape = np.where(s["sawtooth"][p], sawtooth, sinusoid)  # −1 at maximum light
            mag = ref_mag[rows] + 0.5 * s["amplitude"][p] * np.where(g, 1.2, 1.0) * shape
            difference[rows] = 10 ** (0.4 * (zp - mag)) - ref_flux[rows]
        rows = np.flatnonzero(cls == _AGN)
        if len(rows):
            walk = self._drw[s["agn_row"][sources[rows]]]
            position = (sch.jd[exposures] - self._drw_t0) / 0.5
            below = np.clip(np.floor(position).astype(np.int64), 0, walk.shape[1] - 2)
            weight = position - below
            offset = walk[:, below] * (1 - weight) + walk[:, below + 1] * weight
            mag = ref_mag[rows] + offset * np.where(g, 1.25, 1.0)
            difference[rows] = 10 ** (0.4 * (zp - mag)) - ref_flux[rows]
        rows = np.flatnonzero(cls == _SUPERNOVA)
        if len(rows):
            p = sources[rows][:, None]
            t0, rise, fall, peak = s["t0"][p], s["tau_rise"][p], s["tau_fall"][p], s["peak_jd"][p]
            shape = _bazin(t, t0, rise, fall) / _bazin(peak, t0, rise, fall)
            colour = s["sn_colour"][p] + np.clip(0.025 * (t - peak), 0, 1.3)
            peak_flux = 10 ** (0.4 * (zp - s["peak_mag"][p]))
            difference[rows] = peak_flux * shape * np.where(g, 10 ** (-0.4 * colour), 1.0)
        return ref_flux, difference

    def _night_packets(self, night: int, state: dict[str, Any]) -> Iterator[SimulatedPacket]:
        sch = self._schedule
        for block, (first, end) in enumerate(sch.blocks[night]):
            builder = _BlockBuilder(self, night, block, state)
            for exposure in range(first, end):
                field = int(sch.field[exposure])
                if field in self._field_sources:
                    yield from builder.static_alerts(field, exposure, first, end)
                for index in self._asteroids_at.get(exposure, ()):
                    yield builder.asteroid_alert(self._asteroid_detections[index])


class _FieldWindow:
    """A field's non-moving sources over its exposures of the last 30 days."""

    def __init__(
        self,
        simulator: AlertSimulator,
        field: int,
        jd_from: float,
        jd_to: float,
        state: dict[str, Any],
    ) -> None:
        s, sch = simulator._src, simulator._schedule
        self.sources = simulator._field_sources[field]
        all_exposures = sch.field_exposures[field]
        jd = sch.jd[all_exposures]
        self.exposures = all_exposures[(jd >= jd_from) & (jd <= jd_to)]
        self.jd = sch.jd[self.exposures]
        self.column = {exposure: j for j, exposure in enumerate(self.exposures.tolist())}
        n, w = len(self.sources), len(self.exposures)

        # The random numbers of a (source, exposure) come from a generator of the
        # field and night, so a detection has the same values in every later history.
        normal, uniform = np.empty((4, n, w)), np.empty((4, n, w))
        nights = sch.night[self.exposures]
        for night in np.unique(nights).tolist():
            columns = np.flatnonzero(nights == night)
            that_night = sch.night[all_exposures] == night
            rng = np.random.default_rng([simulator.seed, 1, night + PRE_NIGHTS, field])
            chosen = np.isin(all_exposures[that_night], self.exposures[columns])
            normal[:, :, columns] = rng.standard_normal((4, n, int(that_night.sum())))[:, :, chosen]
            uniform[:, :, columns] = rng.random((4, n, int(that_night.sum())))[:, :, chosen]
        self.normal, self.uniform = normal, uniform

        ref_flux, difference = simulator._fluxes(self.sources, self.exposures)
        flux_sigma = sch.flux_sigma[self.exposures][None, :]
        # Photon noise of the light at the position: the object itself for periodic
        # variables and AGN, part of the host for supernovae, none from a neighbour.
        local = _LOCAL_REFERENCE_LIGHT[s["cls"][self.sources]][:, None] * ref_flux
        error = np.sqrt(
            flux_sigma**2 + np.maximum(local + difference, 0) / GAIN + (0.01 * difference) ** 2
        )
        measured = difference + error * normal[0]
        fire = s["fire_exposure"][self.sources]
        for row in np.flatnonzero(fire >= 0).tolist():
            column = self.column.get(int(fire[row]))
            if column is not None:
                measured[row, column] = s["fire_flux"][self.sources[row]]
                error[row, column] = flux_sigma[0, column]
        self.ref_flux, self.measured, self.error = ref_flux, measured, error
        self.detected = np.abs(measured) >= 5 * flux_sigma  # brighter than diffmaglim
        self._count_history(s, state)
        # Set by _BlockBuilder._detections: the encoded prv_candidates entry of each
        # detection, the detection at each (row, column) or −1, and the candidate
        # fields of the detections in this block (its alerts), with their positions.
        self.prv_entries: list[bytes] | None = None
        self.detection_index = np.empty((0, 0), dtype=np.int64)
        self.alert_fields: dict[str, Any] = {}
        self.alert_position: dict[int, int] = {}
        self._histories: dict[int, tuple[bytes, list[int], bytes, list[int]]] = {}

    def _count_history(self, s: dict[str, Any], state: dict[str, Any]) -> None:
        """Count ``ndethist`` and ``jdstarthist``: detections no earlier window counted."""
        sources = self.sources
        counted_until = state["counted_until"][sources]
        new = self.detected & (self.jd[None, :] > counted_until[:, None])
        self.ndethist = state["ndet"][sources][:, None] + np.cumsum(new, axis=1)
        first_new = np.where(new.any(axis=1), self.jd[np.argmax(new, axis=1)], np.nan)
        first_jd = state["first_jd"][sources]
        first_jd = np.where(np.isnan(first_jd), first_new, first_jd)
        state["first_jd"][sources] = first_jd
        if len(self.jd):
            state["ndet"][sources] = self.ndethist[:, -1]
            state["counted_until"][sources] = np.maximum(counted_until, self.jd[-1])
        self.jdstarthist = np.where(
            np.isnan(s["jdstarthist"][sources]), first_jd, s["jdstarthist"][sources]
        )


class _BlockBuilder:
    """Builds the packets of one observing block."""

    def __init__(
        self, simulator: AlertSimulator, night: int, block: int, state: dict[str, Any]
    ) -> None:
        self.sim = simulator
        self.sch = simulator._schedule
        self.src = simulator._src
        self.state = state
        self.rng = np.random.default_rng([simulator.seed, 2, night + PRE_NIGHTS, block])
        self.windows: dict[int, _FieldWindow] = {}
        self.upper_limits = simulator._upper_limits

    # ------------------------------------------------------------- static sources

    def _window(self, field: int, first: int, end: int) -> _FieldWindow:
        window = self.windows.get(field)
        if window is None:
            in_block = self.sch.jd[first:end][self.sch.field[first:end] == field]
            window = _FieldWindow(
                self.sim, field, in_block[0] - HISTORY_DAYS, in_block[-1], self.state
            )
            self.windows[field] = window
        return window

    def _detections(self, window: _FieldWindow, first: int) -> None:
        """Encode the prv_candidates entry of every detection in the window.

        Also keeps the candidate fields of the detections made in this block (in
        exposures from ``first`` on): they are its alerts.
        """
        if window.prv_entries is not None:
            return
        s, sch = self.src, self.sch
        rows, columns = np.nonzero(window.detected)
        sources = window.sources[rows]
        exposure = window.exposures[columns]
        flux, error = window.measured[rows, columns], window.error[rows, columns]
        z_ra, z_dec = window.normal[1, rows, columns], window.normal[2, rows, columns]
        sigma = np.hypot(0.07, 0.6 * sch.fwhm[exposure] * PIXEL_SCALE / (np.abs(flux) / error))
        ra, dec = _offset(s["ra"][sources], s["dec"][sources], z_ra * sigma, z_dec * sigma)
        place = {key: s[key][sources] for key in ("rcid", "ccd", "quadrant")}
        place.update(
            ra=ra,
            dec=dec,
            xpos=s["xpos"][sources] + z_ra * sigma / PIXEL_SCALE,
            ypos=s["ypos"][sources] + z_dec * sigma / PIXEL_SCALE,
        )
        draws = np.concatenate(
            [window.normal[3:4, rows, columns], window.uniform[:, rows, columns]]
        )
        fields = _detection_columns(
            sch,
            exposure=exposure,
            place=place,
            tblid=s["slot"][sources],
            flux=flux,
            error=error,
            draws=draws,
            bogus=s["cls"][sources] == _BOGUS,
        )
        g = sch.fid[exposure] == 1
        east = (ra - s["ranr"][sources] + 180) % 360 - 180
        distance = np.hypot(east * np.cos(np.radians(dec)), dec - s["decnr"][sources]) * 3600
        fields.update(
            distnr=distance / PIXEL_SCALE,
            magnr=np.where(g, s["mag_g"][sources], s["mag_r"][sources]),
            sigmagnr=np.where(g, s["sigmagnr_g"][sources], s["sigmagnr_r"][sources]),
            chinr=s["chinr"][sources],
            sharpnr=s["sharpnr"][sources],
            classtar=s["classtar"][sources],
            ranr=s["ranr"][sources],
            decnr=s["decnr"][sources],
            ssdistnr=-999.0,
            ssmagnr=-999.0,
            ssnamenr="null",
            ndethist=window.ndethist[rows, columns],
            ncovhist=s["ncov_base"][sources] + sch.field_rank[exposure],
            jdstarthist=window.jdstarthist[rows],
            jdendhist=sch.jd[exposure],
        )
        fields["pdiffimfilename"] = [
            sch.archive_name(e, c, q)
            for e, c, q in zip(
                exposure.tolist(), place["ccd"].tolist(), place["quadrant"].tolist(), strict=True
            )
        ]
        window.prv_entries = _PRV_CANDIDATE.encode_many(fields, len(rows))
        window.detection_index = np.full(window.detected.shape, -1)
        window.detection_index[rows, columns] = np.arange(len(rows))
        alerts = np.flatnonzero(exposure >= first)
        window.alert_fields = _select(fields, alerts)
        window.alert_position = {detection: k for k, detection in enumerate(alerts.tolist())}

    def _history(self, window: _FieldWindow, row: int) -> tuple[bytes, list[int], bytes, list[int]]:
        """A source's history entries at every exposure of the window, encoded once.

        Returns the concatenated ``prv_candidates`` entries and their offsets, then
        the same for ``fp_hists``; an alert's history is a slice of each.
        """
        cached = window._histories.get(row)
        if cached is not None:
            return cached
        s = self.src
        source = int(window.sources[row])
        rcid = int(s["rcid"][source])
        detections = window.prv_entries or []
        entries = [
            detections[i] if i >= 0 else self._nondetection(exposure, rcid)
            for i, exposure in zip(
                window.detection_index[row].tolist(), window.exposures.tolist(), strict=True
            )
        ]
        reference = {
            fid: _FP_REFERENCE.encode_record(
                {
                    "distnr": float(s["ref_distance"][source]) / PIXEL_SCALE,
                    "ranr": float(s["ranr"][source]),
                    "decnr": float(s["decnr"][source]),
                    "magnr": float(s[f"mag_{band}"][source]),
                    "sigmagnr": float(s[f"sigmagnr_{band}"][source]),
                    "chinr": float(s["chinr"][source]),
                    "sharpnr": float(s["sharpnr"][source]),
                }
            )
            for fid, band in ((1, "g"), (2, "r"))
        }
        forced_entries = self._forced(
            window.exposures,
            rcid,
            window.measured[row],
            window.error[row],
            [reference[fid] for fid in self.sch.fid[window.exposures].tolist()],
        )
        history = (
            b"".join(entries),
            [0, *accumulate(len(entry) for entry in entries)],
            b"".join(forced_entries),
            [0, *accumulate(len(entry) for entry in forced_entries)],
        )
        window._histories[row] = history
        return history

    def _nondetection(self, exposure: int, rcid: int) -> bytes:
        key = (exposure, rcid)
        entry = self.upper_limits.get(key)
        if entry is None:
            entry = _PRV_CANDIDATE.encode_record(self.sch.nondetection(exposure, rcid))
            self.upper_limits.put(key, entry)
        return entry

    def _forced(
        self,
        exposures: npt.NDArray[np.int64],
        rcid: int,
        flux: npt.NDArray[np.float64],
        error: npt.NDArray[np.float64],
        references: list[bytes],
    ) -> list[bytes]:
        """Encoded fp_hists entries of one position at the given exposures."""
        entries = []
        for exposure, value, sigma, reference in zip(
            exposures.tolist(), flux.tolist(), error.tolist(), references, strict=True
        ):
            prefix = self.sch.forced_prefix(exposure, rcid)
            measurement = _FP_MEASUREMENT.pack(2, value, 2, sigma)
            entries.append(b"".join((prefix, measurement, _FP_PROCSTATUS, reference)))
        return entries

    def static_alerts(
        self, field: int, exposure: int, first: int, end: int
    ) -> Iterator[SimulatedPacket]:
        """The alerts of the field's sources detected in this exposure."""
        window = self._window(field, first, end)
        column = window.column[exposure]
        rows = np.flatnonzero(window.detected[:, column])
        if not len(rows):
            return
        s = self.src
        self._detections(window, first)
        start = int(np.searchsorted(window.jd, window.jd[column] - HISTORY_DAYS, side="right"))
        for row in rows.tolist():
            source = int(window.sources[row])
            detection = int(window.detection_index[row, column])
            candidate = _record(window.alert_fields, window.alert_position[detection])
            candidate["pdiffimfilename"] = self.sch.diffim_name(
                exposure, int(s["ccd"][source]), int(s["quadrant"][source])
            )
            candidate.update(self._source_fields(source))
            prv, prv_offsets, fp, fp_offsets = self._history(window, row)
            flux = float(window.measured[row, column])
            scene = _Scene(
                float(window.ref_flux[row, column]),
                float(s["ref_distance"][source]),
                float(s["ref_angle"][source]),
                float(s["ref_extent"][source]),
            )
            yield self._packet(
                str(s["object_id"][source]),
                candidate,
                history=_array(column - start, prv[prv_offsets[start] : prv_offsets[column]]),
                forced=_array(column - start, fp[fp_offsets[start] : fp_offsets[column]]),
                exposure=exposure,
                flux=flux,
                scene=scene,
                artefact=bool(s["cls"][source] == _BOGUS),
                subpixel=(
                    float(window.uniform[2, row, column]) - 0.5,
                    float(window.uniform[3, row, column]) - 0.5,
                ),
            )

    def _source_fields(self, source: int) -> dict[str, Any]:
        """Candidate fields fixed for a non-moving source: Pan-STARRS1 and Gaia."""
        s = self.src
        fields: dict[str, Any] = {
            "nmtchps": int(s["nmtchps"][source]),
            "neargaia": float(s["neargaia"][source]),
            "neargaiabright": float(s["neargaiabright"][source]),
            "maggaia": float(s["maggaia"][source]),
            "maggaiabright": float(s["maggaiabright"][source]),
        }
        ids = s["ps1_ids"][:, source].tolist()
        distances = s["ps1_distance"][:, source].tolist()
        scores = s["ps1_score"][:, source].tolist()
        mags = s["ps1_mags"][:, :, source].tolist()
        for k in range(3):
            fields[f"objectidps{k + 1}"] = ids[k]
            fields[f"distpsnr{k + 1}"] = distances[k]
            fields[f"sgscore{k + 1}"] = scores[k]
            for band, mag in zip("griz", mags[k], strict=True):
                fields[f"s{band}mag{k + 1}"] = mag
        return fields

    # ------------------------------------------------------------------- asteroids

    def asteroid_alert(self, detection: dict[str, Any]) -> SimulatedPacket:
        """The alert of one nightly asteroid detection.

        A new object each night: its history has no detections, only upper limits
        and forced photometry of empty sky at its position.
        """
        sch = self.sch
        exposure = detection["exposure"]
        place = detection["place"]
        draws = detection["draws"]
        columns = _detection_columns(
            sch,
            exposure=np.array([exposure]),
            place={key: np.array([value]) for key, value in place.items()},
            tblid=np.array([self.sim._max_slot + detection["asteroid"]]),
            flux=np.array([detection["flux"]]),
            error=np.array([detection["error"]]),
            draws=np.array([[2 * draws[0] - 1], *([value] for value in draws[1:5])]),
            bogus=np.array([False]),
        )
        candidate = _record(_select(columns, np.array([0])), 0)
        candidate["pdiffimfilename"] = sch.diffim_name(exposure, place["ccd"], place["quadrant"])
        # The nearest reference and Pan-STARRS1 sources are unrelated field stars.
        distance = 2.0 + 18.0 * draws[5]  # arcsec
        angle = 2 * math.pi * draws[6]
        ranr, decnr = (
            float(v)
            for v in _offset(
                place["ra"], place["dec"], distance * math.cos(angle), distance * math.sin(angle)
            )
        )
        magnr_by_band = {2: 19.0 + 3.5 * draws[7], 1: 19.5 + 3.5 * draws[7]}
        magnr = magnr_by_band[candidate["fid"]]
        reference = {
            "distnr": distance / PIXEL_SCALE,
            "magnr": magnr,
            "sigmagnr": 0.05 + 0.05 * draws[6],
            "chinr": 0.5 + draws[7],
            "sharpnr": 0.1 * draws[5] - 0.05,
            "ranr": ranr,
            "decnr": decnr,
        }
        candidate.update(reference)
        candidate.update(
            classtar=0.9 + 0.1 * draws[7],
            ssdistnr=1.5 * draws[5],
            ssmagnr=detection["mag_v"],
            ssnamenr=self.sim._asteroid_names[detection["asteroid"]],
            ndethist=1,
            ncovhist=detection["ncov_base"] + int(sch.field_rank[exposure]),
            jdstarthist=detection["jd"],
            jdendhist=detection["jd"],
            nmtchps=int(3 + 20 * draws[5]),
            neargaia=20 + 30 * draws[6],
            neargaiabright=40 + 20 * draws[7],
            maggaia=19.0 + draws[5],
            maggaiabright=12.0 + draws[6],
            objectidps1=int(_ps1_objid(ranr, decnr)),
            sgscore1=draws[6],
            distpsnr1=distance,
            sgmag1=magnr + 0.5,
            srmag1=magnr,
            simag1=magnr - 0.2,
            szmag1=magnr - 0.3,
        )
        exposures = sch.field_exposures[place["field"]]
        jd = sch.jd[exposures]
        earlier = exposures[(jd > detection["jd"] - HISTORY_DAYS) & (jd < detection["jd"])]
        rcid = place["rcid"]
        history = b"".join(self._nondetection(e, rcid) for e in earlier.tolist())
        noise = sch.flux_sigma[earlier]
        suffix = {
            fid: _FP_REFERENCE.encode_record({**reference, "magnr": magnr_by_band[fid]})
            for fid in (1, 2)
        }
        forced_bytes = b"".join(
            self._forced(
                earlier,
                rcid,
                noise * self.rng.standard_normal(len(earlier)),
                noise,
                [suffix[fid] for fid in sch.fid[earlier].tolist()],
            )
        )
        scene = _Scene(10 ** (0.4 * (candidate["magzpsci"] - magnr)), distance, angle, 0.0)
        return self._packet(
            detection["object_id"],
            candidate,
            history=_array(len(earlier), history),
            forced=_array(len(earlier), forced_bytes),
            exposure=exposure,
            flux=detection["flux"],
            scene=scene,
            artefact=False,
            subpixel=(draws[3] - 0.5, draws[4] - 0.5),
        )

    # --------------------------------------------------------------------- packets

    def _packet(
        self,
        object_id: str,
        candidate: dict[str, Any],
        *,
        history: bytes,
        forced: bytes,
        exposure: int,
        flux: float,
        scene: _Scene,
        artefact: bool,
        subpixel: tuple[float, float],
    ) -> SimulatedPacket:
        candid, pid = candidate["candid"], candidate["pid"]
        science, template, difference = self._stamps(
            exposure, flux, scene, artefact=artefact, subpixel=subpixel
        )
        sign = "scimref" if flux > 0 else "refmsci"
        cutouts = (
            (f"candid{candid}_pid{pid}_targ_sci.fits.gz", science),
            (f"candid{candid}_ref.fits.gz", template),
            (f"candid{candid}_pid{pid}_targ_{sign}.fits.gz", difference),
        )
        # ZTF's sync markers are random; these are reproducible and differ per packet.
        sync = candid.to_bytes(8, "big") + self.sim.seed.to_bytes(8, "big")
        data = _packet_bytes(
            object_id,
            candidate=_CANDIDATE.encode_record(candidate),
            candid=candid,
            history=history,
            forced=forced,
            cutouts=cutouts,
            sync=sync,
        )
        return SimulatedPacket(candidate["jd"], object_id, candid, data)

    def _stamps(
        self,
        exposure: int,
        flux: float,
        scene: _Scene,
        *,
        artefact: bool,
        subpixel: tuple[float, float],
    ) -> tuple[bytes, bytes, bytes]:
        """Science, template and difference stamps: Gaussian sources on sky and noise.

        The template holds the reference scene (the object itself, its host or a
        neighbour) at the reference image's resolution and low noise; the science
        image adds the measured flux change at the centre in this exposure's
        seeing; the difference image is that change alone, on noise. An artefact
        is much sharper than the PSF.
        """
        sch = self.sch
        psf_sigma = float(sch.fwhm[exposure]) / _FWHM_PER_SIGMA
        pixel_sigma = float(sch.pixel_sigma[exposure])
        x0, y0 = _CENTRE + subpixel[0], _CENTRE + subpixel[1]
        offset = scene.distance / PIXEL_SCALE
        rx, ry = x0 + offset * math.cos(scene.angle), y0 + offset * math.sin(scene.angle)
        change = flux * _profile(x0, y0, 0.35 if artefact else psf_sigma)
        template_sigma = math.hypot(TEMPLATE_FWHM / _FWHM_PER_SIGMA, scene.extent)
        template = scene.ref_flux * _profile(rx, ry, template_sigma)
        science = scene.ref_flux * _profile(rx, ry, math.hypot(psf_sigma, scene.extent)) + change
        noise = self.rng.standard_normal((3, STAMP_SIZE, STAMP_SIZE), dtype=np.float32)
        sky = float(sch.sky[exposure])
        return (
            _fits_gz(sky + science + pixel_sigma * noise[0]),
            _fits_gz(sky + template + 0.25 * pixel_sigma * noise[1]),
            _fits_gz(change + 1.03 * pixel_sigma * noise[2]),
        )
