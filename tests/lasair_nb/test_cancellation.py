"""A query cancelled from another thread stops in PostgreSQL, not merely abandoned."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

import lasair_nb as ln


def _sleeping(engine: sa.Engine) -> int:
    """Backends of this database in pg_sleep right now (the query runs in its FETCH)."""
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                " AND wait_event = 'PgSleep' AND datname = current_database()"
            )
        ).scalar_one()


def test_cancel_stops_the_statement_in_postgresql(archive_url: str) -> None:
    archive = ln.connect(archive_url)
    engine = sa.create_engine(archive_url)
    handle = ln.Cancellation()
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            archive.sql("SELECT pg_sleep(30)", timeout=60,
                        cancellation=handle)  # fmt: skip
        except ln.LasairError as error:
            outcome["error"] = error

    worker = threading.Thread(target=run)
    started = time.monotonic()
    worker.start()
    deadline = time.monotonic() + 10
    while _sleeping(engine) == 0:
        assert time.monotonic() < deadline, "the query never started"
        time.sleep(0.05)
    handle.cancel()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert time.monotonic() - started < 10  # not the 30 s of the sleep
    assert isinstance(outcome["error"], ln.QueryCancelledError)
    assert "cancelled" in str(outcome["error"])
    assert _sleeping(engine) == 0  # gone from the server
    # The pooled connection works for the next query.
    assert archive.sql("SELECT 1 AS one")["one"].tolist() == [1]
    engine.dispose()


def test_a_cancelled_handle_stops_a_query_before_it_starts(archive_url: str) -> None:
    archive = ln.connect(archive_url)
    handle = ln.Cancellation()
    handle.cancel()
    with pytest.raises(ln.QueryCancelledError, match="before it started"):
        archive.sql("SELECT 1", cancellation=handle)
    assert archive.sql("SELECT 2 AS two")["two"].tolist() == [2]
