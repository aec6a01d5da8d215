"""Sherlock-like classifications: find catalogue sources near objects, store the verdicts.

The rules are :mod:`lasair_nb.domain.sherlock`'s; this module only reads the objects and
the catalogue sources near them (one HEALPix range join for a whole batch, as the TNS and
watchlist crossmatches) and writes ``sherlock_classifications`` (upsert) and
``sherlock_crossmatches`` (replaced per object).

:func:`classify` takes a SQLAlchemy ``Connection`` or a DB-API cursor (the ingester's
psycopg 3 one), and works in the caller's transaction: a handful of statements per call
whatever the number of objects, none when no object is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from tqdm.auto import tqdm

from lasair_nb.archive.schema import sherlock_classifications, sherlock_crossmatches
from lasair_nb.domain.healpix import cones_ranges
from lasair_nb.domain.sherlock import (
    ALERT_FIELDS,
    CLASSIFICATION_COLUMNS,
    MATCH_COLUMNS,
    POINT_SEARCH_RADIUS_ARCSEC,
    SEARCH_RADIUS_ARCSEC,
    classify_objects,
)

CHUNK = 2000
"""Objects classified per round of statements."""

PAIR_COLUMNS = [
    "objectid", "catalogue", "source_id", "kind", "ra", "dec", "redshift", "distance_mpc",
    "radius_arcsec", "mag",
]  # fmt: skip

_PAIRS_SQL = (
    "SELECT t.objectid, s.catalogue, s.source_id, s.kind, s.ra, s.dec, s.redshift,"
    " s.distance_mpc, s.radius_arcsec, s.mag"
    " FROM unnest(%(ids)s::text[], %(ra)s::float8[], %(dec)s::float8[], %(lo)s::int8[],"
    "  %(hi)s::int8[]) AS t(objectid, ra, dec, lo, hi)"
    " JOIN catalog_sources s ON s.hpx >= t.lo AND s.hpx < t.hi"
    # galaxies are matched farther out than point sources
    " WHERE lasair_separation_arcsec(s.ra, s.dec, t.ra, t.dec)"
    "  <= CASE WHEN s.kind = 'galaxy' THEN %(galaxy)s ELSE %(point)s END"
)

_SQL_TYPES = {"rank": "int4", "classificationreliability": "int4"}
_TEXT = {
    "objectid", "classification", "association_type", "catalogue_table_name",
    "catalogue_object_id", "catalogue_object_type", "description", "annotator",
}  # fmt: skip


def _cursor(connection_or_cursor: Any) -> Any:
    """A DB-API cursor in the caller's transaction."""
    if isinstance(connection_or_cursor, sa.Connection):
        return connection_or_cursor.connection.cursor()
    return connection_or_cursor


def _fetch(cursor: Any, sql: str, parameters: Any = None) -> pd.DataFrame:
    cursor.execute(sql, parameters)
    columns = [column[0] for column in cursor.description]
    return pd.DataFrame(cursor.fetchall(), columns=columns)


def _nearby(cursor: Any, objects: pd.DataFrame) -> pd.DataFrame:
    """Catalogue sources within reach of each object (one range join)."""
    ranges = cones_ranges(
        objects["ra"].to_numpy(float),
        objects["dec"].to_numpy(float),
        np.full(len(objects), SEARCH_RADIUS_ARCSEC),
    )
    index = ranges["index"].to_numpy()
    return _fetch(
        cursor,
        _PAIRS_SQL,
        {
            "ids": objects["objectid"].to_numpy()[index].tolist(),
            "ra": objects["ra"].to_numpy(float)[index].tolist(),
            "dec": objects["dec"].to_numpy(float)[index].tolist(),
            "lo": ranges["lo"].astype(int).tolist(),
            "hi": ranges["hi"].astype(int).tolist(),
            "galaxy": SEARCH_RADIUS_ARCSEC,
            "point": POINT_SEARCH_RADIUS_ARCSEC,
        },
    )


def _has_catalogues(cursor: Any) -> bool:
    cursor.execute("SELECT EXISTS (SELECT FROM catalog_sources)")
    return bool(cursor.fetchone()[0])


def _unnest(columns: Sequence[str], rows: list[dict[str, Any]]) -> tuple[str, list[list[Any]]]:
    """``unnest(%s::type[], ...)`` of the rows' columns, and the arrays to bind."""
    casts = []
    for column in columns:
        kind = "text" if column in _TEXT else _SQL_TYPES.get(column, "float8")
        casts.append(f"%s::{kind}[]")
    arrays = [[_plain(row.get(column)) for row in rows] for column in columns]
    return f"unnest({', '.join(casts)})", arrays


