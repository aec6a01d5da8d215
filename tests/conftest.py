"""Shared fixtures: real data from ``../shared/data`` and a real PostgreSQL.

Fixtures
--------
shared_data
    Path of ``../shared/data`` beside the checkout (tests needing it skip without it).
ztf_alert_files
    The 124 real ZTF sample alerts (schemas 3.0-4.02), sorted.
legacy_alert_files
    The 65 pre-3.0 ZTF alerts.
pg_server_url
    Session-wide: ``LASAIR_DB_URL`` if set, else an embedded server started in a
    temporary directory. A URL to its maintenance database.
make_archive
    Factory: a fresh, migrated database on that server; returns its URL.
archive_url
    One fresh, migrated database for the test.
embedded_server
    The session's embedded server (Unix socket, and TCP on a free port with passwords);
    None when ``LASAIR_DB_URL`` names a server.
over_tcp
    Function: an archive URL of that server over TCP with the owner's password; gives
    ``lasair_reader`` a password and exports it as ``LASAIR_READER_PASSWORD``.
seeded_simulation
    The AlertSimulator arguments of the seeded archive's simulated part (for its truth).
make_seeded_archive
    Factory: a fresh copy of the seeded archive (the 124 real alerts and a simulated
    stream of 300 sources over 12 nights, seed 3), built once per test run as a
    PostgreSQL template database and copied in about a second; returns its URL.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lasair_nb.archive.migrate import upgrade
from lasair_nb.server.embedded import EmbeddedServer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared test data are not at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def ztf_alert_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "ztf" / "alerts").glob("*.avro"))


@pytest.fixture(scope="session")
def legacy_alert_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "ztf" / "legacy").glob("*.avro"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[EmbeddedServer | None]:
    """The session's embedded server (socket, and TCP with passwords); None with LASAIR_DB_URL."""
    if os.environ.get("LASAIR_DB_URL"):
        yield None
        return
    # Not under pytest's basetemp: another pytest run resets that tree to mode 0700,
    # and the server runs as the `pgserver` user when the tests run as root.
    home = Path(tempfile.mkdtemp(prefix="lasair-test-pg-"))
    server = EmbeddedServer(home / "pgdata", tcp_port=_free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url(embedded_server: EmbeddedServer | None) -> str:
    if embedded_server is None:
        return (
            sa.make_url(os.environ["LASAIR_DB_URL"])
            .set(drivername="postgresql+psycopg2")
            .render_as_string(hide_password=False)
        )
    return embedded_server.status().url("postgres")


@pytest.fixture(scope="session")
def over_tcp(embedded_server: EmbeddedServer | None) -> Iterator[Callable[[str], str]]:
    """Turn an archive URL into one over TCP, as a hub's notebook servers connect: every
    login needs its password (the owner's from its 0600 file; ``lasair_reader`` gets one,
    exported as ``LASAIR_READER_PASSWORD``, the first time)."""
    reader_password = "reader-" + uuid.uuid4().hex

    def convert(url: str) -> str:
        if embedded_server is None:
            return url
        parsed = sa.make_url(url)
        if os.environ.get("LASAIR_READER_PASSWORD") != reader_password:  # roles are per server
            admin = sa.create_engine(parsed, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.exec_driver_sql(
                    "ALTER ROLE lasair_reader PASSWORD %(password)s", {"password": reader_password}
                )
            admin.dispose()
            os.environ["LASAIR_READER_PASSWORD"] = reader_password
        owner = embedded_server.owner_password_file.read_text().strip()
        return parsed.set(
            host="127.0.0.1", port=embedded_server.tcp_port, password=owner, query={}
        ).render_as_string(hide_password=False)

    yield convert
    os.environ.pop("LASAIR_READER_PASSWORD", None)


@pytest.fixture(scope="session")
def make_archive(pg_server_url: str) -> Iterator[Callable[[], str]]:
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = f"lasair_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        url = sa.make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        return url

    yield make
    with admin.connect() as connection:
        for name in created:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def archive_url(make_archive: Callable[[], str]) -> str:
    return make_archive()


SEEDED_SIMULATION = {"objects": 300, "nights": 12, "seed": 3}
"""The simulated part of the seeded archive."""


@pytest.fixture(scope="session")
def seeded_simulation() -> dict[str, int]:
    """The simulator's arguments for the seeded archive (its truth: AlertSimulator(**these))."""
    return dict(SEEDED_SIMULATION)


@pytest.fixture(scope="session")
def make_seeded_archive(
    pg_server_url: str, make_archive: Callable[[], str], ztf_alert_files: list[Path]
) -> Iterator[Callable[[], str]]:
    from ingest.pipeline import Ingester  # noqa: PLC0415 - only suites that seed need it
    from ingest.simulator import AlertSimulator  # noqa: PLC0415
    from ingest.sources import Packet, read_packets  # noqa: PLC0415
    from lasair_nb.archive.engine import connect_raw  # noqa: PLC0415

    template_url = make_archive()
    simulated = AlertSimulator(**SEEDED_SIMULATION).packets()
    packets = [*read_packets(ztf_alert_files), *(Packet(p.data, "simulated") for p in simulated)]
    connection = connect_raw(template_url)
    try:
        Ingester(connection, batch_size=400).ingest(packets, "seed", progress=False)
    finally:
        connection.close()
    template = sa.make_url(template_url).database
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = f"lasair_seeded_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        created.append(name)
        return sa.make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as connection:
        for name in created:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()
