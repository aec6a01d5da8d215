"""Turn one decoded ZTF alert into archive rows. Pure functions: no I/O, no server.

One alert gives

* its own candidate (``in_alert`` true) and every earlier detection in
  ``prv_candidates`` that has a ``candid`` (``in_alert`` false: known only from
  the history of a later alert);
* non-detections: ``prv_candidates`` entries without a ``candid`` (upper limits);
* forced photometry: the ``fp_hists`` of 4.x alerts, and the fp_hist-shaped
  ``prv_candidates`` of the 3.5 test schema of ZTF's forced-photometry branch;
* its three cutouts, as received.

Pre-3.0 (commissioning-era) alerts are accepted: schema 1.5 names the nearest
Pan-STARRS source's fields without the ``1`` suffix, so they are renamed; fields a
version lacks are NULL; ``schemavsn`` comes from the embedded writer schema's
``version`` when the packet has none. Version 1.5 stamps are JPEG, not FITS: they
are kept as received and marked in ``cutouts.stamp_format``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy import units as u
from healpix_alchemy.constants import HPX

from lasair_nb.domain.photometry import dc_magnitude
from lasair_nb.domain.ztf import CANDIDATE_FIELDS, FP_HIST_FIELDS

CANDIDATE_COLUMNS: tuple[str, ...] = tuple(field.name for field in CANDIDATE_FIELDS)
FP_HIST_COLUMNS: tuple[str, ...] = tuple(field.name for field in FP_HIST_FIELDS)
NONDETECTION_COLUMNS: tuple[str, ...] = (
    "jd",
    "fid",
    "pid",
    "diffmaglim",
    "pdiffimfilename",
    "programpi",
    "programid",
    "nid",
    "rcid",
    "field",
    "magzpsci",
    "magzpsciunc",
    "magzpscirms",
    "clrcoeff",
    "clrcounc",
    "rbversion",
)

LEGACY_RENAMES: dict[str, str] = {
    "sgmag": "sgmag1",
    "srmag": "srmag1",
    "simag": "simag1",
    "szmag": "szmag1",
    "sgscore": "sgscore1",
}
"""Schema 1.5 names of the nearest Pan-STARRS source's fields → their 3.x names."""
_LEGACY_NAMES = frozenset(LEGACY_RENAMES)

STAMPS = ("cutoutScience", "cutoutTemplate", "cutoutDifference")
JD_RANGE = (2_400_000.0, 2_600_000.0)
"""Julian dates an alert may carry (1858 to 2406): night dates must be computable."""
MAX_OBJECTID_LENGTH = 64
"""ZTF's are 12 characters; a longer one would not fit the archive's indexes at some size."""
GZIP_MAGIC = b"\x1f\x8b"
JPEG_MAGIC = b"\xff\xd8"


class RowError(ValueError):
    """An alert decoded but its content cannot be archived; the message says why."""


@dataclass(eq=False)
class AlertRows:
    """Everything one alert adds to the archive (and the packet it came from)."""

    objectid: str
    candid: int
    schemavsn: str
    jd: float
    candidates: list[dict[str, Any]] = field(default_factory=list)
    noncandidates: list[dict[str, Any]] = field(default_factory=list)
    forced: list[dict[str, Any]] = field(default_factory=list)
    cutout: dict[str, Any] | None = None
    source: str = ""
    raw: bytes = b""


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check_strings(record: dict[str, Any], where: str) -> None:
    """PostgreSQL text cannot hold NUL characters: refuse them here, with the field named.

    For the alert's own fields (its objectId names rows in every table). In detections,
    PostgreSQL refuses a NUL itself and the writer quarantines the alert, naming the
    column: looking at every string of every detection here cost more than the check.
    """
    if "\x00" not in "".join([value for value in record.values() if type(value) is str]):
        return  # the usual case, looked at once
    for name, value in record.items():
        if isinstance(value, str) and "\x00" in value:
            raise RowError(f"{where}: field {name!r} contains a NUL character")


def _renamed(source: dict[str, Any]) -> dict[str, Any]:
    """A detection with pre-2.0 field names renamed (itself when it has none)."""
    if source.keys().isdisjoint(_LEGACY_NAMES):  # looks up the five names, not every key
        return source
    return {LEGACY_RENAMES.get(key, key): value for key, value in source.items()}


def _check_jd(jd: Any, where: str) -> None:
    if not _finite(jd) or not JD_RANGE[0] <= jd <= JD_RANGE[1]:
        raise RowError(f"{where}: jd {jd!r} is not a Julian date in [{JD_RANGE[0]}, {JD_RANGE[1]}]")


def _check_detection(row: dict[str, Any], where: str) -> None:
    for name in ("jd", "ra", "dec", "fid", "magpsf", "candid"):
        if row.get(name) is None:
            raise RowError(f"{where}: required field {name!r} is missing or null")
    _check_jd(row["jd"], where)
    if not _finite(row["ra"]) or not 0.0 <= row["ra"] <= 360.0:
        raise RowError(f"{where}: ra {row['ra']!r} outside [0, 360] degrees")
    if not _finite(row["dec"]) or not -90.0 <= row["dec"] <= 90.0:
        raise RowError(f"{where}: dec {row['dec']!r} outside [-90, 90] degrees")


def _stamp_format(data: bytes) -> str:
    if data.startswith(GZIP_MAGIC):
        return "fits.gz"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(b"SIMPLE"):
        return "fits"
    return "unknown"


