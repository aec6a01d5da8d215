"""What the users' named things (watchlists, watchmaps, sky maps, queries) share.

Rows carry an ``owner`` and a ``name`` unique per owner; row-level security
decides which rows a role sees and changes. Names are given as ``name`` (yours
first, else the only visible one) or ``owner/name``.
"""

from __future__ import annotations

import io
import re
from typing import Any

import psycopg2.errors
import sqlalchemy as sa

from lasair_nb.errors import LasairError, NotAllowedError, NotFoundError, StoreError

NAME = re.compile(r"^[\w.+-][\w .+-]{0,99}$")


def check_name(name: Any, what: str) -> str:
    """Return ``name`` if it can name a ``what``; else raise :class:`StoreError` saying why."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise StoreError(f"invalid {what} name {name!r}: 1-100 letters, digits, spaces and . _ + -")
    return name


def database_error(error: sa.exc.DBAPIError, what: str) -> LasairError:
    """The LasairError for a database refusal while writing ``what``."""
    original = error.orig
    first = str(original).strip().splitlines()[0]
    if isinstance(original, psycopg2.errors.UniqueViolation):
        return StoreError(f"{what} exists already; choose another name or update it")
    if isinstance(original, psycopg2.errors.InsufficientPrivilege):
        return NotAllowedError(f"not allowed: {first}")
    if isinstance(original, psycopg2.errors.QueryCanceled):
        return StoreError(
            f"{what} took longer than your time limit and was cancelled; nothing was saved "
            "(write it in smaller parts, or ask for a longer limit)"
        )
    if isinstance(original, psycopg2.errors.CheckViolation):
        return StoreError(f"{what} refused: {first}")
    return StoreError(f"{what}: {first}")


def find(connection: sa.Connection, table: sa.Table, name: str, what: str) -> sa.Row:
    """The row of ``table`` named ``name`` (yours first) or ``owner/name``, visible to you.

    Raises
    ------
    NotFoundError
        If none is visible to you.
    StoreError
        If several other users' public rows share the name.
    """
    if not isinstance(name, str):
        raise StoreError(f"a {what} is named by a string ('name' or 'owner/name'), not {name!r}")
    owner, _, bare = name.rpartition("/")
    query = sa.select(table).where(table.c.name == bare)
    if owner:
        query = query.where(table.c.owner == owner)
    rows = connection.execute(
        query.order_by((table.c.owner == sa.func.current_user()).desc(), table.c.owner)
    ).all()
    if not rows:
        raise NotFoundError(f"no {what} {name!r} visible to you; list() shows them")
    user = connection.execute(sa.select(sa.func.current_user())).scalar_one()
    if len(rows) > 1 and rows[0].owner != user:
        owners = ", ".join(f"{row.owner}/{bare}" for row in rows)
        raise StoreError(f"several public {what}s are named {bare!r}: say which: {owners}")
    return rows[0]


def insert(connection: sa.Connection, table: sa.Table, what: str, **values: Any) -> int:
    """Insert one row and return its id; a refusal is a LasairError about ``what``."""
    try:
        return int(
            connection.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one()
        )
    except sa.exc.DBAPIError as error:
        raise database_error(error, f"{what} {values.get('name')!r}") from error


def delete(connection: sa.Connection, table: sa.Table, row_id: int) -> bool:
    """Delete a row by id; False when row-level security kept it (not the caller's)."""
    return bool(connection.execute(sa.delete(table).where(table.c.id == row_id)).rowcount)


def update(connection: sa.Connection, table: sa.Table, row_id: int, **values: Any) -> bool:
    """Update columns of a row by id; False when row-level security kept it."""
    if not values:
        return True
    return bool(
        connection.execute(sa.update(table).where(table.c.id == row_id).values(**values)).rowcount
    )


def insert_csv(
    connection: sa.Connection, table: sa.Table, columns: list[str], data: io.StringIO
) -> None:
    """Bulk-insert CSV rows: COPY into a temporary table, then INSERT … SELECT.

    COPY cannot write a table with row-level security; the INSERT is checked by it.
    """
    staging = f"staging_{table.name}"
    names = ", ".join(columns)
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table.name}) ON COMMIT DROP"
    )
    data.seek(0)
    connection.connection.cursor().copy_expert(
        f"COPY {staging} ({names}) FROM STDIN WITH (FORMAT csv)", data
    )
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging}")
    connection.exec_driver_sql(f"TRUNCATE {staging}")
