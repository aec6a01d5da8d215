"""MySQL's JSON and time functions that Lasair-ZTF queries use, as SQL functions

Revision ID: 0010
Revises: 0009

Lasair-ZTF's annotator queries read ``classdict`` with MySQL's JSON functions, and its
notebooks turn Julian dates into times with MySQL's ``TO_SECONDS``. These make that text
run unchanged (:mod:`lasair_nb.archive.lasair_query` translates the rest):

* ``mysql_json_path(path)``: a MySQL JSON path (``$``, ``$.a.b``, ``$."a.b".c``,
  ``$.a[0]``; a key unquoted may hold any character but ``.``, ``[``, ``]``, ``"``, ``*``
  and spaces, so ``$.lsst-r.peak`` works as Lasair users write it) as the ``text[]``
  PostgreSQL's ``#>`` takes. Wildcards (``*``, ``**``) and ranges are refused (22023).
* ``json_extract(doc, path)``: MySQL's ``JSON_EXTRACT(doc, path)`` of a ``jsonb``, a
  ``jsonb`` (NULL where the path leads nowhere).
* ``json_unquote(value)``: MySQL's ``JSON_UNQUOTE``: a JSON string as its text, any other
  value as its JSON text (a JSON ``null`` gives SQL NULL, where MySQL gives ``'null'``).
* ``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=`` between ``jsonb`` and ``double precision``
  (either side): a JSON number compares as the number, as in MySQL; any other JSON value
  compares as NULL (so it is never selected). PostgreSQL has no such operators, so none
  of its own changes meaning; ``jsonb = 'text'`` stays PostgreSQL's (``jsonb = jsonb``).
* ``to_seconds(time)``: MySQL's ``TO_SECONDS``, whole seconds since year 0
  (``to_seconds('1970-01-01 00:00:00') = 62167219200``) of a ``text``, ``date`` or
  ``timestamp`` (naive, as MySQL's datetimes) or of a ``timestamp with time zone``
  (counted in UTC, so ``to_seconds(utc_timestamp()) = to_seconds(current_timestamp)``).
* ``utc_timestamp()``: MySQL's ``UTC_TIMESTAMP()``, the UTC time (naive) the
  transaction started.

With these, Lasair's ``FROM_UNIXTIME((jd - 1721059.5) * 86400 - TO_SECONDS('1970-01-01
00:00:00') + TO_SECONDS(UTC_TIMESTAMP()) - TO_SECONDS(CURRENT_TIMESTAMP()))`` is the
time of the Julian date ``jd`` (``from_unixtime`` of 0009 gives a time with zone).

Every function is in ``public``, with ``search_path`` fixed, executable by
``lasair_reader`` and ``lasair_user`` (not PUBLIC), as in migration 0009.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

READERS = "lasair_reader, lasair_user"
FIXED = "SET search_path = pg_catalog, pg_temp"
YEAR_0 = 62167219200
"""MySQL's ``TO_SECONDS('1970-01-01 00:00:00')``: seconds from year 0 to the unix epoch."""

_PATH_BODY = r"""
DECLARE
    rest text := btrim(path);
    keys text[] := '{}';
    found text[];
BEGIN
    IF left(rest, 1) <> '$' THEN
        RAISE EXCEPTION 'JSON path % must start with $', quote_literal(path)
            USING ERRCODE = '22023',
                  HINT = 'write $.key.key, $."key.with.dots" or $.key[0]';
    END IF;
    rest := ltrim(substr(rest, 2));
    WHILE rest <> '' LOOP
        found := CASE
            WHEN rest ~ '^\.\s*"' THEN regexp_match(rest, '^\.\s*"([^"]*)"\s*(.*)$')
            WHEN rest ~ '^\[' THEN regexp_match(rest, '^\[\s*([0-9]+)\s*\]\s*(.*)$')
            WHEN rest ~ '^\.' THEN regexp_match(rest, '^\.\s*([^.\[\]"*[:space:]]+)\s*(.*)$')
        END;
        IF found IS NULL THEN
            RAISE EXCEPTION 'cannot read the JSON path % at %',
                quote_literal(path), quote_literal(rest)
                USING ERRCODE = '22023',
                      HINT = 'write $.key.key, $."key.with.dots" or $.key[0] (no wildcards)';
        END IF;
        keys := keys || found[1];
        rest := found[2];
    END LOOP;
    RETURN keys;
END
"""

