"""User SQL: the one-SELECT check (PostgreSQL's own parser) and result formatting.

:meth:`lasair_nb.client.Archive.sql` runs the query: read-only transaction,
statement timeout, row cap, and a read-only role for archive owners.
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
