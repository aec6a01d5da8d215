"""Saved SQL queries: private, public, and system ones promoted by administrators."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from lasair_nb.archive import named
from lasair_nb.archive.schema import queries

SCOPES = ("mine", "public", "system")


def create(connection: sa.Connection, name: str, sql: str, description: str, public: bool) -> int:
    """Save a query; returns its id."""
    try:
        return int(
            connection.execute(
                sa.insert(queries)
                .values(name=name, sql=sql, description=description, public=public)
                .returning(queries.c.id)
            ).scalar_one()
        )
    except sa.exc.DBAPIError as error:
        raise named.database_error(error, f"query {name!r}") from error


def in_scope(connection: sa.Connection, scope: str) -> pd.DataFrame:
    """Queries in ``scope``: ``mine``, ``public`` (not system) or ``system``."""
    q = queries.c
    where = {
        "mine": q.owner == sa.func.current_user(),
        "public": sa.and_(q.public, sa.not_(q.system)),
        "system": q.system,
    }[scope]
    result = connection.execute(
        sa.select(q.id, q.owner, q.name, q.description, q.sql, q.public, q.system, q.created_at)
        .where(where)
        .order_by(q.owner, q.name)
    )
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def promote(connection: sa.Connection, query_id: int) -> bool:
    """Make a query a system query; False if the database kept it (not public, not an admin)."""
    try:
        return named.update(connection, queries, query_id, system=True)
    except sa.exc.DBAPIError as error:
        raise named.database_error(error, "promoting the query") from error
