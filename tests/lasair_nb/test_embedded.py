"""The embedded server trusts nobody it need not: peer login on the socket for this OS
account only, passwords (scram-sha-256) over TCP, no replication; the owner has a password."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest

from lasair_nb.server.embedded import EmbeddedServer


@pytest.fixture(scope="module")
def server():
    home = Path(tempfile.mkdtemp(prefix="lasair-auth-"))
    embedded = EmbeddedServer(home / "pgdata")
    status = embedded.start()
    yield embedded, status
    embedded.stop()


def test_no_line_trusts_and_none_allows_replication(server) -> None:
    embedded, _ = server
    lines = [
        line.split()
        for line in (embedded.pgdata / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines, "pg_hba.conf is empty"
    assert all("trust" not in line for line in lines)
    assert all(line[1] != "replication" for line in lines)
    assert all(line[-1] == "scram-sha-256" for line in lines if line[0].startswith("host"))


def test_the_owner_has_a_password_only_this_account_can_read(server) -> None:
    embedded, _ = server
    secret = embedded.owner_password_file
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_text().strip()) >= 24


def test_this_account_logs_in_over_the_socket_and_replication_is_refused(server) -> None:
    _, status = server
    connection = psycopg2.connect(
        host=str(status.socket_dir), port=status.port, user="postgres", dbname="postgres"
    )
    connection.close()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(
            host=str(status.socket_dir),
            port=status.port,
            user="postgres",
            dbname="postgres",
            replication="true",
        )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another OS account")
def test_another_os_account_cannot_log_in_over_the_socket(server) -> None:
    _, status = server
    # A notebook server of another user is another OS account: it must not get in.
    script = (
        "import os, sys, psycopg2\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "try:\n"
        f"    psycopg2.connect(host={str(status.socket_dir)!r}, port={status.port},"
        " user='postgres', dbname='postgres')\n"
        "except psycopg2.OperationalError as error:\n"
        "    print('refused:', str(error).strip().splitlines()[0])\n"
        "else:\n"
        "    print('CONNECTED')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert "refused:" in done.stdout, done.stdout + done.stderr


def test_over_tcp_every_login_needs_its_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = Path(tempfile.mkdtemp(prefix="lasair-tcp-"))
    embedded = EmbeddedServer(home / "pgdata", tcp_port=port)
    status = embedded.start()
    try:
        password = embedded.owner_password_file.read_text().strip()
        tcp = {"host": "127.0.0.1", "port": port, "dbname": "postgres"}
        psycopg2.connect(user="postgres", password=password, **tcp).close()
        for wrong in ("", "not-the-password"):
            with pytest.raises(psycopg2.OperationalError, match="password"):
                psycopg2.connect(user="postgres", password=wrong, **tcp)
        owner = psycopg2.connect(
            host=str(status.socket_dir), port=status.port, user="postgres", dbname="postgres"
        )
        owner.autocommit = True
        owner.cursor().execute("CREATE ROLE someone LOGIN PASSWORD 'correct horse'")
        owner.close()
        psycopg2.connect(user="someone", password="correct horse", **tcp).close()
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(user="someone", password="battery staple", **tcp)
    finally:
        embedded.stop()
