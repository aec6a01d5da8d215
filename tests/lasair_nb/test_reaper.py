"""The reaper on a real PostgreSQL: users who connect directly and lower their own limits.

Each user here logs in with psycopg2 as their own role, like a notebook could,
and lifts their statement or idle-transaction timeout. The reaper, running as the
archive owner, must cancel the runaway statement and end the idle transaction
holding a lock, and leave the owner's and in-limit sessions alone. Limits are
set small through ``Settings`` so each test takes seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest
import sqlalchemy as sa

from lasair_nb.admin.users import add_user
from lasair_nb.archive import sessions
from lasair_nb.archive.engine import connect_raw
from lasair_nb.errors import DatabaseError
from lasair_nb.server.reaper import Reaper
from lasair_nb.settings import Settings

Connect = Callable[..., psycopg2.extensions.connection]


class Statement(threading.Thread):
    """One statement run on its own connection in the background."""

    def __init__(self, connection: psycopg2.extensions.connection, sql: str) -> None:
        super().__init__(daemon=True)
        self.connection = connection
        self.sql = sql
        self.rows: list[tuple] | None = None
        self.error: psycopg2.Error | None = None
        self.seconds: float | None = None

    def run(self) -> None:
        start = time.monotonic()
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(self.sql)
                self.rows = cursor.fetchall()
        except psycopg2.Error as error:
            self.error = error
        self.seconds = time.monotonic() - start


def run(connection: psycopg2.extensions.connection, sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []


def pid_of(connection: psycopg2.extensions.connection) -> int:
    return connection.get_backend_pid()


@pytest.fixture
def database(archive_url: str) -> str:
    return sa.make_url(archive_url).database


@pytest.fixture
def owner_engine(archive_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(archive_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connect(archive_url: str, owner_engine: sa.Engine) -> Iterator[Connect]:
    """Factory: ``connect()`` as the owner, ``connect(name, password)`` as a user.

    At the end, every connection made is terminated (as the owner) and closed, so a
    failed test leaves no sleeping statement behind.
    """
    opened: list[psycopg2.extensions.connection] = []

    def make(name: str | None = None, password: str | None = None, autocommit: bool = True):
        url = sa.make_url(archive_url)
        if name is not None:
            url = url.set(username=name, password=password)
        connection = connect_raw(url.render_as_string(hide_password=False))
        connection.autocommit = autocommit
        opened.append(connection)
        return connection

    yield make
    pids = [connection.get_backend_pid() for connection in opened if not connection.closed]
    with owner_engine.connect() as connection:
        for pid in pids:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for connection in opened:
        connection.close()


@pytest.fixture
def make_user(owner_engine: sa.Engine) -> Callable[..., tuple[str, str]]:
    """Factory: a new user (``admin=True`` for an administrator); returns name and password."""

    def make(person: str, admin: bool = False) -> tuple[str, str]:
        name = f"{person}_{uuid.uuid4().hex[:8]}"
        with owner_engine.begin() as connection:
            return name, add_user(connection, name, admin=admin)

    return make


def sweep_until(
    reaper: Reaper, done: Callable[[], bool], timeout: float = 20.0, every: float = 0.2
) -> list[str]:
    """Sweep every ``every`` seconds until ``done()``; returns every line of the sweeps."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not done in {timeout} s; reaper said {lines}"
        lines += reaper.sweep()
        time.sleep(every)
    return lines


@pytest.mark.slow
def test_reaper_cancels_a_user_statement_that_lifted_its_own_timeout(
    owner_engine: sa.Engine, connect: Connect, make_user, database: str
) -> None:
    reaper = Reaper(
        owner_engine,
        Settings(sql_timeout=2, idle_transaction_timeout=300),
        grace=0.5,
        database=database,
    )
    assert reaper.statement_ceiling == 2.5
    runaway_name, runaway_password = make_user("runaway")
    runaway = connect(runaway_name, runaway_password)
    run(runaway, "SET statement_timeout = 0")
    modest = connect(*make_user("modest"))
    owner = connect()
    run(owner, "SET statement_timeout = 0")

    statements = {
        "runaway": Statement(runaway, "SELECT pg_sleep(30)"),
        "modest": Statement(modest, "SELECT pg_sleep(1.5)"),  # within the 2 s limit
        "owner": Statement(owner, "SELECT pg_sleep(4)"),  # the owner has no ceiling
    }
    for statement in statements.values():
        statement.start()
    lines = sweep_until(reaper, lambda: not any(s.is_alive() for s in statements.values()))

    cancelled = statements["runaway"]
    assert isinstance(cancelled.error, psycopg2.errors.QueryCanceled), cancelled.error
    assert "user request" in str(cancelled.error)  # the reaper, not the server's timeout
    assert 2.5 <= cancelled.seconds < 10
    assert statements["modest"].error is None and statements["modest"].rows == [("",)]
    assert statements["owner"].error is None and statements["owner"].seconds >= 4
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"cancelled the statement of user {runaway_name} pid ")
    assert f"pid {pid_of(runaway)} on {database}: running " in lines[0]
    assert "2 s limit: SELECT pg_sleep(30)" in lines[0]
    assert run(runaway, "SELECT 1") == [(1,)]  # cancelling leaves the session usable


