"""MySQL's functions that Lasair-ZTF queries use, as SQL functions of the archive

Revision ID: 0009
Revises: 0008

Lasair-ZTF's filters run on MySQL and call functions PostgreSQL lacks; these make them
work unchanged (:mod:`lasair_nb.archive.lasair_query` translates the rest of the text):

* ``jdnow()``: the Julian date now, ``2440587.5 + unix seconds / 86400``; ``mjdnow()``:
  the modified Julian date now (``jdnow() - 2400000.5``). STABLE: the time the
  transaction started, as ``now()``.
* ``from_unixtime(seconds)``: the time of unix seconds (``to_timestamp``);
  ``unix_timestamp()``: unix seconds now, ``unix_timestamp(time)``: of a time.
* ``if(condition, a, b)``: MySQL's ``IF``. ``if`` is only an unreserved keyword in
  PostgreSQL, so ``IF(...)`` parses as a call. A plain SQL function (no SET, one
  ``CASE``) is inlined by the planner, so ``b`` is not evaluated where the condition
  holds, as in MySQL: ``IF(x > 0, log10(x), NULL)`` does not fail for ``x <= 0``.
* ``round(x, digits)`` of a double precision ``x`` (PostgreSQL rounds only numeric to
  digits); it returns double precision, as MySQL does.

``NOW()``, ``pow``, ``power``, ``log10``, ``sqrt``, ``abs``... are PostgreSQL's own.
Every function is in ``public``, with ``search_path`` fixed (or no name to look up),
executable by ``lasair_reader`` and ``lasair_user`` (not PUBLIC). Migration 0005
revokes only functions of ``pg_catalog`` that publish session state, none of these.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

READERS = "lasair_reader, lasair_user"
FIXED = "SET search_path = pg_catalog, pg_temp"

FUNCTIONS = {
    "jdnow()": (
        "double precision",
        f"STABLE PARALLEL SAFE {FIXED}",
        "SELECT 2440587.5 + extract(epoch FROM now())::double precision / 86400.0",
        "The Julian date now (the transaction's start), as in Lasair-ZTF's MySQL",
    ),
    "mjdnow()": (
        "double precision",
        f"STABLE PARALLEL SAFE {FIXED}",
        "SELECT 40587.0 + extract(epoch FROM now())::double precision / 86400.0",
        "The modified Julian date now (the transaction's start), as in Lasair-ZTF's MySQL",
    ),
    "from_unixtime(double precision)": (
        "timestamp with time zone",
        f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
        "SELECT to_timestamp($1)",
        "The time of a number of unix seconds (MySQL's FROM_UNIXTIME)",
    ),
    "unix_timestamp()": (
        "double precision",
        f"STABLE PARALLEL SAFE {FIXED}",
        "SELECT extract(epoch FROM now())::double precision",
        "Unix seconds now, the transaction's start (MySQL's UNIX_TIMESTAMP)",
    ),
    "unix_timestamp(timestamp with time zone)": (
        "double precision",
        f"STABLE STRICT PARALLEL SAFE {FIXED}",
        "SELECT extract(epoch FROM $1)::double precision",
        "Unix seconds of a time (MySQL's UNIX_TIMESTAMP(time))",
    ),
    '"if"(boolean, anycompatible, anycompatible)': (
        "anycompatible",
        # No SET and nothing to look up (one CASE): inlined, so lazy as MySQL's IF.
        "IMMUTABLE PARALLEL SAFE",
        "SELECT CASE WHEN $1 THEN $2 ELSE $3 END",
        "MySQL's IF(condition, a, b): a where the condition holds, else b (also for NULL)",
    ),
    "round(double precision, integer)": (
        "double precision",
        f"IMMUTABLE STRICT PARALLEL SAFE {FIXED}",
        "SELECT round($1::numeric, $2)::double precision",
        "A double rounded to digits after the point (MySQL's ROUND(x, d) of a double)",
    ),
}
"""Signature: (return type, attributes, body, comment)."""


def upgrade() -> None:
    for signature, (returns, attributes, body, comment) in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION public.{signature} RETURNS {returns}"
            f" LANGUAGE sql {attributes} AS $$ {body} $$"
        )
        quoted = comment.replace("'", "''")
        op.execute(f"COMMENT ON FUNCTION public.{signature} IS '{quoted}'")
        op.execute(f"REVOKE ALL ON FUNCTION public.{signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION public.{signature} TO {READERS}")


def downgrade() -> None:
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION public.{signature}")
