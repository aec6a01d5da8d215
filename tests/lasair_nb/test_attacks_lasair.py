"""Attacks on the Lasair-compatible features (migrations 0007-0009, the query builder, the
Lasair client shim, annotator fields and catalogue loading), by one user against another
and against the archive. Each test asserts the safe behaviour: it fails if the attack works.

The archive is reached over TCP, as notebook servers on the hub reach it.
"""

from __future__ import annotations

import csv
import json
import time
import uuid
from pathlib import Path

import pandas as pd
import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa

import lasair_nb as ln
from lasair_nb import lasair
from lasair_nb.admin.users import add_user
from lasair_nb.archive import lasair_query
from lasair_nb.archive.user_sql import check_select
from lasair_nb.cli.main import main

pytestmark = pytest.mark.slow  # 65 attacks, ~45 s: the full suite, not the fast lane

SUPERNOVA = "ZTF21abiuvdk"
SOURCES = pd.DataFrame({"name": ["a", "b"], "ra": [0.8142, 46.9973], "dec": [16.1457, 9.368]})
NEW_FUNCTIONS = (
    "jdnow()",
    "mjdnow()",
    "from_unixtime(double precision)",
    "unix_timestamp()",
    "unix_timestamp(timestamp with time zone)",
    '"if"(boolean, anycompatible, anycompatible)',
    "round(double precision, integer)",
    "lasair_separation_arcsec(double precision, double precision, double precision,"
    " double precision)",
)
ARCHIVE_TABLES = (
    "catalogs",
    "catalog_sources",
    "sherlock_classifications",
    "sherlock_crossmatches",
    "tns_matches",
    "objects_pending",
    "object_batches",
)


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive, over_tcp) -> str:
    return over_tcp(make_seeded_archive())


def login(archive_url: str, name: str) -> ln.Archive:
    engine = sa.create_engine(archive_url)
    with engine.begin() as connection:
        password = add_user(connection, name)
    engine.dispose()
    return ln.connect(archive_url, user=name, password=password)


@pytest.fixture(scope="module")
def people(archive_url: str) -> dict[str, ln.Archive]:
    """alice (the victim) and bob (the attacker), logged in."""
    suffix = uuid.uuid4().hex[:6]
    return {person: login(archive_url, f"{person}_{suffix}") for person in ("alice", "bob")}


@pytest.fixture(scope="module")
def secrets(people: dict[str, ln.Archive]) -> dict[str, object]:
    """alice's private watchlist, watchmap and annotator annotation (with their ids)."""
    alice = people["alice"]
    topic = f"secret_{uuid.uuid4().hex[:8]}"
    wl_id = alice.watchlists.create(f"private_{topic}", SOURCES, radius=30)
    ar_id = alice.watchmaps.create(f"private_{topic}", cone=(alice.object(SUPERNOVA).position, 1))
    annotation = alice.annotate(
        SUPERNOVA,
        comment=f"private comment {topic}",
        public=False,
        annotator={"topic": topic, "classification": "SN Ia", "classdict": {"Ia": 1.0}},
    )
    # The victim does see them: the attacks below fail for the right reason.
    assert len(alice.sql(f"SELECT * FROM watchlist_hits WHERE wl_id = {wl_id}")) > 0
    assert len(alice.sql(f"SELECT * FROM area_hits WHERE ar_id = {ar_id}")) > 0
    mine = lasair.lasair_client(archive=alice).query("objects.objectId", f"annotator:{topic}", "")
    assert mine == [{"objectId": SUPERNOVA}]
    return {"topic": topic, "wl_id": wl_id, "ar_id": ar_id, "annotation": annotation}


def raw_login(archive: ln.Archive):
    """A psycopg2 connection as the archive's user, outside the client (autocommit)."""
    url = archive.engine.url
    arguments = {**url.translate_connect_args(username="user", database="dbname"), **url.query}
    connection = psycopg2.connect(**{k: v for k, v in arguments.items() if v is not None})
    connection.autocommit = True
    return connection


def refused(cursor, statement: str, *parameters, error=psycopg2.errors.InsufficientPrivilege):
    with pytest.raises(error):
        cursor.execute(statement, parameters or None)


# --- 1. another user's private watchlists, watchmaps and annotations ------------------------


