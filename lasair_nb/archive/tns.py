"""The Transient Name Server's public objects, and names on the archive's objects."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import sqlalchemy as sa

from lasair_nb.archive.schema import tns_objects
from lasair_nb.domain.healpix import cones_ranges

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
    connection.execute(
        sa.text(
            "INSERT INTO tags (name, description, created_by) VALUES"
            " ('tns', 'Named by the Transient Name Server', 'tns') ON CONFLICT DO NOTHING"
        )
    )
    return connection.execute(
        sa.text(
            "INSERT INTO annotations (objectid, author, tags, comment, public)"
            " SELECT DISTINCT o.objectid, 'tns', ARRAY['tns'], concat_ws(' ', 'TNS',"
            "  coalesce(t.prefix, 'AT') || ' ' || t.name, '(' || t.type || ')'), true"
            " FROM tns_tiles tt JOIN objects o ON o.hpx >= tt.lo AND o.hpx < tt.hi"
            " JOIN tns_objects t ON t.name = tt.name"
            # haversine separation, in arcsec
            " WHERE 2 * degrees(asin(sqrt(sin(radians(o.dec - t.dec) / 2) ^ 2"
            "   + cos(radians(o.dec)) * cos(radians(t.dec))"
            "   * sin(radians(o.ra - t.ra) / 2) ^ 2))) * 3600 <= :radius"
            " AND NOT EXISTS (SELECT FROM annotations a WHERE a.objectid = o.objectid"
            "   AND a.author = 'tns' AND a.comment LIKE '% ' || t.name || '%')"
        ),
        {"radius": radius_arcsec},
    ).rowcount


def all_names(connection: sa.Connection) -> pd.DataFrame:
    """The TNS table, by name."""
    result = connection.execute(sa.select(tns_objects).order_by(tns_objects.c.name))
    return pd.DataFrame(result.all(), columns=list(result.keys()))
