"""The Transient Name Server's public objects, and names on the archive's objects."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from lasair_nb.archive.schema import tns_objects
from lasair_nb.domain.healpix import cones_ranges

MATCH_RADIUS_ARCSEC = 1.5
"""An archive object within this distance of a TNS object bears its name [arcsec]."""

TNS_COLUMNS = [
    "name", "prefix", "ra", "dec", "hpx", "type", "redshift", "discoverydate", "discoverymag",
    "internal_names", "reporting_group", "lastmodified",
]  # fmt: skip


def position_of(connection: sa.Connection, name: str) -> tuple[float, float] | None:
    """(ra, dec) in degrees of a TNS object, or None."""
    row = connection.execute(
        sa.select(tns_objects.c.ra, tns_objects.c.dec).where(tns_objects.c.name == name)
    ).first()
    return None if row is None else (float(row.ra), float(row.dec))


def upsert(connection: sa.Connection, rows: pd.DataFrame) -> None:
    """Insert or update TNS objects (columns :data:`TNS_COLUMNS`) by name."""
    connection.exec_driver_sql("CREATE TEMP TABLE tns_load (LIKE tns_objects) ON COMMIT DROP")
    buffer = io.StringIO()
    rows[TNS_COLUMNS].to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    connection.connection.cursor().copy_expert(
        f"COPY tns_load ({', '.join(TNS_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer
    )
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in TNS_COLUMNS if c != "name")
    connection.exec_driver_sql(
        "INSERT INTO tns_objects SELECT DISTINCT ON (name) * FROM tns_load"
        f" ON CONFLICT (name) DO UPDATE SET {updates}"
    )


def name_objects(connection: sa.Connection, radius_arcsec: float) -> int:
    """Annotate every object within ``radius_arcsec`` of a TNS object with its name, once.

    The annotation's author is the ``tns`` bot; returns how many objects were newly named.
    """
    tns = pd.read_sql(
        sa.select(tns_objects.c.name, tns_objects.c.ra, tns_objects.c.dec), connection
    )
    if not len(tns):
        return 0
    ranges = cones_ranges(
        tns["ra"].to_numpy(), tns["dec"].to_numpy(), np.full(len(tns), radius_arcsec)
    )
    connection.exec_driver_sql(
        "CREATE TEMP TABLE tns_tiles (name text, lo bigint, hi bigint) ON COMMIT DROP"
    )
    buffer = io.StringIO()
    pd.DataFrame(
        {"name": tns["name"].to_numpy()[ranges["index"]], "lo": ranges["lo"], "hi": ranges["hi"]}
    ).to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    connection.connection.cursor().copy_expert(
        "COPY tns_tiles FROM STDIN WITH (FORMAT csv)", buffer
    )
    connection.exec_driver_sql(
        "INSERT INTO tns_matches (objectid, tns_name, separation_arcsec)"
        " SELECT o.objectid, t.name, lasair_separation_arcsec(t.ra, t.dec, o.ramean, o.decmean)"
        " FROM tns_tiles tt JOIN objects o ON o.hpx >= tt.lo AND o.hpx < tt.hi"
        " JOIN tns_objects t ON t.name = tt.name"
        " WHERE lasair_separation_arcsec(t.ra, t.dec, o.ramean, o.decmean) <= %(radius)s"
        " ON CONFLICT (objectid, tns_name) DO UPDATE"
        " SET separation_arcsec = EXCLUDED.separation_arcsec",
        {"radius": radius_arcsec},
    )
    connection.execute(
        sa.text(
            "INSERT INTO tags (name, description, created_by) VALUES"
            " ('tns', 'Named by the Transient Name Server', 'tns') ON CONFLICT DO NOTHING"
        )
    )
    return connection.execute(
        sa.text(
            "INSERT INTO annotations (objectid, author, tags, comment, public)"
            " SELECT DISTINCT m.objectid, 'tns', ARRAY['tns'], concat_ws(' ', 'TNS',"
            "  coalesce(t.prefix, 'AT') || ' ' || t.name, '(' || t.type || ')'), true"
            " FROM tns_matches m JOIN tns_objects t ON t.name = m.tns_name"
            " WHERE NOT EXISTS (SELECT FROM annotations a WHERE a.objectid = m.objectid"
            "   AND a.author = 'tns' AND a.comment LIKE '% ' || t.name || '%')"
        )
    ).rowcount


TNS_MATCH_SQL = """
INSERT INTO tns_matches (objectid, tns_name, separation_arcsec)
SELECT c.objectid, t.name, lasair_separation_arcsec(t.ra, t.dec, c.ra, c.dec)
FROM unnest(%(objectid)s::text[], %(ra)s::float8[], %(dec)s::float8[], %(lo)s::int8[],
            %(hi)s::int8[]) AS c(objectid, ra, dec, lo, hi)
JOIN tns_objects t ON t.hpx >= c.lo AND t.hpx < c.hi
WHERE lasair_separation_arcsec(t.ra, t.dec, c.ra, c.dec) <= %(radius)s
ON CONFLICT (objectid, tns_name) DO UPDATE SET separation_arcsec = EXCLUDED.separation_arcsec
"""


def match_objects(
    cursor: Any, objectids: Sequence[str], ra: np.ndarray, dec: np.ndarray, radius_arcsec: float
) -> None:
    """Record TNS objects within ``radius_arcsec`` of these objects' positions (ingest).

    ``cursor`` is a DB-API cursor (the ingester's psycopg 3 one) in the caller's
    transaction. An object's earlier matches stay (a mean position moves by far less than
    the radius).
    """
    if not len(objectids):
        return
    cursor.execute("SELECT EXISTS (SELECT FROM tns_objects)")
    if not cursor.fetchone()[0]:
        return
    ranges = cones_ranges(np.asarray(ra), np.asarray(dec), np.full(len(objectids), radius_arcsec))
    index = ranges["index"].to_numpy()
    cursor.execute(
        TNS_MATCH_SQL,
        {
            "objectid": [objectids[i] for i in index],
            "ra": np.asarray(ra, dtype=float)[index].tolist(),
            "dec": np.asarray(dec, dtype=float)[index].tolist(),
            "lo": ranges["lo"].tolist(),
            "hi": ranges["hi"].tolist(),
            "radius": radius_arcsec,
        },
    )


def all_names(connection: sa.Connection) -> pd.DataFrame:
    """The TNS table, by name."""
    result = connection.execute(sa.select(tns_objects).order_by(tns_objects.c.name))
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def matches_of(connection: sa.Connection, objectid: str) -> pd.DataFrame:
    """The ``crossmatch_tns`` rows of one object, nearest first."""
    result = connection.execute(
        sa.text("SELECT * FROM crossmatch_tns WHERE objectid = :id ORDER BY separation"),
        {"id": objectid},
    )
    return pd.DataFrame(result.all(), columns=list(result.keys()))