FUNCTIONS = {
    "mysql_json_path(path text)": (
        "text[]",
        "plpgsql",
        f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
        _PATH_BODY,
        'A MySQL JSON path ($.a.b, $."a.b", $.a[0]) as the keys jsonb #> takes',
    ),
    "json_extract(jsonb, text)": (
        "jsonb",
        "sql",
        f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
        "SELECT $1 #> public.mysql_json_path($2)",
        "The value at a MySQL JSON path (MySQL's JSON_EXTRACT(doc, path)), NULL if none",
    ),
    "json_unquote(jsonb)": (
        "text",
        "sql",
        f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
        "SELECT $1 #>> '{}'",
        "A JSON string as its text, another JSON value as its JSON text (MySQL's JSON_UNQUOTE)",
    ),
    "to_seconds(text)": (
        "bigint",
        "sql",
        # Reading a time from text depends on DateStyle: STABLE.
        f"STABLE STRICT PARALLEL SAFE {FIXED}",
        f"SELECT floor(extract(epoch FROM $1::timestamp))::bigint + {YEAR_0}",
        "Whole seconds since year 0 of a time written as text (MySQL's TO_SECONDS)",
    ),
    "to_seconds(date)": (
        "bigint",
        "sql",
        f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
        f"SELECT floor(extract(epoch FROM $1::timestamp))::bigint + {YEAR_0}",
        "Seconds since year 0 of a date's midnight (MySQL's TO_SECONDS)",
    ),
    "to_seconds(timestamp without time zone)": (
        "bigint",
        "sql",
        f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
        f"SELECT floor(extract(epoch FROM $1))::bigint + {YEAR_0}",
        "Whole seconds since year 0 of a naive time (MySQL's TO_SECONDS)",
    ),
    "to_seconds(timestamp with time zone)": (
        "bigint",
        "sql",
        f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
        f"SELECT floor(extract(epoch FROM $1))::bigint + {YEAR_0}",
        "Whole seconds since year 0 UTC of a time (MySQL's TO_SECONDS, counted in UTC)",
    ),
    "utc_timestamp()": (
        "timestamp without time zone",
        "sql",
        f"STABLE PARALLEL SAFE {FIXED}",
        "SELECT now() AT TIME ZONE 'UTC'",
        "The UTC time the transaction started, naive (MySQL's UTC_TIMESTAMP())",
    ),
}
"""Signature: (return type, language, attributes, body, comment)."""

_NUMBER = "CASE WHEN jsonb_typeof({j}) = 'number' THEN ({j})::double precision END"
COMPARISONS = {"=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
for _operator, _suffix in COMPARISONS.items():
    for _signature, _expression in (
        (
            f"jsonb_{_suffix}_double(jsonb, double precision)",
            f"{_NUMBER.format(j='$1')} {_operator} $2",
        ),
        (
            f"double_{_suffix}_jsonb(double precision, jsonb)",
            f"$1 {_operator} {_NUMBER.format(j='$2')}",
        ),
    ):
        FUNCTIONS[_signature] = (
            "boolean",
            "sql",
            f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
            f"SELECT {_expression}",
            f"A JSON number {_operator} a double, NULL for other JSON values (as MySQL compares)",
        )

OPERATORS = [
    (operator, left, right, f"{prefix}_{suffix}_{postfix}")
    for operator, suffix in COMPARISONS.items()
    for left, right, prefix, postfix in (
        ("jsonb", "double precision", "jsonb", "double"),
        ("double precision", "jsonb", "double", "jsonb"),
    )
]
"""(operator, left type, right type, function) of the JSON number comparisons."""


def upgrade() -> None:
    for signature, (returns, language, attributes, body, comment) in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION public.{signature} RETURNS {returns}"
            f" LANGUAGE {language} {attributes} AS $$ {body} $$"
        )
        quoted = comment.replace("'", "''")
        op.execute(f"COMMENT ON FUNCTION public.{signature} IS '{quoted}'")
        op.execute(f"REVOKE ALL ON FUNCTION public.{signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION public.{signature} TO {READERS}")
    for operator, left, right, function in OPERATORS:
        op.execute(
            f"CREATE OPERATOR public.{operator} (LEFTARG = {left}, RIGHTARG = {right},"
            f" FUNCTION = public.{function})"
        )


def downgrade() -> None:
    for operator, left, right, _function in reversed(OPERATORS):
        op.execute(f"DROP OPERATOR public.{operator} ({left}, {right})")
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION public.{signature}")
