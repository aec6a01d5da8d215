"""Lasair's query builder on PostgreSQL: text in, one SELECT out; then against the archive.

The first part is pure (each SELECT parsed with pglast); the second runs Lasair-ZTF
queries (MySQL text, ``watchlist:N``, ``JDNOW()``...) on a seeded archive through
:meth:`Archive.query` and ``lasair_client.query``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa
from pglast.parser import parse_sql_json

import lasair_nb as ln
from lasair_nb import lasair
from lasair_nb.archive.lasair_query import (
    build_query,
    named_select,
    resolve_tables,
    split_conditions,
    translate_mysql,
)
from lasair_nb.errors import LasairError, QueryError

SUPERNOVA = "ZTF21abiuvdk"
KNOWN = {
    "objects",
    "candidates",
    "sherlock_classifications",
    "crossmatch_tns",
    "watchlist_hits",
    "area_hits",
    "annotations",
    "tags",
}


def _function_rights(connection: sa.Connection, signature: str) -> tuple[bool, bool, bool]:
    """(reader may execute, user may execute, PUBLIC may execute) for a function."""
    return tuple(
        connection.execute(
            sa.text(
                "SELECT has_function_privilege('lasair_reader', CAST(:f AS regprocedure), 'EXECUTE'),"
                " has_function_privilege('lasair_user', CAST(:f AS regprocedure), 'EXECUTE'),"
                " EXISTS (SELECT FROM pg_proc p, aclexplode(p.proacl) a"
                "         WHERE p.oid = CAST(:f AS regprocedure) AND a.grantee = 0)"
            ),
            {"f": signature},
        ).one()
    )


def select_of(sql: str) -> dict:
    """The parse tree of one SELECT (fails the test unless ``sql`` is exactly that)."""
    statements = json.loads(parse_sql_json(sql))["stmts"]
    assert len(statements) == 1
    return statements[0]["stmt"]["SelectStmt"]


def build(selected: str, tables: str, conditions: str = "", dialect: str = "mysql") -> str:
    sql = build_query(selected, tables, conditions, KNOWN, dialect=dialect)
    select_of(sql)
    return sql


# --- MySQL → PostgreSQL, token by token ---------------------------------------------------


@pytest.mark.parametrize(
    ("mysql", "postgresql"),
    [
        ('classification = "SN"', "classification = 'SN'"),
        ('name = "it\'s ""x"""', "name = 'it''s \"x\"'"),
        ("`objectId` = 'a'", "objectId = 'a'"),
        ("x=`ncand`", "x=ncand"),
        ("`ncand`>3", "ncand>3"),
        ("`order` > 1", '"order" > 1'),
        ("a > 1 && b < 2", "a > 1 AND b < 2"),
        ("a <=> b", "a IS NOT DISTINCT FROM b"),
        ("a != b", "a != b"),
        ("name LIKE 'sn%'", "name ILIKE 'sn%'"),
        ("name NOT LIKE 'sn%'", "name NOT ILIKE 'sn%'"),
        ("name REGEXP '^ZTF'", "name ~* '^ZTF'"),
        ("name NOT RLIKE '^ZTF'", "name  !~* '^ZTF'"),
        ("jd > CURRENT_TIMESTAMP()", "jd > CURRENT_TIMESTAMP"),
        ("d = current_date ( )", "d = current_date "),
        ("IFNULL(a, 0) > 1", "coalesce(a, 0) > 1"),
        ("LOG(x) > 1", "ln(x) > 1"),
        ("LOG(10, x) > 1", "LOG(10, x) > 1"),
        ("log(greatest(x, 1)) > 1", "ln(greatest(x, 1)) > 1"),
        ("IF(a > 1, 'x', \"y\")", "IF(a > 1, 'x', 'y')"),
        ("jdmax > JDNOW() - 14", "jdmax > JDNOW() - 14"),
        ("'a -- b' = c", "'a -- b' = c"),  # inside a string: no comment, no change
        ("'a`b' = \"c`d\"", "'a`b' = 'c`d'"),
        ('nom = "Éric" AND `ncand` > 1', "nom = 'Éric' AND ncand > 1"),  # offsets in characters
    ],
)
def test_mysql_forms_are_translated(mysql: str, postgresql: str) -> None:
    translated = translate_mysql(mysql, "conditions")
    assert translated == postgresql
    select_of(f"SELECT * FROM objects WHERE {translated}")  # parsed only


