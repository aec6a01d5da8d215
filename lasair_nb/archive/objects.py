"""Objects and their measurements: summaries, positions in HEALPix ranges, light curves, stamps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from lasair_nb.archive.schema import candidates, coverage, cutouts, objects

LIGHT_CURVE_COLUMNS: dict[str, tuple[str, ...]] = {
    "candidates": (
        "jd", "fid", "candid", "magpsf", "sigmapsf", "isdiffpos", "magnr", "sigmagnr", "distnr",
    ),
    "noncandidates": ("jd", "fid", "diffmaglim"),
    "forced_photometry": (
        "jd", "fid", "forcediffimflux", "forcediffimfluxunc", "magzpsci", "magnr", "sigmagnr",
        "distnr",
    ),
}  # fmt: skip
"""What a light curve needs of each measurement table (not all ~110 columns)."""


def _frame(result: sa.CursorResult) -> pd.DataFrame:
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def summary(connection: sa.Connection, object_id: str) -> dict[str, Any] | None:
    """The ``objects`` row of one object, or None."""
    row = (
        connection.execute(sa.select(objects).where(objects.c.objectid == object_id))
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def ids_like(connection: sa.Connection, prefix: str, count: int = 3) -> list[str]:
    """Up to ``count`` objectIds that start with ``prefix`` (for "did you mean")."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return list(
        connection.execute(
            sa.select(objects.c.objectid)
            .where(objects.c.objectid.like(escaped + "%", escape="\\"))
            .order_by(objects.c.objectid)
            .limit(count)
        ).scalars()
    )


def by_ids(connection: sa.Connection, object_ids: Sequence[str]) -> pd.DataFrame:
    """The ``objects`` rows of these objectIds (those that exist), by objectId."""
    return _frame(
        connection.execute(
            sa.select(objects)
            .where(objects.c.objectid.in_(list(object_ids)))
            .order_by(objects.c.objectid)
        )
    )


def exists(connection: sa.Connection, object_id: str) -> bool:
    """Whether the archive has this object."""
    return (
        connection.execute(sa.select(sa.literal(1)).where(objects.c.objectid == object_id)).first()
        is not None
    )


def in_ranges(
    connection: sa.Connection,
    low: Sequence[int],
    high: Sequence[int],
    since_jd: float | None = None,
    until_jd: float | None = None,
) -> pd.DataFrame:
    """Objects whose position lies in order-29 HEALPix ranges ``[low, high)``.

    ``since_jd``/``until_jd`` keep objects detected at some time in that window.
    """
    ranges = (
        sa.func.unnest(
            sa.cast(sa.bindparam("low", list(low)), sa.ARRAY(sa.BigInteger)),
            sa.cast(sa.bindparam("high", list(high)), sa.ARRAY(sa.BigInteger)),
        )
        .table_valued("lo", "hi")
        .render_derived(name="ranges")
    )
    query = sa.select(objects).join(
        ranges, sa.and_(objects.c.hpx >= ranges.c.lo, objects.c.hpx < ranges.c.hi)
    )
    if since_jd is not None:
        query = query.where(objects.c.jdmax >= since_jd)
    if until_jd is not None:
        query = query.where(objects.c.jdmin <= until_jd)
    return _frame(connection.execute(query))


def measurements(
    connection: sa.Connection, object_id: str, full: bool = True
) -> dict[str, pd.DataFrame]:
    """Detections, upper limits and forced photometry of one object, by time.

    Parameters
    ----------
    full
        Every column; else only what a light curve needs (:data:`LIGHT_CURVE_COLUMNS`).
    """
    tables = {}
    for name, needed in LIGHT_CURVE_COLUMNS.items():
        table = objects.metadata.tables[name]
        columns = list(table.c) if full else [table.c[column] for column in needed]
        tables[name] = _frame(
            connection.execute(
                sa.select(*columns).where(table.c.objectid == object_id).order_by(table.c.jd)
            )
        )
    return tables


def stamps(connection: sa.Connection, object_id: str, candid: int) -> sa.Row | None:
    """The stored science, template and difference stamps of one alert, and their format."""
    return connection.execute(
        sa.select(
            cutouts.c.science, cutouts.c.template, cutouts.c.difference, cutouts.c.stamp_format
        ).where(cutouts.c.candid == candid, cutouts.c.objectid == object_id)
    ).first()


def survey_coverage(
    connection: sa.Connection, since_jd: float | None, until_jd: float | None
) -> pd.DataFrame:
    """The coverage table: per night, field and band, between two Julian dates."""
    query = sa.select(coverage).order_by(coverage.c.night, coverage.c.field, coverage.c.fid)
    if since_jd is not None:
        query = query.where(coverage.c.jd_last >= since_jd)
    if until_jd is not None:
        query = query.where(coverage.c.jd_first <= until_jd)
    return _frame(connection.execute(query))


def alert_count(connection: sa.Connection) -> int:
    """Alerts archived (detections that came in their own alert)."""
    return int(
        connection.execute(
            sa.select(sa.func.count()).select_from(candidates).where(candidates.c.in_alert)
        ).scalar_one()
    )
