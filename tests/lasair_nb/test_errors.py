"""Errors: one hierarchy with the built-in classes users expect; suggestions only from the
tables a query names; the client can lower a user's time limit, never raise it."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa

import lasair_nb as ln
from lasair_nb.admin.users import add_user
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
    # Inside the query the effective limit is in force: the role's 60 s, not an hour.
    assert int(frame["setting"][0]) == 60_000
    user.close()


def test_a_tiny_timeout_is_never_no_limit(archive: ln.Archive) -> None:
    with pytest.raises(ln.QueryError, match="exceeded"):
        archive.sql("SELECT pg_sleep(1)", timeout=0.0001)