@pytest.mark.parametrize(
    ("mysql", "message"),
    [
        ("a || b", r"\|\| is not accepted .* write OR, or concat"),
        ("a # comment", "# starts a comment in MySQL"),
        (r"name = 'a\'b'", "backslashes are not accepted"),
        ("`two words` = 1", "backtick"),
        ("`a", "backtick"),
        ("x = 'unterminated", "cannot read conditions"),
    ],
)
def test_mysql_forms_refused_say_what_to_write(mysql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        translate_mysql(mysql, "conditions")


def test_postgresql_dialect_is_left_as_written() -> None:
    sql = build('"objectId", ncand', "objects", "name LIKE 'x' AND \"ncand\" > 1", "postgresql")
    assert "LIKE 'x'" in sql and '"ncand" > 1' in sql and "ILIKE" not in sql


# --- output names ----------------------------------------------------------------------------


def test_output_names_as_written() -> None:
    assert named_select("objectId, objects.ncand, ncand AS nCand, *") == (
        'objectId AS "objectId", objects.ncand AS "ncand", ncand AS "nCand", *'
    )
    assert named_select("objects.*") == "objects.*"
    assert named_select("'é' AS Nom, objectId") == '\'é\' AS "Nom", objectId AS "objectId"'
    assert named_select("count(*) AS N") == 'count(*) AS "N"'
    # MySQL quotes an alias either way; PostgreSQL with double quotes.
    assert build("count(*) AS \"N\", ncand AS 'it''s'", "objects").startswith(
        'SELECT count(*) AS "N", ncand AS "it\'s" FROM'
    )
    sql = build("`objectId`, objects.*", "objects")
    assert sql.startswith('SELECT objectId AS "objectId", objects.* FROM objects')


def test_alias_without_as_and_round_of_an_expression() -> None:
    sql = build("IF(ncand > 3, 'up', '') rising, ROUND(jdmax - jdmin, 2) AS days", "objects")
    assert sql.startswith(
        "SELECT IF(ncand > 3, 'up', '') \"rising\", ROUND(jdmax - jdmin, 2) AS \"days\" FROM"
    )


@pytest.mark.parametrize(
    ("mysql", "postgresql"),
    [
        # JSON: MySQL paths go to the archive's json_extract (migration 0010) as written.
        (
            "JSON_EXTRACT(ff.classdict, '$.lsst-r.peak') < -19",
            "JSON_EXTRACT(ff.classdict, '$.lsst-r.peak') < -19",
        ),
        # A string compared to a JSON value is a JSON string, as MySQL compares them.
        (
            'JSON_EXTRACT(ff.classdict, "$.a") = "SN"',
            "JSON_EXTRACT(ff.classdict, '$.a') = to_jsonb(CAST('SN' AS text))",
        ),
        (
            "'SN' <> json_extract(classdict, '$.a')",
            "to_jsonb(CAST('SN' AS text)) <> json_extract(classdict, '$.a')",
        ),
        (
            "JSON_UNQUOTE(JSON_EXTRACT(d, '$.a')) = 'SN'",
            "JSON_UNQUOTE(JSON_EXTRACT(d, '$.a')) = 'SN'",
        ),
        # MySQL's column->path and column->>path.
        ("ff.classdict->'$.a.b' > 3", "json_extract(ff.classdict, '$.a.b') > 3"),
        ("`classdict`->>\"$.c\" = 'x'", "json_unquote(json_extract(classdict, '$.c')) = 'x'"),
        ("d->'$.c' = 'x'", "json_extract(d, '$.c') = to_jsonb(CAST('x' AS text))"),
        ("'x' = d->'$.c'", "to_jsonb(CAST('x' AS text)) = json_extract(d, '$.c')"),
        ("d->'k' = '1'", "d->'k' = '1'"),  # not a MySQL path: PostgreSQL's own ->
        # Time.
        (
            "TO_SECONDS(UTC_TIMESTAMP()) - TO_SECONDS(CURRENT_TIMESTAMP())",
            "TO_SECONDS(UTC_TIMESTAMP()) - TO_SECONDS(CURRENT_TIMESTAMP)",
        ),
        ("TO_SECONDS(UTC_TIMESTAMP) > 0", "TO_SECONDS(UTC_TIMESTAMP()) > 0"),
        ("t.utc_timestamp > 0", "t.utc_timestamp > 0"),  # a column of that name
    ],
)
def test_mysql_json_and_time_forms(mysql: str, postgresql: str) -> None:
    translated = translate_mysql(mysql, "conditions")
    assert translated == postgresql
    select_of(f"SELECT * FROM objects WHERE {translated}")


@pytest.mark.parametrize(
    ("mysql", "message"),
    [
        ("JSON_EXTRACT(d, '$.a', '$.b') > 1", "JSON_EXTRACT in conditions is accepted with one"),
        ("JSON_EXTRACT(d) > 1", "JSON_EXTRACT in conditions is accepted with one"),
        ("'{}'->'$.a' = 1", r"-> in conditions is accepted after a column"),
    ],
)
def test_mysql_json_forms_refused(mysql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        translate_mysql(mysql, "conditions")


# --- output names in GROUP BY, HAVING and ORDER BY -----------------------------------------------


def test_order_by_output_name_in_any_case() -> None:
    """MySQL finds ORDER BY names among the output names first, whatever their case."""
    sql = build(
        "objects.objectId",
        "objects,sherlock_classifications",
        "objects.ncand >= 3 ORDER BY objectId DESC",
    )
    assert sql.endswith('ORDER BY "objectId" DESC')
    sql = build(
        "objects.objectId, IF(objects.ncand > 3, 'a', '') score",
        "objects,sherlock_classifications",
        "ORDER BY score, objectId DESC, objects.objectId, lower(objectid), 'objectId' LIMIT 3",
    )
    # Whole items become the output names; qualified names and strings stay; inside an
    # expression (MySQL allows an alias there) the output's expression.
    assert sql.endswith(
        'ORDER BY "score", "objectId" DESC, objects.objectId, lower((objects.objectId)), '
        "'objectId' LIMIT 3"
    )
    # The native dialect: whole items only (PostgreSQL's own rule, with the names as written).
    sql = build(
        "objectId, ncand AS nCand",
        "objects, candidates",
        "ORDER BY objectid, ncand + 1",
        "postgresql",
    )
    assert sql.endswith('ORDER BY "objectId", ncand + 1')


def test_having_and_group_by_output_names() -> None:
    sql = build(
        "objects.objectId, objects.ncandgp_14 as N_obs_14_day, count(*) AS n",
        "objects, sherlock_classifications",
        "objects.ncand > 1 GROUP BY objectId HAVING N_obs_14_day > 1 AND n >= 1 "
        "AND n_obs_14_day(1) AND x.n > 0 AND n::int > 0 ORDER BY N DESC",
    )
    assert sql.endswith(
        # objects.ncandgp_14 is neither grouped nor aggregated: grouped by too.
        'GROUP BY "objectId", objects.ncandgp_14 HAVING (objects.ncandgp_14) > 1 '
        "AND (count(*)) >= 1 "
        'AND n_obs_14_day(1) AND x.n > 0 AND (count(*))::int > 0 ORDER BY "n" DESC'
    )
    # Not in PostgreSQL's text: HAVING sees no output names there.
    sql = build("count(*) AS n", "objects", "HAVING n > 1", "postgresql")
    assert sql.endswith("HAVING n > 1")


LASAIR_GROUPED = (
    "objects.objectId, crossmatch_tns.tns_name, crossmatch_tns.type, "
    "ROUND(objects.maggmean - objects.magrmean, 2) AS g_minus_r_mean, "
    "objects.ncandgp_14 as N_obs_14_day, sherlock_classifications.classification, "
    "count(*) AS n_rows, 'ZTF' AS survey"
)
"""A real Lasair-ZTF notebook's selection, with GROUP BY objects.objectId."""


def test_group_by_gets_the_selected_expressions_not_aggregated() -> None:
    """MySQL picks any value of the group; PostgreSQL needs them grouped (or dependent)."""
    sql = build(
        LASAIR_GROUPED,
        "objects, sherlock_classifications, crossmatch_tns",
        "objects.ncand > 1 group by objects.objectId HAVING N_obs_14_day > 1 "
        "ORDER BY g_minus_r_mean DESC LIMIT 10",
    )
    # Grouped already, aggregated or constant: left out; HAVING and ORDER BY as before.
    assert sql.endswith(
        "group by objects.objectId, crossmatch_tns.tns_name, crossmatch_tns.type, "
        "ROUND(objects.maggmean - objects.magrmean, 2), objects.ncandgp_14, "
        "sherlock_classifications.classification HAVING (objects.ncandgp_14) > 1 "
        'ORDER BY "g_minus_r_mean" DESC LIMIT 10'
    )
    # The native dialect keeps PostgreSQL's rule: as written.
    sql = build(
        LASAIR_GROUPED,
        "objects, sherlock_classifications, crossmatch_tns",
        "GROUP BY objects.objectId HAVING count(*) > 1",
        "postgresql",
    )
    assert sql.endswith("GROUP BY objects.objectId HAVING count(*) > 1")
    # No GROUP BY: nothing added.
    assert build(LASAIR_GROUPED, "objects, crossmatch_tns", "ORDER BY n_rows").endswith(
        'ORDER BY "n_rows"'
    )


@pytest.mark.parametrize(
    ("selected", "conditions", "group_by"),
    [
        # Output names, input names, positions and expressions grouped already.
        (
            "objectId, crossmatch_tns.type",
            "GROUP BY objectId",
            'GROUP BY "objectId", crossmatch_tns.type',
        ),
        ("objects.objectId AS o, crossmatch_tns.type AS t", "GROUP BY O, 2", 'GROUP BY "o", 2'),
        (
            "crossmatch_tns.type, count(*)",
            "GROUP BY crossmatch_tns.TYPE",
            "GROUP BY crossmatch_tns.TYPE",
        ),
        (
            "lower(crossmatch_tns.type) AS t",
            "GROUP BY LOWER(crossmatch_tns.type)",
            "GROUP BY LOWER(crossmatch_tns.type)",
        ),
        # Each expression once; MySQL's forms as translated; a keyword column quoted as written.
        (
            "crossmatch_tns.type, crossmatch_tns.type AS again, IFNULL(crossmatch_tns.z, 0) z0",
            "GROUP BY objects.objectId",
            "GROUP BY objects.objectId, crossmatch_tns.type, coalesce(crossmatch_tns.z, 0)",
        ),
        # Beside an aggregate, its columns outside aggregates; in an aggregate, nothing.
        (
            "max(objects.jdmax) - crossmatch_tns.z AS age, sum(crossmatch_tns.separation) AS s",
            "GROUP BY objects.objectId",
            "GROUP BY objects.objectId, crossmatch_tns.z",
        ),
        # Aggregate calls by their marks and window functions: left as written.
        (
            "count(DISTINCT crossmatch_tns.type) AS k, string_agg(crossmatch_tns.type, ',') AS ts, "
            "stddev_samp(objects.ncand) AS s, row_number() OVER (ORDER BY objects.objectId) AS r",
            "GROUP BY objects.objectId",
            "GROUP BY objects.objectId",
        ),
        # Constants and functions of no column need no grouping (GROUP BY 1 is a position).
        (
            "objects.objectId, 1 AS one, JDNOW() AS now, 'x'",
            "GROUP BY objects.objectId",
            "GROUP BY objects.objectId",
        ),
        # Before HAVING and ORDER BY; a GROUP BY inside parentheses is no GROUP BY.
        (
            "crossmatch_tns.type AS t, count(*) AS n",
            "objects.ncand > 1 GROUP BY objects.objectId HAVING n > 1 ORDER BY t",
            'GROUP BY objects.objectId, crossmatch_tns.type HAVING (count(*)) > 1 ORDER BY "t"',
        ),
        (
            "crossmatch_tns.type",
            "GROUP BY objects.objectId ORDER BY crossmatch_tns.type",
            "GROUP BY objects.objectId, crossmatch_tns.type ORDER BY crossmatch_tns.type",
        ),
        # objects' own columns and objects.*: grouped too, or left to PostgreSQL's rule.
        (
            "objects.*, objects.ncand",
            "GROUP BY objects.objectId",
            "GROUP BY objects.objectId, objects.ncand",
        ),
        ("*", "GROUP BY objectId", "GROUP BY objectId"),
        # ROLLUP, CUBE, GROUPING SETS: PostgreSQL's own, as written.
        (
            "crossmatch_tns.type",
            "GROUP BY ROLLUP (objects.objectId)",
            "GROUP BY ROLLUP (objects.objectId)",
        ),
    ],
)
def test_group_by_additions(selected: str, conditions: str, group_by: str) -> None:
    tables = "objects" if selected == "*" else "objects, crossmatch_tns"
    sql = build(selected, tables, conditions)
    assert sql.endswith(group_by), sql
    assert sql.count("GROUP BY") == 1


@pytest.mark.parametrize(
    ("selected", "tables"),
    [
        ("*", "objects, crossmatch_tns"),
        ("objects.objectId, crossmatch_tns.*", "objects, crossmatch_tns"),
        ("*", "crossmatch_tns"),  # objects implied
    ],
)
def test_star_with_group_by_of_other_tables_is_refused(selected: str, tables: str) -> None:
    with pytest.raises(QueryError, match=r"with GROUP BY is not accepted .* name the columns"):
        build(selected, tables, "GROUP BY objects.objectId")
    build(selected, tables, "")  # without GROUP BY: as before
    build(selected, tables, "GROUP BY objects.objectId", "postgresql")  # PostgreSQL's rule


# --- tables ----------------------------------------------------------------------------------


def test_lasair_table_forms() -> None:
    tables, conditions = resolve_tables(
        "objects, watchlist:42, Area : 7, annotator:Fast_Finder, crossmatch_tns", KNOWN
    )
    assert tables == [
        "objects",
        "watchlist_hits",
        "area_hits",
        "annotations AS fast_finder",  # as Lasair: the annotations named by their topic
        "crossmatch_tns",
    ]
    assert conditions == [
        "objects.objectid = watchlist_hits.objectid",
        "objects.objectid = area_hits.objectid",
        "objects.objectid = fast_finder.objectid",
        "objects.objectid = crossmatch_tns.objectid",
        "watchlist_hits.wl_id = 42",
        "area_hits.ar_id = 7",
        "lower(fast_finder.topic) = 'fast_finder'",
    ]
    # A topic that is no plain name (or is a keyword) is quoted; each annotator has its alias.
    assert resolve_tables("watchlists:3, annotators:a.b-c, annotator:Order", KNOWN) == (
        ["objects", "watchlist_hits", 'annotations AS "a.b-c"', 'annotations AS "order"'],
        [
            "objects.objectid = watchlist_hits.objectid",
            'objects.objectid = "a.b-c".objectid',
            'objects.objectid = "order".objectid',
            "watchlist_hits.wl_id = 3",
            "lower(\"a.b-c\".topic) = 'a.b-c'",
            "lower(\"order\".topic) = 'order'",
        ],
    )
    # objects is implied by Lasair's tables, as in Lasair; other tables join to the first.
    assert resolve_tables("sherlock_classifications", KNOWN) == (
        ["objects", "sherlock_classifications"],
        ["objects.objectid = sherlock_classifications.objectid"],
    )
    assert resolve_tables("candidates, tags", KNOWN) == (
        ["candidates", "tags"],
        ["candidates.objectid = tags.objectid"],
    )
    assert resolve_tables("CANDIDATES, Objects", KNOWN)[1] == [
        "objects.objectid = candidates.objectid"
    ]


def test_query_with_a_watchlist_as_lasair_writes_it() -> None:
    sql = build(
        "objects.objectId, watchlist_hits.name, watchlist_hits.arcsec",
        "objects, watchlist:42",
        "objects.objectId = watchlist_hits.objectId AND watchlist_hits.wl_id = 42 "
        "AND objects.jdmax > JDNOW() - 14 ORDER BY objects.jdmax DESC",
    )
    assert sql == (
        'SELECT objects.objectId AS "objectId", watchlist_hits.name AS "name", '
        'watchlist_hits.arcsec AS "arcsec" FROM objects, watchlist_hits '
        "WHERE (objects.objectid = watchlist_hits.objectid) AND (watchlist_hits.wl_id = 42) "
        "AND (objects.objectId = watchlist_hits.objectId AND watchlist_hits.wl_id = 42 "
        "AND objects.jdmax > JDNOW() - 14) ORDER BY objects.jdmax DESC"
    )


def test_annotator_is_named_by_its_topic() -> None:
    """As Lasair: annotator:TOPIC is ``annotations AS topic``, so topic.x works."""
    sql = build(
        "objects.objectId, fastfinder.classification, "
        "JSON_EXTRACT(fastfinder.classdict, '$.lsst-r.absolute_peak_mag_val') AS absrmag",
        "objects,annotator:FastFinder",
        "JSON_EXTRACT(fastfinder.classdict, '$.lsst-r.absolute_peak_mag_val') < -19",
    )
    assert (
        " FROM objects, annotations AS fastfinder WHERE (objects.objectid = fastfinder.objectid)"
        in sql
    )
    assert "(lower(fastfinder.topic) = 'fastfinder')" in sql
    # With one annotator, annotations.x is its annotations (PostgreSQL forbids the table's
    # own name once it has an alias); not a column called annotations, nor a string.
    sql = build(
        "annotations.classification, objects.annotations",
        "annotator:fast-finder",
        "ANNOTATIONS.topic <> 'annotations.x'",
    )
    assert sql == (
        'SELECT "fast-finder".classification AS "classification", objects.annotations AS '
        '"annotations" FROM objects, annotations AS "fast-finder" WHERE '
        '(objects.objectid = "fast-finder".objectid) AND '
        "(lower(\"fast-finder\".topic) = 'fast-finder') AND "
        "(\"fast-finder\".topic <> 'annotations.x')"
    )
    # Several annotators: each its own alias; annotations.x is refused (which one?).
    sql = build(
        "a.classification, b.classification AS c2",
        "annotator:a, annotator:b",
        "a.classification = b.classification",
    )
    assert "FROM objects, annotations AS a, annotations AS b WHERE" in sql
    assert "(lower(a.topic) = 'a') AND (lower(b.topic) = 'b')" in sql
    with pytest.raises(QueryError, match="with several annotators, name each one's columns by"):
        build("annotations.classification", "annotator:a, annotator:b")
    # A plain annotations table beside an annotator keeps its name.
    sql = build("annotations.topic, a.topic", "annotations, annotator:a")
    assert "FROM objects, annotations, annotations AS a WHERE" in sql


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ("nosuchtable", r"no table 'nosuchtable'.*tables accepted: watchlist:N, area:N, annotator"),
        ("objects; DROP TABLE objects", r"no table 'objects; DROP TABLE objects'.*accepted"),
        ("objects, watchlist:1 OR 1=1", r"watchlist:N needs a positive whole number.*'1 OR 1=1'"),
        ("objects, watchlist:0", "positive whole number"),
        ("objects, watchlist:-3", "positive whole number"),
        ("objects, area:99999999999", "positive whole number"),
        ("objects, area:", "positive whole number"),
        ("objects, area:٣", "positive whole number"),  # a digit, but not an ASCII one
        ("objects, annotator:x' OR '1'='1", r"annotator:TOPIC needs a topic.*x' OR '1'='1"),
        ("objects, annotator:", "annotator:TOPIC needs a topic"),
        ("objects, annotator:a b", "annotator:TOPIC needs a topic"),
        ("objects, objects", "given twice"),
        ("annotator:ff, annotators:FF", "annotator:ff is given twice"),
        ("objects, annotator:objects", "annotator:objects is given twice or names a table"),
        ("annotator:objects", "annotator:objects is given twice or names a table"),
        ("annotator:annotations, annotations", "annotations is given twice or names a table"),
        ("objects, watchlist:1, watchlists:2", "watchlist_hits is given twice"),
        ("objects,", "comma-separated list of tables"),
        ("", "comma-separated list of tables"),
        ("objects o", "no table 'objects o'"),
        ("public.objects", "no table 'public.objects'"),
        ('"objects"', "no table"),
    ],
)
def test_bad_tables_say_what_is_accepted(tables: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        build("objectId", tables)


def test_lasair_table_missing_from_the_archive_says_upgrade() -> None:
    with pytest.raises(QueryError, match="one of Lasair's tables but this archive does not"):
        build_query("*", "objects, sherlock_classifications", "", {"objects"})


# --- conditions --------------------------------------------------------------------------------


def test_conditions_split_into_where_clauses_and_limit() -> None:
    assert split_conditions("ncand > 3") == ("ncand > 3", "", "")
    assert split_conditions(" ORDER BY ncand ") == ("", "ORDER BY ncand", "")
    assert split_conditions("a = 1 GROUP BY b HAVING count(*) > 1 ORDER BY b LIMIT 5") == (
        "a = 1",
        "GROUP BY b HAVING count(*) > 1 ORDER BY b",
        "LIMIT 5",
    )
    assert split_conditions("HAVING count(*) > 1") == ("", "HAVING count(*) > 1", "")
    assert split_conditions("x IN (SELECT_ish) LIMIT 10 OFFSET 20")[2] == "LIMIT 10 OFFSET 20"
    assert split_conditions("LIMIT 20, 10") == ("", "", "LIMIT 10 OFFSET 20")  # MySQL's m, n
    assert split_conditions("(a = 1 OR b = 2) ORDER BY (c)")[0] == "(a = 1 OR b = 2)"
    assert split_conditions("a IS DISTINCT FROM b")[0] == "a IS DISTINCT FROM b"


def test_only_order_by_and_limit_make_no_where() -> None:
    sql = build("objectId", "objects", "order by ncand desc limit 3")
    assert sql == 'SELECT objectId AS "objectId" FROM objects order by ncand desc LIMIT 3'
    tree = select_of(sql)
    assert "whereClause" not in tree and tree["limitCount"]["A_Const"]["ival"]["ival"] == 3


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ("ncand > 1 LIMIT 5 ORDER BY ncand", "may end with LIMIT n"),
        ("ncand > 1 LIMIT ncand", "may end with LIMIT n"),
        ("ncand > 1 LIMIT 0x10", "may end with LIMIT n"),
        ("ncand > 1 LIMIT 5; DELETE FROM objects", "';' is not accepted"),
        ("ncand > 1 ORDER BY ncand OFFSET 3", "OFFSET is not accepted"),
        ("ncand > 1 FOR UPDATE", "FOR is not accepted"),
        ("ncand > 1 ORDER BY ncand FETCH FIRST 3 ROWS ONLY", "FETCH is not accepted"),
        ("WHERE ncand > 1", "leave WHERE out"),
    ],
)
def test_bad_conditions_say_what_is_accepted(conditions: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        build("objectId", "objects", conditions)


# --- hostile input -----------------------------------------------------------------------------

HOSTILE = [
    # Comments that would cut off the implicit joins.
    ("*", "objects, watchlist:1", "1=1 --", "comments"),
    ("*", "objects, watchlist:1", "1=1 /* x */", "comments"),
    ("* --", "objects, watchlist:1", "", "comments"),
    ("* /*", "objects, watchlist:1", "*/ 1=1", "comment"),
    # Escaping the parentheses around the condition.
    ("*", "objects, watchlist:1", "1=1) OR (1=1", "unbalanced parentheses"),
    ("*", "objects, watchlist:1", "1=1)) --", "comments|unbalanced"),
    ("objectId)", "objects", "", "unbalanced parentheses"),
    # A second statement.
    ("*", "objects", "1=1; DELETE FROM objects", "';' is not accepted"),
    ("*", "objects", "1=1; DROP TABLE objects", "';' is not accepted"),
    ("objectId; DROP TABLE objects", "objects", "", "';' is not accepted"),
    # Other tables: UNION, subqueries, TABLE, FROM in the select list.
    ("*", "objects", "1=1 UNION SELECT * FROM quarantine", "UNION is not accepted"),
    ("objectId", "objects", "ORDER BY 1 UNION ALL TABLE quarantine", "UNION is not accepted"),
    ("objectId", "objects", "objectid IN (SELECT sha256 FROM quarantine)", "SELECT"),
    ("objectId", "objects", "objectid IN (TABLE quarantine)", "TABLE is not accepted"),
    ("(SELECT count(*) FROM quarantine)", "objects", "", "SELECT is not accepted"),
    ("* FROM quarantine, objects", "objects", "", "FROM is not accepted in selected"),
    ("objectId INTO stolen", "objects", "", "INTO is not accepted"),
    ("objectId", "objects", "1=1 EXCEPT SELECT 1", "EXCEPT is not accepted"),
    ("objectId", "objects", "ncand > 1 WINDOW w AS ()", "WINDOW is not accepted"),
    ("objectId", "objects", "objectid IN (WITH q AS (VALUES (1)) TABLE q)", "TABLE"),
    ("objectId", "objects", "EXISTS (VALUES (1))", "no subqueries"),
    ("objectId", "objects", "objectid = ANY (ARRAY(VALUES ('a')))", "no subqueries"),
    ("objectId", "objects", "objectId = '\x00'", "NUL"),
]


@pytest.mark.parametrize(("selected", "tables", "conditions", "message"), HOSTILE)
def test_hostile_input_is_refused_before_it_runs(selected, tables, conditions, message) -> None:
    for dialect in ("mysql", "postgresql"):
        with pytest.raises(LasairError, match=message):
            build_query(selected, tables, conditions, KNOWN, dialect=dialect)


def test_any_text_is_a_query_or_a_query_error() -> None:
    """Random pieces of SQL, MySQL and attacks: never another exception (no traceback)."""
    pieces = [
        *"`'\"(),;#*.=\\\n",
        "--",
        "/*",
        "*/",
        "||",
        "&&",
        "<=>",
        "$$",
        "$a$",
        "U&",
        "E'",
        "::",
        "é",
        "LIKE",
        "NOT",
        "REGEXP",
        "IF(",
        "LOG(",
        "IFNULL(",
        "CURRENT_TIMESTAMP()",
        "JSON_EXTRACT(",
        "->",
        "->>",
        "'$.a'",
        "UTC_TIMESTAMP",
        "annotations.",
        "ORDER BY",
        "GROUP BY",
        "HAVING",
        "LIMIT",
        "OFFSET",
        "1",
        "2,",
        "x",
        "objectId",
        "AS",
        "SELECT",
        "UNION",
        "FROM",
        "WHERE",
        "DISTINCT",
        "IS",
        "`a`",
        '"s"',
        "'t'",
    ]
    chooser = random.Random(7)
    for _ in range(3000):
        selected, conditions = (
            " ".join(chooser.choices(pieces, k=chooser.randint(1, 8))) for _ in range(2)
        )
        for dialect in ("mysql", "postgresql"):
            try:
                select_of(
                    build_query(
                        selected,
                        chooser.choice(["objects, watchlist:1", "annotator:a-b, annotator:c"]),
                        conditions,
                        KNOWN,
                        dialect=dialect,
                    )
                )
            except QueryError:
                pass


def test_arguments_must_be_strings() -> None:
    with pytest.raises(QueryError, match="conditions must be a string, got int"):
        build_query("objectId", "objects", 3, KNOWN)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="give the selected columns"):
        build_query(" ", "objects", "", KNOWN)
    with pytest.raises(QueryError, match="dialect must be one of"):
        build_query("*", "objects", "", KNOWN, dialect="oracle")  # type: ignore[arg-type]


