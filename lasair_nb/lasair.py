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

``query`` follows Lasair's query builder (:mod:`lasair_nb.archive.lasair_query`): the
tables ``objects``, ``sherlock_classifications``, ``crossmatch_tns``, ``watchlist:N``,
``area:N``, ``annotator:TOPIC`` joined on objectId, and the MySQL forms Lasair users write.
Sherlock's context classes (``sherlock_object``, ``sherlock_objects``,
``sherlock_position``, the ``sherlock_classifications`` table) come from this platform's
own rules over the operator's catalogues (:mod:`lasair_nb.domain.sherlock`).

Not in Lasair-NB yet (they raise :class:`LasairError` saying so): Kafka streams
(``streams``, ``streams_topics``, :class:`lasair_consumer`, :class:`lasair_producer`).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lasair_nb.client.archive import Archive, connect
from lasair_nb.errors import LasairError, ObjectNotFoundError

__all__ = ["LasairError", "lasair_client", "lasair_consumer", "lasair_producer"]

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


def _is_number(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _check_ids(object_ids: Any, limit: int | None = None) -> list[str]:
    """The objectIds as a list.

    Lasair's client takes a comma-separated string or any iterable of strings (a list,
    a tuple, ``dict.keys()``...).
    """
    if isinstance(object_ids, str):
        object_ids = [part.strip() for part in object_ids.split(",") if part.strip()]
    elif isinstance(object_ids, Iterable) and not isinstance(object_ids, (bytes, Mapping)):
        object_ids = list(object_ids)
    elif isinstance(object_ids, Mapping):
        object_ids = list(object_ids.keys())
    if not isinstance(object_ids, list) or not all(
        isinstance(object_id, str) for object_id in object_ids
    ):
        raise LasairError(
            "objectIds must be a list of objectId strings like ['ZTF21abiuvdk'], "
            f"got {object_ids!r}"
        )
    if limit is not None and len(object_ids) > limit:
        raise LasairError(f"give at most {limit} objectIds per call, got {len(object_ids)}")
    return object_ids


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
        if not _is_number(radius) or not 0 <= float(radius) <= 648_000:
            raise LasairError(f"radius must be a number of arcsec from 0 to 648000, got {radius!r}")
        if float(radius) == 0:  # an empty cone, as Lasair answers it
            return (
                {"count": 0} if requestType == "count" else {} if requestType == "nearest" else []
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

    def query(
        self,
        selected: str,
        tables: str,
        conditions: str,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Rows of ``SELECT selected FROM tables WHERE conditions``, as Lasair's query.

        Lasair's text is MySQL's and is translated (``"SN"`` is a string, ``LIKE`` ignores
        case, ``JDNOW()`` works...); the tables are joined on ``objectId``, with Lasair's
        ``watchlist:N``, ``area:N`` and ``annotator:TOPIC``; ``conditions`` may end with
        ``GROUP BY``, ``HAVING``, ``ORDER BY`` and ``LIMIT``. See
        :mod:`lasair_nb.archive.lasair_query` for every rule.

        Returns
        -------
        list of dict
            One dict per row, keyed as ``selected`` names its columns (``objectId``,
            not PostgreSQL's ``objectid``).
        """
        for name, value in (("selected", selected), ("tables", tables), ("conditions", conditions)):
            if not isinstance(value, str):
                raise LasairError(f"{name} must be a string, got {type(value).__name__}")
        rows = self.archive.query(
            selected,
            tables,
            conditions,
            limit=limit,
            offset=offset,
            dialect="mysql",
            timeout=self.timeout,
        )
        return [{key: _plain(value) for key, value in row.items()} for row in rows]

    # --- objects -------------------------------------------------------------------------

    def object(self, objectId: str, lite: bool = True, lasair_added: bool = True) -> dict:  # noqa: N803
        """An object as Lasair's object page in machine-readable form.

        Returns
        -------
        dict
            ``objectId``; ``candidates``: detections and non-detections by time, each
            with ``mjd`` (non-detections have no ``candid`` and no null keys); with
            ``lasair_added``, ``objectData`` (the ``objects`` row under Lasair's names,
            with ``rasex``, ``decsex``, ``ec_lon``…), ``sherlock``, ``TNS``,
            ``annotations`` and the candidate counts; with ``lite=False``, every
            candidate column and ``forcedphot``.
        """
        for name, value in (("lite", lite), ("lasair_added", lasair_added)):
            if not isinstance(value, bool):
                raise LasairError(f"{name} must be True or False, got {value!r}")
        if not isinstance(objectId, str):
            raise LasairError(f"objectId must be a string like 'ZTF21abiuvdk', got {objectId!r}")
        document = json.loads(self.archive.object(objectId).to_json())
        candidates = document["candidates"]
        if lite:
            candidates = [
                {key: row[key] for key in LITE_CANDIDATE_KEYS if key in row} for row in candidates
            ]
        result: dict[str, Any] = {"objectId": document["objectId"]}
        if lasair_added:
            result["objectData"] = document["objectData"]
        result["candidates"] = candidates
        if not lite:
            result["forcedphot"] = document["forcedphot"]
        if lasair_added:
            for key in (
                "count_isdiffpos", "count_all_candidates", "count_noncandidate", "sherlock", "TNS",
                "annotations",
            ):  # fmt: skip
                result[key] = document[key]
        return result

    def objects(self, objectIds: Sequence[str]) -> list[dict | None]:  # noqa: N803
        """:meth:`object` (everything: ``lite=False``) of each objectId, in order.

        An objectId the archive does not hold gives ``None``, as Lasair's API does.
        """
        documents: list[dict | None] = []
        for object_id in _check_ids(objectIds):
            try:
                documents.append(self.object(object_id, lite=False))
            except ObjectNotFoundError:
                documents.append(None)
        return documents

    def lightcurves(self, objectIds: Sequence[str]) -> list[dict]:  # noqa: N803
        """Light curves of at most 10 objects, as Lasair's API gives them.

        Returns
        -------
        list of dict
            Per objectId, in order: ``{"objectId", "candidates", "forcedphot"}``;
            ``candidates`` holds detections and non-detections by time with every
            column (non-detections have no ``candid``), each with ``mjd``. An objectId
            the archive does not hold gives empty lists.
        """
        curves = []
        for object_id in _check_ids(objectIds, MAX_OBJECTS):
            try:
                document = self.object(object_id, lite=False, lasair_added=False)
            except ObjectNotFoundError:
                document = {"candidates": [], "forcedphot": []}
            curves.append(
                {
                    "objectId": object_id,
                    "candidates": document["candidates"],
                    "forcedphot": document["forcedphot"],
                }
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

        The annotation stores Lasair's fields (``topic``, ``classification``, ``version``,
        ``explanation``, ``classdict``, ``url``: queried as ``annotator:TOPIC``) and carries
        the tag ``topic:classification`` (lower case, other characters as ``_``), added to
        the shared tag vocabulary if new; its comment is the explanation.

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
        annotator = {
            "topic": topic.strip(),
            "classification": classification.strip(),
            "version": version,
            "explanation": explanation,
            "classdict": classdict,
            "url": url,
        }
        annotation_id = self.archive.annotate(
            objectId, tags=[tag], comment=explanation or classification, annotator=annotator
        )
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

    # --- Sherlock -------------------------------------------------------------------------

    def sherlock_object(self, objectId: str, lite: bool = True) -> dict[str, Any]:  # noqa: N803
        """Sherlock's context classification of an object, as Sherlock's API answers.

        Returns
        -------
        dict
            ``classifications``: ``{objectId: [classification, description]}`` (``{}`` if
            the object is not classified yet); unless ``lite``, ``crossmatches``: every
            ranked catalogue match under Sherlock's names (``rank``, ``association_type``,
            ``catalogue_object_id``, ``separationArcsec``, ``physical_separation_kpc``,
            ``z``, ``distance``...), with ``transient_object_id``.
        """
        if not isinstance(lite, bool):
            raise LasairError(f"lite must be True or False, got {lite!r}")
        if not isinstance(objectId, str):
            raise LasairError(f"objectId must be a string like 'ZTF21abiuvdk', got {objectId!r}")
        return _sherlock_answer(objectId, self.archive.sherlock(objectId), lite)

    def sherlock_objects(self, objectIds: Sequence[str], lite: bool = True) -> dict[str, Any]:  # noqa: N803
        """Sherlock's classifications of several objects (at most 10) in one answer.

        Returns
        -------
        dict
            ``classifications``: ``{objectId: [classification, description], ...}``;
            unless ``lite``, ``crossmatches``: the ranked matches of all of them.
        """
        answer: dict[str, Any] = {"classifications": {}}
        if not lite:
            answer["crossmatches"] = []
        for object_id in _check_ids(objectIds, MAX_OBJECTS):
            one = self.sherlock_object(object_id, lite=lite)
            answer["classifications"].update(one["classifications"])
            if not lite:
                answer["crossmatches"] += one["crossmatches"]
        return answer

    def sherlock_position(self, ra: float, dec: float, lite: bool = True) -> dict[str, Any]:
        """Sherlock's context classification of a sky position (degrees), named ``query``.

        Returns
        -------
        dict
            As :meth:`sherlock_object`, from the loaded catalogues only (a position has no
            alert, so no Pan-STARRS1/Gaia fields).
        """
        if not isinstance(lite, bool):
            raise LasairError(f"lite must be True or False, got {lite!r}")
        for name, value in (("ra", ra), ("dec", dec)):
            if not _is_number(value):
                raise LasairError(f"{name} must be a number of degrees, got {value!r}")
        found = self.archive.sherlock_position(float(ra), float(dec))
        return _sherlock_answer("query", found, lite)

    # --- not in Lasair-NB yet ------------------------------------------------------------------

    def streams_topics(self, regex: str = ".*", limit: int = 1000) -> Any:
        """Not in Lasair-NB yet: raises :class:`LasairError`."""
        raise LasairError(STREAMS_MISSING)

    def streams(self, topic: str, limit: int = 1000) -> Any:
        """Not in Lasair-NB yet: raises :class:`LasairError`."""
        raise LasairError(STREAMS_MISSING)


SHERLOCK_NAMES = {
    "separationarcsec": "separationArcsec",
    "northseparationarcsec": "northSeparationArcsec",
    "eastseparationarcsec": "eastSeparationArcsec",
    "classificationreliability": "classificationReliability",
    "photoz": "photoZ",
    "radeg": "raDeg",
    "decdeg": "decDeg",
}
"""Sherlock's spelling of the crossmatch columns PostgreSQL keeps in lower case."""


def _sherlock_answer(name: str, found: dict[str, Any], lite: bool) -> dict[str, Any]:
    """A classification (``Archive.sherlock``'s dict) in the shape of Sherlock's API."""
    answer: dict[str, Any] = {
        "classifications": {name: [found["classification"], found["description"]]} if found else {}
    }
    if not lite:
        answer["crossmatches"] = [
            {
                "transient_object_id": name,
                **{
                    SHERLOCK_NAMES.get(key, key): _plain(value)
                    for key, value in match.items()
                    if key != "objectid"
                },
            }
            for match in found.get("crossmatches", [])
        ]
    return answer


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
