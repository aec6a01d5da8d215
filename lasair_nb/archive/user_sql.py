"""User SQL: the one-SELECT check (PostgreSQL's own parser), running it within limits, the schema.

This is the one place where SQL written by a user runs. It runs as a role that
can only read (the user's own, or ``lasair_reader`` for an archive owner), in a
read-only transaction, through a cursor that returns at most ``limit + 1`` rows,
under a statement timeout that may lower the role's own ceiling but never raise it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pglast
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import sqlalchemy as sa

from lasair_nb.archive.schema import RENAMED_OBJECT_COLUMNS
from lasair_nb.errors import DatabaseError, QueryError

READER_ROLE = "lasair_reader"
"""The role user SQL of an archive owner runs as: it can read and nothing else."""


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows of one query; ``truncated`` when more rows follow."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    timeout: float
    """The statement timeout the query ran under, in seconds."""


MAX_SQL_CHARS = 20_000
"""Longest user query accepted (saved queries have the same bound)."""


def check_select(sql: str) -> str:
    """Return ``sql`` if it is exactly one SELECT statement, parsed by PostgreSQL's own parser.

    The text is parsed to JSON by PostgreSQL's parser (which stops at its own stack
    limit) and read back with Python's JSON decoder (which stops at its recursion
    limit), so no query, however deeply nested, can crash the caller.

    Raises
    ------
    QueryError
        For a text that is not a string, empty, longer than :data:`MAX_SQL_CHARS`, a
        syntax error, several statements or anything but SELECT.
    """
    if not isinstance(sql, str):
        raise QueryError(f"the query must be a string of SQL, not {type(sql).__name__}")
    text = sql.strip()
    if "\x00" in text:
        raise QueryError("the query holds a NUL character, which SQL cannot hold; remove it")
    if not text.rstrip(";").strip():
        raise QueryError(
            "empty query; give one SELECT statement, e.g. SELECT count(*) FROM objects"
        )
    statements = _parse(text)
    if len(statements) != 1:
        raise QueryError(
            f"{len(statements)} statements given; exactly one SELECT statement is accepted"
        )
    kind = next(iter(statements[0].get("stmt", {"unknown": None})))
    if kind != "SelectStmt":
        raise QueryError(
            f"only SELECT statements are accepted; this is {kind.removesuffix('Stmt')}"
        )
    return text.rstrip().rstrip(";")


def _parse(text: str) -> list[dict[str, Any]]:
    """The statements of ``text`` as PostgreSQL's parse tree, in JSON form."""
    if len(text) > MAX_SQL_CHARS:
        raise QueryError(
            f"the query is {len(text)} characters long; at most {MAX_SQL_CHARS} are accepted"
        )
    try:
        tree = json.loads(pglast.parser.parse_sql_json(text))
    except pglast.parser.ParseError as error:
        raise QueryError(f"SQL syntax error: {error}") from error
    except RecursionError as error:
        raise QueryError("the query is nested too deeply to be read; simplify it") from error
    return tree.get("stmts", [])


def tables_named(sql: str) -> set[str]:
    """The table (and CTE) names a query mentions, lower case."""
    names: set[str] = set()
    pending: list[Any] = list(_parse(sql))
    while pending:  # iterative: a deep tree cannot exhaust the stack
        node = pending.pop()
        if isinstance(node, dict):
            relation = node.get("RangeVar")
            if isinstance(relation, dict) and "relname" in relation:
                names.add(str(relation["relname"]).lower())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return names


def role_timeout(cursor: psycopg2.extensions.cursor) -> float | None:
    """The statement timeout the session starts with (the role's ceiling), in s; None if none."""
    cursor.execute("SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'")
    milliseconds = cursor.fetchone()[0]
    return milliseconds / 1000 if milliseconds else None


