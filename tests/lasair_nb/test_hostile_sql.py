"""A corpus of hostile SQL: every string is refused or cancelled, and the archive is unchanged.

Run as an administrator's archive (free SQL then runs as the read-only role) and
as an ordinary user, through ``Archive.sql`` and through the CLI's runner.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import lasair_nb as ln
from ingest.connection import connect
from ingest.pipeline import Ingester
from ingest.sources import read_packets
from lasair_nb.admin.users import add_user

HOSTILE = [
    # DDL
    "DROP TABLE candidates",
    "CREATE TABLE evil (x int)",
    "ALTER TABLE objects ADD COLUMN evil int",
    "TRUNCATE candidates",
    "CREATE FUNCTION evil() RETURNS int AS 'SELECT 1' LANGUAGE sql",
    "CREATE EXTENSION dblink",
    # DML
    "DELETE FROM candidates",
    "UPDATE objects SET ncand = 0",
    "INSERT INTO annotations (objectid, comment) VALUES ('x', 'y')",
    "MERGE INTO objects o USING objects p ON o.objectid = p.objectid WHEN MATCHED THEN DELETE",
    # statement chains
    "SELECT 1; DROP TABLE candidates",
    "SELECT 1; COMMIT; DELETE FROM candidates",
    "COMMIT; DELETE FROM candidates",
    "SELECT 1 -- ; DROP TABLE objects\n; DELETE FROM objects",
    # data-modifying CTEs and locks
    "WITH gone AS (DELETE FROM candidates RETURNING *) SELECT count(*) FROM gone",
    "WITH x AS (UPDATE objects SET ncand = 0 RETURNING 1) SELECT * FROM x",
    "WITH x AS (INSERT INTO tags (name) VALUES ('evil') RETURNING *) SELECT * FROM x",
    "SELECT * FROM objects FOR UPDATE",
    "SELECT * FROM candidates FOR SHARE",
    # time, server files and programs
    "SELECT pg_sleep(30)",
    "SELECT count(*) FROM candidates a, candidates b, candidates c, candidates d",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('postgresql.conf')",
    "SELECT pg_ls_dir('.')",
    "COPY candidates TO PROGRAM 'touch /tmp/lasair_pwned'",
    "COPY (SELECT 1) TO '/tmp/lasair_pwned'",
    "SELECT lo_import('/etc/passwd')",
    "SELECT * FROM dblink('dbname=postgres', 'DELETE FROM candidates') AS t(x int)",
    # roles and settings
    "SET ROLE postgres",
    "SELECT set_config('role', 'postgres', false)",
    "RESET ROLE",
    "SET statement_timeout = 0",
    "SELECT set_config('statement_timeout', '0', false), pg_sleep(30)",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    # sessions and the server
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity",
    "SELECT pg_reload_conf()",
    "SELECT pg_advisory_lock(1), pg_sleep(30)",
    "VACUUM FULL candidates",
    "LOCK TABLE objects IN ACCESS EXCLUSIVE MODE",
    "PREPARE evil AS DELETE FROM candidates",
    "DO $$ BEGIN DELETE FROM candidates; END $$",
    "SELECT * FROM quarantine",  # raw packets are for administrators
]


@pytest.fixture(scope="module")
def archive_url(make_archive, ztf_alert_files: list[Path], over_tcp) -> str:
    """The real alerts, reached over TCP with passwords (as make up serves notebooks)."""
    url = make_archive()
    connection = connect(url)
    Ingester(connection, batch_size=100).ingest(
        read_packets(ztf_alert_files), "test", progress=False
    )
    connection.close()
    return over_tcp(url)


def fingerprint(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        tables = [
            "candidates",
            "noncandidates",
            "forced_photometry",
            "cutouts",
            "objects",
            "annotations",
            "tags",
            "coverage",
            "quarantine",
        ]
        result = {
            table: connection.exec_driver_sql(
                f"SELECT count(*) || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                f" FROM {table} t"
            ).scalar()
            for table in tables
        }
        result["columns"] = connection.exec_driver_sql(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'"
        ).scalar()
    engine.dispose()
    return result


def test_corpus_is_large_enough() -> None:
    assert len(HOSTILE) >= 30


@pytest.mark.slow
@pytest.mark.parametrize("who", ["administrator", "user"])
def test_hostile_sql_is_refused_or_cancelled_and_nothing_changes(
    archive_url: str, who: str
) -> None:
    if who == "administrator":
        archive = ln.connect(archive_url)
    else:
        engine = sa.create_engine(archive_url)
        name = f"mallory_{uuid.uuid4().hex[:6]}"
        with engine.begin() as connection:
            password = add_user(connection, name)
        engine.dispose()
        archive = ln.connect(archive_url, user=name, password=password)
    before = fingerprint(archive_url)
    outcomes = {}
    for sql in HOSTILE:
        started = time.monotonic()
        try:
            result = archive.sql(sql, timeout=2)
        except ln.QueryError as error:
            outcomes[sql] = str(error)
        else:
            # A SELECT that runs must have done no harm: it can only have read.
            outcomes[sql] = f"ran, {len(result)} rows"
            assert "pg_read" not in sql and "quarantine" not in sql, (sql, result)
        assert time.monotonic() - started < 10, f"{sql!r} was not cut short"
    assert fingerprint(archive_url) == before
    assert not Path("/tmp/lasair_pwned").exists()
    refused = [sql for sql, outcome in outcomes.items() if not outcome.startswith("ran")]
    assert len(refused) >= len(HOSTILE) - 2, outcomes
    assert "exceeded 2 s" in outcomes["SELECT pg_sleep(30)"]
    assert "only SELECT" in outcomes["DROP TABLE candidates"]