def test_private_watchlist_hits_stay_private(
    people: dict[str, ln.Archive], secrets: dict[str, object]
) -> None:
    bob = people["bob"]
    wl_id = secrets["wl_id"]
    client = lasair.lasair_client(archive=bob)
    for form in (f"watchlist:{wl_id}", f"watchlists:{wl_id}", f"WATCHLIST : {wl_id}"):
        assert client.query("objects.objectId, watchlist_hits.name", form, "") == []
    assert bob.sql(f"SELECT * FROM watchlist_hits WHERE wl_id = {wl_id}").empty
    assert bob.sql("SELECT * FROM watchlist_hits").empty  # no filter: still only his own
    # A condition that would drop the wl_id filter cannot lift row-level security.
    assert client.query("*", f"watchlist:{wl_id}", "true OR 1 = 1") == []
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM watchlist_hits")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM watchlist_sources WHERE watchlist_id = %s", (wl_id,))
        assert cursor.fetchone()[0] == 0
    raw.close()


def test_temp_tables_do_not_shadow_the_tables_under_the_views(
    people: dict[str, ln.Archive], secrets: dict[str, object]
) -> None:
    """A temp ``watchlists`` claiming alice's list is bob's and public: the views and their
    row-level security name the real tables (bound when created), not the search path."""
    bob = people["bob"]
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        for table in ("watchlists", "watchmaps", "annotations", "watchlist_tiles", "objects"):
            cursor.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM public.{table} LIMIT 0")
        cursor.execute(
            "INSERT INTO pg_temp.watchlists (id, owner, name, public, radius_arcsec)"
            " VALUES (%s, current_user, 'mine now', true, 2)",
            (secrets["wl_id"],),
        )
        cursor.execute("SET search_path = pg_temp, public")
        for view, column, key in (
            ("watchlist_hits", "wl_id", "wl_id"),
            ("area_hits", "ar_id", "ar_id"),
            ("public.watchlist_hits", "wl_id", "wl_id"),
        ):
            cursor.execute(f"SELECT count(*) FROM {view} WHERE {column} = %s", (secrets[key],))
            assert cursor.fetchone()[0] == 0, view
        cursor.execute(
            "SELECT count(*) FROM comments WHERE content LIKE %s", (f"%{secrets['topic']}%",)
        )
        assert cursor.fetchone()[0] == 0
    raw.close()


def test_private_watchmap_hits_stay_private(
    people: dict[str, ln.Archive], secrets: dict[str, object]
) -> None:
    bob = people["bob"]
    ar_id = secrets["ar_id"]
    client = lasair.lasair_client(archive=bob)
    for form in (f"area:{ar_id}", f"areas:{ar_id}"):
        assert client.query("objects.objectId", form, "") == []
    assert bob.sql("SELECT * FROM area_hits").empty


def test_private_annotator_annotations_stay_private(
    people: dict[str, ln.Archive], secrets: dict[str, object]
) -> None:
    bob = people["bob"]
    topic = str(secrets["topic"])
    client = lasair.lasair_client(archive=bob)
    for form in (f"annotator:{topic}", f"annotators:{topic.upper()}"):
        assert client.query("objects.objectId, annotations.classification", form, "") == []
    assert bob.sql(f"SELECT * FROM annotations WHERE topic = '{topic}'").empty
    assert bob.sql(f"SELECT * FROM comments WHERE content LIKE '%{topic}%'").empty
    history = bob.sql(
        f"SELECT * FROM annotation_history WHERE annotation_id = {secrets['annotation']}"
    )
    assert history.empty
    # Lasair's object document carries annotations: not alice's private one.
    document = client.object(SUPERNOVA)
    assert all(topic not in json.dumps(note) for note in document["annotations"])


def test_comments_view_shows_only_public_annotations_to_their_author_too(
    people: dict[str, ln.Archive], secrets: dict[str, object]
) -> None:
    alice = people["alice"]
    comments = alice.sql(f"SELECT * FROM comments WHERE comment_id = {secrets['annotation']}")
    assert comments.empty  # private: not a comment, even for alice (Lasair's comments are public)


