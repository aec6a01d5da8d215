"""Read-only SQL for users: one query, a read-only transaction, a statement timeout, a row cap.

The client-library issue adds a read-only database role and statement checks;
this module is the single place user SQL runs, so those land here.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pglast
import psycopg2
import psycopg2.errors
import sqlalchemy as sa

from lasair_nb.errors import QueryError

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows of one query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


def check_select(sql: str) -> str:
    """Return ``sql`` if it is exactly one SELECT statement, parsed by PostgreSQL's own parser.

    Raises
    ------
    QueryError
        For an empty text, a syntax error, several statements or anything but SELECT.
    """
    text = sql.strip()
    if not text.rstrip(";").strip():
        raise QueryError(
            "empty query; give one SELECT statement, e.g. SELECT count(*) FROM objects"
        )
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as error:
        raise QueryError(f"SQL syntax error: {error}") from error
    if len(statements) != 1:
        raise QueryError(
            f"{len(statements)} statements given; exactly one SELECT statement is accepted"
        )
    kind = type(statements[0].stmt).__name__
    if kind != "SelectStmt":
        raise QueryError(
            f"only SELECT statements are accepted; this is {kind.removesuffix('Stmt')}"
        )
    return text.rstrip().rstrip(";")


def run_readonly(
    engine: sa.Engine, sql: str, limit: int = 1000, timeout: float = 60.0
) -> QueryResult:
    """Run one user query in a read-only transaction with a statement timeout.

    Parameters
    ----------
    engine
        Engine on the archive.
    sql
        The query text.
    limit
        Most rows to return; ``truncated`` tells whether there were more.
    timeout
        Statement timeout in seconds.

    Raises
    ------
    QueryError
        If the query is empty, writes, times out or fails; the message says why.
    """
    text = check_select(sql)
    if limit < 1:
        raise QueryError(f"limit must be a positive number of rows, got {limit}")
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        # psycopg2 has opened a transaction: make it read-only before anything runs.
        cursor.execute("SET TRANSACTION READ ONLY")
        cursor.execute("SET LOCAL statement_timeout = %s", (int(timeout * 1000),))
        try:
            cursor.execute(text)
        except psycopg2.errors.QueryCanceled as error:
            raise QueryError(f"query exceeded the {timeout:g} s statement timeout") from error
        except psycopg2.errors.ReadOnlySqlTransaction as error:
            raise QueryError(
                "the archive is read-only to queries; only SELECT statements are accepted"
            ) from error
        except psycopg2.Error as error:
            raise QueryError(f"query failed: {error.pgerror or error}".strip()) from error
        if cursor.description is None:
            raise QueryError("the statement returned no rows; give a SELECT query")
        columns = [column.name for column in cursor.description]
        rows = cursor.fetchmany(limit + 1)
        return QueryResult(columns, rows[:limit], truncated=len(rows) > limit)
    finally:
        connection.rollback()
        connection.close()


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def format_result(result: QueryResult, output: str = "table") -> str:
    """Render a result as an aligned ``table``, ``csv`` or a ``json`` array of row objects."""
    if output not in FORMATS:
        raise QueryError(f"unknown format {output!r}; accepted: {', '.join(FORMATS)}")
    if output == "json":
        return json.dumps(
            [
                {name: _json_value(value) for name, value in zip(result.columns, row, strict=True)}
                for row in result.rows
            ],
            indent=1,
        )
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        return buffer.getvalue().rstrip("\n")
    return _table(result.columns, result.rows)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    widths = [
        max([len(name)] + [len(row[index]) for row in cells]) for index, name in enumerate(columns)
    ]
    lines = [
        "  ".join(name.ljust(width) for name, width in zip(columns, widths, strict=True)),
        "  ".join("-" * width for width in widths),
    ]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    return "\n".join(line.rstrip() for line in lines)