def alert_rows(record: dict[str, Any], writer_version: str | None = None) -> AlertRows:
    """Build the archive rows of one decoded ZTF alert.

    Parameters
    ----------
    record
        One record of a ZTF alert packet, as fastavro decodes it.
    writer_version
        The ``version`` attribute of the packet's writer schema, used as
        ``schemavsn`` for pre-2.0 alerts that do not carry one.

    Returns
    -------
    AlertRows
        Rows for ``candidates``, ``noncandidates``, ``forced_photometry`` and ``cutouts``.

    Raises
    ------
    RowError
        If a required field is missing or a value is out of range.
    """
    objectid = record.get("objectId")
    if not isinstance(objectid, str) or not 0 < len(objectid) <= MAX_OBJECTID_LENGTH:
        raise RowError(
            f"objectId {objectid[:80] if isinstance(objectid, str) else objectid!r} is not a "
            f"string of 1 to {MAX_OBJECTID_LENGTH} characters"
        )
    _check_strings(record, "alert")
    candid = record.get("candid")
    candidate = record.get("candidate")
    if not isinstance(candidate, dict):
        raise RowError("alert has no candidate record")
    if candid is None:
        candid = candidate.get("candid")
    if type(candid) is not int or candidate.get("candid") != candid:
        raise RowError(
            f"alert candid {candid!r} does not match candidate.candid {candidate.get('candid')!r}"
        )
    schemavsn = record.get("schemavsn") or writer_version or "unknown"
    rows = AlertRows(objectid=objectid, candid=candid, schemavsn=str(schemavsn), jd=0.0)

    own = _renamed(candidate)
    _check_detection(own, f"candidate {candid}")
    rows.jd = float(own["jd"])
    rows.candidates.append(_candidate_row(own, objectid, rows.schemavsn, in_alert=True))

    for index, previous in enumerate(record.get("prv_candidates") or ()):
        if "forcediffimflux" in previous:  # schema 3.5 carried forced photometry here
            _check_jd(previous.get("jd"), f"prv_candidates[{index}]")
            rows.forced.append(_forced_row(previous, objectid))
        elif previous.get("candid") is not None:
            detection = _renamed(previous)
            _check_detection(detection, f"prv_candidates[{index}]")
            rows.candidates.append(
                _candidate_row(detection, objectid, rows.schemavsn, in_alert=False)
            )
        else:
            if previous.get("jd") is None or previous.get("fid") is None:
                raise RowError(f"prv_candidates[{index}]: non-detection without jd or fid")
            _check_jd(previous["jd"], f"prv_candidates[{index}]")
            rows.noncandidates.append({**_EMPTY_NONDETECTION, **previous, "objectid": objectid})

    for index, forced in enumerate(record.get("fp_hists") or ()):
        if forced.get("jd") is None or forced.get("fid") is None:
            raise RowError(f"fp_hists[{index}]: forced photometry without jd or fid")
        _check_jd(forced["jd"], f"fp_hists[{index}]")
        rows.forced.append(_forced_row(forced, objectid))

    stamps = [record.get(name) for name in STAMPS]
    if any(stamp is not None for stamp in stamps):
        data = [stamp.get("stampData") if stamp else None for stamp in stamps]
        first = next(item for item in data if item is not None)
        rows.cutout = {
            "candid": candid,
            "objectid": objectid,
            "science": data[0],
            "template": data[1],
            "difference": data[2],
            "stamp_format": _stamp_format(first),
        }
    return rows


_EMPTY_CANDIDATE = dict.fromkeys(CANDIDATE_COLUMNS)
_EMPTY_FORCED = dict.fromkeys(FP_HIST_COLUMNS)
_EMPTY_NONDETECTION = dict.fromkeys(NONDETECTION_COLUMNS)


def _candidate_row(
    source: dict[str, Any], objectid: str, schemavsn: str, *, in_alert: bool
) -> dict[str, Any]:
    # Every candidate column, None where this schema version lacks the field. Rows
    # may carry extra keys; the writer selects the table's columns.
    return {
        **_EMPTY_CANDIDATE,
        **source,
        "objectid": objectid,
        "schemavsn": schemavsn,
        "in_alert": in_alert,
    }


def _forced_row(source: dict[str, Any], objectid: str) -> dict[str, Any]:
    return {**_EMPTY_FORCED, **source, "objectid": objectid}


def add_derived_columns(candidates: list[dict[str, Any]]) -> None:
    """Add ``hpx``, ``dc_mag`` and ``dc_sigmag`` to candidate rows, vectorised over a batch.

    Parameters
    ----------
    candidates
        Candidate rows from :func:`alert_rows`; changed in place.
    """
    if not candidates:
        return

    def column(name: str) -> np.ndarray:
        return np.array(
            [np.nan if row[name] is None else row[name] for row in candidates], dtype=float
        )

    ra, dec = column("ra"), column("dec")
    hpx = HPX.lonlat_to_healpix(ra * u.deg, dec * u.deg)
    dc_mag, dc_sig = dc_magnitude(
        column("magpsf"),
        column("sigmapsf"),
        column("magnr"),
        column("sigmagnr"),
        [row["isdiffpos"] for row in candidates],
    )
    for row, pixel, mag, sig in zip(
        candidates, hpx.tolist(), dc_mag.tolist(), dc_sig.tolist(), strict=True
    ):
        row["hpx"] = pixel
        row["dc_mag"] = None if math.isnan(mag) else mag
        row["dc_sigmag"] = None if math.isnan(sig) else sig