def test_a_topic_of_a_table_form_cannot_inject_sql(people: dict[str, ln.Archive]) -> None:
    client = lasair.lasair_client(archive=people["bob"])
    for tables in (
        "annotator:x' OR 'a'='a",
        "annotator:x'--",
        "annotator:" + "x" * 101,
        "annotator:x\n",
        "annotator:ẋ",
        "watchlist:1 OR true",
        "watchlist:١",  # an Arabic-Indic digit: isdigit() but not ASCII
        "watchlist:99999999999",
        "area:-1",
        "objects, objects",
        "pg_catalog.pg_authid",
        "objects o",
        'objects, "quarantine"',
        "quarantine",
    ):
        with pytest.raises(ln.QueryError):
            client.query("objectId", tables, "")


# --- 2. the new public functions cannot be hijacked -------------------------------------------


def test_users_cannot_create_or_replace_functions(people: dict[str, ln.Archive]) -> None:
    bob = people["bob"]
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        for statement in (
            "CREATE FUNCTION public.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "CREATE OR REPLACE FUNCTION public.jdnow() RETURNS double precision"
            " LANGUAGE sql AS 'SELECT 0::double precision'",
            'CREATE OR REPLACE FUNCTION public."if"(boolean, anycompatible, anycompatible)'
            " RETURNS anycompatible LANGUAGE sql AS 'SELECT $2'",
            "CREATE FUNCTION public.round(real, integer) RETURNS double precision"
            " LANGUAGE sql AS 'SELECT 0::double precision'",
            "CREATE FUNCTION public.lasair_separation_arcsec(numeric, numeric, numeric, numeric)"
            " RETURNS double precision LANGUAGE sql AS 'SELECT 0::double precision'",
            "ALTER FUNCTION public.jdnow() RENAME TO jdnow_old",
            "ALTER FUNCTION public.jdnow() OWNER TO CURRENT_USER",
            "ALTER FUNCTION public.round(double precision, integer) SECURITY DEFINER",
            "DROP FUNCTION public.jdnow()",
            "CREATE SCHEMA evil",
            f'CREATE SCHEMA "{bob.user}"',  # "$user" comes before public in the search path
            "CREATE OPERATOR public.=== (FUNCTION = int4eq, LEFTARG = int, RIGHTARG = int)",
            "CREATE VIEW public.comments2 AS SELECT 1",
            "CREATE OR REPLACE VIEW public.comments AS SELECT 1",
            "ALTER VIEW public.watchlist_hits SET (security_invoker = false)",
            "COMMENT ON FUNCTION public.jdnow() IS 'x'",
        ):
            with pytest.raises(psycopg2.Error) as caught:
                cursor.execute(statement)
            assert isinstance(
                caught.value,
                psycopg2.errors.InsufficientPrivilege | psycopg2.errors.UndefinedFunction,
            ), statement
    raw.close()


def test_temp_functions_do_not_shadow_the_new_functions(people: dict[str, ln.Archive]) -> None:
    """PostgreSQL never looks up functions or operators in pg_temp unqualified."""
    bob = people["bob"]
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        for statement in (
            "CREATE FUNCTION pg_temp.jdnow() RETURNS double precision LANGUAGE sql"
            " AS 'SELECT 42::double precision'",
            'CREATE FUNCTION pg_temp."if"(boolean, integer, integer) RETURNS integer'
            " LANGUAGE sql AS 'SELECT 42'",
            "CREATE FUNCTION pg_temp.round(double precision, integer) RETURNS double precision"
            " LANGUAGE sql AS 'SELECT 42::double precision'",
            "CREATE FUNCTION pg_temp.lasair_separation_arcsec(double precision,"
            " double precision, double precision, double precision) RETURNS double precision"
            " LANGUAGE sql AS 'SELECT 0::double precision'",
        ):
            try:
                cursor.execute(statement)
            except psycopg2.errors.InsufficientPrivilege:
                pass  # no TEMP right: nothing to shadow with
        cursor.execute("SET search_path = pg_temp, public, pg_catalog")
        cursor.execute(
            "SELECT jdnow() > 2459000, if(true, 1, 2), round(1.26::float8, 1),"
            " lasair_separation_arcsec(0, 0, 0, 1)"
        )
        assert cursor.fetchone() == (True, 1, 1.3, pytest.approx(3600.0))
    raw.close()


