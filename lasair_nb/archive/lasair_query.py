"""Lasair's query builder: ``selected``, ``tables`` and ``conditions`` as one SELECT.

Lasair-ZTF users write a query as three texts, ``L.query(selected, tables, conditions)``:
a column list, a comma-separated list of tables and a WHERE condition that may end with
``GROUP BY``/``HAVING``/``ORDER BY``/``LIMIT``. :func:`build_query` makes the one SELECT
that :meth:`lasair_nb.client.archive.Archive.sql` checks and runs read-only, as Lasair's
builder does:

* **Tables.** Every table is joined to ``objects`` (else the first table) on
  ``objectid``. Lasair's names: ``watchlist:N`` (``watchlists:N``) is ``watchlist_hits``
  with ``watchlist_hits.wl_id = N``; ``area:N`` (``areas:N``) is ``area_hits`` with
  ``area_hits.ar_id = N``. With one of these, ``sherlock_classifications`` or
  ``crossmatch_tns``, ``objects`` is implied, as in Lasair. Any other table of the
  archive is accepted by its name.
* **Annotators.** As in Lasair, ``annotator:TOPIC`` (``annotators:TOPIC``) is
  ``annotations AS topic``: the topic, lower case, names them (``fastfinder.classdict``),
  joined by ``objects.objectid = topic.objectid`` and ``lower(topic.topic) = 'topic'``
  (compared case-insensitively, as MySQL does). A topic that is not a plain name (it
  has ``-`` or ``.``) or is a reserved word is quoted: write ``"ff-r".classification``
  in PostgreSQL's text (in MySQL's, ``"..."`` is a string and backticks take plain names
  only, so use the next rule). PostgreSQL refers to an aliased table by its alias only,
  so with exactly one annotator (and no plain ``annotations`` listed) ``annotations.x``
  is rewritten to ``topic.x``, as older Lasair-NB queries write it; with several, each
  gets its own alias and ``annotations.x`` is refused (which one?). A topic given twice,
  or named as a table listed (``annotator:objects``), is refused.
* **Output names.** Each column is named as written: ``objectId`` gives the key
  ``objectId``, not PostgreSQL's folded ``objectid`` (:func:`named_select`); an alias
  with or without ``AS`` (``IF(...) score``) too. In ``GROUP BY``, ``HAVING`` and
  ``ORDER BY`` a bare unquoted name equal to an output name but for case is found as
  MySQL finds it: a whole item of ``GROUP BY``/``ORDER BY`` becomes the output name
  (``ORDER BY objectId`` → ``ORDER BY "objectId"``, not the ambiguous input column
  ``objectid``); in MySQL's text, a name in ``HAVING`` or inside an ``ORDER BY``
  expression becomes the output's expression in parentheses (``HAVING n_obs > 1`` with
  ``ncandgp_14 AS n_obs`` → ``HAVING (ncandgp_14) > 1``), as PostgreSQL sees no output
  names there. Qualified names, function names, strings and names inside ``GROUP BY``
  expressions stay as written (MySQL looks at the tables first there). Unlike MySQL,
  a whole ``GROUP BY`` item naming both an output and an input column is the output.
* **GROUP BY** in MySQL's text: MySQL, without ``ONLY_FULL_GROUP_BY`` as Lasair runs
  it, accepts a selected column neither grouped nor aggregated and gives any value of
  the group; PostgreSQL accepts only columns functionally dependent on the GROUP BY
  keys (``objects``' own with ``objects.objectId`` grouped, never a view's such as
  ``crossmatch_tns.tns_name``). So each selected expression with no aggregate (or
  window) call, ``*`` or output name already in GROUP BY is added to the GROUP BY list
  as written (``GROUP BY objects.objectId, crossmatch_tns.tns_name,
  ROUND(objects.maggmean - objects.magrmean, 2)``); beside an aggregate
  (``max(x) - crossmatch_tns.z``), its columns outside the aggregates; constants are
  not. The difference: a group whose rows differ in such a value is several rows here,
  one for each value, where MySQL gives one row with an arbitrary one. With
  ``objects.objectId`` grouped and tables of one row per object (Lasair's), the rows
  are the same. ``objects.*`` (and ``*`` of ``objects`` alone) are left to PostgreSQL's
  rule; ``*`` or ``t.*`` of other tables with GROUP BY is refused (name the columns).
  ``ROLLUP``, ``CUBE`` and ``GROUPING SETS`` are left as written. Columns only in
  ``HAVING`` or ``ORDER BY`` are not added: group or aggregate them. PostgreSQL's text
  (``dialect="postgresql"``) keeps PostgreSQL's rule.
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
from pglast import keywords
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
_KEYWORDS = frozenset(keywords.RESERVED_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS)
"""PostgreSQL's keywords that cannot name a table unquoted: an alias that is one is quoted."""
_NAME_KEYWORDS = frozenset(keywords.UNRESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS) - {
    "by",
    "nulls",
    "first",
    "last",
}
"""Keywords that may stand as a bare column or alias name in GROUP BY, HAVING, ORDER BY."""
_COMPARISONS = {"ASCII_61", "NOT_EQUALS"}
"""``=``, ``<>`` and ``!=``: a string compared so to a JSON value is made a JSON string."""
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
    ``UTC_TIMESTAMP``         ``UTC_TIMESTAMP()`` (a function of the archive)
    ``IFNULL(a, b)``          ``COALESCE(a, b)``
    ``LOG(x)``                ``ln(x)`` (one argument: MySQL's natural logarithm)
    ``col->'$.a'``            ``json_extract(col, '$.a')``
    ``col->>'$.a'``           ``json_unquote(json_extract(col, '$.a'))``
    ``JSON_EXTRACT(..)='s'``  ``... = to_jsonb(CAST('s' AS text))`` (also ``<>``,
                              ``!=``, ``'s' = JSON_EXTRACT(..)``, ``col->'$.a'``)
    ========================  ==================================================

    ``JDNOW()``, ``MJDNOW()``, ``FROM_UNIXTIME(x)``, ``UNIX_TIMESTAMP()``,
    ``IF(c, a, b)`` and ``round(x, n)`` of a double are functions of the archive
    (migration 0009); ``NOW()``, ``pow``, ``log10``, ``LOG(b, x)`` are PostgreSQL's own.

    **Time** (migration 0010): ``TO_SECONDS(t)`` is MySQL's, whole seconds since year 0
    (``TO_SECONDS('1970-01-01 00:00:00') = 62167219200``), of text, a date or a naive
    timestamp as written, and of a time with zone (``CURRENT_TIMESTAMP``, ``NOW()``)
    counted in UTC; ``UTC_TIMESTAMP()`` is the naive UTC time. So
    ``TO_SECONDS(UTC_TIMESTAMP()) - TO_SECONDS(CURRENT_TIMESTAMP())`` is 0 whatever the
    session's time zone, and Lasair's ``FROM_UNIXTIME((jd - 1721059.5) * (3600 * 24) -
    TO_SECONDS('1970-01-01 00:00:00') + TO_SECONDS(UTC_TIMESTAMP()) -
    TO_SECONDS(CURRENT_TIMESTAMP()))`` is the instant of the Julian date ``jd``, a time
    with zone (MySQL gives the naive UTC time: the same instant).

    **JSON** (migration 0010). ``JSON_EXTRACT(doc, path)`` of a ``jsonb`` (``classdict``)
    is a function of the archive returning ``jsonb``: what is selected comes back as the
    JSON value (a number as a number, ``{...}`` as a dict). Paths: ``$``, ``$.a.b``,
    ``$."a.b".c``, ``$.a[0]``; an unquoted key may hold ``-`` (``$.lsst-r.peak``, as
    Lasair users write it, which MySQL itself refuses); wildcards (``*``, ``**``), ranges
    and ``last`` are refused (an error from the database). One path per call.

    * Compared with a number (``JSON_EXTRACT(...) < -19``, ``-19 > ...``, ``BETWEEN``):
      operators ``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=`` of ``jsonb`` with ``double
      precision`` compare a JSON number as the number; any other JSON value (a string
      ``"-20"``, an object, ``null``) compares as NULL, so it is never selected (MySQL
      orders values of different JSON types by type instead).
    * Compared with ``=``/``<>``/``!=`` to a string literal right beside it, the literal
      is made a JSON string, so ``JSON_EXTRACT(d, '$.c') = 'SN'`` holds for ``"SN"``, as
      in MySQL. Other string comparisons (``LIKE``, ``IN``, ``<``, a string column) need
      ``JSON_UNQUOTE(JSON_EXTRACT(...))`` or ``->>``, which give text.
    * ``JSON_UNQUOTE(v)`` gives a JSON string's text, another value's JSON text (JSON
      ``null``: NULL, where MySQL gives ``'null'``).
    * ``ORDER BY`` a ``jsonb`` orders numbers as numbers (PostgreSQL's ``jsonb`` order).
    * Not translated: arithmetic and functions of numbers on ``jsonb``
      (``JSON_EXTRACT(...) - 1`` is PostgreSQL's array element removal, an error;
      ``ROUND(JSON_EXTRACT(...), 2)`` has no function): write
      ``CAST(JSON_EXTRACT(...) AS DECIMAL(10, 3))``, which MySQL and PostgreSQL both
      read (an error for a value that is no number).
      ``->`` and ``->>`` not followed by a ``'$...'`` path are PostgreSQL's own (one key).

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


def _mysql_edits(  # noqa: PLR0911, PLR0912 - one return per MySQL form, in the table's order
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
        return [(token.start, token.end, _string(value, _compared_to_json(tokens, index)))]
    if token.name == "SCONST" and token.text.startswith("'") and after_as:
        value = token.text[1:-1].replace("''", "'")
        return [(token.start, token.end, _quote(value))]
    if token.name == "SCONST" and token.text.startswith("'") and _compared_to_json(tokens, index):
        return [(token.start, token.end, _string(token.text[1:-1].replace("''", "'"), True))]
    if token.name == "Op" and token.text in {"->", "->>"}:
        return _arrow(tokens, index, part)
    if (
        token.name == "IDENT"
        and token.text.lower() == "utc_timestamp"
        and (following is None or following.name != "ASCII_40")
        and (index == 0 or tokens[index - 1].name != "ASCII_46")
    ):
        return [(token.end, token.end, "()")]
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
    if function == "json_extract" and _closing(tokens, index + 1)[1] != 2:
        raise QueryError(
            f"JSON_EXTRACT in {part} is accepted with one path, JSON_EXTRACT(doc, '$.a.b'); "
            "for several paths, write one JSON_EXTRACT for each"
        )
    return []


def _string(value: str, json_value: bool) -> str:
    """A string literal of ``value``; as a JSON string if it is compared to a JSON value."""
    literal = "'" + value.replace("'", "''") + "'"
    return f"to_jsonb(CAST({literal} AS text))" if json_value else literal


def _is_path(token: _Token) -> bool:
    """Whether ``token`` is a MySQL JSON path string, ``'$...'`` or ``"$..."``."""
    return token.name in {"SCONST", "IDENT"} and token.text[:2] in {"'$", '"$'}


def _is_name(token: _Token) -> bool:
    """Whether ``token`` is a name of a column reference (MySQL text, so not ``"..."``)."""
    return (
        token.name == "BACKTICKED"
        or (token.name == "IDENT" and not token.text.startswith('"'))
        or (token.text.lower() in _NAME_KEYWORDS and _PLAIN_NAME.fullmatch(token.text) is not None)
    )


def _column_before(tokens: list[_Token], index: int) -> int | None:
    """Index of the first token of the column reference ending just before ``index``."""
    start = index - 1
    if start < 0 or not _is_name(tokens[start]):
        return None
    while start >= 2 and tokens[start - 1].name == "ASCII_46" and _is_name(tokens[start - 2]):
        start -= 2
    return start


def _column_arrow(tokens: list[_Token], index: int) -> bool:
    """Whether ``column->'$...'`` starts at ``tokens[index]``."""
    end = index
    if not _is_name(tokens[end]):
        return False
    while (
        end + 2 < len(tokens) and tokens[end + 1].name == "ASCII_46" and _is_name(tokens[end + 2])
    ):
        end += 2
    return (
        end + 2 < len(tokens)
        and tokens[end + 1].name == "Op"
        and tokens[end + 1].text == "->"
        and _is_path(tokens[end + 2])
    )


def _opening(tokens: list[_Token], closing: int) -> int:
    """Index of the ``(`` matching ``tokens[closing]`` (``-1`` if none)."""
    depth = 0
    for index in range(closing, -1, -1):
        if tokens[index].name == "ASCII_41":
            depth += 1
        elif tokens[index].name == "ASCII_40":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _compared_to_json(tokens: list[_Token], index: int) -> bool:
    """Whether the string ``tokens[index]`` is compared (``=``, ``<>``) to a JSON value.

    The JSON value is ``JSON_EXTRACT(...)`` or ``column->'$...'`` right before the
    comparison, or right after it. MySQL compares a JSON string to a string by its text,
    so the string becomes a JSON string (``jsonb = jsonb``).
    """
    if index >= 2 and tokens[index - 1].name in _COMPARISONS:
        before = index - 2
        if tokens[before].name == "ASCII_41":
            opening = _opening(tokens, before)
            if opening > 0 and tokens[opening - 1].text.lower() == "json_extract":
                return True
        elif _is_path(tokens[before]) and before > 0 and tokens[before - 1].text == "->":
            return True
    if index + 2 < len(tokens) and tokens[index + 1].name in _COMPARISONS:
        after = index + 2
        if tokens[after].text.lower() == "json_extract":
            return after + 1 < len(tokens) and tokens[after + 1].name == "ASCII_40"
        return _column_arrow(tokens, after)
    return False


def _arrow(tokens: list[_Token], index: int, part: str) -> list[tuple[int, int, str]]:
    """MySQL's ``column->'$.path'`` and ``column->>'$.path'`` as function calls.

    PostgreSQL's ``->`` and ``->>`` take one key, not a path, so they are kept only when
    not followed by a path (``'$...'``). ``->`` is ``JSON_EXTRACT(column, path)``,
    ``->>`` ``JSON_UNQUOTE(JSON_EXTRACT(column, path))``, as in MySQL.
    """
    token = tokens[index]
    if index + 1 >= len(tokens) or not _is_path(tokens[index + 1]):
        return []
    start = _column_before(tokens, index)
    if start is None:
        raise QueryError(
            f"{token.text} in {part} is accepted after a column, as in MySQL: "
            f"classdict{token.text}'$.key'"
        )
    path = tokens[index + 1]
    opening, closing = (
        ("json_extract(", ")") if token.text == "->" else ("json_unquote(json_extract(", "))")
    )
    return [
        (tokens[start].start, tokens[start].start, opening),
        (token.start, token.end, ", "),
        (path.end, path.end, closing),
    ]


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


_AFTER_TABLES = {"WHERE", "GROUP_P", "ORDER", "HAVING", "LIMIT"}


def _table_list(tokens: list[_Token]) -> list[str] | None:
    """``name, name, …`` (plain names, no aliases) as its names; None for anything else."""
    names = [token.text for token in tokens[0::2] if _is_name(token) and token.name != "BACKTICKED"]
    commas = tokens[1::2]
    if len(names) != len(tokens[0::2]) or any(token.name != "ASCII_44" for token in commas):
        return None
    return names if len(tokens) % 2 == 1 else None


def split_select(text: str) -> tuple[str, str, str] | None:
    """A SELECT's three builder parts, when it is as plain as the builder makes.

    ``SELECT columns FROM name, name … [WHERE …] [GROUP BY …] [ORDER BY …] [LIMIT n]``
    gives ``(columns, "name, name", conditions)``, the conditions with their GROUP BY,
    ORDER BY and LIMIT as Lasair's builder takes them. Anything else (joins, aliases,
    subqueries in FROM, WITH, UNION…) gives None: it can only be run as written.

    Parameters
    ----------
    text
        One SELECT statement.

    Returns
    -------
    tuple of str or None
        ``(selected, tables, conditions)``, or None.
    """
    try:
        tokens = _tokens(text, "the query")
    except QueryError:
        return None
    while tokens and tokens[-1].name == "ASCII_59":  # a trailing semicolon
        tokens.pop()
    top = list(_top_level(tokens))
    froms = [index for index, token in top if token.name == "FROM"]
    if not top or top[0][1].name != "SELECT" or len(froms) != 1 or froms[0] < 2:
        return None
    start = froms[0]
    after = next(
        (index for index, token in top if index > start and token.name in _AFTER_TABLES), None
    )
    names = _table_list(tokens[start + 1 : after])
    if not names:
        return None
    selected = text[tokens[0].end : tokens[start].start].strip()
    conditions = ""
    if after is not None:
        where = tokens[after].name == "WHERE" and after + 1 < len(tokens)
        begin = tokens[after + 1].start if where else tokens[after].start
        conditions = text[begin : tokens[-1].end].strip()
    return selected, ", ".join(names), conditions


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
    written identifier; an unquoted alias (``AS nCand``, or ``nCand`` without ``AS``) is
    quoted as written. ``*`` and ``objects.*`` stay as they are. Text PostgreSQL cannot
    parse is returned unchanged, for the final check to report.

    Parameters
    ----------
    selected
        PostgreSQL text of a SELECT list.

    Returns
    -------
    str
        The SELECT list with its output names.
    """
    return _named_select(selected)[0]


@dataclass(frozen=True)
class _Item:
    """One item of a SELECT list: its expression's text and parse tree, its output name."""

    expression: str
    tree: dict[str, Any]
    name: str | None


def _named_select(selected: str) -> tuple[str, list[tuple[str, str]]]:
    """:func:`named_select`, and the output names as written with their expressions."""
    named, outputs, _ = _select_items(selected)
    return named, outputs


def _select_items(selected: str) -> tuple[str, list[tuple[str, str]], list[_Item]]:
    """:func:`_named_select`, and each item of the list (none if it cannot be parsed)."""
    sql = f"SELECT {selected} FROM t"  # only parsed, never run
    try:
        tree = json.loads(parse_sql_json(sql))
        tokens = scan(sql)
    except ParseError:
        return selected, [], []
    statements = tree.get("stmts", [])
    if len(statements) != 1 or "SelectStmt" not in statements[0]["stmt"]:
        return selected, [], []
    select = statements[0]["stmt"]["SelectStmt"]
    if "targetList" not in select:
        return selected, [], []
    targets = [item["ResTarget"] for item in select["targetList"]]
    raw = sql.encode()
    end_of_select = len(f"SELECT {selected}")
    # The parse tree counts bytes, the scanner characters.
    starts = [len(raw[: target["location"]].decode()) for target in targets]
    edits: list[tuple[int, int, str]] = []
    outputs: list[tuple[str, str]] = []
    items: list[_Item] = []
    complete = True  # each item read (always, for text PostgreSQL parses)
    for index, target in enumerate(targets):
        end = starts[index + 1] if index + 1 < len(targets) else end_of_select
        item = [t for t in tokens if starts[index] <= t.start and t.end < end]
        if item and item[-1].name == "ASCII_44":  # the comma before the next item
            item = item[:-1]
        if not item:
            complete = False
            continue
        last = item[-1]
        text = sql[last.start : last.end + 1]
        name = text[1:-1].replace('""', '"') if text.startswith('"') else text
        column = target["val"].get("ColumnRef")
        expression = item
        output: str | None = name
        if "name" in target:
            if not text.startswith('"') and text.lower() == target["name"]:
                edits.append((last.start, last.end + 1, _quote(text)))
            expression = item[:-1]
            if expression and expression[-1].name == "AS":
                expression = expression[:-1]
            if not expression:
                complete = False
                continue
            outputs.append((name, sql[expression[0].start : expression[-1].end + 1]))
        elif column is not None and "A_Star" not in column["fields"][-1]:
            edits.append((last.end + 1, last.end + 1, " AS " + _quote(name)))
            outputs.append((name, sql[item[0].start : last.end + 1]))
        else:
            output = None
        text = sql[expression[0].start : expression[-1].end + 1]
        items.append(_Item(text, target["val"], output))
    named = _apply(sql, edits)
    return named[len("SELECT ") : len(named) - len(" FROM t")], outputs, items if complete else []


def _bare_name(tokens: list[_Token], index: int) -> bool:
    """Whether ``tokens[index]`` is an unquoted name standing alone (no ``.``, ``(``, ``::``)."""
    token = tokens[index]
    before = tokens[index - 1].name if index > 0 else ""
    after = tokens[index + 1].name if index + 1 < len(tokens) else ""
    plain = (token.name == "IDENT" and not token.text.startswith('"')) or (
        token.text.lower() in _NAME_KEYWORDS and _PLAIN_NAME.fullmatch(token.text) is not None
    )
    return (
        plain and before not in {"ASCII_46", "TYPECAST"} and after not in {"ASCII_46", "ASCII_40"}
    )


def _output_names_in_clauses(clauses: str, outputs: list[tuple[str, str]], *, mysql: bool) -> str:
    """``clauses`` (GROUP BY, HAVING, ORDER BY) with output names found as MySQL finds them.

    Output names are quoted as written (``"objectId"``), so an unquoted ``objectId``,
    folded to ``objectid``, would miss them (and be ambiguous between two tables). A bare
    name equal to an output name but for case becomes that output name, quoted, where it
    is a whole item of GROUP BY or ORDER BY. In MySQL text also, as MySQL allows, it
    becomes the output's expression (in parentheses) in HAVING and inside ORDER BY
    expressions, where PostgreSQL does not see output names.
    """
    if not clauses or not outputs:
        return clauses
    by_name: dict[str, tuple[str, str]] = {}
    for name, expression in outputs:
        by_name.setdefault(name.lower(), (name, expression))
    tokens = _tokens(clauses, "conditions")
    edits: list[tuple[int, int, str]] = []
    clause = ""
    depth = 0
    for index, token in enumerate(tokens):
        following = tokens[index + 1].name if index + 1 < len(tokens) else ""
        if token.name == "ASCII_40":
            depth += 1
        elif token.name == "ASCII_41":
            depth -= 1
        elif depth == 0 and token.name in {"GROUP_P", "ORDER"} and following == "BY":
            clause = token.name
        elif depth == 0 and token.name == "HAVING":
            clause = token.name
        elif clause and _bare_name(tokens, index) and token.text.lower() in by_name:
            name, expression = by_name[token.text.lower()]
            before = tokens[index - 1].name if index > 0 else ""
            whole = (
                depth == 0
                and before in {"BY", "ASCII_44"}
                and following in {"", "ASCII_44", "ASC", "DESC", "NULLS_P", "HAVING", "ORDER"}
            )
            if clause != "HAVING" and whole:
                edits.append((token.start, token.end, _quote(name)))
            elif mysql and clause != "GROUP_P":
                edits.append((token.start, token.end, f"({expression})"))
    return _apply(clauses, edits)


_AGGREGATES = frozenset(
    {
        "count", "sum", "avg", "min", "max", "every", "bool_and", "bool_or", "bit_and",
        "bit_or", "bit_xor", "string_agg", "array_agg", "json_agg", "jsonb_agg",
        "json_object_agg", "jsonb_object_agg", "json_arrayagg", "json_objectagg", "xmlagg",
        "range_agg", "range_intersect_agg", "any_value", "stddev", "stddev_pop",
        "stddev_samp", "variance", "var_pop", "var_samp", "corr", "covar_pop", "covar_samp",
        "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope",
        "regr_sxx", "regr_sxy", "regr_syy", "percentile_cont", "percentile_disc", "mode",
        "group_concat", "std",
    }
)  # fmt: skip
"""PostgreSQL's aggregate functions (and MySQL's names of some), by name."""
_AGGREGATE_MARKS = ("agg_star", "agg_distinct", "agg_order", "agg_filter", "agg_within_group")
"""What only an aggregate call has: ``count(*)``, ``DISTINCT``, ``ORDER BY``, ``FILTER``..."""


def _aggregate(node: dict[str, Any]) -> bool:
    """Whether ``node`` is a call of an aggregate or window function, or ``GROUPING(...)``."""
    if "GroupingFunc" in node:
        return True
    call = node.get("FuncCall")
    if call is None:
        return False
    name = call["funcname"][-1].get("String", {}).get("sval", "").lower()
    return name in _AGGREGATES or "over" in call or any(mark in call for mark in _AGGREGATE_MARKS)


def _outside_aggregates(tree: Any) -> tuple[bool, list[dict[str, Any]]]:
    """Whether ``tree`` calls an aggregate (or window) function; its columns outside them."""
    aggregated = False
    columns: list[dict[str, Any]] = []
    pending = [tree]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            if _aggregate(item):
                aggregated = True
            elif "ColumnRef" in item:
                columns.append(item)
            else:
                pending.extend(item.values())
    return aggregated, columns


def _shape(tree: Any) -> str:
    """``tree`` without its locations, to compare two expressions as PostgreSQL does."""
    return json.dumps(_without_locations(tree), sort_keys=True)


def _without_locations(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {key: _without_locations(value) for key, value in tree.items() if key != "location"}
    if isinstance(tree, list):
        return [_without_locations(value) for value in tree]
    return tree


def _column_text(column: dict[str, Any]) -> str:
    """A column reference as SQL: ``crossmatch_tns.type``, ``"N"``."""
    return ".".join(_identifier(field["String"]["sval"]) for field in column["ColumnRef"]["fields"])


def _group_by_list(clauses: str) -> tuple[int, list[dict[str, Any]]] | None:
    """Where the GROUP BY list of ``clauses`` ends, and its parse tree; None if none.

    None too for a list PostgreSQL cannot parse (the final check reports it) and for
    ``ROLLUP``, ``CUBE`` and ``GROUPING SETS`` (PostgreSQL's own, left as written).
    """
    tokens = _tokens(clauses, "conditions")
    start = end = None
    for index, token in _top_level(tokens):
        following = tokens[index + 1].name if index + 1 < len(tokens) else ""
        if start is None and token.name == "GROUP_P" and following == "BY":
            start = index + 2
        elif (
            start is not None
            and index >= start
            and (token.name in {"HAVING", "WINDOW", "WITH"} or token.name == "ORDER")
        ):
            end = index
            break
    if start is None or start >= (len(tokens) if end is None else end):
        return None
    at = len(clauses) if end is None else tokens[end].start
    try:
        tree = json.loads(
            parse_sql_json(f"SELECT 1 FROM t GROUP BY {clauses[tokens[start].start : at]}")
        )
        group = tree["stmts"][0]["stmt"]["SelectStmt"]["groupClause"]
    except (ParseError, KeyError, IndexError):
        return None
    if any("GroupingSet" in node for node in _walk(group)):
        return None
    return at, group


def _group_by_selected(clauses: str, items: list[_Item], sources: list[Source]) -> str:
    """``clauses`` with each selected expression not aggregated added to their GROUP BY.

    MySQL (without ``ONLY_FULL_GROUP_BY``, as Lasair runs it) takes any value of the
    group for a selected column neither grouped nor aggregated; PostgreSQL refuses one
    not functionally dependent on the GROUP BY keys (another table's column, a view's).
    Each such expression is grouped by too (see the module's notes): an expression with
    no aggregate as written, beside an aggregate its columns; constants, ``*`` and
    what is grouped already are left out, and ``*`` of tables other than ``objects`` is
    refused (:func:`_check_stars`).
    """
    found = _group_by_list(clauses) if items else None
    if found is None:
        return clauses
    at, group = found
    _check_stars(items, sources)
    grouped = {_shape(node) for node in group}
    names: set[str] = set()
    for node in group:
        fields = node.get("ColumnRef", {}).get("fields", [])
        position = node.get("A_Const", {}).get("ival", {}).get("ival", 0)
        if len(fields) == 1 and "String" in fields[0]:
            names.add(fields[0]["String"]["sval"])  # an output name, or an input column
        elif 0 < position <= len(items):
            grouped.add(_shape(items[position - 1].tree))  # GROUP BY 2: the second item
    added: list[str] = []
    for item in items:
        if item.name in names or _shape(item.tree) in grouped or _star(item):
            continue
        aggregated, columns = _outside_aggregates(item.tree)
        if not aggregated and columns:  # a constant needs no grouping
            grouped.add(_shape(item.tree))
            added.append(item.expression)
            continue
        for column in columns:  # beside an aggregate: its columns
            if _shape(column) not in grouped:
                grouped.add(_shape(column))
                added.append(_column_text(column))
    if not added:
        return clauses
    return clauses[:at].rstrip() + ", " + ", ".join(added) + (" " + clauses[at:]).rstrip()


def _stars(item: _Item) -> Iterator[list[str]]:
    """The qualifier of each ``*`` of ``item`` (outside aggregates): ``[]``, ``["objects"]``."""
    for column in _outside_aggregates(item.tree)[1]:
        fields = column["ColumnRef"]["fields"]
        if "A_Star" in fields[-1]:
            yield [field.get("String", {}).get("sval", "") for field in fields[:-1]]


def _star(item: _Item) -> bool:
    return next(_stars(item), None) is not None


def _check_stars(items: list[_Item], sources: list[Source]) -> None:
    """Refuse ``*`` with GROUP BY where it has columns of tables other than ``objects``."""
    for item in items:
        for qualifier in _stars(item):
            if qualifier == ["objects"] or (not qualifier and len(sources) == 1):
                continue
            raise QueryError(
                f"{item.expression} with GROUP BY is not accepted in Lasair's text: "
                "PostgreSQL needs each selected column grouped or aggregated, and cannot "
                "tell that of the columns of * from other tables; name the columns "
                "instead (each one not aggregated is grouped by), or select objects.*"
            )


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


@dataclass(frozen=True)
class Source:
    """One table of the FROM list: its name in the archive and, for an annotator, its alias."""

    table: str
    alias: str | None = None

    @property
    def name(self) -> str:
        """How the query refers to it: the alias, else the table's name."""
        return self.alias if self.alias is not None else self.table

    @property
    def reference(self) -> str:
        """:attr:`name` as SQL: an alias is quoted unless a plain lower-case identifier."""
        return self.table if self.alias is None else _identifier(self.alias)

    @property
    def sql(self) -> str:
        """The FROM item: ``objects`` or ``annotations AS fastfinder``."""
        return self.table if self.alias is None else f"{self.table} AS {self.reference}"


def _identifier(name: str) -> str:
    """``name`` as SQL: as it is if a plain lower-case identifier, not reserved, else quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in _KEYWORDS:
        return name
    return _quote(name)


def _lasair_table(name: str, known: Collection[str]) -> tuple[Source, str | None]:
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
            # As Lasair: annotations AS topic. Validated above, so the topic can be
            # written as a literal (it holds no quote).
            source = Source("annotations", value.lower())
            return source, f"lower({source.reference}.topic) = '{value.lower()}'"
        if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
            raise QueryError(
                f"table {name!r}: {kind}:N needs a positive whole number N (the {kind}'s "
                f"id), got {value!r}; tables accepted: " + _accepted(known)
            )
        if kind == "watchlist":
            return Source("watchlist_hits"), f"watchlist_hits.wl_id = {int(value)}"
        return Source("area_hits"), f"area_hits.ar_id = {int(value)}"
    lowered = name.lower()
    if _TABLE_NAME.fullmatch(name) and lowered in known:
        return Source(lowered), None
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
        The FROM items in order, each once (``objects`` first when implied; an annotator
        as ``annotations AS topic``), and the conditions that join them on ``objectid``
        and select the watchlist, watchmap or annotation topic.

    Raises
    ------
    QueryError
        For an empty list, an unknown name, a malformed ``watchlist:N``... or a table
        (or topic) given twice; the message lists what is accepted.
    """
    sources, conditions = _sources(tables, known)
    return [source.sql for source in sources], conditions


def _sources(tables: str, known: Collection[str]) -> tuple[list[Source], list[str]]:
    """:func:`resolve_tables` with the tables as :class:`Source`."""
    names = [name.strip() for name in tables.split(",")]
    if not tables.strip() or not all(names):
        raise QueryError(
            "tables must be a comma-separated list of tables, e.g. 'objects, watchlist:42'; "
            "tables accepted: " + _accepted(known)
        )
    chosen: list[Source] = []
    conditions: list[str] = []
    for name in names:
        source, condition = _lasair_table(name, known)
        _check_unique(source, chosen, tables)
        chosen.append(source)
        if condition is not None:
            conditions.append(condition)
    tables_chosen = {source.table for source in chosen}
    if "objects" not in tables_chosen and IMPLYING_OBJECTS & tables_chosen and "objects" in known:
        _check_unique(Source("objects"), chosen, tables)
        chosen.insert(0, Source("objects"))
    anchor = next((s for s in chosen if s.name == "objects"), chosen[0])
    joins = [
        f"{anchor.reference}.objectid = {source.reference}.objectid"
        for source in chosen
        if source != anchor
    ]
    return chosen, joins + conditions


def _check_unique(source: Source, chosen: list[Source], tables: str) -> None:
    clash = next((other for other in chosen if other.name == source.name), None)
    if clash is None:
        return
    if source.alias is None and clash.alias is None:
        raise QueryError(
            f"table {source.table} is given twice in tables ({tables!r}): give each table once "
            f"(one of {LASAIR_FORMS} each)"
        )
    raise QueryError(
        f"annotator:{source.name if source.alias else clash.name} is given twice or names "
        f"a table also listed ({tables!r}): an annotator's annotations are named by its "
        "topic (annotations AS topic), so give each topic once and no table of that name"
    )


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


def _check_tree(sql: str, sources: list[Source]) -> None:
    """Refuse ``sql`` unless it is one plain SELECT reading exactly ``sources``."""
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
    from_items = [
        (
            item.get("RangeVar", {}).get("relname"),
            item.get("RangeVar", {}).get("alias", {}).get("aliasname"),
        )
        for item in select.get("fromClause", [])
    ]
    if (
        not select
        or problems
        or subqueries
        or from_items != [(source.table, source.alias) for source in sources]
        or len(relations) != len(sources)
        or any("schemaname" in relation for relation in relations)
    ):
        raise QueryError(
            "a Lasair query is one SELECT of the selected columns from the tables listed, "
            "with the conditions: no subqueries, set operations or other tables; "
            "use archive.sql(...) for free SQL"
        )


def _annotations_qualifier(text: str, part: str, sources: list[Source]) -> str:
    """``text`` with ``annotations.x`` as ``topic.x`` when one annotator is the annotations.

    PostgreSQL refers to an aliased table by its alias only. With one ``annotator:TOPIC``
    and no plain ``annotations`` in the tables, ``annotations.x`` is taken as
    ``topic.x``; with several, it is refused (which topic?).
    """
    annotators = [s for s in sources if s.table == "annotations" and s.alias is not None]
    if not annotators or any(s.name == "annotations" for s in sources):
        return text
    tokens = _tokens(text, part)
    edits: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens[:-1]):
        if (
            token.text.lower() in {"annotations", '"annotations"'}
            and tokens[index + 1].name == "ASCII_46"
            and (index == 0 or tokens[index - 1].name != "ASCII_46")
        ):
            if len(annotators) > 1:
                raise QueryError(
                    f"annotations.{tokens[index + 2].text if index + 2 < len(tokens) else ''} "
                    f"in {part}: with several annotators, name each one's columns by its "
                    f"topic, e.g. {annotators[0].reference}.classification"
                )
            edits.append((token.start, token.end, annotators[0].reference))
    return _apply(text, edits)


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
    sources, joins = _sources(tables, known)
    mysql = dialect == "mysql"
    if mysql:
        selected = translate_mysql(selected, "selected")
        conditions = translate_mysql(conditions, "conditions")
    _check_selected(selected)
    selected = _annotations_qualifier(selected, "selected", sources)
    conditions = _annotations_qualifier(conditions, "conditions", sources)
    where, clauses, limit = split_conditions(conditions)
    named, outputs, items = _select_items(selected.strip())
    clauses = _output_names_in_clauses(clauses, outputs, mysql=mysql)
    if mysql:
        try:
            clauses = _group_by_selected(clauses, items, sources)
        except RecursionError as error:
            raise QueryError("the query is nested too deeply to be read; simplify it") from error
    parts = [f"({clause})" for clause in [*joins, where] if clause]
    # User text by design, as in Lasair: checked above, run read-only by Archive.sql.
    sql = f"SELECT {named} FROM {', '.join(source.sql for source in sources)}"
    if parts:
        sql += " WHERE " + " AND ".join(parts)
    for tail in (clauses, limit):
        if tail:
            sql += " " + tail
    _check_tree(sql, sources)
    return sql