# --- against the archive -------------------------------------------------------------------------
# They need migrations 0007 (the views and annotator columns), 0008 (sherlock_classifications)
# and 0009 (the MySQL functions).


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive) -> str:
    return make_seeded_archive()


@pytest.fixture(scope="module")
def archive(archive_url: str) -> ln.Archive:
    return ln.connect(archive_url)


@pytest.fixture
def client(archive_url: str, monkeypatch: pytest.MonkeyPatch) -> lasair.lasair_client:
    monkeypatch.setenv("LASAIR_DB_URL", archive_url)
    return lasair.lasair_client("any-token")


@pytest.fixture(scope="module")
def owner(archive_url: str):
    engine = sa.create_engine(archive_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def objects(owner: sa.Engine) -> pd.DataFrame:
    with owner.connect() as connection:
        return pd.read_sql("SELECT * FROM objects", connection)


@pytest.fixture(scope="module")
def supernova(objects: pd.DataFrame) -> pd.Series:
    return objects.set_index("objectid").loc[SUPERNOVA]


def test_native_query_keys_as_written(archive: ln.Archive, objects: pd.DataFrame) -> None:
    rows = archive.query("objectId, ncand AS nCand", "objects", f"objectid = '{SUPERNOVA}'")
    assert rows == [
        {"objectId": SUPERNOVA, "nCand": int(objects.set_index("objectid").loc[SUPERNOVA, "ncand"])}
    ]
    everything = archive.query("objects.*", "objects", "ORDER BY objectid LIMIT 2")
    assert [row["objectid"] for row in everything] == sorted(objects["objectid"])[:2]
    assert set(everything[0]) == set(objects.columns)


def test_limit_in_conditions_and_the_limit_argument(client, objects: pd.DataFrame) -> None:
    ordered = sorted(objects["objectid"])
    assert [
        r["objectId"] for r in client.query("objectId", "objects", "ORDER BY objectId LIMIT 5")
    ] == ordered[:5]
    assert [
        r["objectId"]
        for r in client.query("objectId", "objects", "ORDER BY objectId LIMIT 5", limit=3)
    ] == ordered[:3]
    assert [
        r["objectId"] for r in client.query("objectId", "objects", "ORDER BY objectId LIMIT 2, 3")
    ] == ordered[2:5]
    assert [
        r["objectId"]
        for r in client.query("objectId", "objects", "ORDER BY objectId LIMIT 3 OFFSET 2", offset=1)
    ] == ordered[3:5]
    assert client.query("objectId", "objects", "ORDER BY objectId LIMIT 2", offset=5) == []


def test_mysql_text_runs(client, objects: pd.DataFrame, supernova: pd.Series) -> None:
    rows = client.query(
        "`objectId`, IF(ncand > 10, \"many\", 'few') AS how, round(ramean, 2) AS ra2",
        "objects",
        'objectId LIKE "ztf21abiuvd%" && ncand >= 1 AND IFNULL(ncand, 0) > 0 '
        "AND log(ncand + 1) > 0 AND jdmax > JDNOW() - 365000 AND jdmax < MJDNOW() + 2400001",
    )
    assert rows == [
        {
            "objectId": SUPERNOVA,
            "how": "many" if supernova["ncand"] > 10 else "few",
            "ra2": round(float(supernova["ramean"]), 2),
        }
    ]
    grouped = client.query(
        "ncand, count(*) AS N", "objects", "GROUP BY ncand HAVING count(*) > 1 ORDER BY ncand"
    )
    counts = objects["ncand"].value_counts()
    assert {row["ncand"]: row["N"] for row in grouped} == {
        int(k): int(v) for k, v in counts[counts > 1].items()
    }


def test_mysql_functions_as_mysql_defines_them(client) -> None:
    before = time.time()
    (row,) = client.query(
        "JDNOW() AS jd, MJDNOW() AS mjd, UNIX_TIMESTAMP() AS unix, "
        "UNIX_TIMESTAMP(FROM_UNIXTIME(86400.5)) AS back, NOW() AS now, "
        "CURRENT_TIMESTAMP() AS ts, IF(ncand < 0, log10(ncand - 100), -1) AS lazy, "
        "round(1.23456::float8, 3) AS r, pow(2, 10) AS p, log10(1000) AS l",
        "objects",
        f"objectId = '{SUPERNOVA}'",
    )
    after = time.time()
    # Julian date of unix time t: 2440587.5 + t / 86400 (the epoch is JD 2440587.5).
    assert 2440587.5 + before / 86400 - 1e-6 <= row["jd"] <= 2440587.5 + after / 86400 + 1e-6
    assert row["mjd"] == pytest.approx(row["jd"] - 2400000.5, abs=1e-6)
    assert before - 1 <= row["unix"] <= after + 1
    assert row["back"] == 86400.5
    assert row["lazy"] == -1  # log10 of a negative number is never evaluated
    assert row["r"] == 1.235 and row["p"] == 1024 and row["l"] == 3


def test_functions_are_for_the_readers_only(owner: sa.Engine) -> None:
    signatures = [
        "jdnow()",
        "mjdnow()",
        "from_unixtime(double precision)",
        "unix_timestamp()",
        "unix_timestamp(timestamp with time zone)",
        'public."if"(boolean, anycompatible, anycompatible)',
        "public.round(double precision, integer)",
    ]
    with owner.connect() as connection:
        for signature in signatures:
            assert _function_rights(connection, signature) == (True, True, False), signature
        # round(3, 2) stays unambiguous; numeric keeps PostgreSQL's own.
        whole, numeric = connection.execute(sa.text("SELECT round(3, 2), round(2.345, 2)")).one()
        assert whole == 3.0 and str(numeric) == "2.35"


def test_watchlist_area_annotator_tns_and_sherlock(
    archive: ln.Archive, client, owner: sa.Engine, supernova: pd.Series
) -> None:
    ra, dec = float(supernova["ramean"]), float(supernova["decmean"])
    tag = uuid.uuid4().hex[:6]
    sources = pd.DataFrame(
        {"name": ["sn-here", "nowhere"], "ra": [ra, (ra + 90) % 360], "dec": [dec, -dec]}
    )
    wl_id = archive.watchlists.create(f"wl-{tag}", sources, radius=5, public=True)
    from astropy import units as u  # noqa: PLC0415
    from astropy.coordinates import SkyCoord  # noqa: PLC0415

    ar_id = archive.watchmaps.create(
        f"area-{tag}", cone=(SkyCoord(ra * u.deg, dec * u.deg), 10 * u.arcsec), public=True
    )
    topic = f"Finder_{tag}"
    with owner.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO annotations (objectid, topic, classification, public) VALUES (:o, :t, 'SN Ia', true)"
            ),
            {"o": SUPERNOVA, "t": topic},
        )
        connection.execute(
            sa.text(
                "INSERT INTO tns_objects (name, prefix, ra, dec, hpx, type, redshift)"
                " VALUES (:n, 'SN', :ra, :dec, 0, 'SN Ia', 0.05) ON CONFLICT DO NOTHING"
            ),
            {"n": f"2099{tag}", "ra": ra, "dec": dec},
        )
        connection.execute(
            sa.text(
                "INSERT INTO tns_matches (objectid, tns_name, separation_arcsec) VALUES (:o, :n, 0.1)"
            ),
            {"o": SUPERNOVA, "n": f"2099{tag}"},
        )

    rows = client.query(
        "objects.objectId, watchlist_hits.name, watchlist_hits.arcsec",
        f"objects, watchlist:{wl_id}",
        "",
    )
    assert [(row["objectId"], row["name"]) for row in rows] == [(SUPERNOVA, "sn-here")]
    assert rows[0]["arcsec"] < 1
    # The join written out by hand as well, as Lasair users do: the same rows.
    assert (
        client.query(
            "objects.objectId, watchlist_hits.name, watchlist_hits.arcsec",
            f"objects, watchlist:{wl_id}",
            f"objects.objectId = watchlist_hits.objectId AND watchlist_hits.wl_id = {wl_id}",
        )
        == rows
    )
    assert client.query("objects.objectId", f"watchlists:{wl_id + 1000}", "") == []
    (everything,) = client.query("*", f"objects, watchlist:{wl_id}", "")  # objectid twice
    assert everything["objectid"] == SUPERNOVA and everything["wl_id"] == wl_id

    assert client.query("objects.objectId, area_hits.ar_id", f"objects, area:{ar_id}", "") == [
        {"objectId": SUPERNOVA, "ar_id": ar_id}
    ]
    assert client.query(
        "objects.objectId, annotations.classification", f"objects, annotator:{topic.lower()}", ""
    ) == [{"objectId": SUPERNOVA, "classification": "SN Ia"}]
    assert client.query(
        "objects.objectId, crossmatch_tns.tns_name, crossmatch_tns.type",
        "objects, crossmatch_tns",
        f'crossmatch_tns.tns_name = "2099{tag}"',
    ) == [{"objectId": SUPERNOVA, "tns_name": f"2099{tag}", "type": "SN Ia"}]
    # Sherlock: whatever the ingester wrote, the join runs and gives one row per object.
    with owner.connect() as connection:
        classified = connection.execute(
            sa.text("SELECT count(*) FROM sherlock_classifications")
        ).scalar()
    rows = client.query("count(*) AS n", "objects, sherlock_classifications", "")
    assert rows == [{"n": classified}]
    # The native query: Lasair's tables, PostgreSQL's text.
    assert archive.query(
        "objects.objectId", f"watchlist:{wl_id}", "watchlist_hits.name = 'sn-here'"
    ) == [{"objectId": SUPERNOVA}]