def run_select(
    connection: psycopg2.extensions.connection,
    sql: str,
    limit: int,
    offset: int,
    timeout: float,
) -> QueryResult:
    """Run one checked SELECT in a read-only transaction, paging through a cursor.

    Parameters
    ----------
    connection
        A DB-API connection as the role the query runs as, not in a transaction.
        The caller rolls it back and resets it after (:func:`reset_session`).
    sql
        The text :func:`check_select` returned.
    limit, offset
        Rows to return and rows to skip.
    timeout
        Seconds; lowered to the role's own statement timeout if that is smaller.

    Raises
    ------
    QueryError
        For a timeout, a read-only violation, a missing right, an unknown table or
        column (with the nearest names of the tables the query names), or another
        database error.
    """
    cursor = connection.cursor()
    ceiling = role_timeout(cursor)
    effective = timeout if ceiling is None else min(timeout, ceiling)
    cursor.execute("SET TRANSACTION READ ONLY")
    # Rounded up to whole milliseconds: a tiny timeout must never become 0 (no limit).
    milliseconds = max(1, math.ceil(effective * 1000))
    deadline = time.monotonic() + effective
    failure: psycopg2.Error | None = None
    with cancel_after(connection, effective + CANCEL_GRACE):
        try:
            # A cursor takes only a query, and pages without re-running it. The timeout is
            # set again before each statement, for what is left of it: rows the MOVE skips
            # may run set_config('statement_timeout', ...) and must not lift it for the FETCH.
            cursor.execute("SET LOCAL statement_timeout = %s", (milliseconds,))
            cursor.execute(f"DECLARE lasair_query NO SCROLL CURSOR FOR {sql}")
            for step in (
                f"MOVE FORWARD {int(offset)} IN lasair_query" if offset else None,
                f"FETCH FORWARD {int(limit) + 1} FROM lasair_query",
            ):
                if step is None:
                    continue
                left = max(1, math.ceil((deadline - time.monotonic()) * 1000))
                cursor.execute("SET LOCAL statement_timeout = %s", (left,))
                cursor.execute(step)
        except psycopg2.Error as error:
            failure = error
    if failure is not None:
        if connection.closed or isinstance(failure, psycopg2.InterfaceError):
            raise DatabaseError(
                "the connection to the archive was lost while the query ran "
                f"({_first_line(failure)}); try again, and if it keeps happening ask the "
                "operators"
            ) from failure
        connection.rollback()
        raise _query_error(connection, failure, sql, effective) from failure
    columns = [column.name for column in cursor.description]
    try:
        rows = cursor.fetchall()
    except RecursionError as error:  # JSON nested deeper than Python's decoder goes
        raise QueryError(
            "a value in the result is JSON nested too deeply to read; select fewer columns"
        ) from error
    return QueryResult(columns, rows[:limit], len(rows) > limit, effective)


def _first_line(error: psycopg2.Error) -> str:
    text = (error.pgerror or str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


CANCEL_GRACE = 1.0
"""Seconds past the statement timeout after which the client cancels the query itself."""


@contextlib.contextmanager
def cancel_after(
    connection: psycopg2.extensions.connection, seconds: float
) -> Iterator[threading.Timer]:
    """Cancel whatever ``connection`` runs once ``seconds`` have passed (from outside it).

    The server's statement timeout is the first line; this timer, in the client, holds
    even if a query found a way to lift the setting.
    """
    timer = threading.Timer(seconds, connection.cancel)
    timer.daemon = True
    timer.start()
    try:
        yield timer
    finally:
        timer.cancel()


def reset_session(connection: psycopg2.extensions.connection) -> None:
    """Roll back and discard session state (advisory locks, plans, settings) a query left.

    Does nothing on a connection that is already closed (the caller discards it).
    """
    if connection.closed:
        return
    connection.rollback()
    connection.autocommit = True
    try:
        with connection.cursor() as cleanup:
            cleanup.execute("DISCARD ALL")
    finally:
        connection.autocommit = False


def _query_error(
    connection: psycopg2.extensions.connection, error: psycopg2.Error, sql: str, timeout: float
) -> QueryError:
    message = _first_line(error)
    if isinstance(error, psycopg2.errors.QueryCanceled):
        return QueryError(f"query exceeded {timeout:g} s (statement timeout) and was cancelled")
    if isinstance(error, psycopg2.errors.ReadOnlySqlTransaction):
        return QueryError("queries are read-only: only SELECT statements are accepted")
    if isinstance(error, psycopg2.errors.InsufficientPrivilege):
        return QueryError(f"not allowed: {message}")
    named = tables_named(sql)
    with connection.cursor() as cursor:
        columns = describe_columns(cursor)
    for kind, pattern in (
        ("table", r'relation "([^"]+)" does not exist'),
        ("column", r'column "?([\w.]+)"? does not exist'),
    ):
        found = re.search(pattern, message)
        if found:
            name = found.group(1).split(".")[-1]
            if kind == "table":
                candidates = sorted({table for table, _ in columns})
            else:
                candidates = sorted({column for table, column in columns if table in named})
            renamed = RENAMED_OBJECT_COLUMNS.get(name.lower())
            if kind == "column" and renamed and "objects" in named:
                return QueryError(
                    f"unknown column {name!r} in objects: it is now {renamed!r}, Lasair-ZTF's "
                    "name (archive.schema() lists them)"
                )
            candidates = [candidate for candidate in candidates if candidate != name.lower()]
            near = difflib.get_close_matches(name.lower(), candidates, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            where = "" if kind == "table" else f" in {', '.join(sorted(named))}"
            return QueryError(f"unknown {kind} {name!r}{where}{hint} (archive.schema() lists them)")
    return QueryError(f"query failed: {message}")


_SCHEMA_SQL = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')
  AND c.relname <> 'alembic_version' AND has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname, a.attnum
"""


def describe_columns(cursor: psycopg2.extensions.cursor) -> list[tuple[str, str]]:
    """``(table, column)`` of every table the current role can read."""
    cursor.execute(_SCHEMA_SQL)
    return [(row[0], row[1]) for row in cursor.fetchall()]


def describe_schema(connection: sa.Connection) -> Sequence[sa.Row]:
    """Tables and columns the current role can read: table, column, type, comments."""
    return connection.execute(sa.text(_SCHEMA_SQL)).all()
