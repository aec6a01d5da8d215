"""Lasair-ZTF's Python client, served from this archive: ``from lasair_nb import lasair``.

A script written for the ``lasair`` package (``lasair.lasair_client(token, endpoint=...)``
then ``L.query(...)``, ``L.cone(...)``, ``L.object(...)``...) runs unchanged with this
module in its place. Every call is answered by :func:`lasair_nb.connect` (this platform's
archive, offline); the token, endpoint and cache directory are accepted and not used.

>>> from lasair_nb import lasair
>>> L = lasair.lasair_client("any-token", endpoint="https://lasair-ztf.lsst.ac.uk/api")
>>> L.query("objectId, ncand", "objects", "ncand > 10 ORDER BY ncand DESC", limit=5)
>>> L.cone(ra, dec, radius=5, requestType="nearest")

Errors are :class:`LasairError`, which is :class:`lasair_nb.errors.LasairError` itself,
so ``except lasair.LasairError`` catches every error Lasair-NB raises on purpose.

Not in Lasair-NB yet (they raise :class:`LasairError` saying so): Sherlock context
classification (``sherlock_*``, the ``sherlock_classifications`` table), Kafka streams
(``streams``, ``streams_topics``, :class:`lasair_consumer`, :class:`lasair_producer`),
watchlist and watchmap tables (``watchlist:N``, ``area:N``) and ``crossmatch_tns``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from typing import Any

from pglast.parser import ParseError, parse_sql_json, scan

from lasair_nb.client.archive import Archive, connect
from lasair_nb.errors import LasairError

__all__ = ["LasairError", "lasair_client", "lasair_consumer", "lasair_producer"]

SHERLOCK_MISSING = (
    "Sherlock context classification is not in Lasair-NB yet (issue: Lasair compatibility)"
)
STREAMS_MISSING = "Kafka streams are not in Lasair-NB yet (issue: real-time filters)"
REQUEST_TYPES = ("all", "nearest", "count")
MAX_OBJECTS = 10
"""Lasair's limit on objectIds per ``lightcurves`` call."""
LITE_CANDIDATE_KEYS = (
    "candid",
    "jd",
    "mjd",
    "fid",
    "ra",
    "dec",
    "magpsf",
    "sigmapsf",
    "isdiffpos",
    "diffmaglim",
    "magnr",
    "sigmagnr",
)
"""Candidate keys ``object(lite=True)`` keeps."""
MISSING_TABLES = {
    "sherlock_classifications": SHERLOCK_MISSING,
    "crossmatch_tns": "the crossmatch_tns table is not in Lasair-NB yet "
    "(issue: Lasair compatibility); TNS names are in the archive's TNS table (archive.tns)",
}
_MISSING_PREFIXES = {
    "watchlist": "watchlist tables (watchlist:N) are not in Lasair-NB yet "
    "(issue: Lasair compatibility); use archive.watchlists.crossmatch(name)",
    "area": "watchmap tables (area:N) are not in Lasair-NB yet "
    "(issue: Lasair compatibility); use archive.watchmaps.objects(name)",
    "annotator": "annotator tables (annotator:topic) are not in Lasair-NB yet "
    "(issue: Lasair compatibility); use archive.annotations.search(...)",
}
_CLAUSE_STARTS = {"ORDER", "GROUP_P"}