def test_the_new_functions_are_not_definer_and_have_fixed_search_paths(archive_url: str) -> None:
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        for signature in NEW_FUNCTIONS:
            row = connection.execute(
                sa.text(
                    "SELECT p.prosecdef, p.proconfig, n.nspname,"
                    " has_function_privilege('public', p.oid, 'EXECUTE') AS everyone,"
                    " pg_get_functiondef(p.oid) AS body"
                    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE p.oid = CAST(:signature AS regprocedure)"
                ),
                {"signature": f"public.{signature}"},
            ).one()
            assert not row.prosecdef, signature
            assert row.nspname == "public"
            if not signature.startswith("lasair_separation"):  # 0007: PUBLIC, pure math
                assert not row.everyone, signature  # EXECUTE for lasair_user/reader only
            if not signature.startswith('"if"'):
                assert row.proconfig == ["search_path=pg_catalog, pg_temp"], signature
        # Views run as the caller, so row-level security of the tables beneath applies.
        options = dict(
            connection.execute(
                sa.text(
                    "SELECT relname, reloptions FROM pg_class WHERE relkind = 'v'"
                    " AND relname IN ('watchlist_hits', 'area_hits', 'crossmatch_tns', 'comments')"
                )
            ).all()
        )
        assert len(options) == 4
        assert all("security_invoker=true" in (value or []) for value in options.values())
    engine.dispose()


# --- 3. the query builder makes one read-only SELECT ----------------------------------------

HOSTILE_PARTS = [
    # (selected, tables, conditions)
    ("objectId", "objects", "ncand > 1; DELETE FROM annotations"),
    ("objectId", "objects", "ncand > 1 -- comment"),
    ("objectId", "objects", "ncand > 1 /* comment */"),
    ("objectId", "objects", "ncand > 1 # comment"),
    ("objectId; DELETE FROM annotations", "objects", ""),
    ("objectId", "objects", "ncand > (SELECT count(*) FROM annotations)"),
    ("(SELECT comment FROM annotations LIMIT 1)", "objects", ""),
    ("objectId", "objects", "EXISTS (SELECT 1 FROM watchlists)"),
    ("objectId", "objects", "true) UNION (SELECT objectid FROM objects"),
    ("objectId", "objects", "true) OR (true"),
    ("objectId", "objects", "ncand > 1) ; (DELETE FROM annotations"),
    ("objectId", "objects", "ncand > 1 FOR UPDATE"),
    ("objectId", "objects", "ncand > 1 LIMIT 1; DELETE FROM annotations"),
    ("objectId", "objects", "ncand > 1 LIMIT ALL"),
    ("objectId", "objects", "ncand > 1 LIMIT (SELECT 1)"),
    ("objectId", "objects", "ncand > 1 OFFSET 1"),
    ("objectId", "objects", "ncand > 1 INTO TEMP t"),
    ("objectId INTO TEMP t", "objects", ""),
    ("objectId FROM objects; DELETE FROM annotations; SELECT 1", "objects", ""),
    ("objectId", "objects", "$$ ; DELETE FROM annotations $$ = ''; DELETE FROM annotations"),
    ("objectId", "objects", "ncand > 1 \\; DELETE FROM annotations"),
    ("objectId", "objects", 'objectId = "x\\"; DELETE FROM annotations; --"'),
    ("objectId", "objects", "objectId = 'x' || (SELECT 'y')"),
    ("`objectId`; DELETE FROM annotations; `x`", "objects", ""),
    ('`objectId"`', "objects", ""),
    ("`a`b`", "objects", ""),
    ("``", "objects", ""),
    ("objectId", "objects", "ncand > 1 WINDOW w AS ()"),
    ("objectId", "objects", "true GROUP BY objectid HAVING (SELECT true)"),
    ("*", "objects, annotations AS a", ""),
    ("objectId", "objects", "(" * 10_000 + "true" + ")" * 10_000),
    ("objectId", "objects", "ncand > 1 LIMIT 1, 2, 3"),
]


@pytest.mark.parametrize(("selected", "tables", "conditions"), HOSTILE_PARTS)
def test_hostile_query_parts_are_refused(
    people: dict[str, ln.Archive], selected: str, tables: str, conditions: str
) -> None:
    bob = people["bob"]
    before = bob.sql("SELECT count(*) AS n FROM annotations")["n"][0]
    client = lasair.lasair_client(archive=bob, timeout=5)
    for call in (
        lambda: client.query(selected, tables, conditions),
        lambda: bob.query(selected, tables, conditions),
    ):
        with pytest.raises(ln.LasairError):
            call()
    assert bob.sql("SELECT count(*) AS n FROM annotations")["n"][0] == before


