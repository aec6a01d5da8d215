"""The ``lasair-nb`` command, run as a user runs it: a real process against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lasair_nb.archive.migrate import head_revision


def lasair_nb(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    command = shutil.which("lasair-nb", path=str(Path(sys.executable).parent)) or "lasair-nb"
    return subprocess.run(
        [command, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


@pytest.fixture
def env_for(tmp_path: Path):
    def make(db_url: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LASAIR_")}
        env["LASAIR_HOME"] = str(tmp_path / "home")
        with socket.socket() as probe:  # never the default port a running `make up` holds
            probe.bind(("127.0.0.1", 0))
            env["LASAIR_DB_PORT"] = str(probe.getsockname()[1])
        if db_url:
            env["LASAIR_DB_URL"] = db_url
        return env

    return make


@pytest.mark.slow
def test_new_user_session_on_the_embedded_server(env_for, ztf_alert_files: list[Path]) -> None:
    """The README's first steps: start, ingest, query, stop."""
    env = env_for(None)
    assert lasair_nb("db", "status", env=env).returncode == 1
    started = lasair_nb("db", "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        assert f"revision {head_revision()}" in started.stdout
        url = lasair_nb("db", "url", env=env)
        assert url.returncode == 0 and url.stdout.startswith("postgresql+psycopg2://")
        assert lasair_nb("db", "start", env=env).returncode == 0  # idempotent

        directory = ztf_alert_files[0].parent
        ingested = lasair_nb("ingest", "files", str(directory), env=env)
        assert ingested.returncode == 0, ingested.stderr
        assert (
            f"ingested {len(ztf_alert_files)} alerts ({len(ztf_alert_files)} new" in ingested.stdout
        )
        assert "quarantined 0" in ingested.stdout
        assert "alert/s" in ingested.stderr  # the tqdm progress bar

        count = lasair_nb(
            "sql",
            "SELECT count(*) AS n FROM candidates WHERE in_alert",
            "--format",
            "json",
            env=env,
        )
        assert json.loads(count.stdout) == [{"n": len(ztf_alert_files)}]
        status = lasair_nb("db", "status", env=env)
        assert status.returncode == 0 and f"{len(ztf_alert_files)} alerts archived" in status.stdout
    finally:
        stopped = lasair_nb("db", "stop", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert lasair_nb("db", "status", env=env).returncode == 1


@pytest.mark.slow
def test_external_server_is_used_and_never_started(
    env_for, archive_url: str, ztf_alert_files: list[Path], tmp_path: Path
) -> None:
    env = env_for(archive_url)
    refused = lasair_nb("db", "start", env=env)
    assert refused.returncode == 1 and "LASAIR_DB_URL is set" in refused.stderr
    assert not (tmp_path / "home" / "pgdata").exists()
    assert lasair_nb("db", "upgrade", env=env).returncode == 0

    bad = tmp_path / "bad.avro"
    bad.write_bytes(b"definitely not avro")
    result = lasair_nb(
        "ingest", "files", "--no-progress", str(ztf_alert_files[0]), str(bad), env=env
    )
    assert result.returncode == 0, result.stderr
    assert "ingested 1 alerts (1 new, 0 duplicates), quarantined 1" in result.stdout

    missing = lasair_nb("ingest", "files", str(tmp_path / "nowhere"), env=env)
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr


@pytest.mark.slow
def test_sql_formats_and_refusals(env_for, archive_url: str, ztf_alert_files: list[Path]) -> None:
    env = env_for(archive_url)
    assert (
        lasair_nb(
            "ingest", "files", "--no-progress", *map(str, ztf_alert_files[:3]), env=env
        ).returncode
        == 0
    )
    query = "SELECT objectid, ncand FROM objects ORDER BY objectid"
    table = lasair_nb("sql", query, env=env).stdout.splitlines()
    assert table[0].split() == ["objectid", "ncand"] and len(table) == 2 + 3
    csv_lines = lasair_nb("sql", query, "--format", "csv", env=env).stdout.splitlines()
    assert csv_lines[0] == "objectid,ncand" and len(csv_lines) == 4
    rows = json.loads(lasair_nb("sql", query, "--format", "json", env=env).stdout)
    assert [row["objectid"] for row in rows] == sorted(
        p.name.split("_")[0] for p in ztf_alert_files[:3]
    )

    for hostile, message in [
        ("DELETE FROM candidates", "only SELECT statements"),
        ("SELECT 1; DROP TABLE candidates", "2 statements"),
        ("WITH gone AS (DELETE FROM objects RETURNING *) SELECT * FROM gone", "data-modifying"),
        ("SELECT pg_sleep(5)", "exceeded 0.5 s"),
        ("SELECT * FROM quarantine", "permission denied"),
        ("SELEC 1", "syntax error"),
    ]:
        result = lasair_nb("sql", hostile, "--timeout", "0.5", env=env)
        assert result.returncode == 2 and message in result.stderr, (hostile, result.stderr)
    assert json.loads(
        lasair_nb("sql", "SELECT count(*) AS n FROM objects", "--format", "json", env=env).stdout
    ) == [{"n": 3}]


@pytest.mark.slow
def test_users_commands(env_for, archive_url: str) -> None:
    env = env_for(archive_url)
    name = f"dana_{os.getpid()}"
    added = lasair_nb("users", "add", name, "--admin", env=env)
    assert added.returncode == 0 and f"added administrator {name}" in added.stdout
    assert "password (shown once): " in added.stdout
    listed = lasair_nb("users", "list", env=env)
    assert f"{name}  (admin)" in listed.stdout.splitlines()
    again = lasair_nb("users", "add", name, env=env)
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = lasair_nb("users", "add", "Robert'); DROP TABLE objects;--", env=env)
    assert bad.returncode == 2 and "invalid user name" in bad.stderr
    removed = lasair_nb("users", "remove", name, env=env)
    assert removed.returncode == 0 and name not in lasair_nb("users", "list", env=env).stdout
