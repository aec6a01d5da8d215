"""Gravitational-wave sky maps as stored: facts about each map, and its tiles.

A map is a ``skymaps`` row and its ``skymap_tiles``: ranges of order-29 HEALPix indices
(healpix-alchemy ``Tile``), each of one probability density, with ``cumprob``, the
probability of all the map's tiles at least as dense (ties included), computed here by a
window sum when the tiles are written. Every question is then SQL:

- the credible region at level *p* is every tile at least as dense as the tile whose
  ``cumprob`` first reaches *p* (the smallest set of tiles, by decreasing density, holding
  *p*; a tile whose density ties with the crossing one comes too);
- the credible level of a position is the ``cumprob`` of the tile holding it;
- candidates are objects whose ``hpx`` lies in the region's tiles.

Nothing here reads the map as received (``skymaps.skymap``), which is kept for provenance.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from healpix_alchemy import Tile
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

from lasair_nb.archive import named
from lasair_nb.archive.schema import objects, skymap_tiles, skymaps
from lasair_nb.domain.skymaps import DEG2_PER_SR, LEVEL29_AREA_SR, SkyTiles

_FACTS = sa.select(*(column for column in skymaps.c if column.name != "skymap")).subquery(
    "skymap_facts"
)
"""The ``skymaps`` columns but the bytes as received: what finding a map needs."""

_STAGING = sa.table(
    "staging_skymap_tiles",
    sa.column("tile", Tile),
    sa.column("probdensity", DOUBLE_PRECISION),
    sa.column("distmu", DOUBLE_PRECISION),
    sa.column("distsigma", DOUBLE_PRECISION),
    sa.column("distnorm", DOUBLE_PRECISION),
)
_DISTANCES = ("distmu", "distsigma", "distnorm")


def create(connection: sa.Connection, meta: dict[str, Any], tiles: SkyTiles, **values: Any) -> int:
    """Insert a sky map (name, event, skymap bytes, has_distance), its header and its tiles.

    ``area90_deg2`` is computed from the stored tiles. Returns the map's id.
    """
    try:
        skymap_id = connection.execute(
            sa.insert(skymaps)
            .values(meta=json.loads(json.dumps(meta)), area90_deg2=float("nan"), **values)
            .returning(skymaps.c.id)
        ).scalar_one()
    except sa.exc.DBAPIError as error:
        raise named.database_error(error, f"sky map {values.get('name')!r}") from error
    write_tiles(connection, skymap_id, tiles)
    _, area = credible_region(connection, skymap_id, 0.9)
    connection.execute(sa.update(skymaps).where(skymaps.c.id == skymap_id).values(area90_deg2=area))
    return int(skymap_id)


def write_tiles(connection: sa.Connection, skymap_id: int, tiles: SkyTiles) -> None:
    """Store a map's tiles, ranking them by density to compute ``cumprob``.

    The rows are COPYed into a temporary table (row-level security forbids COPY into
    ``skymap_tiles``), then inserted with ``cumprob`` as a window sum of probability
    over decreasing density; peers (equal densities) share the sum of them all.
    """
    distances = tiles.distmu is not None
    frame = pd.DataFrame(
        {
            "tile": pd.Series(tiles.lo).astype(str).radd("[")
            + ","
            + pd.Series(tiles.hi).astype(str)
            + ")",
            "probdensity": tiles.probdensity,
        }
        | ({name: getattr(tiles, name) for name in _DISTANCES} if distances else {})
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="NaN")
    buffer.seek(0)
    columns = ", ".join(frame.columns)
    connection.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS staging_skymap_tiles (tile int8range NOT NULL,"
        " probdensity float8 NOT NULL, distmu float8, distsigma float8, distnorm float8)"
        " ON COMMIT DROP"
    )
    connection.connection.cursor().copy_expert(
        f"COPY staging_skymap_tiles ({columns}) FROM STDIN WITH (FORMAT csv)", buffer
    )
    s = _STAGING.c
    # Area in Python floats: healpix-alchemy's ``Tile.area`` binds a numpy float.
    area = (sa.func.upper(s.tile) - sa.func.lower(s.tile)) * sa.literal(
        LEVEL29_AREA_SR, DOUBLE_PRECISION
    )
    cumprob = sa.func.sum(s.probdensity * area).over(order_by=s.probdensity.desc())
    connection.execute(
        sa.insert(skymap_tiles).from_select(
            ["skymap_id", "tile", "probdensity", "cumprob", *_DISTANCES],
            sa.select(
                sa.literal(skymap_id, sa.BigInteger),
                s.tile,
                s.probdensity,
                cumprob,
                s.distmu,
                s.distsigma,
                s.distnorm,
            ),
        )
    )
    connection.exec_driver_sql("TRUNCATE staging_skymap_tiles")


def find(connection: sa.Connection, name: str) -> sa.Row:
    """The visible sky map ``name`` (yours first) or ``owner/name``, without its bytes.

    Raises
    ------
    NotFoundError
        If none is visible to you.
    """
    return named.find(connection, _FACTS, name, "sky map")  # type: ignore[arg-type]


def visible(connection: sa.Connection) -> pd.DataFrame:
    """Sky maps the role can see, oldest first."""
    m = skymaps.c
    result = connection.execute(
        sa.select(
            m.name, m.event, m.owner, m.has_distance, m.area90_deg2, m.meta, m.created_at
        ).order_by(m.created_at)
    )
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _in_region(skymap_id: int, level: float) -> sa.ColumnElement[bool]:
    """Tiles of the credible region at ``level``: those with ``cumprob`` up to the crossing one.

    The crossing tile is the first, by decreasing density, whose ``cumprob`` reaches the
    level; when none does (a level above the map's rounded total), every tile counts.
    """
    t, other = skymap_tiles.c, skymap_tiles.alias("crossing").c
    crossing = (
        sa.select(sa.func.min(other.cumprob))
        .where(other.skymap_id == skymap_id, other.cumprob >= level)
        .correlate(None)
        .scalar_subquery()
    )
    everything = sa.cast(sa.literal("Infinity"), DOUBLE_PRECISION)
    return sa.and_(t.skymap_id == skymap_id, t.cumprob <= sa.func.coalesce(crossing, everything))


def credible_region(
    connection: sa.Connection, skymap_id: int, level: float
) -> tuple[npt.NDArray[np.uint64], float]:
    """The credible region at ``level``: its order-29 ranges ``(n, 2)`` and area [deg²]."""
    t = skymap_tiles.c
    rows = connection.execute(
        sa.select(sa.func.lower(t.tile), sa.func.upper(t.tile))
        .where(_in_region(skymap_id, level))
        .order_by(sa.func.lower(t.tile))
    ).all()
    ranges = np.array(rows, dtype=np.uint64).reshape(-1, 2)
    cells = int(np.sum(ranges[:, 1] - ranges[:, 0], dtype=np.uint64))
    return ranges, cells * LEVEL29_AREA_SR * DEG2_PER_SR


def candidates(
    connection: sa.Connection,
    skymap_id: int,
    level: float,
    *,
    since_jd: float | None = None,
    until_jd: float | None = None,
    distance: bool = True,
) -> pd.DataFrame:
    """Objects inside the credible region at ``level``, by credible level then objectId.

    Each has the ``probdensity`` [1/sr] and ``credible_level`` of its tile, and with
    ``distance`` its ``distmu`` and ``distsigma`` [Mpc]. ``since_jd``/``until_jd`` keep
    objects detected at some time between them.
    """
    t, o = skymap_tiles.c, objects.c
    # Objects of each tile in turn, by the index on hpx: a lateral subquery behind an
    # OFFSET 0 fence, so that the planner, which cannot tell how few objects a tile
    # holds, never turns the join around (every recent object against every tile).
    inside = (
        sa.select(objects)
        .where(o.hpx >= sa.func.lower(t.tile), o.hpx < sa.func.upper(t.tile))
        .offset(0)
        .lateral("o")
    )
    found = inside.c
    extra = [t.distmu, t.distsigma] if distance else []
    query = (
        sa.select(inside, t.probdensity, t.cumprob.label("credible_level"), *extra)
        .select_from(skymap_tiles)
        .join(inside, sa.true())
        .where(_in_region(skymap_id, level))
        .order_by(t.cumprob, found.objectid)
    )
    if since_jd is not None:
        query = query.where(found.jdmax >= since_jd)
    if until_jd is not None:
        query = query.where(found.jdmin <= until_jd)
    result = connection.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def at_objects(
    connection: sa.Connection, skymap_id: int, object_ids: Sequence[str]
) -> pd.DataFrame:
    """What the map says where some objects are, by objectId (those that exist).

    Columns ``objectid``, ``probdensity``, ``credible_level``, ``distmu``, ``distsigma``.
    An object outside every tile (a map that does not cover the sky) has density 0 and
    the map's total probability as its level.
    """
    t, o = skymap_tiles.c, objects.c
    total = sa.select(sa.func.max(t.cumprob)).where(t.skymap_id == skymap_id).scalar_subquery()
    result = connection.execute(
        sa.select(
            o.objectid,
            sa.func.coalesce(t.probdensity, 0.0).label("probdensity"),
            sa.func.coalesce(t.cumprob, total).label("credible_level"),
            t.distmu,
            t.distsigma,
        )
        .select_from(objects)
        .outerjoin(skymap_tiles, sa.and_(t.skymap_id == skymap_id, t.tile.contains(o.hpx)))
        .where(o.objectid.in_(list(object_ids)))
        .order_by(o.objectid)
    )
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def tiles_of(connection: sa.Connection, skymap_id: int, distance: bool = True) -> SkyTiles:
    """A stored map's tiles, ascending."""
    t = skymap_tiles.c
    frame = pd.DataFrame(
        connection.execute(
            sa.select(
                sa.func.lower(t.tile).label("lo"),
                sa.func.upper(t.tile).label("hi"),
                t.probdensity,
                t.distmu,
                t.distsigma,
                t.distnorm,
            )
            .where(t.skymap_id == skymap_id)
            .order_by(sa.func.lower(t.tile))
        ).all(),
        columns=["lo", "hi", "probdensity", *_DISTANCES],
    )
    arrays = {name: frame[name].to_numpy(np.float64) for name in ["probdensity", *_DISTANCES]}
    return SkyTiles(
        lo=frame["lo"].to_numpy(np.int64),
        hi=frame["hi"].to_numpy(np.int64),
        probdensity=arrays["probdensity"],
        **{name: arrays[name] if distance else None for name in _DISTANCES},
    )