def test_annotators_and_their_json_as_lasair_users_write_them(
    client, owner: sa.Engine, objects: pd.DataFrame
) -> None:
    tag = uuid.uuid4().hex[:6]
    topic, other = f"FastFinder_{tag}", f"ff-{tag}"
    alias = topic.lower()
    another = next(o for o in sorted(objects["objectid"]) if o != SUPERNOVA)
    documents = {
        SUPERNOVA: {
            "lsst-r": {"absolute_peak_mag_val": -19.5},
            "a.b": {"c": [10, 20]},
            "name": "SN Ia",
            "peak": "-20",
        },
        another: {"lsst-r": {"absolute_peak_mag_val": -18.0}, "name": "SN II"},
    }
    with owner.begin() as connection:
        for objectid, document in documents.items():
            for name in (topic, other):
                connection.execute(
                    sa.text(
                        "INSERT INTO annotations (objectid, topic, classification, classdict, public)"
                        " VALUES (:o, :t, :c, CAST(:d AS jsonb), true)"
                    ),
                    {"o": objectid, "t": name, "c": document["name"], "d": json.dumps(document)},
                )
    peak = f"JSON_EXTRACT({alias}.classdict, '$.lsst-r.absolute_peak_mag_val')"
    rows = client.query(
        f"objects.objectId, {alias}.classification, {alias}.classdict, {peak} AS absrmag, "
        f"JSON_EXTRACT({alias}.classdict, '$.\"a.b\".c[1]') AS second, "
        f"JSON_UNQUOTE(JSON_EXTRACT({alias}.classdict, '$.name')) AS name, "
        f"CAST({peak} AS DECIMAL(10, 3)) + 1 AS plus",
        f"objects,annotator:{topic}",
        f"{peak} < -19 AND -19 > {peak} AND {peak} BETWEEN -20 AND -19 "
        f'AND JSON_EXTRACT({alias}.classdict, "$.name") = "SN Ia" '
        f"AND {alias}.classdict->'$.lsst-r.absolute_peak_mag_val' <= -19.5 "
        f"AND {alias}.classdict->>'$.name' = 'SN Ia' ORDER BY absrmag",
    )
    assert rows == [
        {
            "objectId": SUPERNOVA,
            "classification": "SN Ia",
            "classdict": documents[SUPERNOVA],
            "absrmag": -19.5,
            "second": 20,
            "name": "SN Ia",
            "plus": Decimal("-18.500"),
        }
    ]
    # Both objects, brightest first; a JSON string is no number (never compared as one).
    both = client.query(
        f"objects.objectId, {peak} AS absrmag", f"objects,annotator:{topic}", "ORDER BY absrmag"
    )
    assert [row["objectId"] for row in both] == [SUPERNOVA, another]
    assert (
        client.query(
            "objects.objectId",
            f"annotator:{topic}",
            f"JSON_EXTRACT({alias}.classdict, '$.peak') < 0",
        )
        == []
    )
    # A topic with '-': annotations.x, as only one annotator is given.
    (single,) = client.query(
        "objects.objectId, annotations.classification",
        f"annotator:{other}",
        f"annotations.objectId = '{another}'",
    )
    assert single == {"objectId": another, "classification": "SN II"}
    with pytest.raises(LasairError, match="JSON path"):
        client.query(
            "objects.objectId",
            f"annotator:{topic}",
            f"JSON_EXTRACT({alias}.classdict, '$.a[*]') > 1",
        )


