"""Attacks by users on each other and on the archive, through the client and through a
user's own psycopg2 connection (migration 0005 and ``QueryStore.run``).

The archive is reached over TCP, as notebook servers on the hub reach it: every login,
the owner's, each user's and ``lasair_reader``'s, needs its password.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import psycopg2
import pytest
import sqlalchemy as sa
from alembic import command
from astropy import units as u
from astropy.coordinates import SkyCoord

import lasair_nb as ln
from lasair_nb.admin.users import add_user, remove_user
from lasair_nb.archive import migrate as migrations
from lasair_nb.archive.migrate import alembic_config, upgrade

SUPERNOVA = "ZTF21abiuvdk"
SOURCES = pd.DataFrame({"name": ["a", "b"], "ra": [0.8142, 46.9973], "dec": [16.1457, 9.368]})


@pytest.fixture(scope="module")
def archive_url(make_seeded_archive, over_tcp) -> str:
    return over_tcp(make_seeded_archive())


def login(archive_url: str, name: str, admin: bool = False) -> ln.Archive:
    engine = sa.create_engine(archive_url)
    with engine.begin() as connection:
        password = add_user(connection, name, admin=admin)
    engine.dispose()
    return ln.connect(archive_url, user=name, password=password)


@pytest.fixture(scope="module")
def people(archive_url: str) -> dict[str, ln.Archive]:
    """alice and bob (users), carol (administrator), logged in."""
    suffix = uuid.uuid4().hex[:6]
    return {
        person: login(archive_url, f"{person}_{suffix}", admin)
        for person, admin in (("alice", False), ("bob", False), ("carol", True))
    }


def raw_login(archive: ln.Archive, user: str | None = None):
    """A psycopg2 connection as the archive's user (or as ``user``), outside the client."""
    url = archive.engine.url
    arguments = {**url.translate_connect_args(username="user", database="dbname"), **url.query}
    if user == "lasair_reader":
        arguments = {**arguments, "user": user, "password": os.environ["LASAIR_READER_PASSWORD"]}
    elif user is not None:
        arguments = {**arguments, "user": user, "password": None}
    connection = psycopg2.connect(**{k: v for k, v in arguments.items() if v is not None})
    connection.autocommit = True
    return connection


def refused(cursor, statement: str, *parameters, error=psycopg2.errors.InsufficientPrivilege):
    with pytest.raises(error):
        cursor.execute(statement, parameters or None)


# --- 1. shared queries must not leak the runner's private rows ----------------------------


def watch_while(run: Callable[[], None], look: Callable[[], set[str]], seconds: float) -> set:
    """Run ``run`` in a thread while collecting what ``look`` sees, until both end."""
    seen: set[str] = set()
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            run()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + seconds
    while thread.is_alive() or time.monotonic() < deadline:
        seen |= look()
        time.sleep(0.05)
        if not thread.is_alive() and time.monotonic() > deadline:
            break
    thread.join()
    return seen, outcome[0]


@pytest.mark.slow  # a seeded archive and the notebook runner
def test_a_shared_query_cannot_publish_the_runners_private_rows(
    people: dict[str, ln.Archive],
) -> None:
    alice, bob = people["alice"], people["bob"]
    secret = f"secret_{uuid.uuid4().hex[:8]}"
    bob.watchlists.create(secret, SOURCES)
    mine = "(SELECT string_agg(name, ',') FROM watchlists WHERE owner = current_user)"
    count = "(SELECT count(*) FROM watchlists WHERE owner = current_user AND NOT public)::int"
    alice.queries.save(
        "appname",
        f"SELECT set_config('application_name', coalesce({mine}, 'none'), false), pg_sleep(2)",
        public=True,
    )
    alice.queries.save(
        "locks", f"SELECT pg_advisory_xact_lock(77001, {count}), pg_sleep(2)", public=True
    )
    spy = raw_login(alice)
    with spy.cursor() as cursor:

        def look() -> set[str]:
            cursor.execute("SELECT coalesce(application_name, '') FROM pg_stat_activity")
            names = {row[0] for row in cursor.fetchall()}
            cursor.execute(
                "SELECT 'lock:' || objid FROM pg_locks WHERE locktype = 'advisory'"
                " AND classid = 77001"
            )
            return names | {row[0] for row in cursor.fetchall()}

        for query in ("appname", "locks"):
            seen, error = watch_while(
                lambda query=query: bob.queries.run(f"{alice.user}/{query}"), look, 1.0
            )
            assert not any(secret in name for name in seen), query
            assert not any(name.startswith("lock:") and name != "lock:0" for name in seen), query
            assert isinstance(error, ln.QueryError) and "permission denied" in str(error)
    spy.close()