SMUGGLED = [
    # Text the builder accepts: whatever it is, the result is one SELECT and changes nothing.
    ("objectId", "objects", 'objectId = "x\'); DELETE FROM annotations; --"'),
    ("objectId", "objects", "objectId = 'x\"; DELETE FROM annotations; --'"),
    ('objectId AS "a""; DELETE FROM annotations; --"', "objects", ""),
    ("objectId AS 'a\"; DELETE FROM annotations; --'", "objects", ""),
    ("objectId", "objects", "objectId = U&'\\0027; DELETE FROM annotations; --'"),
    ("objectId", "objects", "objectId = E'\\'; DELETE FROM annotations; --'"),
    ("objectId", "objects", "objectId = $q$'; DELETE FROM annotations; --$q$"),
    ("objectId", "objects", "objectId = 'a'\n'; DELETE FROM annotations; --'"),
    ("objectId", "objects", 'objectId REGEXP "\'; DELETE" OR objectId <=> "x" && true'),
    ("`objectId`", "objects", "`ncand`>1 ORDER BY `objectId`"),
    ("IF(ncand > 1, \"a'b\", 'c\"d') AS x", "objects", "true"),
    ("objectId", "objects", "ncand > 1 ORDER BY objectid LIMIT 2, 1"),
]


@pytest.mark.parametrize(("selected", "tables", "conditions"), SMUGGLED)
def test_accepted_text_stays_one_select(
    people: dict[str, ln.Archive], selected: str, tables: str, conditions: str
) -> None:
    bob = people["bob"]
    before = bob.sql("SELECT count(*) AS n FROM annotations")["n"][0]
    for dialect in ("mysql", "postgresql"):
        try:
            sql = lasair_query.build_query(
                selected, tables, conditions, {"objects", "annotations"}, dialect=dialect
            )
        except ln.QueryError:
            continue
        assert check_select(sql)  # one SELECT by PostgreSQL's parser
        try:
            bob.query(selected, tables, conditions, dialect=dialect, timeout=5)
        except ln.QueryError:
            pass
    assert bob.sql("SELECT count(*) AS n FROM annotations")["n"][0] == before


def test_functions_running_sql_text_stay_read_only_and_row_level_secure(
    people: dict[str, ln.Archive], secrets: dict[str, object]
) -> None:
    """query_to_xml & co. run SQL text: the builder lets them through (its parse-tree check
    sees no table), so they read tables not listed. They must stay read-only and under
    row-level security, as every query does."""
    bob = people["bob"]
    client = lasair.lasair_client(archive=bob, timeout=5)
    before = bob.sql("SELECT count(*) AS n FROM annotations")["n"][0]
    where = f"objects.objectId = '{SUPERNOVA}'"
    rows = client.query(
        "query_to_xml('SELECT comment, topic FROM annotations', true, false, '') AS x",
        "objects",
        where,
    )
    assert secrets["topic"] not in json.dumps(rows, default=str)
    for selected in (
        "query_to_xml('DELETE FROM annotations RETURNING 1', true, false, '') AS x",
        "query_to_xml('COMMIT', true, false, '') AS x",
        "query_to_xml('SET ROLE lasair_reader', true, false, '') AS x",
        "query_to_xml('CREATE TEMP TABLE t AS SELECT 1', true, false, '') AS x",
    ):
        with pytest.raises(ln.LasairError):
            client.query(selected, "objects", where)
    assert bob.sql("SELECT count(*) AS n FROM annotations")["n"][0] == before


# --- 4. limits ------------------------------------------------------------------------------


def test_huge_texts_are_refused_before_parsing(people: dict[str, ln.Archive]) -> None:
    client = lasair.lasair_client(archive=people["bob"])
    huge = "objectId IN (" + ", ".join(f"'ZTF{n:09d}'" for n in range(200_000)) + ")"
    start = time.monotonic()
    with pytest.raises(ln.QueryError, match="at most 20000"):
        client.query("objectId", "objects", huge)
    with pytest.raises(ln.QueryError):
        client.query("objectId", "annotator:" + "t" * 1_000_000, "")
    with pytest.raises(ln.QueryError):
        client.query("objectId", "objects", "(" * 200_000 + "true" + ")" * 200_000)
    assert time.monotonic() - start < 30