def test_two_annotators_in_one_query(archive: ln.Archive, owner: sa.Engine) -> None:
    tag = uuid.uuid4().hex[:6]
    first, second = f"first_{tag}", f"sec-ond.{tag}"
    with owner.begin() as connection:
        for name, classification in ((first, "SN Ia"), (second, "AGN")):
            connection.execute(
                sa.text(
                    "INSERT INTO annotations (objectid, topic, classification, public)"
                    " VALUES (:o, :t, :c, true)"
                ),
                {"o": SUPERNOVA, "t": name, "c": classification},
            )
    rows = archive.query(
        f'objects.objectId, {first}.classification AS a, "{second}".classification AS b',
        f"objects, annotator:{first}, annotator:{second}",
        "",
    )
    assert rows == [{"objectId": SUPERNOVA, "a": "SN Ia", "b": "AGN"}]


def test_mysql_time_functions_and_jd_as_utc(client, owner: sa.Engine, supernova: pd.Series) -> None:
    from datetime import UTC  # noqa: PLC0415

    from astropy.time import Time  # noqa: PLC0415

    (row,) = client.query(
        "TO_SECONDS('1970-01-01 00:00:00') AS epoch, TO_SECONDS('2009-11-29') AS day, "
        "TO_SECONDS('2009-11-29 13:43:32') AS moment, "
        "TO_SECONDS(UTC_TIMESTAMP()) - TO_SECONDS(CURRENT_TIMESTAMP()) AS offset, "
        "TO_SECONDS(CURRENT_DATE()) AS today",
        "objects",
        f"objectId = '{SUPERNOVA}'",
    )
    # MySQL's own examples: TO_SECONDS('2009-11-29') = 63426672000, and so on.
    assert row["epoch"] == 62167219200
    assert row["day"] == 63426672000 and row["moment"] == 63426721412
    assert row["offset"] == 0
    assert row["today"] % 86400 == 0
    selected = (
        "FROM_UNIXTIME((objects.jdmax - 1721059.5) * (3600 * 24) "
        "- TO_SECONDS('1970-01-01 00:00:00') + TO_SECONDS(UTC_TIMESTAMP()) "
        "- TO_SECONDS(CURRENT_TIMESTAMP())) AS last_seen"
    )
    conditions = f"objects.objectId = '{SUPERNOVA}'"
    expected = Time(float(supernova["jdmax"]), format="jd").datetime  # UTC, naive
    (row,) = client.query(selected, "objects", conditions)
    seen = row["last_seen"].astimezone(UTC).replace(tzinfo=None)
    assert abs((seen - expected).total_seconds()) < 1e-3
    # The same instant whatever the session's time zone (MySQL: its naive UTC time).
    sql = build_query(selected, "objects", conditions, KNOWN, dialect="mysql")
    with owner.connect() as connection:
        connection.execute(sa.text("SET TIME ZONE 'Asia/Kolkata'"))
        (value,) = connection.execute(sa.text(sql)).one()
    assert abs((value.astimezone(UTC).replace(tzinfo=None) - expected).total_seconds()) < 1e-3