def test_reaper_ends_an_idle_transaction_holding_a_lock_so_others_proceed(
    owner_engine: sa.Engine, connect: Connect, make_user, database: str
) -> None:
    reaper = Reaper(
        owner_engine,
        Settings(sql_timeout=60, idle_transaction_timeout=1),
        grace=0.5,
        database=database,
    )
    holder_name, holder_password = make_user("holder")
    holder = connect(holder_name, holder_password)
    run(holder, "SET idle_in_transaction_session_timeout = 0")
    holder.autocommit = False
    # Users may write watchlists, so they may lock the whole table.
    run(holder, "LOCK TABLE watchlists IN ACCESS EXCLUSIVE MODE")
    holder_pid = pid_of(holder)

    owner = connect(autocommit=False)
    run(owner, "SELECT 1")  # the owner sits idle in a transaction too
    quiet = connect(*make_user("quiet"))
    run(quiet, "SELECT 1")  # idle, but not in a transaction
    waiter = Statement(connect(*make_user("waiter")), "SELECT count(*) FROM watchlists")
    waiter.start()

    lines: list[str] = []
    deadline = time.monotonic() + 20
    while not lines:
        assert time.monotonic() < deadline, "the idle transaction was never ended"
        assert waiter.is_alive(), "the other user was not blocked by the lock"
        lines = reaper.sweep()
        time.sleep(0.2)
    waiter.join(10)

    assert waiter.error is None and waiter.rows == [(0,)]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"terminated the session of user {holder_name} pid {holder_pid} ")
    assert ": idle in transaction " in lines[0] and "1 s limit" in lines[0]
    with pytest.raises(psycopg2.OperationalError):
        run(holder, "SELECT 1")
    assert run(owner, "SELECT 2") == [(2,)]
    assert run(quiet, "SELECT 3") == [(3,)]
    assert reaper.sweep() == []


@pytest.mark.slow
def test_reaper_ends_a_transaction_that_keeps_a_lock_by_never_sitting_idle(
    owner_engine: sa.Engine, connect: Connect, make_user, database: str
) -> None:
    # Short statements every 0.2 s: never a long statement, never a long idle pause,
    # but the lock is held for ever unless the transaction's age is limited.
    reaper = Reaper(
        owner_engine,
        Settings(sql_timeout=3, idle_transaction_timeout=1),
        grace=0.5,
        database=database,
    )  # ceilings: statement 3.5 s, idle 1.5 s, transaction 5 s
    holder_name, holder_password = make_user("pinger")
    holder = connect(holder_name, holder_password)
    run(holder, "SET statement_timeout = 0")
    run(holder, "SET idle_in_transaction_session_timeout = 0")
    holder.autocommit = False
    run(holder, "LOCK TABLE watchlists IN ACCESS EXCLUSIVE MODE")
    stop = threading.Event()

    def ping() -> None:
        while not stop.is_set():
            try:
                run(holder, "SELECT 1")
            except psycopg2.Error:
                return
            time.sleep(0.2)

    pinger = threading.Thread(target=ping, daemon=True)
    pinger.start()
    waiter = Statement(connect(*make_user("blocked")), "SELECT count(*) FROM watchlists")
    time.sleep(2.5)  # blocked from here until the holder goes: less than its own 3.5 s
    assert reaper.sweep() == []  # nothing has run or idled too long yet
    waiter.start()
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not any(holder_name in line for line in lines):
            assert time.monotonic() < deadline, f"the lock holder was never ended: {lines}"
            lines += reaper.sweep()
            time.sleep(0.3)
        waiter.join(15)
        assert waiter.rows == [(0,)], waiter.error
        ended = [line for line in lines if holder_name in line]
        assert ended[0].startswith(f"terminated the session of user {holder_name}")
        assert "transaction open" in ended[0]
    finally:
        stop.set()
        pinger.join(5)


