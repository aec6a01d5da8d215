"""Watchmaps: named sky areas stored as MOC FITS and as HEALPix ranges."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa

from lasair_nb.archive import named
from lasair_nb.archive.schema import objects, watchmap_tiles, watchmaps


def create(connection: sa.Connection, ranges: npt.NDArray[np.uint64], **values: Any) -> int:
    """Insert a watchmap (name, description, public, active, moc, area_deg2) and its ranges."""
    watchmap_id = named.insert(connection, watchmaps, "watchmap", **values)
    tiles = io.StringIO()
    for low, high in ranges.tolist():
        tiles.write(f'{watchmap_id},"[{low},{high})"\n')
    named.insert_csv(connection, watchmap_tiles, ["watchmap_id", "tile"], tiles)
    return int(watchmap_id)


def visible(connection: sa.Connection) -> pd.DataFrame:
    """Watchmaps the role can see."""
    w = watchmaps.c
    result = connection.execute(
        sa.select(
            w.id, w.owner, w.name, w.description, w.public, w.active, w.area_deg2, w.created_at
        ).order_by(w.owner, w.name)
    )
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def ranges_of(connection: sa.Connection, watchmap_id: int) -> npt.NDArray[np.uint64]:
    """The order-29 ranges of one watchmap, ``(n, 2)``."""
    t = watchmap_tiles.c
    rows = connection.execute(
        sa.select(sa.func.lower(t.tile), sa.func.upper(t.tile))
        .where(t.watchmap_id == watchmap_id)
        .order_by(sa.func.lower(t.tile))
    ).all()
    return np.array(rows, dtype=np.uint64).reshape(-1, 2)


def objects_inside(
    connection: sa.Connection, watchmap_id: int, since_jd: float | None
) -> pd.DataFrame:
    """Objects inside a watchmap, detected since ``since_jd`` if given."""
    t, o = watchmap_tiles.c, objects.c
    # The objects of each range in turn, by the index on hpx: a lateral subquery behind
    # an OFFSET 0 fence, so that a selective ``since`` never makes the planner compare
    # every recent object with every range.
    inside = (
        sa.select(objects)
        .where(o.hpx >= sa.func.lower(t.tile), o.hpx < sa.func.upper(t.tile))
        .offset(0)
        .lateral("o")
    )
    query = (
        sa.select(inside)
        .select_from(watchmap_tiles)
        .join(inside, sa.true())
        .where(t.watchmap_id == watchmap_id)
        .order_by(inside.c.objectid)
    )
    if since_jd is not None:
        query = query.where(inside.c.jdmax >= since_jd)
    result = connection.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))