def test_another_users_query_runs_as_the_reader(people: dict[str, ln.Archive]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    bob.watchlists.create(f"hidden_{uuid.uuid4().hex[:6]}", SOURCES)
    who = "SELECT current_user AS who, (SELECT count(*) FROM watchlists WHERE NOT public) AS n"
    alice.queries.save("who", who, public=True)
    bob.queries.save("who", who)
    theirs = bob.queries.run(f"{alice.user}/who")
    assert theirs["who"][0] == "lasair_reader" and theirs["n"][0] == 0
    own = bob.queries.run("who")
    assert own["who"][0] == bob.user and own["n"][0] >= 1
    assert bob.queries.run(f"{bob.user}/who")["who"][0] == bob.user
    # A system query is run by its bare name, still as the reader.
    alice.queries.save("sys_who", who, public=True)
    carol.queries.promote(f"{alice.user}/sys_who")
    assert bob.queries.run("sys_who")["who"][0] == "lasair_reader"


def test_a_bare_name_never_picks_another_users_public_query(
    people: dict[str, ln.Archive],
) -> None:
    alice, bob = people["alice"], people["bob"]
    alice.queries.save("only_alices", "SELECT 1 AS one", public=True)
    with pytest.raises(ln.NotFoundError, match="owner/name"):
        bob.queries.run("only_alices")
    assert bob.queries.run(f"{alice.user}/only_alices")["one"][0] == 1
    assert alice.queries.run("only_alices")["one"][0] == 1


def test_without_the_reader_another_users_query_is_refused(
    archive_url: str, people: dict[str, ln.Archive]
) -> None:
    alice, bob = people["alice"], people["bob"]
    alice.queries.save("refused", "SELECT 1 AS one", public=True)
    bob.queries.save("mine_runs", "SELECT 2 AS two")
    bob_again = ln.connect(archive_url, user=bob.user, password=bob.engine.url.password)
    # As on a server where lasair_reader cannot log in (no LASAIR_READER_PASSWORD).
    bob_again._reader = sa.create_engine(
        bob.engine.url.set(username="lasair_reader", database="no_such_archive")
    )
    with pytest.raises(ln.NotAllowedError, match="LASAIR_READER_PASSWORD"):
        bob_again.queries.run(f"{alice.user}/refused")
    assert bob_again.queries.run("mine_runs")["two"][0] == 2
    bob_again.close()


def test_the_owner_without_the_reader_gets_a_lasair_error(archive_url: str) -> None:
    """The owner's SQL runs as lasair_reader; when that role cannot log in, the owner is
    told so (found by the hub benchmark: psycopg2's own error escaped before)."""
    owner = ln.connect(archive_url)
    owner._reader = sa.create_engine(
        owner.engine.url.set(username="lasair_reader", database="no_such_archive")
    )
    with pytest.raises(ln.NotAllowedError, match="archive's owner runs SQL as the read-only"):
        owner.sql("SELECT 1 AS one")
    owner.close()


SIDE_CHANNELS = [
    "SELECT set_config('application_name', 'leak', false)",
    "SELECT set_config('work_mem', '64MB', true)",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_advisory_lock(1, 2)",
    "SELECT pg_advisory_xact_lock(1)",
    "SELECT pg_advisory_xact_lock_shared(1, 2)",
    "SELECT pg_try_advisory_lock(1)",
    "SELECT pg_try_advisory_xact_lock(1, 2)",
    "SELECT pg_advisory_unlock_all()",
    "SELECT pg_notify('channel', 'leak')",
    "SELECT txid_current()",
    "SELECT pg_current_xact_id()",
    "SELECT lo_create(0)",
    "SELECT lo_creat(-1)",
    "SELECT lo_from_bytea(0, 'leak')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_unlink(1)",
    "SELECT lo_get(1)",
]


@pytest.mark.parametrize("as_reader", [False, True], ids=["user", "lasair_reader"])
def test_side_channel_and_large_object_functions_are_refused(
    people: dict[str, ln.Archive], as_reader: bool
) -> None:
    bob = people["bob"]
    raw = raw_login(bob, "lasair_reader" if as_reader else None)
    with raw.cursor() as cursor:
        for statement in SIDE_CHANNELS:
            refused(cursor, statement)
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == ("lasair_reader" if as_reader else bob.user)
    raw.close()
    for statement in SIDE_CHANNELS[:3]:
        with pytest.raises(ln.QueryError, match="permission denied"):
            bob.sql(statement)


def test_every_overload_is_revoked_and_the_owner_keeps_them(archive_url: str) -> None:
    path = Path(migrations.__file__).parent / "migrations" / "versions" / "0005_hardening.py"
    spec = importlib.util.spec_from_file_location("hardening", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    names = list(migration.SIDE_CHANNEL_FUNCTIONS + migration.LARGE_OBJECT_FUNCTIONS)
    engine = sa.create_engine(archive_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT p.oid::regprocedure::text, has_function_privilege('lasair_user', p.oid,"
                " 'EXECUTE'), has_function_privilege('lasair_reader', p.oid, 'EXECUTE'),"
                " has_function_privilege(current_user, p.oid, 'EXECUTE')"
                " FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace"
                " AND p.proname = ANY(:names)"
            ),
            {"names": names},
        ).all()
    engine.dispose()
    assert {row[0].split("(")[0] for row in rows} == set(names)
    assert len(rows) > len(names)  # overloads included
    assert [row[0] for row in rows if row[1] or row[2]] == []
    assert all(row[3] for row in rows)


# --- 4. id squatting and forged times --------------------------------------------------------


def test_ids_owners_and_times_cannot_be_forged(people: dict[str, ln.Archive]) -> None:
    alice, bob = people["alice"], people["bob"]
    note = bob.annotate(SUPERNOVA, comment="a note")
    bob.queries.save("timed", "SELECT 1")
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        # Ids ahead of the sequence would make another user's next insert fail.
        for table, columns, values in (
            ("watchlists", "name, radius_arcsec", "'squat', 2"),
            ("queries", "name, sql", "'squat', 'SELECT 1'"),
            ("annotations", "objectid, comment", "'ZTFx', 'squat'"),
            ("watchmaps", "name, moc, area_deg2", "'squat', '', 1"),
            ("skymaps", "name, has_distance, area90_deg2", "'squat', false, 1"),
        ):
            cursor.execute(f"SELECT coalesce(max(id), 0) + 2 FROM {table}")
            ahead = cursor.fetchone()[0]
            refused(
                cursor,
                f"INSERT INTO {table} (id, {columns}) OVERRIDING SYSTEM VALUE"
                f" VALUES (%s, {values})",
                ahead,
            )
        for statement in (
            "INSERT INTO watchlists (name, radius_arcsec, created_at)"
            " VALUES ('old', 2, '1999-01-01')",
            "INSERT INTO queries (name, sql, created_at) VALUES ('old', 'SELECT 1', '1999-01-01')",
            "INSERT INTO annotations (objectid, comment, created_at, updated_at)"
            " VALUES ('ZTFx', 'old', '1999-01-01', '1999-01-01')",
            "INSERT INTO tags (name, created_at) VALUES ('old-tag', '1999-01-01')",
            "INSERT INTO tags (name, created_by) VALUES ('their-tag', 'postgres')",
            f"INSERT INTO annotations (objectid, comment, author) VALUES ('x', 'y', '{alice.user}')",
            f"UPDATE annotations SET updated_at = '1999-01-01' WHERE id = {note}",
            f"UPDATE annotations SET created_at = '1999-01-01' WHERE id = {note}",
            "UPDATE queries SET created_at = '1999-01-01' WHERE name = 'timed'",
            f"UPDATE queries SET owner = '{alice.user}' WHERE name = 'timed'",
            "SELECT nextval(pg_get_serial_sequence('watchlists', 'id'))",
            "SELECT setval(pg_get_serial_sequence('annotations', 'id'), 10000000)",
        ):
            refused(cursor, statement)
        # What the client does still works from a raw connection.
        cursor.execute("INSERT INTO watchlists (name, radius_arcsec) VALUES ('raw_ok', 2)")
        cursor.execute(f"UPDATE annotations SET comment = 'changed' WHERE id = {note}")
    raw.close()
    # And through the client: every table a user writes.
    tag = f"ok-{uuid.uuid4().hex[:4]}"
    bob.tags.add(tag, "fine")
    bob.tags.describe(tag, "still fine")
    bob.annotations.update(note, tags=[tag], public=False)
    bob.watchlists.create("normal", SOURCES, description="a list")
    bob.watchlists.update("normal", description="the list", radius=3, sources=SOURCES)
    bob.watchmaps.create("area", cone=(SkyCoord(10 * u.deg, 20 * u.deg), 1 * u.deg))
    bob.queries.save("normal", "SELECT 1", description="q")
    bob.queries.delete("normal")
    bob.watchlists.delete("normal")
    notes = bob.annotations.search(author=bob.user)
    assert notes.set_index("id").loc[note, "comment"] == "changed"


# --- 5. history follows privacy ----------------------------------------------------------------


def test_history_follows_the_annotations_current_visibility(
    people: dict[str, ln.Archive],
) -> None:
    alice, bob = people["alice"], people["bob"]
    words = f"indiscreet {uuid.uuid4().hex[:6]}"
    made_private = alice.annotate(SUPERNOVA, comment=f"{words} v1")
    alice.annotations.update(made_private, comment=f"{words} v2")
    deleted = alice.annotate(SUPERNOVA, comment=f"{words} gone")
    public = alice.annotate(SUPERNOVA, comment=f"{words} public")

    def seen_by(person: ln.Archive) -> set[int]:
        history = person.annotations.history(SUPERNOVA)
        return set(history[history["comment"].str.startswith(words)]["annotation_id"])

    assert seen_by(bob) == {made_private, deleted, public}
    alice.annotations.update(made_private, public=False)
    alice.annotations.delete(deleted)
    assert seen_by(bob) == {public}
    assert seen_by(alice) == {made_private, deleted, public}
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM annotation_history WHERE comment LIKE %s", (f"{words}%",)
        )
        assert cursor.fetchone()[0] == 1  # the public one's insert
        refused(cursor, "DELETE FROM annotation_history")
        refused(cursor, "INSERT INTO annotation_history (annotation_id) VALUES (1)")
    raw.close()
    # Made public again, its whole history is visible again.
    alice.annotations.update(made_private, public=True)
    assert seen_by(bob) == {made_private, public}


def test_a_new_user_of_a_removed_users_name_reads_none_of_their_history(
    archive_url: str, people: dict[str, ln.Archive]
) -> None:
    name = f"dave_{uuid.uuid4().hex[:6]}"
    words = f"dave's private thoughts {uuid.uuid4().hex[:6]}"
    dave = login(archive_url, name)
    private = dave.annotate(SUPERNOVA, comment=words, public=False)
    dave.annotations.update(private, comment=f"{words} (edited)")
    dave.annotate(SUPERNOVA, comment=f"{words} public")
    dave.close()
    engine = sa.create_engine(archive_url)
    with engine.begin() as connection:
        remove_user(connection, name)
    with engine.connect() as connection:
        left = connection.execute(
            sa.text(
                "SELECT count(*) FROM annotation_history WHERE author = :n OR changed_by = :n"
                " OR comment LIKE :w"
            ),
            {"n": name, "w": f"{words}%"},
        ).scalar_one()
    engine.dispose()
    assert left == 0
    impostor = login(archive_url, name)
    history = impostor.annotations.history(SUPERNOVA)
    assert not history["comment"].str.startswith(words).any()
    impostor.close()


# --- 7. smaller escalations ----------------------------------------------------------------------


def test_users_cannot_become_their_groups(people: dict[str, ln.Archive]) -> None:
    for person in ("bob", "carol"):
        raw = raw_login(people[person])
        with raw.cursor() as cursor:
            for group in ("lasair_user", "lasair_admin", "lasair_reader", "postgres"):
                refused(cursor, f"SET ROLE {group}")
            refused(cursor, "SELECT set_config('role', 'lasair_user', false)")
            cursor.execute(
                "SELECT pg_has_role('lasair_user', 'USAGE'), rolconnlimit"
                " FROM pg_roles WHERE rolname = current_user"
            )
            assert cursor.fetchone() == (True, 20)  # the group's rights, 20 connections
        raw.close()


def test_an_administrator_cannot_reattribute_a_query(people: dict[str, ln.Archive]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    carol.queries.save("framed", "SELECT 1", public=True)
    alice.queries.save("theirs", "SELECT 1", public=True)
    raw = raw_login(carol)
    with raw.cursor() as cursor:
        refused(cursor, "UPDATE queries SET owner = %s WHERE name = 'framed'", bob.user)
        refused(cursor, "UPDATE queries SET owner = %s WHERE owner = %s", carol.user, alice.user)
        refused(
            cursor,
            "INSERT INTO queries (owner, name, sql, public) VALUES (%s, 'x', 'SELECT 1', true)",
            bob.user,
        )
    raw.close()
    assert carol.queries.list("public").set_index("name").loc["framed", "owner"] == carol.user
    carol.queries.promote(f"{alice.user}/theirs")  # promoting still works


def test_user_text_is_bounded(people: dict[str, ln.Archive]) -> None:
    bob = people["bob"]
    with pytest.raises(ln.StoreError, match="description_length"):
        bob.queries.save("wordy", "SELECT 1", description="x" * 10_001)
    with pytest.raises(ln.StoreError, match="comment_length"):
        bob.annotate(SUPERNOVA, comment="x" * 10_001)
    raw = raw_login(bob)
    with raw.cursor() as cursor:
        for statement in (
            "INSERT INTO queries (name, sql) VALUES ('long', 'SELECT ' || repeat('1', 20000))",
            "INSERT INTO watchlists (name, radius_arcsec) VALUES (repeat('n', 101), 2)",
            "INSERT INTO tags (name, description) VALUES ('wordy', repeat('d', 10001))",
            "INSERT INTO annotations (objectid, tags) VALUES ('x', array_fill('t'::text, ARRAY[101]))",
        ):
            refused(cursor, statement, error=psycopg2.errors.CheckViolation)
        cursor.execute("INSERT INTO queries (name, sql) VALUES ('max', repeat('1', 20000))")
    raw.close()


def test_what_a_user_may_still_set_for_itself(archive_url: str) -> None:
    """Not enforceable by PostgreSQL: a user may SET any user-settable parameter
    (work_mem, statement_timeout, ...) and reset its own role's defaults of them.
    Superuser-only limits (temp_file_limit) stay; the reaper enforces the rest."""
    eve = login(archive_url, f"eve_{uuid.uuid4().hex[:6]}")
    raw = raw_login(eve)
    with raw.cursor() as cursor:
        cursor.execute("SET work_mem = '1TB'")  # cannot be forbidden
        refused(cursor, "SET temp_file_limit = -1")
        refused(cursor, "ALTER ROLE CURRENT_USER SET temp_file_limit = -1")
        cursor.execute("ALTER ROLE CURRENT_USER RESET ALL")  # its own user-settable defaults
    raw.close()
    raw = raw_login(eve)
    with raw.cursor() as cursor:
        cursor.execute("SHOW temp_file_limit")
        assert cursor.fetchone()[0] == "1GB"
    raw.close()
    eve.close()


# --- the migration upgrades an archive in use ------------------------------------------------------


def test_migration_0005_upgrades_an_archive_with_users_and_rows(pg_server_url: str) -> None:
    name = f"lasair_old_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:6]
    user, boss = f"old_{suffix}", f"oldadmin_{suffix}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    owner = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        command.upgrade(alembic_config(url), "0004")
        with owner.connect() as connection:  # users as revision 0004 made them
            for role, group in ((user, "lasair_user"), (boss, "lasair_admin")):
                connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN IN ROLE {group}")
                connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{name}" TO {role}')
        socket_login = {
            "host": sa.make_url(url).query.get("host"),
            "port": sa.make_url(url).query.get("port"),
            "dbname": name,
            "user": user,
        }
        raw = psycopg2.connect(**socket_login)
        raw.autocommit = True
        with raw.cursor() as cursor:
            cursor.execute("INSERT INTO watchlists (name, radius_arcsec) VALUES ('w', 2)")
            cursor.execute(
                "INSERT INTO annotations (objectid, comment, public) VALUES ('o', 'c', false)"
            )
            cursor.execute("INSERT INTO queries (name, sql) VALUES ('q', 'SELECT 1')")
        raw.close()
        assert upgrade(url) == migrations.head_revision()
        with owner.connect() as connection:
            options = connection.exec_driver_sql(
                "SELECT r.rolname, am.set_option, am.inherit_option, r.rolconnlimit"
                " FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.member"
                f" WHERE r.rolname IN ('{user}', '{boss}') ORDER BY 1"
            ).all()
            assert [tuple(row[1:]) for row in options] == [(False, True, 20)] * 2
            assert (
                connection.exec_driver_sql("SELECT count(*) FROM annotation_history").scalar() == 1
            )
        raw = psycopg2.connect(**socket_login)
        raw.autocommit = True
        with raw.cursor() as cursor:
            refused(cursor, "SET ROLE lasair_user")
            cursor.execute("INSERT INTO watchlists (name, radius_arcsec) VALUES ('w2', 2)")
            cursor.execute("SELECT count(*) FROM watchlists")
            assert cursor.fetchone()[0] == 2
            cursor.execute("SELECT comment FROM annotation_history")
            assert cursor.fetchall() == [("c",)]
        raw.close()
        # A rollback to 0004 and back leaves the archive hardened again.
        command.downgrade(alembic_config(url), "0004")
        assert upgrade(url) == migrations.head_revision()
        raw = psycopg2.connect(**socket_login)
        raw.autocommit = True
        with raw.cursor() as cursor:
            refused(cursor, "SELECT set_config('application_name', 'x', false)")
        raw.close()
    finally:
        owner.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in (user, boss):
                connection.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()
