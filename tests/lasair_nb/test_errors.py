"""Errors: one hierarchy with the built-in classes users expect; suggestions only from the
tables a query names; the client can lower a user's time limit, never raise it."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import astropy.units as u
import pandas as pd
import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa
from astropy.coordinates import SkyCoord

import lasair_nb as ln
from lasair_nb.admin.users import add_user
from lasair_nb.archive.migrate import upgrade
from lasair_nb.settings import Settings


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive: Callable[[], str]) -> str:
    return make_seeded_archive()


@pytest.fixture(scope="module")
def archive(archive_url: str) -> ln.Archive:
    archive = ln.connect(archive_url)
    yield archive
    archive.close()


def _user(archive_url: str, settings: Settings | None = None, admin: bool = False) -> ln.Archive:
    name = f"u_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(archive_url)
    with engine.begin() as connection:
        password = add_user(connection, name, admin=admin, settings=settings)
    engine.dispose()
    return ln.connect(archive_url, user=name, password=password)


def test_unknown_column_suggests_only_from_the_tables_named(archive: ln.Archive) -> None:
    with pytest.raises(ln.QueryError) as raised:
        archive.sql("SELECT ingested_at FROM ingest_batches")
    message = str(raised.value)
    assert "unknown column 'ingested_at' in ingest_batches" in message
    assert "did you mean ingested_at" not in message  # it is a column of candidates only


def test_unknown_column_of_a_join_suggests_from_both_tables(archive: ln.Archive) -> None:
    with pytest.raises(ln.QueryError, match=r"did you mean.*magpsf"):
        archive.sql("SELECT ncand, magpsff FROM objects JOIN candidates USING (objectid)")


def test_bad_arguments_are_value_errors(archive: ln.Archive) -> None:
    for call in (
        lambda: archive.sql("DELETE FROM objects"),
        lambda: archive.sql("SELECT 1", limit=0),
        lambda: archive.cone("not a place"),
        lambda: archive.object("ZTF21abiuvdk").lightcurve(kind="brightness"),
        lambda: archive.object("ZTF21abiuvdk").fold(period="soon"),
        lambda: archive.object("ZTF21abiuvdk").fold(period=-1),
        lambda: archive.object("ZTF21abiuvdk").cutouts(candid="latest"),
        lambda: archive.coverage(since="yesterday-ish"),
        lambda: archive.watchlists.create("bad/name", "x.csv"),
    ):
        with pytest.raises(ln.ArgumentError) as raised:
            call()
        assert isinstance(raised.value, ValueError)
        assert isinstance(raised.value, ln.LasairError)


def test_missing_things_are_key_errors(archive: ln.Archive) -> None:
    record = archive.object("ZTF21abiuvdk")
    for call in (
        lambda: archive.object("ZTF99zzzzzzz"),
        lambda: record.cutouts(candid=1),
        lambda: archive.watchlists.get("no such list"),
        lambda: archive.queries.run("no such query"),
    ):
        with pytest.raises(ln.NotFoundError) as raised:
            call()
        assert isinstance(raised.value, KeyError)
        assert "'" not in str(raised.value)[:1]  # the message, not a quoted key


def test_a_period_the_object_lacks_is_an_argument_error(archive: ln.Archive) -> None:
    quiet = archive.sql(
        "SELECT objectid FROM objects WHERE period_r IS NULL AND period_g IS NULL"
        " AND period_i IS NULL",
        limit=1,
    )["objectid"][0]
    with pytest.raises(ln.ArgumentError, match="give one: fold"):
        archive.object(quiet).fold()


def test_refusals_are_permission_errors(archive_url: str) -> None:
    user = _user(archive_url)
    with pytest.raises(ln.NotAllowedError) as raised:
        user.tns.load("whatever.csv")
    assert isinstance(raised.value, PermissionError)
    owner = ln.connect(archive_url)
    owner.queries.save(f"q{uuid.uuid4().hex[:6]}", "SELECT 1", public=True)
    mine = owner.queries.list("mine")["name"].iloc[-1]
    with pytest.raises(ln.NotAllowedError):
        user.queries.delete(f"{owner.user}/{mine}")
    user.close()
    owner.close()


def test_the_client_never_raises_a_users_time_limit(archive_url: str) -> None:
    # The role's ceiling is 1 s; asking for an hour must still stop at 1 s.
    user = _user(archive_url, Settings(sql_timeout=1))
    with pytest.raises(ln.QueryError, match="exceeded 1 s"):
        user.sql("SELECT pg_sleep(3)", timeout=3600)
    assert user.sql("SELECT 1 AS ok FROM pg_sleep(0.1)", timeout=3600)["ok"][0] == 1
    user.close()


def test_a_user_gets_the_default_ceiling(archive_url: str) -> None:
    user = _user(archive_url)  # the settings a deployment gets by default
    frame = user.sql(
        "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'", timeout=3600
    )
    # Inside the query the effective limit is in force: the role's 60 s, not an hour
    # (less what the statements before the FETCH already used: the limit is re-set to the
    # time left before each step).
    assert 55_000 <= int(frame["setting"][0]) <= 60_000
    user.close()


def test_a_tiny_timeout_is_never_no_limit(archive: ln.Archive) -> None:
    with pytest.raises(ln.QueryError, match="exceeded"):
        archive.sql("SELECT pg_sleep(1)", timeout=0.0001)


def test_rows_skipped_by_offset_cannot_lift_the_timeout(archive_url: str) -> None:
    user = _user(archive_url)
    started = time.monotonic()
    # Since migration 0005 users may not call set_config at all; either way no lift.
    with pytest.raises(ln.QueryError, match=r"exceeded|permission denied for function set_config"):
        user.sql(
            "SELECT set_config('statement_timeout', '0', true) AS s"
            " UNION ALL SELECT pg_sleep(4)::text",
            offset=1,
            timeout=1,
        )
    assert time.monotonic() - started < 3
    user.close()


def test_a_lost_session_is_a_database_error_and_the_next_query_works(
    archive: ln.Archive,
) -> None:
    with pytest.raises(ln.DatabaseError, match="connection to the archive was lost"):
        archive.sql("SELECT pg_terminate_backend(pg_backend_pid())")
    assert archive.sql("SELECT 1 AS one")["one"][0] == 1


def test_unknown_users_and_servers_are_database_errors(archive_url: str) -> None:
    with pytest.raises(ln.DatabaseError, match="cannot connect to the archive"):
        ln.connect(archive_url, user="nobody_here", password="x")
    secret = "s3cr3t-pw"
    with pytest.raises(ln.DatabaseError) as raised:
        upgrade(f"postgresql+psycopg2://owner:{secret}@127.0.0.1:9/lasair")
    assert secret not in str(raised.value)


def test_duplicate_column_names_still_make_a_table(archive_url: str) -> None:
    tables = ln.connect(archive_url, output="astropy")
    table = tables.sql("SELECT 1, 2")
    assert len(table.colnames) == 2 and len(set(table.colnames)) == 2
    joined = tables.query("*", "objects, candidates", "objects.objectid = 'ZTF21abiuvdk'")
    assert len(joined) > 0
    tables.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.coverage(since={}),
        lambda a: a.object("ZTF\x00x"),
        lambda a: a.sql("SELECT 1", offset=2**40),
        lambda a: a.watchlists.create("w", "/no/such/file.csv"),
        lambda a: a.watchlists.create("w", pd.DataFrame({"ra": [1.0, None], "dec": [2.0, 3.0]})),
        lambda a: a.watchlists.create("w", pd.DataFrame({0: [1.0], 1: [2.0]})),
        lambda a: a.watchlists.create(
            "w", pd.DataFrame({"ra": [1.0], "dec": [2.0], "radius": ["big"]})
        ),
        lambda a: a.watchlists.create("w", pd.DataFrame({"ra": [1.0], "dec": [2.0]}), public="no"),
        lambda a: a.watchlists.create("w", pd.DataFrame({"ra": [1.0], "dec": [2.0]}), radius=7200),
        lambda a: a.watchmaps.create("m", cone=("x", 1)),
        lambda a: a.watchmaps.create("m", cone=5),
        lambda a: a.watchmaps.create("m", polygon=[(1, 2)]),
        lambda a: a.watchmaps.create("m", moc="/no/such.fits"),
        lambda a: a.annotations.update("x", comment="c"),
        lambda a: a.annotations.delete("x"),
        lambda a: a.annotations.add("ZTF21abiuvdk", tags=5),
        lambda a: a.annotations.search(tag=5),
        lambda a: a.annotations.history(5),
        lambda a: a.tags.describe(5, "x"),
        lambda a: ln.to_table([1, 2]),
    ],
)
def test_hostile_arguments_are_lasair_errors(archive: ln.Archive, call) -> None:
    with pytest.raises(ln.LasairError):
        call(archive)


def test_decimal_degrees_written_as_text_are_degrees(archive: ln.Archive) -> None:
    name = f"text-{uuid.uuid4().hex[:6]}"
    archive.watchlists.create(name, pd.DataFrame({"ra": ["123.4"], "dec": ["-5.0"]}))
    sources = archive.watchlists.get(name)
    assert sources["ra"][0] == pytest.approx(123.4) and sources["dec"][0] == pytest.approx(-5.0)
    archive.watchlists.delete(name)
    assert [] not in archive.tags


def test_a_huge_expression_is_refused_without_crashing_the_caller() -> None:
    # pglast's Python parse tree of this segfaulted the whole process (a kernel, for a user).
    script = (
        "import lasair_nb as ln\n"
        "from lasair_nb.archive.user_sql import check_select\n"
        "for n in (9_000, 50_000):\n"
        "    try:\n"
        "        check_select('SELECT ' + '+'.join(['1'] * n))\n"
        "    except ln.QueryError as error:\n"
        "        print('refused:', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("refused:") == 2
    assert "at most 20000" in done.stdout


def test_deeply_nested_sql_is_a_query_error(archive: ln.Archive) -> None:
    with pytest.raises(ln.QueryError, match=r"nested too deeply|stack depth"):
        archive.sql("SELECT " + "+".join(["1"] * 6000))


def test_a_users_status_page_leaves_the_quarantine_out(archive_url: str) -> None:
    user = _user(archive_url)
    figures = user.status()
    assert figures["quarantined_total"] is None
    assert figures["received_today"] >= 0
    user.close()


def test_a_bare_postgresql_url_and_names_with_newlines(archive_url: str) -> None:
    bare = archive_url.replace("postgresql+psycopg2://", "postgresql://")
    archive = ln.connect(bare)
    assert archive.sql("SELECT 1 AS one")["one"][0] == 1
    with pytest.raises(ln.StoreError, match="invalid watchlist name"):
        archive.watchlists.create("trailing\n", pd.DataFrame({"ra": [1.0], "dec": [2.0]}))
    with pytest.raises(ln.StoreError, match="finite SkyCoord"):
        archive.watchmaps.create(
            "nan", cone=(SkyCoord(float("nan") * u.deg, float("nan") * u.deg), 1 * u.deg)
        )
    archive.close()


def test_nul_characters_are_refused_with_a_store_error(archive: ln.Archive) -> None:
    with pytest.raises(ln.StoreError, match="NUL"):
        archive.annotate("ZTF21abiuvdk", comment="bad\x00comment")
    with pytest.raises(ln.StoreError, match="NUL"):
        archive.tags.add(f"t-{uuid.uuid4().hex[:4]}", "bad\x00description")
    with pytest.raises(ln.StoreError):
        archive.watchlists.create("nul\x00name", pd.DataFrame({"ra": [1.0], "dec": [2.0]}))


def test_the_client_cancels_a_query_from_outside_too(archive_url: str) -> None:
    # The second line of defence: even with no server-side limit, the client's timer
    # cancels the statement.
    from lasair_nb.archive.engine import connect_raw  # noqa: PLC0415
    from lasair_nb.archive.user_sql import cancel_after  # noqa: PLC0415

    connection = connect_raw(archive_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
            started = time.monotonic()
            with pytest.raises(psycopg2.errors.QueryCanceled), cancel_after(connection, 0.5):
                cursor.execute("SELECT pg_sleep(5)")
            assert time.monotonic() - started < 3
    finally:
        connection.close()