def test_selection_takes_users_and_admins_but_never_the_owner_reader_or_itself(
    owner_engine: sa.Engine, connect: Connect, make_user, database: str
) -> None:
    """With zero limits every user session in a transaction overruns; nothing else does."""
    user = connect(*make_user("plain"), autocommit=False)
    admin = connect(*make_user("boss", admin=True), autocommit=False)
    owner = connect(autocommit=False)
    for connection in (user, admin, owner):
        run(connection, "SELECT 1")
    reader = None
    try:
        reader = connect("lasair_reader", None, autocommit=False)
        run(reader, "SELECT 1")
    except psycopg2.OperationalError:  # a server asking lasair_reader for a password
        pass

    with owner_engine.connect() as connection:
        listed = sessions.overruns(connection, 0, 0, database)
        again = sessions.overruns(connection, 0, 0, database)  # listing touches nothing

    by_pid = {overrun.pid: overrun for overrun in listed}
    assert set(by_pid) == {pid_of(user), pid_of(admin)}, listed
    assert {overrun.action for overrun in listed} == {sessions.TERMINATE}
    assert {overrun.signalled for overrun in listed} == {None}
    assert {overrun.pid for overrun in again} == set(by_pid)
    assert by_pid[pid_of(user)].state == "idle in transaction"
    assert by_pid[pid_of(user)].query == "SELECT 1"
    if reader is not None:
        assert pid_of(reader) not in by_pid


def test_default_settings_give_the_default_ceilings_and_spare_a_fresh_session(
    monkeypatch: pytest.MonkeyPatch, owner_engine: sa.Engine, connect: Connect, make_user
) -> None:
    for name in ("SQL_TIMEOUT", "IDLE_TRANSACTION_TIMEOUT", "REAPER_INTERVAL"):
        monkeypatch.delenv(f"LASAIR_{name}", raising=False)
    reaper = Reaper(owner_engine, Settings())
    assert (reaper.statement_limit, reaper.idle_limit) == (60, 300)
    assert (reaper.statement_ceiling, reaper.idle_ceiling) == (61, 301)
    assert reaper.interval == 5 and reaper.database is None

    fresh = connect(*make_user("fresh"), autocommit=False)
    run(fresh, "SET statement_timeout = 0")
    run(fresh, "SELECT pg_sleep(0.2)")  # now idle in a transaction, for well under 300 s
    assert reaper.overruns() == []
    assert reaper.sweep() == []
    assert run(fresh, "SELECT 1") == [(1,)]


def test_reaper_refuses_a_role_that_may_not_see_or_signal_sessions(
    archive_url: str, make_user
) -> None:
    name, password = make_user("nobody")
    url = sa.make_url(archive_url).set(username=name, password=password)
    engine = sa.create_engine(url)
    try:
        reaper = Reaper(engine, Settings(sql_timeout=1))
        with pytest.raises(DatabaseError, match="GRANT pg_read_all_stats, pg_signal_backend"):
            reaper.sweep()
    finally:
        engine.dispose()


# --- the command ------------------------------------------------------------------------------


def lasair_nb_command() -> str:
    return shutil.which("lasair-nb", path=str(Path(sys.executable).parent)) or "lasair-nb"


def command_env(tmp_path: Path, archive_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASAIR_")}
    env |= {"LASAIR_HOME": str(tmp_path / "home"), "LASAIR_DB_URL": archive_url}
    env |= {f"LASAIR_{name.upper()}": value for name, value in settings.items()}
    return env


@pytest.mark.slow
def test_reaper_once_command_sweeps_and_exits(
    tmp_path: Path, archive_url: str, connect: Connect, make_user
) -> None:
    idle = connect(*make_user("idle"), autocommit=False)
    run(idle, "SELECT 1")
    done = subprocess.run(
        [lasair_nb_command(), "reaper", "--once"],
        env=command_env(tmp_path, archive_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # nothing past the default 60 s / 300 s
    assert run(idle, "SELECT 1") == [(1,)]


@pytest.mark.slow
def test_reaper_command_cancels_a_runaway_and_stops_on_sigterm(
    tmp_path: Path, archive_url: str, connect: Connect, make_user
) -> None:
    name, password = make_user("loop")
    runaway = connect(name, password)
    run(runaway, "SET statement_timeout = 0")
    env = command_env(tmp_path, archive_url, sql_timeout="1", reaper_interval="0.2")
    with subprocess.Popen(
        [lasair_nb_command(), "-v", "reaper"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as reaper:
        try:
            statement = Statement(runaway, "SELECT pg_sleep(30)")
            statement.start()
            statement.join(20)
            assert isinstance(statement.error, psycopg2.errors.QueryCanceled), statement.error
            assert statement.seconds < 10
            assert reaper.poll() is None
            reaper.send_signal(signal.SIGTERM)
            _, log = reaper.communicate(timeout=15)
        finally:
            if reaper.poll() is None:
                reaper.kill()
    assert reaper.returncode == 0, log
    assert f"cancelled the statement of user {name} pid {pid_of(runaway)}" in log
    assert "reaper started as" in log and log.rstrip().endswith("reaper stopped")