def _plain(value: Any) -> Any:
    """A value either driver binds: NaN and numpy scalars become None and Python numbers."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _classify_chunk(cursor: Any, objectids: list[str], catalogues: bool) -> int:
    # The ingester holds these locks already; a re-run from the command line waits for it.
    cursor.execute(
        "SELECT objectid FROM object_locks WHERE objectid = ANY(%s) ORDER BY objectid FOR UPDATE",
        (objectids,),
    )
    objects = _fetch(
        cursor,
        f"SELECT objectid, ramean AS ra, decmean AS dec, {', '.join(ALERT_FIELDS)}"
        " FROM objects WHERE objectid = ANY(%s) ORDER BY objectid",
        (objectids,),
    )
    if not len(objects):
        return 0
    pairs = _nearby(cursor, objects) if catalogues else pd.DataFrame(columns=PAIR_COLUMNS)
    classifications, crossmatches = classify_objects(objects, pairs)
    ids = objects["objectid"].tolist()
    columns = ["objectid", *CLASSIFICATION_COLUMNS]
    source, arrays = _unnest(columns, classifications)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "objectid")
    cursor.execute(
        f"INSERT INTO sherlock_classifications ({', '.join(columns)}) SELECT * FROM {source}"
        f" ON CONFLICT (objectid) DO UPDATE SET {updates}, updated_at = now()",
        arrays,
    )
    cursor.execute("DELETE FROM sherlock_crossmatches WHERE objectid = ANY(%s)", (ids,))
    if crossmatches:
        columns = ["objectid", *MATCH_COLUMNS]
        source, arrays = _unnest(columns, crossmatches)
        cursor.execute(
            f"INSERT INTO sherlock_crossmatches ({', '.join(columns)}) SELECT * FROM {source}",
            arrays,
        )
    return len(objects)


def all_objectids(connection_or_cursor: Any) -> list[str]:
    """Every objectId of the archive, sorted."""
    cursor = _cursor(connection_or_cursor)
    cursor.execute("SELECT objectid FROM objects ORDER BY objectid")
    return [row[0] for row in cursor.fetchall()]


def classify(
    connection_or_cursor: Any,
    objectids: Iterable[str] | None = None,
    progress: bool = False,
    chunk: int = CHUNK,
) -> int:
    """Classify objects and store their classifications and crossmatches.

    Parameters
    ----------
    connection_or_cursor
        A SQLAlchemy ``Connection`` or a DB-API cursor of the archive's owner; the
        work is done in its transaction (the caller commits).
    objectids
        Objects to classify; None: every object of the archive.
    progress
        Show a progress bar (by chunk of objects).
    chunk
        Objects per round of statements.

    Returns
    -------
    int
        How many objects were classified (ids not in ``objects`` are skipped).
    """
    cursor = _cursor(connection_or_cursor)
    ids = all_objectids(cursor) if objectids is None else sorted(set(objectids))
    if not ids:
        return 0
    catalogues = _has_catalogues(cursor)
    done = 0
    with tqdm(total=len(ids), desc="sherlock", unit="object", disable=not progress) as bar:
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            done += _classify_chunk(cursor, part, catalogues)
            bar.update(len(part))
    return done


def classify_position(connection: sa.Connection, ra: float, dec: float) -> dict[str, Any]:
    """Classify a sky position against the loaded catalogues (no PS1/Gaia fields; no writes).

    Returns
    -------
    dict
        The ``sherlock_classifications`` columns (``objectid`` None) with ``crossmatches``:
        the ranked matches.
    """
    cursor = _cursor(connection)
    position = pd.DataFrame({"objectid": ["position"], "ra": [float(ra)], "dec": [float(dec)]})
    pairs = (
        _nearby(cursor, position) if _has_catalogues(cursor) else pd.DataFrame(columns=PAIR_COLUMNS)
    )
    classifications, crossmatches = classify_objects(position, pairs)
    result = {**classifications[0], "objectid": None}
    result["crossmatches"] = [
        {key: _plain(value) for key, value in row.items() if key != "objectid"}
        for row in crossmatches
    ]
    return {key: _plain(value) if key != "crossmatches" else value for key, value in result.items()}


def classification(connection: sa.Connection, objectid: str) -> dict[str, Any] | None:
    """The stored classification of an object, or None if it has none."""
    row = (
        connection.execute(
            sa.select(sherlock_classifications).where(
                sherlock_classifications.c.objectid == objectid
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def crossmatches(connection: sa.Connection, objectid: str) -> list[dict[str, Any]]:
    """The stored ranked matches of an object, best first."""
    x = sherlock_crossmatches.c
    rows = connection.execute(
        sa.select(sherlock_crossmatches).where(x.objectid == objectid).order_by(x.rank)
    ).mappings()
    return [dict(row) for row in rows]


def class_counts(connection: sa.Connection) -> dict[str, int]:
    """How many objects have each class, most common first."""
    c = sherlock_classifications.c
    rows = connection.execute(
        sa.select(c.classification, sa.func.count())
        .group_by(c.classification)
        .order_by(sa.func.count().desc(), c.classification)
    ).all()
    return {str(name): int(count) for name, count in rows}


def is_object(connection: sa.Connection, objectid: str) -> bool:
    """Whether the archive has an object of this id."""
    return (
        connection.execute(
            sa.text("SELECT 1 FROM objects WHERE objectid = :id"), {"id": objectid}
        ).first()
        is not None
    )
