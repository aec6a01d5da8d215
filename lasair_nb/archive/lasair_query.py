"""Lasair's query builder: ``selected``, ``tables`` and ``conditions`` as one SELECT.

Lasair-ZTF users write a query as three texts, ``L.query(selected, tables, conditions)``:
a column list, a comma-separated list of tables and a WHERE condition that may end with
``GROUP BY``/``HAVING``/``ORDER BY``/``LIMIT``. :func:`build_query` makes the one SELECT
that :meth:`lasair_nb.client.archive.Archive.sql` checks and runs read-only, as Lasair's
builder does:

* **Tables.** Every table is joined to ``objects`` (else the first table) on
  ``objectid``. Lasair's names: ``watchlist:N`` (``watchlists:N``) is ``watchlist_hits``
  with ``watchlist_hits.wl_id = N``; ``area:N`` (``areas:N``) is ``area_hits`` with
  ``area_hits.ar_id = N``; ``annotator:TOPIC`` (``annotators:TOPIC``) is ``annotations``
  with the topic (compared case-insensitively, as MySQL does). With one of these,
  ``sherlock_classifications`` or ``crossmatch_tns``, ``objects`` is implied, as in
  Lasair. Any other table of the archive is accepted by its name.
* **Output names.** Each column is named as written: ``objectId`` gives the key
  ``objectId``, not PostgreSQL's folded ``objectid`` (:func:`named_select`).
* **Conditions** may be only ``ORDER BY ...``, and may end with ``LIMIT n``,
  ``LIMIT n OFFSET m`` or MySQL's ``LIMIT m, n`` (applied before the call's own
  ``limit``/``offset`` page through the rows).
* **MySQL** (``dialect="mysql"``, what the Lasair client sends): the text is translated
  token by token with PostgreSQL's own scanner (:func:`translate_mysql`).

Only what a Lasair query needs is accepted: no comments, no ``;``, no subqueries or
set operations (``SELECT``, ``UNION``, ``TABLE``...), balanced parentheses in each
part, and a parse tree whose only tables are the ones listed. Anything else is a
:class:`~lasair_nb.errors.QueryError` saying what was wrong and what is accepted. The
parts are user text by design (as in Lasair): what they may do is bounded by the
read-only role, statement timeout and row cap of :mod:`lasair_nb.archive.user_sql`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from pglast.parser import ParseError, parse_sql_json, scan

from lasair_nb.errors import QueryError

Dialect = Literal["postgresql", "mysql"]
DIALECTS: tuple[str, ...] = ("postgresql", "mysql")

LASAIR_TABLES = (
    "objects",
    "sherlock_classifications",
    "crossmatch_tns",
    "watchlist_hits",
    "area_hits",
    "annotations",
)
"""The tables of Lasair-ZTF's query builder (the archive may have more)."""
IMPLYING_OBJECTS = frozenset(LASAIR_TABLES) - {"objects"}
"""Tables that bring ``objects`` into the query when it is not listed, as in Lasair."""
LASAIR_FORMS = "watchlist:N, area:N, annotator:TOPIC"
MAX_ID = 2**31 - 1
"""Largest watchlist or watchmap id (PostgreSQL integer)."""

_PREFIXED = re.compile(r"(?P<kind>watchlists?|areas?|annotators?)\s*:\s*(?P<value>.*)", re.I | re.S)
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOPIC = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")

_REFUSED_WORDS = {
    "SELECT": "subqueries",
    "TABLE": "subqueries",
    "UNION": "set operations",
    "INTERSECT": "set operations",
    "EXCEPT": "set operations",
    "INTO": "SELECT INTO",
}
"""Words a Lasair query has no use for, and what they would make."""
_CLAUSES = {"GROUP_P": "GROUP BY", "ORDER": "ORDER BY", "HAVING": "HAVING", "LIMIT": "LIMIT"}
"""Clauses ``conditions`` may end with (the first one ends the WHERE condition)."""
_REFUSED_CLAUSES = ("OFFSET", "FETCH", "FOR", "WINDOW")
"""Clause words refused outside parentheses in ``conditions``."""
_NOW_KEYWORDS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "LOCALTIME", "LOCALTIMESTAMP"}
"""SQL's clock values, which MySQL also accepts with ``()`` and PostgreSQL does not."""
_TABLE_NAMES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')
  AND c.relname <> 'alembic_version' AND has_table_privilege(c.oid, 'SELECT')