def test_order_by_group_by_having_output_names(client, objects: pd.DataFrame) -> None:
    rows = client.query(
        "objects.objectId",
        "objects,sherlock_classifications",
        "objects.ncand >= 1 ORDER BY objectId DESC",
    )
    assert [row["objectId"] for row in rows] == sorted(
        (row["objectId"] for row in rows), reverse=True
    )
    rows = client.query(
        "objects.objectId, IF(objects.ncand > 3, 'many', '') score",
        "objects, candidates",
        "objects.ncand >= 1 GROUP BY objects.objectId ORDER BY score, objectId DESC LIMIT 5",
    )
    frame = objects.assign(score=objects["ncand"].gt(3).map({True: "many", False: ""}))
    frame = frame.sort_values(["score", "objectid"], ascending=[True, False])
    # Objects with candidates only (the join); the order is the one MySQL gives.
    assert [row["score"] for row in rows] == sorted(row["score"] for row in rows)
    assert all(row["objectId"] in set(frame["objectid"]) for row in rows)
    threshold = int(objects["ncandgp_14"].median())
    rows = client.query(
        "objects.objectId, objects.ncandgp_14 as N_obs_14_day",
        "objects",
        f"GROUP BY objects.objectId HAVING N_obs_14_day > {threshold} ORDER BY objectId",
    )
    expected = objects[objects["ncandgp_14"] > threshold].sort_values("objectid")
    assert rows == [
        {"objectId": o, "N_obs_14_day": int(n)}
        for o, n in zip(expected["objectid"], expected["ncandgp_14"], strict=True)
    ]
    assert rows


