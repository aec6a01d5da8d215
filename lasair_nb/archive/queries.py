"""Saved SQL queries: private, public, and system ones promoted by administrators."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from lasair_nb.archive import named
from lasair_nb.archive.schema import queries
from lasair_nb.errors import NotFoundError, StoreError

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


def to_run(connection: sa.Connection, name: str) -> sa.Row:
    """The query ``name`` names for running: ``owner/name``, or a bare name.

    A bare name is one of the caller's own queries, else a system query of that name.
    It never falls back to another user's public query: those are named ``owner/name``,
    so that nobody runs a stranger's query by accident (a query saved under a name you
    meant to give yours).

    Raises
    ------
    NotFoundError
        If no such query is visible to the caller.
    StoreError
        If ``name`` is not a string, or several system queries share the bare name.
    """
    if not isinstance(name, str):
        raise StoreError(f"a query is named by a string ('name' or 'owner/name'), not {name!r}")
    if "/" in name:
        return named.find(connection, queries, name, "query")
    q = queries.c
    own = connection.execute(
        sa.select(queries).where(q.name == name, q.owner == sa.func.current_user())
    ).first()
    if own is not None:
        return own
    system = connection.execute(
        sa.select(queries).where(q.name == name, q.system).order_by(q.owner)
    ).all()
    if len(system) == 1:
        return system[0]
    if system:
        owners = ", ".join(f"{row.owner}/{name}" for row in system)
        raise StoreError(f"several system queries are named {name!r}: say which: {owners}")
    raise NotFoundError(
        f"no query {name!r} of yours, nor a system query of that name; another user's public"
        " query is run as 'owner/name' (queries.list('public') lists them)"
    )