def test_annotator_fields_are_bounded(people: dict[str, ln.Archive]) -> None:
    bob = people["bob"]
    client = lasair.lasair_client(archive=bob)
    for arguments in (
        {"topic": "t" * 101},
        {"classification": "c" * 101},
        {"url": "u" * 2001},
        {"explanation": "e" * 10_001},
        {"classdict": {"k": "v" * 100_001}},
        {"classdict": {f"k{n}": n for n in range(20_000)}},
    ):
        call = {"topic": "t", "classification": "c", **arguments}
        with pytest.raises(ln.LasairError):
            client.annotate(call.pop("topic"), SUPERNOVA, call.pop("classification"), **call)
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        for column, value in (
            ("topic", "repeat('t', 101)"),
            ("version", "repeat('v', 17)"),
            ("url", "repeat('u', 2001)"),
            ("classdict", "jsonb_build_object('k', repeat('v', 100001))"),
        ):
            refused(
                cursor,
                f"INSERT INTO annotations (objectid, comment, {column}) VALUES (%s, 'c', {value})",
                SUPERNOVA,
                error=psycopg2.errors.CheckViolation,
            )
    raw.close()


def _deep(levels: int) -> dict:
    deep: dict = {}
    for _ in range(levels):
        deep = {"a": deep}
    return deep


def test_a_deeply_nested_classdict_is_a_lasair_error(people: dict[str, ln.Archive]) -> None:
    client = lasair.lasair_client(archive=people["bob"])
    try:
        client.annotate("deep", SUPERNOVA, "x", classdict=_deep(5000))
    except ln.LasairError:
        pass
    except RecursionError:
        pytest.fail("a deep classdict raised RecursionError, not a LasairError")


def test_a_deeply_nested_public_classdict_breaks_no_reader(people: dict[str, ln.Archive]) -> None:
    """bob stores by SQL a public annotation whose classdict is nested 5000 deep (30 kB,
    within the 100 kB bound). Reading it back must not crash alice's queries."""
    alice, bob = people["alice"], people["bob"]
    topic = f"deep_{uuid.uuid4().hex[:6]}"
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        nested = '{"a":' * 5000 + "1" + "}" * 5000
        try:
            cursor.execute(
                "INSERT INTO annotations (objectid, comment, public, topic, classdict)"
                " VALUES (%s, 'poison', true, %s, %s::jsonb)",
                (SUPERNOVA, topic, nested),
            )
        except psycopg2.Error:
            raw.close()
            return  # the archive refuses it: safe
    raw.close()
    crashes = []
    for name, call in (
        ("sql", lambda: alice.sql("SELECT * FROM annotations")),
        ("query", lambda: lasair.lasair_client(archive=alice).query(
            "objects.objectId, annotations.classdict", f"annotator:{topic}", "")),
        ("query *", lambda: lasair.lasair_client(archive=alice).query(
            "*", "objects, annotations", "objects.ncand > 0")),
    ):  # fmt: skip
        try:
            call()
        except ln.LasairError:
            pass
        except RecursionError:
            crashes.append(name)
    assert not crashes, f"another user's public classdict crashes the reader: {crashes}"
    assert alice.sql("SELECT 1 AS one")["one"][0] == 1


def test_watchlist_hits_without_a_filter_is_bounded_by_the_timeout(
    people: dict[str, ln.Archive],
) -> None:
    bob = people["bob"]
    bob.watchlists.create(f"wide_{uuid.uuid4().hex[:6]}", SOURCES, radius=3600, public=True)
    start = time.monotonic()
    with pytest.raises(ln.QueryError, match="statement timeout"):
        bob.sql(
            "SELECT count(*) FROM watchlist_hits h, objects a, objects b, objects c",
            timeout=1,
        )
    with pytest.raises(ln.QueryError, match="statement timeout"):
        lasair.lasair_client(archive=bob, timeout=1).query(
            "count(*)",
            "objects, watchlist_hits, sherlock_classifications",
            "lasair_separation_arcsec(ramean, decmean, ramean + random(), decmean) >= 0"
            " AND pg_sleep(0.5) IS NOT NULL",
        )
    assert time.monotonic() - start < 10


# --- 5. archive tables and annotation authorship ---------------------------------------------