def test_group_by_as_lasair_notebooks_write_it(
    make_seeded_archive, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Columns of views beside GROUP BY objects.objectId: the rows PostgreSQL's own query gives."""
    url = make_seeded_archive()  # its own archive: the TNS list loaded below stays here
    archive = ln.connect(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            chosen = pd.read_sql(
                "SELECT o.objectid, o.ramean, o.decmean, o.ncandgp_14 FROM objects o"
                " JOIN sherlock_classifications s USING (objectid)"
                " ORDER BY o.ncandgp_14 DESC, o.objectid LIMIT 6",
                connection,
            )
    finally:
        engine.dispose()
    assert len(chosen) == 6 and chosen["ncandgp_14"].gt(0).any()
    csv = tmp_path / "tns_public_objects.csv"
    pd.DataFrame(
        {
            "name_prefix": ["SN", "AT"] * 3,
            "name": [f"2099g{index}" for index in range(6)],
            "ra": chosen["ramean"],
            "declination": chosen["decmean"],
            "type": ["SN Ia", None, "SN II", None, "TDE", "SN Ia"],
            "redshift": [0.05, None, 0.01, None, 0.1, 0.02],
        }
    ).to_csv(csv, index=False)
    archive.tns.load(csv)
    monkeypatch.setenv("LASAIR_DB_URL", url)
    client = lasair.lasair_client("any-token")
    rows = client.query(
        LASAIR_GROUPED,
        "objects, sherlock_classifications, crossmatch_tns",
        "objects.ncand >= 1 group by objects.objectId HAVING N_obs_14_day > 0 "
        "ORDER BY N_obs_14_day DESC, objectId",
    )
    expected = archive.sql(
        """
        SELECT o.objectid AS "objectId", t.tns_name, t.type,
               round(o.maggmean - o.magrmean, 2) AS g_minus_r_mean,
               o.ncandgp_14 AS "N_obs_14_day", s.classification, count(*) AS n_rows,
               'ZTF' AS survey
        FROM objects o
        JOIN sherlock_classifications s ON s.objectid = o.objectid
        JOIN crossmatch_tns t ON t.objectid = o.objectid
        WHERE o.ncand >= 1
        GROUP BY o.objectid, t.tns_name, t.type, s.classification
        HAVING o.ncandgp_14 > 0
        ORDER BY o.ncandgp_14 DESC, o.objectid
        """
    )
    expected = expected.astype(object).where(expected.notna(), None)
    assert rows == [
        dict(zip(expected.columns, row, strict=True)) for row in expected.itertuples(index=False)
    ]
    assert 0 < len(rows) <= 6 and {row["n_rows"] for row in rows} == {1}
    assert {row["tns_name"] for row in rows} <= {f"2099g{index}" for index in range(6)}
    # Without the addition PostgreSQL refuses it: the text the notebook had.
    with pytest.raises(LasairError, match="GROUP BY"):
        archive.query(
            "objects.objectId, crossmatch_tns.tns_name",
            "objects, crossmatch_tns",
            "GROUP BY objects.objectId",
        )
    assert archive.query(
        "objects.objectId, crossmatch_tns.tns_name",
        "objects, crossmatch_tns",
        "GROUP BY objects.objectId ORDER BY objects.objectId",
        dialect="mysql",
    ) == [
        {"objectId": row["objectId"], "tns_name": row["tns_name"]}
        for row in sorted(
            (
                r
                for r in client.query(
                    "objects.objectId, crossmatch_tns.tns_name", "objects, crossmatch_tns", ""
                )
            ),
            key=lambda r: r["objectId"],
        )
    ]


def test_json_and_time_functions_are_for_the_readers_only(owner: sa.Engine) -> None:
    signatures = [
        "public.mysql_json_path(text)",
        "public.json_extract(jsonb, text)",
        "public.json_unquote(jsonb)",
        "public.to_seconds(text)",
        "public.to_seconds(date)",
        "public.to_seconds(timestamp without time zone)",
        "public.to_seconds(timestamp with time zone)",
        "public.utc_timestamp()",
        "public.jsonb_lt_double(jsonb, double precision)",
        "public.double_ge_jsonb(double precision, jsonb)",
    ]
    with owner.connect() as connection:
        for signature in signatures:
            assert _function_rights(connection, signature) == (True, True, False), signature
        # PostgreSQL's own jsonb operators keep their meaning.
        same, key = connection.execute(
            sa.text("""SELECT '{"a": 1}'::jsonb = '{"a": 1}', '{"a": 1}'::jsonb -> 'a' = '1'""")
        ).one()
        assert same and key
        paths = connection.execute(
            sa.text(
                """SELECT mysql_json_path('$'), mysql_json_path('$.lsst-r.x'),"""
                """ mysql_json_path('$ . "a.b" [2].c')"""
            )
        ).one()
        assert list(paths) == [[], ["lsst-r", "x"], ["a.b", "2", "c"]]


def test_hostile_input_changes_nothing(client, owner: sa.Engine) -> None:
    with owner.connect() as connection:
        before = connection.execute(sa.text("SELECT count(*) FROM objects")).scalar()
    for selected, tables, conditions, message in HOSTILE:
        with pytest.raises(LasairError, match=message):
            client.query(selected, tables, conditions)
    for tables in (
        "objects; DROP TABLE objects",
        "objects, watchlist:1 OR 1=1",
        "objects, annotator:x' OR '1'='1",
    ):
        with pytest.raises(LasairError, match="accepted"):
            client.query("objectId", tables, "")
    with owner.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM objects")).scalar() == before


def test_errors_from_the_database_are_lasair_errors(client) -> None:
    with pytest.raises(LasairError, match="unknown column 'nosuchcolumn'"):
        client.query("nosuchcolumn", "objects", "")
    with pytest.raises(LasairError, match="limit must be"):
        client.query("objectId", "objects", "", limit=0)


@pytest.mark.parametrize(
    ("sql", "parts"),
    [
        (
            "SELECT objectId, ramean FROM objects WHERE ncand > 5 ORDER BY ncand DESC LIMIT 10;",
            ("objectId, ramean", "objects", "ncand > 5 ORDER BY ncand DESC LIMIT 10"),
        ),
        ("select count(*) from objects", ("count(*)", "objects", "")),
        ("SELECT a FROM objects ORDER BY a", ("a", "objects", "ORDER BY a")),
        (
            "SELECT o FROM objects , crossmatch_tns WHERE x IN (SELECT y FROM a, b)",
            ("o", "objects, crossmatch_tns", "x IN (SELECT y FROM a, b)"),
        ),
        ("select o.objectid from objects o", None),  # an alias
        ("SELECT a FROM objects JOIN b ON true", None),
        ("SELECT a FROM (SELECT 1) x", None),
        ("WITH x AS (SELECT 1) SELECT * FROM x", None),
        ("SELECT a FROM objects UNION SELECT b FROM c", None),
        ("SELECT FROM objects", None),
        ("SELECT a FROM objects,", None),
        ("SELECT 'unclosed FROM objects", None),
        ("", None),
    ],
)
def test_split_select_gives_the_builders_parts_of_a_plain_select(
    sql: str, parts: tuple[str, str, str] | None
) -> None:
    assert ln.Archive.split_select(sql) == parts