def _is_number(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _check_ids(object_ids: Any, limit: int | None = None) -> list[str]:
    if isinstance(object_ids, str):
        object_ids = [part.strip() for part in object_ids.split(",") if part.strip()]
    if not isinstance(object_ids, (list, tuple)) or not all(
        isinstance(object_id, str) for object_id in object_ids
    ):
        raise LasairError(
            "objectIds must be a list of objectId strings like ['ZTF21abiuvdk'], "
            f"got {object_ids!r}"
        )
    if limit is not None and len(object_ids) > limit:
        raise LasairError(f"give at most {limit} objectIds per call, got {len(object_ids)}")
    return list(object_ids)


# --- query: SELECT text with Lasair's output names ------------------------------------------


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _named_select(selected: str) -> str:
    """``selected`` with each output column named as written (PostgreSQL folds case).

    A bare column (``objectId``, ``objects.objectId``) gets ``AS "objectId"``, its last
    written identifier; an unquoted alias is quoted as written. Text PostgreSQL cannot
    parse is returned unchanged, for :meth:`Archive.sql` to report.
    """
    sql = f"SELECT {selected} FROM t"  # noqa: S608 - only parsed, never run
    try:
        tree = json.loads(parse_sql_json(sql))
        tokens = scan(sql)
    except ParseError:
        return selected
    statements = tree.get("stmts", [])
    if len(statements) != 1 or "SelectStmt" not in statements[0]["stmt"]:
        return selected
    targets = [item["ResTarget"] for item in statements[0]["stmt"]["SelectStmt"]["targetList"]]
    raw = sql.encode()
    end_of_select = len(f"SELECT {selected}".encode())
    starts = [target["location"] for target in targets]
    edits: list[tuple[int, int, str]] = []  # byte ranges [start, end) and their new text
    for index, target in enumerate(targets):
        end = starts[index + 1] if index + 1 < len(targets) else end_of_select
        item = [t for t in tokens if starts[index] <= t.start and t.end < end]
        if item and item[-1].name == "ASCII_44":  # the comma before the next item
            item = item[:-1]
        if not item:
            continue
        last = item[-1]
        text = raw[last.start : last.end + 1].decode()
        column = target["val"].get("ColumnRef")
        if "name" in target:
            if not text.startswith('"') and text.lower() == target["name"]:
                edits.append((last.start, last.end + 1, _quote(text)))
        elif column is not None and "A_Star" not in column["fields"][-1]:
            name = text[1:-1].replace('""', '"') if text.startswith('"') else text
            edits.append((last.end + 1, last.end + 1, " AS " + _quote(name)))
    for start, stop, new in sorted(edits, reverse=True):
        raw = raw[:start] + new.encode() + raw[stop:]
    return raw[len(b"SELECT ") : len(raw) - len(b" FROM t")].decode()


def _split_conditions(conditions: str) -> tuple[str, str]:
    """``conditions`` as its WHERE part and what follows it (``GROUP BY``, ``ORDER BY``...)."""
    try:
        tokens = scan(conditions)
    except ParseError:
        return conditions, ""
    depth = 0
    for index, token in enumerate(tokens):
        if token.name == "ASCII_40":
            depth += 1
        elif token.name == "ASCII_41":
            depth -= 1
        elif (
            depth == 0
            and token.name in _CLAUSE_STARTS
            and index + 1 < len(tokens)
            and tokens[index + 1].name == "BY"
        ):
            raw = conditions.encode()
            return raw[: token.start].decode().strip(), raw[token.start :].decode().strip()
    return conditions.strip(), ""


# --- the client ------------------------------------------------------------------------------


class lasair_client:  # noqa: N801 - Lasair's name
    """Lasair's API client, answered by this archive.

    Parameters
    ----------
    token
        Lasair API token: accepted and not needed (the archive knows who you are).
    cache
        Lasair's cache directory: it must exist, as in Lasair; nothing is cached,
        the archive is local.
    endpoint
        Lasair's API address: accepted and not used.
    timeout
        Seconds a query may run (at most 3600).
    archive
        The archive to answer from. Default: :func:`lasair_nb.connect` (``LASAIR_DB_URL``,
        else the embedded server).
    """

    def __init__(
        self,
        token: str | None = None,
        cache: str | None = None,
        endpoint: str | None = None,
        timeout: float = 60.0,
        *,
        archive: Archive | None = None,
    ) -> None:
        if cache and not os.path.isdir(cache):
            raise LasairError(f'Cache directory "{cache}" does not exist')
        if not _is_number(timeout) or not 0 < float(timeout) <= 3600:
            raise LasairError(f"timeout must be seconds above 0 and at most 3600, got {timeout!r}")
        self.token = token
        self.cache = cache
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self.archive = archive if archive is not None else connect()
        self._tables: set[str] | None = None

    def __repr__(self) -> str:
        return f"<lasair_client on {self.archive!r}>"

    # --- cone and query ------------------------------------------------------------------

    def cone(self, ra: float, dec: float, radius: float = 5, requestType: str = "all") -> Any:  # noqa: N803
        """Objects within ``radius`` arcsec of (``ra``, ``dec``) in degrees.

        Returns
        -------
        list or dict
            ``requestType="all"``: ``[{"object": objectId, "separation": arcsec}, ...]``
            nearest first; ``"nearest"``: the nearest one as such a dict (``{}`` if
            none); ``"count"``: ``{"count": n}``.
        """
        if requestType not in REQUEST_TYPES:
            raise LasairError(
                f"requestType must be one of {', '.join(map(repr, REQUEST_TYPES))}, "
                f"got {requestType!r}"
            )
        for name, value in (("ra", ra), ("dec", dec)):
            if not _is_number(value):
                raise LasairError(f"{name} must be a number of degrees, got {value!r}")
        if not -90 <= float(dec) <= 90:
            raise LasairError(f"dec must be from -90 to 90 degrees, got {dec!r}")
        if not _is_number(radius) or not 0 < float(radius) <= 648_000:
            raise LasairError(
                f"radius must be a positive number of arcsec (at most 648000), got {radius!r}"
            )
        found = self.archive.cone((float(ra), float(dec)), radius=float(radius))
        if not hasattr(found, "to_dict"):  # an astropy Table
            found = found.to_pandas()
        rows = [
            {"object": str(object_id), "separation": float(separation)}
            for object_id, separation in zip(found["objectid"], found["separation"], strict=True)
        ]
        if requestType == "count":
            return {"count": len(rows)}
        if requestType == "nearest":
            return rows[0] if rows else {}
        return rows

    def _table_names(self) -> set[str]:
        if self._tables is None:
            schema = self.archive.schema()
            if not hasattr(schema, "to_dict"):
                schema = schema.to_pandas()
            self._tables = {str(name) for name in schema["table"]}
        return self._tables

    def _check_table(self, name: str) -> None:
        lowered = name.lower()
        if lowered in MISSING_TABLES:
            raise LasairError(MISSING_TABLES[lowered])
        prefix = lowered.split(":", 1)[0]
        if ":" in lowered and prefix in _MISSING_PREFIXES:
            raise LasairError(_MISSING_PREFIXES[prefix])
        known = self._table_names()
        if lowered not in known or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise LasairError(
                f"no table {name!r} in Lasair-NB; tables accepted: {', '.join(sorted(known))}"
            )

    def query(
        self,
        selected: str,
        tables: str,
        conditions: str,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Rows of ``SELECT selected FROM tables WHERE conditions``, as Lasair's query.

        Several tables are joined on ``objectId``. ``conditions`` may end with
        ``GROUP BY``/``ORDER BY``. Each row is a dict keyed as ``selected`` names its
        columns (``objectId``, not PostgreSQL's ``objectid``).
        """
        for name, value in (("selected", selected), ("tables", tables), ("conditions", conditions)):
            if not isinstance(value, str):
                raise LasairError(f"{name} must be a string, got {type(value).__name__}")
        names = [name.strip() for name in tables.split(",") if name.strip()]
        if not names or not selected.strip():
            raise LasairError(
                "give the selected columns and at least one table, e.g. "
                "query('objectId, ncand', 'objects', 'ncand > 10')"
            )
        for name in names:
            self._check_table(name)
        where, tail = _split_conditions(conditions)
        joins = [f"{names[0]}.objectid = {other}.objectid" for other in names[1:]]
        clauses = [f"({clause})" for clause in [*joins, where] if clause.strip()]
        # User text by design, as in Lasair: Archive.sql checks it and runs it read-only.
        sql = f"SELECT {_named_select(selected)} FROM {', '.join(names)}"  # noqa: S608
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        if tail:
            sql += " " + tail
        frame = self.archive.sql(sql, limit=limit, offset=offset, timeout=self.timeout)
        if not hasattr(frame, "to_dict"):
            frame = frame.to_pandas()
        return [
            {key: _plain(value) for key, value in row.items()} for row in frame.to_dict("records")
        ]

    # --- objects -------------------------------------------------------------------------

    def object(self, objectId: str, lite: bool = True, lasair_added: bool = True) -> dict:  # noqa: N803
        """An object as Lasair's object page in machine-readable form.

        Returns
        -------
        dict
            ``objectId``; ``candidates``: detections and non-detections by time, each
            with ``mjd`` (non-detections have no ``candid`` and no null keys); with
            ``lasair_added``, ``objectData`` (the ``objects`` row) and ``annotations``;
            unless ``lite``, every candidate column and ``forcedphot``.
        """
        for name, value in (("lite", lite), ("lasair_added", lasair_added)):
            if not isinstance(value, bool):
                raise LasairError(f"{name} must be True or False, got {value!r}")
        if not isinstance(objectId, str):
            raise LasairError(f"objectId must be a string like 'ZTF21abiuvdk', got {objectId!r}")
        document = json.loads(self.archive.object(objectId).to_json())
        candidates = []
        for candidate in document["candidates"]:
            row = {key: value for key, value in candidate.items() if value is not None}
            if "jd" in row:
                row["mjd"] = row["jd"] - 2_400_000.5
            if lite:
                row = {key: row[key] for key in LITE_CANDIDATE_KEYS if key in row}
            candidates.append(row)
        result: dict[str, Any] = {"objectId": document["objectId"]}
        if lasair_added:
            result["objectData"] = document["objectData"]
        result["candidates"] = candidates
        if not lite:
            result["forcedphot"] = document["forcedphot"]
        if lasair_added:
            result["annotations"] = document["annotations"]
        return result

    def objects(self, objectIds: Sequence[str]) -> list[dict]:  # noqa: N803
        """:meth:`object` (everything: ``lite=False``) of each objectId, in order."""
        return [self.object(object_id, lite=False) for object_id in _check_ids(objectIds)]

    def lightcurves(self, objectIds: Sequence[str]) -> list[list[dict]]:  # noqa: N803
        """Simple light curves (at most 10 objectIds).

        Per objectId, its detections as dicts with
        ``candid, fid, magpsf, sigmapsf, isdiffpos, mjd``.
        """
        keys = ("candid", "fid", "magpsf", "sigmapsf", "isdiffpos", "mjd")
        curves = []
        for object_id in _check_ids(objectIds, MAX_OBJECTS):
            document = self.object(object_id, lite=True, lasair_added=False)
            curves.append(
                [
                    {key: row.get(key) for key in keys}
                    for row in document["candidates"]
                    if "candid" in row
                ]
            )
        return curves

    # --- annotations -----------------------------------------------------------------------

    def annotate(  # noqa: PLR0917 - Lasair's signature
        self,
        topic: str,
        objectId: str,  # noqa: N803
        classification: str,
        version: str = "0.1",
        explanation: str = "",
        classdict: dict | None = None,
        url: str = "",
    ) -> dict[str, Any]:
        """Annotate an object as a Lasair annotator does.

        The annotation carries the tag ``topic:classification`` (lower case, other
        characters as ``_``), added to the shared tag vocabulary if new; its comment
        holds the explanation, version, url and classdict.

        Returns
        -------
        dict
            ``{"status": "success", "annotationID": id, "tag": tag}``.
        """
        if not isinstance(classification, str) or not classification.strip():
            raise LasairError("Classification must be a short nontrivial string")
        if not isinstance(topic, str) or not topic.strip():
            raise LasairError("topic must be a short nontrivial string (the annotator's topic)")
        if not isinstance(version, str) or len(version) > 16:
            raise LasairError("Version must be 16 characters or less")
        classdict = {} if classdict is None else classdict
        if not isinstance(classdict, dict):
            raise LasairError(f"classdict must be a dictionary, got {type(classdict).__name__}")
        for name, value in (("explanation", explanation), ("url", url)):
            if not isinstance(value, str):
                raise LasairError(f"{name} must be a string, got {type(value).__name__}")
        tag = re.sub(r"[^a-z0-9_.:-]", "_", f"{topic.strip()}:{classification.strip()}".lower())
        tag = tag.lstrip("_.:-")[:64] or "annotation"
        if tag not in self.archive.tags:
            self.archive.tags.add(
                tag, f"Lasair annotator topic {topic!r}, classification {classification!r}"
            )
        lines = [explanation] if explanation else []
        lines.append(f"version: {version}")
        if url:
            lines.append(f"url: {url}")
        if classdict:
            lines.append(f"classdict: {json.dumps(classdict)}")
        annotation_id = self.archive.annotate(objectId, tags=[tag], comment="\n".join(lines))
        return {"status": "success", "annotationID": annotation_id, "tag": tag}

    def annotate_list(self, annotations_input: Sequence[dict]) -> list[dict[str, Any]]:
        """:meth:`annotate` each dict; all are checked first.

        Each has ``objectId``, ``topic``, ``classification``, and optionally
        ``version``, ``explanation``, ``classdict``, ``url``.
        """
        if not isinstance(annotations_input, (list, tuple)):
            raise LasairError("annotations must be a list of dictionaries")
        for index, annotation in enumerate(annotations_input):
            if not isinstance(annotation, dict):
                raise LasairError(
                    f"annotation {index} in batch is not a dictionary, batch rejected"
                )
            for key in ("objectId", "topic", "classification"):
                if key not in annotation:
                    raise LasairError(
                        f'annotation {index} in batch is missing "{key}", batch rejected'
                    )
        return [
            self.annotate(
                annotation["topic"],
                annotation["objectId"],
                annotation["classification"],
                version=str(annotation.get("version", "0.1"))[:16],
                explanation=annotation.get("explanation", ""),
                classdict=annotation.get("classdict", {}),
                url=annotation.get("url", ""),
            )
            for annotation in annotations_input
        ]

    # --- not in Lasair-NB yet ------------------------------------------------------------------

    def sherlock_object(self, objectId: str, lite: bool = True) -> Any:  # noqa: N803
        """Not in Lasair-NB yet: raises :class:`LasairError`."""
        raise LasairError(SHERLOCK_MISSING)

    def sherlock_objects(self, objectIds: Sequence[str], lite: bool = True) -> Any:  # noqa: N803
        """Not in Lasair-NB yet: raises :class:`LasairError`."""
        raise LasairError(SHERLOCK_MISSING)

    def sherlock_position(self, ra: float, dec: float, lite: bool = True) -> Any:
        """Not in Lasair-NB yet: raises :class:`LasairError`."""
        raise LasairError(SHERLOCK_MISSING)

    def streams_topics(self, regex: str = ".*", limit: int = 1000) -> Any:
        """Not in Lasair-NB yet: raises :class:`LasairError`."""
        raise LasairError(STREAMS_MISSING)

    def streams(self, topic: str, limit: int = 1000) -> Any:
        """Not in Lasair-NB yet: raises :class:`LasairError`."""
        raise LasairError(STREAMS_MISSING)


def _plain(value: Any) -> Any:
    """A database value as Lasair's JSON gives it: numpy scalars as Python ones, NaN as None."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class lasair_consumer:  # noqa: N801 - Lasair's name
    """Lasair's Kafka consumer: not in Lasair-NB yet, raises :class:`LasairError`."""

    def __init__(self, host: str, group_id: str, topic_in: str) -> None:
        raise LasairError(STREAMS_MISSING)


class lasair_producer:  # noqa: N801 - Lasair's name
    """Lasair's Kafka annotation producer: not in Lasair-NB yet; use ``annotate``."""

    def __init__(self, host: str, username: str, password: str, topic_out: str) -> None:
        raise LasairError(STREAMS_MISSING + "; annotate with lasair_client(...).annotate(...)")