def test_users_cannot_write_the_new_archive_tables(people: dict[str, ln.Archive]) -> None:
    bob = people["bob"]
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        for table in ARCHIVE_TABLES:
            refused(cursor, f"DELETE FROM {table}")
            column = {
                "catalogs": "name",
                "catalog_sources": "source_id",
                "object_batches": "n_objects",
            }.get(table, "objectid")
            refused(cursor, f"UPDATE {table} SET {column} = {column}")
            refused(cursor, f"TRUNCATE {table}")
            refused(cursor, f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        refused(
            cursor,
            "INSERT INTO sherlock_classifications (objectid, classification, description,"
            " annotator) VALUES (%s, 'SN', 'forged', 'bob')",
            SUPERNOVA,
        )
        refused(cursor, "INSERT INTO tns_matches VALUES (%s, '2099zzz', 0)", SUPERNOVA)
        refused(
            cursor,
            "INSERT INTO catalogs (name, kind, file, rows) VALUES ('evil', 'galaxy', 'f', 0)",
        )
        refused(cursor, "COPY catalog_sources FROM STDIN")
        for view in ("watchlist_hits", "area_hits", "crossmatch_tns", "comments"):
            refused(
                cursor,
                f"DELETE FROM {view}",
                error=(
                    psycopg2.errors.InsufficientPrivilege,
                    psycopg2.errors.ObjectNotInPrerequisiteState,
                ),
            )
    raw.close()


def test_annotation_authors_ids_and_times_cannot_be_forged(
    people: dict[str, ln.Archive], secrets: dict[str, object]
) -> None:
    alice, bob = people["alice"], people["bob"]
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        refused(
            cursor,
            "INSERT INTO annotations (objectid, author, comment, topic) VALUES (%s, %s, 'x', 't')",
            SUPERNOVA,
            alice.user,
        )
        for statement in (
            "INSERT INTO annotations (id, objectid, comment) VALUES (10^8, %s, 'x')",
            "INSERT INTO annotations (id, objectid, comment) OVERRIDING SYSTEM VALUE"
            " VALUES (10^8, %s, 'x')",
            "INSERT INTO annotations (objectid, comment, created_at) VALUES (%s, 'x', now())",
        ):
            refused(
                cursor,
                statement,
                SUPERNOVA,
                error=(psycopg2.errors.InsufficientPrivilege, psycopg2.errors.GeneratedAlways),
            )
        cursor.execute(
            "UPDATE annotations SET classification = 'forged', classdict = '{}', topic = 'x'"
            " WHERE id = %s",
            (secrets["annotation"],),
        )
        assert cursor.rowcount == 0  # not his: row-level security hides it
    raw.close()
    row = alice.sql(
        f"SELECT classification, topic FROM annotations WHERE id = {secrets['annotation']}"
    ).iloc[0]
    assert row.classification == "SN Ia" and row.topic == secrets["topic"]


def test_another_users_annotator_topic_cannot_be_written(people: dict[str, ln.Archive]) -> None:
    """In Lasair-ZTF an annotator topic belongs to one user, and only that user's
    annotations appear in ``annotator:TOPIC``. Here bob must not be able to put
    classifications into alice's public annotator stream."""
    alice, bob = people["alice"], people["bob"]
    topic = f"fastfinder_{uuid.uuid4().hex[:6]}"
    lasair.lasair_client(archive=alice).annotate(topic, SUPERNOVA, "SN Ia")
    try:
        lasair.lasair_client(archive=bob).annotate(topic, SUPERNOVA, "AGN")
    except ln.LasairError:
        pass
    rows = lasair.lasair_client(archive=alice).query(
        "annotations.classification, annotations.author", f"annotator:{topic}", ""
    )
    authors = {row["author"] for row in rows}
    assert authors == {alice.user}, f"annotator:{topic} returns {rows}"


def test_annotator_field_changes_are_in_the_history(people: dict[str, ln.Archive]) -> None:
    """'Annotations ... with the full history of every change': a user may UPDATE the
    annotator columns (column grant), so the history must record what they were."""
    bob = people["bob"]
    annotation = bob.annotate(
        SUPERNOVA,
        comment="c",
        public=True,
        annotator={"topic": "histo", "classification": "SN Ia"},
    )
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        cursor.execute("UPDATE annotations SET classification = 'AGN' WHERE id = %s", (annotation,))
    raw.close()
    history = bob.sql(f"SELECT * FROM annotation_history WHERE annotation_id = {annotation}")
    assert len(history) == 2
    assert "classification" in history.columns, "history does not record annotator fields"


# --- 6. catalogue loading (operator CLI) from a hostile file -----------------------------------


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    def run(url: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("LASAIR_DB_URL", url)
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def fresh_url(make_archive) -> str:
    return make_archive()


def _rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(sa.text(sql)).all()]
    engine.dispose()
    return rows


HOSTILE_IDS = [
    "plain",
    "quote ' here",
    'double " quote',
    "comma, here",
    "new\nline",
    "carriage\rreturn",
    "both\r\nends",
    "x\rCLU,999,forged,galaxy,0,0,0,,,,",
    "x\nCLU,999,forged,galaxy,0,0,0,,,,",
    "back\\slash\\.",
    "\\.",
    "'); DROP TABLE objects; --",
    "$$; DROP TABLE objects; $$",
    "tab\there",
]


def test_hostile_catalogue_values_are_stored_as_text(
    fresh_url: str, run_cli, tmp_path: Path
) -> None:
    file = tmp_path / "hostile.csv"
    with file.open("w", newline="") as handle:  # every field quoted (pandas leaves \r bare)
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(["id", "ra", "dec", "z"])
        for number, source_id in enumerate(HOSTILE_IDS):
            writer.writerow([source_id, 10.0 + number, 5.0, 0.01])
    status, _, err = run_cli(fresh_url, "catalogs", "load", "HOSTILE", str(file), "--kind",
                             "galaxy", "--quiet")  # fmt: skip
    assert "Traceback" not in err
    tables = {row[0] for row in _rows(fresh_url, "SELECT tablename FROM pg_tables")}
    assert "objects" in tables
    # Ids with control characters (newlines, carriage returns, tabs) are refused by row, and
    # nothing is stored; the printable hostile ones are data, stored verbatim.
    assert status == 2 and "row 5:" in err and "control character" in err, err
    assert _rows(fresh_url, "SELECT count(*) FROM catalog_sources")[0][0] == 0
    printable = [i for i in HOSTILE_IDS if i.isprintable()]
    with file.open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        writer.writerow(["id", "ra", "dec", "z"])
        for number, source_id in enumerate(printable):
            writer.writerow([source_id, 10.0 + number, 5.0, 0.01])
    status, _, err = run_cli(fresh_url, "catalogs", "load", "HOSTILE", str(file), "--kind",
                             "galaxy", "--quiet")  # fmt: skip
    assert status == 0, err
    stored = _rows(fresh_url, "SELECT number, source_id FROM catalog_sources ORDER BY number")
    assert [row[1] for row in stored] == printable
    assert [row[0] for row in stored] == list(range(1, len(printable) + 1))


def test_hostile_catalogue_column_names_and_nul(fresh_url: str, run_cli, tmp_path: Path) -> None:
    evil = 'ra"); DROP TABLE objects; --'
    file = tmp_path / "columns.csv"
    pd.DataFrame({evil: [10.0, 11.0], "dec'; DROP TABLE objects; --": [1.0, 2.0],
                  "name\n": ["a", "b"]}).to_csv(file, index=False)  # fmt: skip
    status, _, err = run_cli(
        fresh_url, "catalogs", "load", "COLS", str(file), "--kind", "galaxy", "--quiet",
        "--ra", evil, "--dec", "dec'; DROP TABLE objects; --",
    )  # fmt: skip
    assert "Traceback" not in err
    assert status == 0, err
    column_map = _rows(fresh_url, "SELECT column_map FROM catalogs WHERE name = 'COLS'")[0][0]
    assert column_map["ra"] == evil
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"id,ra,dec\nok,1,1\nbad\x00id,2,2\n")
    status, _, err = run_cli(fresh_url, "catalogs", "load", "NUL", str(nul), "--kind", "galaxy",
                             "--quiet")  # fmt: skip
    assert "Traceback" not in err
    assert status != 0 or "\x00" not in "".join(
        row[0] for row in _rows(fresh_url, "SELECT source_id FROM catalog_sources")
    )
    assert {row[0] for row in _rows(fresh_url, "SELECT tablename FROM pg_tables")} >= {"objects"}
