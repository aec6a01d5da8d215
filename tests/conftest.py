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

Browser (Debian's Chromium, driven by Python Playwright through ``executable_path``;
``playwright install`` is never needed; ``CHROMIUM_EXECUTABLE`` names another binary):

chromium_executable
    Session-wide: path of the Chromium binary (skips the test when there is none).
browser
    Session-wide: a headless Playwright ``Browser`` on that Chromium, WebGL2 by SwiftShader
    (skips only when Chromium cannot start).
page, page_log
    A fresh ``Page`` (1280×900) in its own context; its console lines and page errors.
artifacts, screenshot
    ``tests/artifacts/`` (not in git); ``screenshot(page_or_locator, name)`` saves there.
block_network
    ``block_network(page)``: abort every request not to 127.0.0.1; the aborted URLs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from lasair_nb.archive.migrate import upgrade
from lasair_nb.server.embedded import EmbeddedServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

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


def _table_digest(url: str, tables: Mapping[str, str]) -> dict[str, tuple[int, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = {
            table: tuple(
                connection.exec_driver_sql(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                    f" FROM (SELECT {columns} FROM {table}) t"
                ).one()
            )
            for table, columns in tables.items()
        }
    engine.dispose()
    return found


@pytest.fixture(scope="session")
def table_digest() -> Callable[[str, Mapping[str, str]], dict[str, tuple[int, str]]]:
    """``table_digest(url, {table: columns})``: each table's row count and an md5 over the
    full text of every row (of those columns), to compare whole archives."""
    return _table_digest


@pytest.fixture(scope="session")
def seeded_simulation() -> dict[str, int]:
    """The simulator's arguments for the seeded archive (its truth: AlertSimulator(**these))."""
    return dict(SEEDED_SIMULATION)


@pytest.fixture(scope="session")
def make_seeded_archive(
    pg_server_url: str, make_archive: Callable[[], str], ztf_alert_files: list[Path]
) -> Iterator[Callable[[], str]]:
    from ingest.connection import connect  # noqa: PLC0415
    from ingest.pipeline import Ingester  # noqa: PLC0415 - only suites that seed need it
    from ingest.simulator import AlertSimulator  # noqa: PLC0415
    from ingest.sources import Packet, read_packets  # noqa: PLC0415

    template_url = make_archive()
    simulated = AlertSimulator(**SEEDED_SIMULATION).packets()
    packets = [*read_packets(ztf_alert_files), *(Packet(p.data, "simulated") for p in simulated)]
    connection = connect(template_url)
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


# --- the browser ---------------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
"""Debian's real binary first (``/usr/bin/chromium`` is a shell wrapper around it)."""
CHROMIUM_ARGS = ("--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox")
"""WebGL2 without a GPU (Aladin Lite's core needs it); no sandbox as root."""
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    named = os.environ.get("CHROMIUM_EXECUTABLE")
    for candidate in (named,) if named else CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip(
        f"no Chromium ({named or ', '.join(CHROMIUM_CANDIDATES)}): apt-get install -y chromium"
    )


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Browser]:
    sync_api = pytest.importorskip("playwright.sync_api")
    playwright = sync_api.sync_playwright().start()
    try:
        try:
            launched = playwright.chromium.launch(
                executable_path=chromium_executable, headless=True, args=list(CHROMIUM_ARGS)
            )
        except sync_api.Error as error:
            pytest.skip(f"Chromium at {chromium_executable} cannot start headless: {error}")
        yield launched
        launched.close()
    finally:
        playwright.stop()


OFFLINE_ERRORS = re.compile(
    r"Failed to fetch|HiPS|rootURL is not defined|reading 'longitudeReversed'"
)
"""Uncaught errors Aladin Lite raises when its HiPS sky cannot be fetched (no network).

``longitudeReversed`` is read from the base image survey, which never arrives offline: it
shows when the view is moved (or redrawn) before Aladin Lite has given up on it, which
the clean-clone run met on a loaded machine.
"""


@dataclass
class PageLog:
    """What a page said: console lines (``type: text``) and uncaught errors."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def unexpected_errors(self) -> list[str]:
        """The uncaught errors, but those of Aladin Lite's sky images with no network."""
        return [error for error in self.errors if not OFFLINE_ERRORS.search(error)]


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Browser, page_log: PageLog) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.on("console", lambda message: page_log.console.append(f"{message.type}: {message.text}"))
    opened.on("pageerror", lambda error: page_log.errors.append(str(error)))
    yield opened
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def screenshot(artifacts: Path) -> Callable[..., Path]:
    """``screenshot(page_or_locator, name)``: save ``tests/artifacts/NAME.png``, print its path."""

    def take(target: object, name: str) -> Path:
        path = artifacts / f"{name}.png"
        target.screenshot(path=str(path))  # a Page or a Locator
        print(f"screenshot: {path}")
        return path

    return take


@pytest.fixture(scope="session")
def block_network() -> Callable[[Page], list[str]]:
    """``block_network(page)``: abort every request not to 127.0.0.1; returns the aborted URLs.

    ``data:`` and ``blob:`` URLs never reach the network and are not routed.
    """

    def block(page: Page) -> list[str]:
        blocked: list[str] = []

        def route(route: Route) -> None:
            url = route.request.url
            if urlsplit(url).hostname in LOCAL_HOSTS:
                route.continue_()
            else:
                blocked.append(url)
                route.abort("internetdisconnected")

        page.route("**/*", route)
        return blocked

    return block