"""


@dataclass(frozen=True)
class _Token:
    """One token of a text: its scanner name and its characters ``[start, end)``."""

    name: str
    start: int
    end: int
    text: str


def _tokens(text: str, part: str) -> list[_Token]:
    """The tokens of ``text`` by PostgreSQL's scanner; a QueryError if it cannot read them."""
    try:
        scanned = scan(text)
    except ParseError as error:
        raise QueryError(f"cannot read {part}: {error}") from error
    return [
        _Token(token.name, token.start, token.end + 1, text[token.start : token.end + 1])
        for token in scanned
    ]


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with the character ranges ``[start, end)`` replaced (they do not overlap)."""
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# --- MySQL → PostgreSQL ------------------------------------------------------------------


def _closing(tokens: list[_Token], opening: int) -> tuple[int, int]:
    """Index of the ``)`` matching ``tokens[opening]`` and the number of its arguments."""
    depth = 0
    arguments = 1
    for index in range(opening, len(tokens)):
        name = tokens[index].name
        if name == "ASCII_40":
            depth += 1
        elif name == "ASCII_41":
            depth -= 1
            if depth == 0:
                return index, arguments
        elif name == "ASCII_44" and depth == 1:
            arguments += 1
    return len(tokens), arguments


def _backticks(tokens: list[_Token], part: str) -> Iterator[tuple[int, int, str]]:
    """Edits turning each ```name``` into an identifier PostgreSQL reads as MySQL did.

    The scanner sees a backtick as (part of) an operator token. Between a token ending
    with a backtick and the next one starting with one there must be one plain name,
    with nothing in between. It becomes an unquoted name (PostgreSQL folds it to lower
    case, as the archive's columns are, while :func:`named_select` keeps it as written),
    or a quoted lower-case one if it is a keyword.
    """
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.name != "Op" or "`" not in token.text:  # strings may hold backticks
            index += 1
            continue
        if token.text.count("`") != 1 or not token.text.endswith("`"):
            raise QueryError(
                f"cannot read the backtick quotes near {token.text!r} in {part}; "
                "backticks are accepted around one plain column name, e.g. `objectId`"
            )
        name = tokens[index + 1] if index + 1 < len(tokens) else None
        closing = tokens[index + 2] if index + 2 < len(tokens) else None
        if (
            name is None
            or closing is None
            or closing.name != "Op"
            or name.start != token.end
            or closing.start != name.end
            or not closing.text.startswith("`")
            or closing.text.count("`") != 1
            or not _PLAIN_NAME.fullmatch(name.text)
        ):
            raise QueryError(
                f"cannot read the backtick-quoted name after {token.text!r} in {part}; "
                "backticks are accepted around one plain column name, e.g. `objectId`"
            )
        plain = name.name == "IDENT"
        yield token.end - 1, token.end, ""
        if token.text != "`":  # an operator before it (=`a`) is translated as one
            tokens[index] = _Token(token.name, token.start, token.end - 1, token.text[:-1])
        yield name.start, name.end, name.text if plain else _quote(name.text.lower())
        tokens[index + 1] = _Token("BACKTICKED", name.start, name.end, name.text)
        yield closing.start, closing.start + 1, ""
        # The closing token may go on as an operator (`a`=1): it is scanned again.
        if closing.text == "`":
            index += 3
        else:
            index += 2
            tokens[index] = _Token(closing.name, closing.start + 1, closing.end, closing.text[1:])


def translate_mysql(text: str, part: str = "the query") -> str:
    """PostgreSQL for the MySQL forms Lasair users write, token by token.

    ========================  ==================================================
    MySQL                     PostgreSQL
    ========================  ==================================================
    ``"SN"``                  ``'SN'`` (a string: MySQL's default quoting)
    ``AS "N"``, ``AS 'N'``    ``AS "N"`` (an alias, quoted either way in MySQL)
    ```objectId```            ``objectId`` (folded to lower case, as unquoted)
    ``a && b``                ``a AND b``
    ``a <=> b``               ``a IS NOT DISTINCT FROM b``
    ``LIKE``                  ``ILIKE`` (MySQL's default collation ignores case)
    ``REGEXP``, ``RLIKE``     ``~*`` (``NOT REGEXP``: ``!~*``), case-insensitive
    ``CURRENT_TIMESTAMP()``   ``CURRENT_TIMESTAMP`` (also DATE, TIME, LOCALTIME...)
    ``IFNULL(a, b)``          ``COALESCE(a, b)``
    ``LOG(x)``                ``ln(x)`` (one argument: MySQL's natural logarithm)
    ========================  ==================================================

    ``JDNOW()``, ``MJDNOW()``, ``FROM_UNIXTIME(x)``, ``UNIX_TIMESTAMP()``,
    ``IF(c, a, b)`` and ``round(x, n)`` of a double are functions of the archive
    (migration 0009); ``NOW()``, ``pow``, ``log10``, ``LOG(b, x)`` are PostgreSQL's own.

    Refused, with what to write instead: ``||`` (logical OR in MySQL, string
    concatenation in PostgreSQL; Lasair refuses it too), ``#`` (a MySQL comment) and
    backslashes (escapes in MySQL strings, plain characters in PostgreSQL's).

    Parameters
    ----------
    text
        One part of a Lasair query.
    part
        Its name in error messages (``"selected"``, ``"conditions"``).

    Raises
    ------
    QueryError
        For what cannot be translated, saying what to write instead.
    """
    if "\\" in text:
        raise QueryError(
            f"backslashes are not accepted in {part} (Lasair refuses them too): in MySQL "
            "they escape, in PostgreSQL they do not; write '' for a quote in a string"
        )
    tokens = _tokens(text, part)
    edits = list(_backticks(tokens, part))
    for index in range(len(tokens)):
        edits.extend(_mysql_edits(tokens, index, part))
    return _apply(text, edits)


def _mysql_edits(  # noqa: PLR0911 - one return per MySQL form, in the table's order
    tokens: list[_Token], index: int, part: str
) -> list[tuple[int, int, str]]:
    """The edits translating ``tokens[index]`` from MySQL (see :func:`translate_mysql`)."""
    token = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if token.name == "Op" and "#" in token.text:
        raise QueryError(f"# starts a comment in MySQL; comments are not accepted in {part}")
    if token.name == "Op" and "||" in token.text:
        raise QueryError(
            f"|| is not accepted in {part}: it is OR in MySQL but string concatenation "
            "in PostgreSQL (and Lasair refuses it); write OR, or concat(a, b)"
        )
    after_as = index > 0 and tokens[index - 1].name == "AS"
    if token.name == "IDENT" and token.text.startswith('"') and not after_as:
        value = token.text[1:-1].replace('""', '"')
        return [(token.start, token.end, "'" + value.replace("'", "''") + "'")]
    if token.name == "SCONST" and token.text.startswith("'") and after_as:
        value = token.text[1:-1].replace("''", "'")
        return [(token.start, token.end, _quote(value))]
    replacements = {"&&": "AND", "<=>": "IS NOT DISTINCT FROM"}
    if token.name == "Op" and token.text in replacements:
        return [(token.start, token.end, replacements[token.text])]
    if token.name == "LIKE":
        return [(token.start, token.end, "ILIKE")]
    if token.name == "IDENT" and token.text.lower() in {"regexp", "rlike"}:
        if index > 0 and tokens[index - 1].name == "NOT":
            before = tokens[index - 1]
            return [(before.start, before.end, ""), (token.start, token.end, "!~*")]
        return [(token.start, token.end, "~*")]
    if following is None or following.name != "ASCII_40":
        return []
    if (
        token.name in _NOW_KEYWORDS
        and index + 2 < len(tokens)
        and tokens[index + 2].name == "ASCII_41"
    ):
        return [(following.start, tokens[index + 2].end, "")]
    function = token.text.lower() if token.name == "IDENT" else ""
    if function == "ifnull":
        return [(token.start, token.end, "coalesce")]
    if function == "log" and _closing(tokens, index + 1)[1] == 1:
        return [(token.start, token.end, "ln")]
    return []


# --- the parts ---------------------------------------------------------------------------


def _check_part(tokens: list[_Token], part: str) -> None:
    """Refuse comments, ``;``, subqueries, set operations and unbalanced parentheses."""
    depth = 0
    for token in tokens:
        if token.name in {"SQL_COMMENT", "C_COMMENT"}:
            raise QueryError(
                f"comments ({token.text[:2]}) are not accepted in {part}: a Lasair query is "
                "the selected columns, the tables and the conditions, without comments"
            )
        if token.name == "ASCII_59":
            raise QueryError(
                f"';' is not accepted in {part}: a Lasair query is one SELECT statement"
            )
        if token.name in _REFUSED_WORDS:
            raise QueryError(
                f"{token.text.upper()} is not accepted in {part}: a Lasair query has no "
                f"{_REFUSED_WORDS[token.name]}; use archive.sql(...) for free SQL"
            )
        if token.name == "ASCII_40":
            depth += 1
        elif token.name == "ASCII_41":
            depth -= 1
            if depth < 0:
                break
    if depth != 0:
        raise QueryError(f"unbalanced parentheses in {part}: each '(' needs its ')' within {part}")


def _top_level(tokens: list[_Token]) -> Iterator[tuple[int, _Token]]:
    """``(index, token)`` of the tokens outside parentheses."""
    depth = 0
    for index, token in enumerate(tokens):
        if token.name == "ASCII_40":
            depth += 1
        elif token.name == "ASCII_41":
            depth -= 1
        elif depth == 0:
            yield index, token


def _limit(tokens: list[_Token]) -> str:
    """``LIMIT n OFFSET m`` of the tokens after LIMIT: ``n``, ``n OFFSET m`` or ``m, n``."""
    shape = [
        "NUMBER" if token.name == "ICONST" and token.text.isdigit() else token.name
        for token in tokens
    ]
    values = [token.text for token in tokens if token.name == "ICONST"]
    if shape == ["NUMBER"]:
        return f"LIMIT {int(values[0])}"
    if shape == ["NUMBER", "OFFSET", "NUMBER"]:
        return f"LIMIT {int(values[0])} OFFSET {int(values[1])}"
    if shape == ["NUMBER", "ASCII_44", "NUMBER"]:
        return f"LIMIT {int(values[1])} OFFSET {int(values[0])}"
    raise QueryError(
        "conditions may end with LIMIT n, LIMIT n OFFSET m or LIMIT m, n (whole numbers), "
        f"got LIMIT {' '.join(token.text for token in tokens)}"
    )


def split_conditions(conditions: str) -> tuple[str, str, str]:
    """``conditions`` as its WHERE condition, its clauses and its LIMIT.

    Parameters
    ----------
    conditions
        PostgreSQL text: a condition, then any of ``GROUP BY``, ``HAVING``,
        ``ORDER BY`` and, last, ``LIMIT n``, ``LIMIT n OFFSET m`` or ``LIMIT m, n``.

    Returns
    -------
    tuple of str
        The condition (may be empty), the clauses (``GROUP BY ... ORDER BY ...``, may
        be empty) and the limit as PostgreSQL writes it (``LIMIT n OFFSET m``, or empty).

    Raises
    ------
    QueryError
        For comments, ``;``, subqueries, unbalanced parentheses, a leading ``WHERE``,
        other clauses (``OFFSET`` alone, ``FETCH``, ``FOR``, ``WINDOW``) or a LIMIT not
        of those forms.
    """
    tokens = _tokens(conditions, "conditions")
    _check_part(tokens, "conditions")
    clause_start: int | None = None
    for index, token in _top_level(tokens):
        following = tokens[index + 1].name if index + 1 < len(tokens) else ""
        if token.name == "WHERE" and index == 0:
            raise QueryError(
                "leave WHERE out of conditions: they are what follows it, e.g. 'ncand > 10'"
            )
        if token.name in _REFUSED_CLAUSES:
            raise QueryError(
                f"{token.text.upper()} is not accepted in conditions: they may end with "
                "GROUP BY, HAVING, ORDER BY and LIMIT n [OFFSET m]"
            )
        if token.name in {"GROUP_P", "ORDER"} and following != "BY":
            continue
        if token.name in _CLAUSES:
            if clause_start is None:
                clause_start = token.start
            if token.name == "LIMIT":
                limit = _limit(tokens[index + 1 :])
                clauses = conditions[clause_start : token.start].strip()
                return conditions[:clause_start].strip(), clauses, limit
    if clause_start is None:
        return conditions.strip(), "", ""
    return conditions[:clause_start].strip(), conditions[clause_start:].strip(), ""


def named_select(selected: str) -> str:
    """``selected`` with each output column named as written (PostgreSQL folds case).

    A bare column (``objectId``, ``objects.objectId``) gets ``AS "objectId"``, its last
    written identifier; an unquoted alias (``AS nCand``) is quoted as written. ``*`` and
    ``objects.*`` stay as they are. Text PostgreSQL cannot parse is returned unchanged,
    for the final check to report.

    Parameters
    ----------
    selected
        PostgreSQL text of a SELECT list.

    Returns
    -------
    str
        The SELECT list with its output names.
    """
    sql = f"SELECT {selected} FROM t"  # only parsed, never run
    try:
        tree = json.loads(parse_sql_json(sql))
        tokens = scan(sql)
    except ParseError:
        return selected
    statements = tree.get("stmts", [])
    if len(statements) != 1 or "SelectStmt" not in statements[0]["stmt"]:
        return selected
    select = statements[0]["stmt"]["SelectStmt"]
    if "targetList" not in select:
        return selected
    targets = [item["ResTarget"] for item in select["targetList"]]
    raw = sql.encode()
    end_of_select = len(f"SELECT {selected}")
    # The parse tree counts bytes, the scanner characters.
    starts = [len(raw[: target["location"]].decode()) for target in targets]
    edits: list[tuple[int, int, str]] = []
    for index, target in enumerate(targets):
        end = starts[index + 1] if index + 1 < len(targets) else end_of_select
        item = [t for t in tokens if starts[index] <= t.start and t.end < end]
        if item and item[-1].name == "ASCII_44":  # the comma before the next item
            item = item[:-1]
        if not item:
            continue
        last = item[-1]
        text = sql[last.start : last.end + 1]
        column = target["val"].get("ColumnRef")
        if "name" in target:
            if not text.startswith('"') and text.lower() == target["name"]:
                edits.append((last.start, last.end + 1, _quote(text)))
        elif column is not None and "A_Star" not in column["fields"][-1]:
            name = text[1:-1].replace('""', '"') if text.startswith('"') else text
            edits.append((last.end + 1, last.end + 1, " AS " + _quote(name)))
    named = _apply(sql, edits)
    return named[len("SELECT ") : len(named) - len(" FROM t")]


def _check_selected(selected: str) -> None:
    tokens = _tokens(selected, "selected")
    _check_part(tokens, "selected")
    for index, token in _top_level(tokens):
        after_distinct = index > 0 and tokens[index - 1].name == "DISTINCT"  # IS DISTINCT FROM
        if token.name in {"FROM", "WHERE"} and not after_distinct:
            raise QueryError(
                f"{token.text.upper()} is not accepted in selected: give the columns there, "
                "the tables in tables and the condition in conditions"
            )


# --- tables ------------------------------------------------------------------------------


def _accepted(known: Collection[str]) -> str:
    return f"{LASAIR_FORMS} or a table of the archive ({', '.join(sorted(known))})"


def _lasair_table(name: str, known: Collection[str]) -> tuple[str, str | None]:
    """Table and condition of one entry of ``tables`` (``watchlist:42``, ``objects``...)."""
    prefixed = _PREFIXED.fullmatch(name)
    if prefixed is not None:
        kind = prefixed["kind"].lower().rstrip("s")
        value = prefixed["value"].strip()
        if kind == "annotator":
            if not _TOPIC.fullmatch(value):
                raise QueryError(
                    f"table {name!r}: annotator:TOPIC needs a topic of letters, digits, "
                    f"'_', '.' or '-' (at most 100), got {value!r}; tables accepted: "
                    + _accepted(known)
                )
            # Validated above, so it can be written as a literal (it holds no quote).
            return "annotations", f"lower(annotations.topic) = '{value.lower()}'"
        if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
            raise QueryError(
                f"table {name!r}: {kind}:N needs a positive whole number N (the {kind}'s "
                f"id), got {value!r}; tables accepted: " + _accepted(known)
            )
        if kind == "watchlist":
            return "watchlist_hits", f"watchlist_hits.wl_id = {int(value)}"
        return "area_hits", f"area_hits.ar_id = {int(value)}"
    lowered = name.lower()
    if _TABLE_NAME.fullmatch(name) and lowered in known:
        return lowered, None
    if lowered in LASAIR_TABLES:
        raise QueryError(
            f"{lowered} is one of Lasair's tables but this archive does not have it yet: "
            "upgrade it (lasair-nb db upgrade); tables accepted: " + _accepted(known)
        )
    raise QueryError(f"no table {name!r} in Lasair-NB; tables accepted: " + _accepted(known))


def resolve_tables(tables: str, known: Collection[str]) -> tuple[list[str], list[str]]:
    """The FROM list and the join conditions of a Lasair ``tables`` text.

    Parameters
    ----------
    tables
        Comma-separated: table names and Lasair's ``watchlist:N``, ``area:N`` and
        ``annotator:TOPIC`` (also ``watchlists:N``, ``areas:N``, ``annotators:TOPIC``).
    known
        The archive's table names, lower case (:func:`table_names`).

    Returns
    -------
    tuple of list of str
        The tables in order, each once (``objects`` first when implied), and the
        conditions that join them on ``objectid`` and select the watchlist, watchmap
        or annotation topic.

    Raises
    ------
    QueryError
        For an empty list, an unknown name, a malformed ``watchlist:N``... or a table
        given twice; the message lists what is accepted.
    """
    names = [name.strip() for name in tables.split(",")]
    if not tables.strip() or not all(names):
        raise QueryError(
            "tables must be a comma-separated list of tables, e.g. 'objects, watchlist:42'; "
            "tables accepted: " + _accepted(known)
        )
    chosen: list[str] = []
    conditions: list[str] = []
    for name in names:
        table, condition = _lasair_table(name, known)
        if table in chosen:
            raise QueryError(
                f"table {table} is given twice in tables ({tables!r}): give each table once "
                f"(one of {LASAIR_FORMS} each)"
            )
        chosen.append(table)
        if condition is not None:
            conditions.append(condition)
    if "objects" not in chosen and IMPLYING_OBJECTS & set(chosen) and "objects" in known:
        chosen.insert(0, "objects")
    anchor = "objects" if "objects" in chosen else chosen[0]
    joins = [f"{anchor}.objectid = {table}.objectid" for table in chosen if table != anchor]
    return chosen, joins + conditions


def table_names(connection: sa.Connection) -> set[str]:
    """The tables and views of the archive the connection's role can read (as ``schema()``).

    Parameters
    ----------
    connection
        A connection to the archive.

    Returns
    -------
    set of str
        Their names, lower case.
    """
    return {str(row[0]) for row in connection.execute(sa.text(_TABLE_NAMES_SQL))}


# --- the query ---------------------------------------------------------------------------


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    pending = [node]
    while pending:  # iterative: a deep tree cannot exhaust the stack
        item = pending.pop()
        if isinstance(item, dict):
            yield item
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _check_tree(sql: str, tables: list[str]) -> None:
    """Refuse ``sql`` unless it is one plain SELECT reading exactly ``tables``."""
    try:
        tree = json.loads(parse_sql_json(sql))
    except ParseError as error:
        raise QueryError(f"SQL syntax error in the query built: {error}\n{sql}") from error
    except RecursionError as error:
        raise QueryError("the query is nested too deeply to be read; simplify it") from error
    statements = tree.get("stmts", [])
    select = statements[0]["stmt"].get("SelectStmt", {}) if len(statements) == 1 else {}
    problems = [
        key
        for key in ("intoClause", "withClause", "lockingClause", "windowClause", "larg")
        if key in select
    ]
    relations = [node["RangeVar"] for node in _walk(tree) if "RangeVar" in node]
    subqueries = [
        kind
        for node in _walk(tree)
        for kind in ("SubLink", "RangeSubselect", "RangeFunction", "RangeTableFunc")
        if kind in node
    ]
    from_names = [item.get("RangeVar", {}).get("relname") for item in select.get("fromClause", [])]
    if (
        not select
        or problems
        or subqueries
        or from_names != tables
        or len(relations) != len(tables)
        or any("schemaname" in relation or "alias" in relation for relation in relations)
    ):
        raise QueryError(
            "a Lasair query is one SELECT of the selected columns from the tables listed, "
            "with the conditions: no subqueries, set operations or other tables; "
            "use archive.sql(...) for free SQL"
        )


def build_query(
    selected: str,
    tables: str,
    conditions: str,
    known_tables: Collection[str],
    *,
    dialect: Dialect = "postgresql",
) -> str:
    """The one SELECT of a Lasair query, as :meth:`Archive.sql` runs it.

    Parameters
    ----------
    selected
        The columns, e.g. ``"objectId, ncand AS n"``; ``*`` and ``objects.*`` work.
    tables
        Comma-separated tables, e.g. ``"objects, sherlock_classifications, watchlist:42"``.
    conditions
        The WHERE condition without ``WHERE`` (may be empty), optionally followed by
        ``GROUP BY``, ``HAVING``, ``ORDER BY`` and ``LIMIT``; or only those.
    known_tables
        The archive's table names (:func:`table_names`).
    dialect
        ``"mysql"`` for Lasair's text (translated by :func:`translate_mysql`),
        ``"postgresql"`` for PostgreSQL's.

    Returns
    -------
    str
        ``SELECT ... FROM ... [WHERE (joins) AND (condition)] [clauses] [LIMIT ...]``.

    Raises
    ------
    QueryError
        For anything not a Lasair query; the message says what was wrong and what is
        accepted.
    """
    for name, value in (("selected", selected), ("tables", tables), ("conditions", conditions)):
        if not isinstance(value, str):
            raise QueryError(f"{name} must be a string, got {type(value).__name__}")
        if "\x00" in value:
            raise QueryError(f"{name} holds a NUL character, which SQL cannot hold; remove it")
    if dialect not in DIALECTS:
        raise QueryError(f"dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}")
    if not selected.strip():
        raise QueryError(
            "give the selected columns (or *), e.g. query('objectId, ncand', 'objects', "
            "'ncand > 10')"
        )
    known = {name.lower() for name in known_tables}
    from_list, joins = resolve_tables(tables, known)
    if dialect == "mysql":
        selected = translate_mysql(selected, "selected")
        conditions = translate_mysql(conditions, "conditions")
    _check_selected(selected)
    where, clauses, limit = split_conditions(conditions)
    parts = [f"({clause})" for clause in [*joins, where] if clause]
    # User text by design, as in Lasair: checked above, run read-only by Archive.sql.
    sql = f"SELECT {named_select(selected.strip())} FROM {', '.join(from_list)}"
    if parts:
        sql += " WHERE " + " AND ".join(parts)
    for tail in (clauses, limit):
        if tail:
            sql += " " + tail
    _check_tree(sql, from_list)
    return sql
