"""Watchlists: named lists of sources, each covered by HEALPix ranges for one-join crossmatches."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import sqlalchemy as sa
from tqdm.auto import tqdm

from lasair_nb.archive import named
from lasair_nb.archive.schema import objects, watchlist_sources, watchlist_tiles, watchlists
from lasair_nb.domain.healpix import cones_ranges


def create(connection: sa.Connection, sources: pd.DataFrame, **values: Any) -> int:
    """Insert a watchlist (``name``, ``description``, ``public``, ``active``, ``radius_arcsec``)."""
    watchlist_id = named.insert(connection, watchlists, "watchlist", **values)
    write_sources(connection, watchlist_id, sources)
    return int(watchlist_id)


CHUNK = 50_000
"""Sources written per statement: each stays well inside a user's statement timeout."""


def write_sources(connection: sa.Connection, watchlist_id: int, sources: pd.DataFrame) -> None:
    """Store sources (``number, name, ra, dec, radius_arcsec``) and the ranges covering them.

    Large lists go in chunks of :data:`CHUNK` sources (a progress bar past two chunks),
    in the caller's transaction: all or nothing.
    """
    starts = range(0, len(sources), CHUNK)
    for start in tqdm(starts, desc="watchlist", unit="chunk", disable=len(starts) < 3):
        try:
            _write_chunk(connection, watchlist_id, sources.iloc[start : start + CHUNK])
        except sa.exc.DBAPIError as error:
            raise named.database_error(error, "writing the watchlist's sources") from error


def _write_chunk(connection: sa.Connection, watchlist_id: int, sources: pd.DataFrame) -> None:
    ranges = cones_ranges(
        sources["ra"].to_numpy(), sources["dec"].to_numpy(), sources["radius_arcsec"].to_numpy()
    )
    columns = ["watchlist_id", "number", "name", "ra", "dec", "radius_arcsec"]
    buffer = io.StringIO()
    sources.assign(watchlist_id=watchlist_id)[columns].to_csv(buffer, index=False, header=False)
    named.insert_csv(connection, watchlist_sources, columns, buffer)
    numbers = sources["number"].to_numpy()
    buffer = io.StringIO()
    pd.DataFrame(
        {
            "watchlist_id": watchlist_id,
            "number": numbers[ranges["index"].to_numpy()],
            "tile": "[" + ranges["lo"].astype(str) + "," + ranges["hi"].astype(str) + ")",
        }
    ).to_csv(buffer, index=False, header=False)
    named.insert_csv(connection, watchlist_tiles, ["watchlist_id", "number", "tile"], buffer)


def replace_sources(connection: sa.Connection, watchlist_id: int, sources: pd.DataFrame) -> None:
    """Replace all sources of a watchlist."""
    for table in (watchlist_sources, watchlist_tiles):
        connection.execute(sa.delete(table).where(table.c.watchlist_id == watchlist_id))
    write_sources(connection, watchlist_id, sources)


def visible(connection: sa.Connection) -> pd.DataFrame:
    """Watchlists the role can see, with source counts."""
    count = (
        sa.select(sa.func.count())
        .where(watchlist_sources.c.watchlist_id == watchlists.c.id)
        .scalar_subquery()
        .label("sources")
    )
    w = watchlists.c
    result = connection.execute(
        sa.select(
            w.id, w.owner, w.name, w.description, w.public, w.active, w.radius_arcsec, count,
            w.created_at,
        ).order_by(w.owner, w.name)
    )  # fmt: skip
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def sources_of(connection: sa.Connection, watchlist_id: int) -> pd.DataFrame:
    """The sources of one watchlist, by number."""
    s = watchlist_sources.c
    result = connection.execute(
        sa.select(s.number, s.name, s.ra, s.dec, s.radius_arcsec)
        .where(s.watchlist_id == watchlist_id)
        .order_by(s.number)
    )
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def candidate_matches(
    connection: sa.Connection, watchlist_id: int, since_jd: float | None
) -> pd.DataFrame:
    """Objects in the HEALPix ranges of each source (exact separations are the caller's)."""
    t, s, o = watchlist_tiles.c, watchlist_sources.c, objects.c
    # The objects of each range in turn, by the index on hpx: a lateral subquery behind an
    # OFFSET 0 fence. Left to itself the planner may loop over every object per range when
    # the tile statistics are stale (a list just written): minutes instead of a second.
    inside = (
        sa.select(o.objectid, o.ramean, o.decmean, o.ncand, o.context, o.jdmin, o.jdmax)
        .where(o.hpx >= sa.func.lower(t.tile), o.hpx < sa.func.upper(t.tile))
        .offset(0)
        .lateral("o")
    )
    query = (
        sa.select(
            s.number, s.name.label("source"), s.ra.label("source_ra"), s.dec.label("source_dec"),
            s.radius_arcsec, inside.c.objectid, inside.c.ramean, inside.c.decmean,
            inside.c.ncand, inside.c.context, inside.c.jdmin, inside.c.jdmax,
        )
        .select_from(watchlist_tiles)
        .join(inside, sa.true())
        .join(watchlist_sources, sa.and_(s.watchlist_id == t.watchlist_id, s.number == t.number))
        .where(t.watchlist_id == watchlist_id)
        .distinct()
    )  # fmt: skip
    if since_jd is not None:
        query = query.where(inside.c.jdmax >= since_jd)
    result = connection.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))
