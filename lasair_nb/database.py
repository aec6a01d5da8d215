"""Where the archive is, and how to connect to it and bring its schema up to date."""

from __future__ import annotations

from importlib import resources

import numpy as np
import psycopg2
import psycopg2.extensions
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from psycopg2.extensions import AsIs, register_adapter

from lasair_nb.errors import DatabaseError
from lasair_nb.server import EmbeddedServer
from lasair_nb.settings import Settings, get_settings

# healpix-alchemy and numpy code hand numpy scalars to psycopg2; send them as numbers.
register_adapter(np.float64, AsIs)
register_adapter(np.float32, AsIs)
register_adapter(np.int64, AsIs)
register_adapter(np.int32, AsIs)


def embedded_server(settings: Settings | None = None) -> EmbeddedServer:
    """The embedded server of this deployment (started or not)."""
    settings = settings or get_settings()
    return EmbeddedServer(settings.pgdata)


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
    return embedded_server(settings).status().url(settings.db_name)


def create_engine(url: str | None = None) -> sa.Engine:
    """An engine on ``url`` (default: :func:`database_url`)."""
    return sa.create_engine(url or database_url(), pool_pre_ping=True)


def connect_raw(url: str | None = None) -> psycopg2.extensions.connection:
    """A plain psycopg2 connection (for COPY) to ``url`` (default: :func:`database_url`)."""
    parsed = sa.make_url(url or database_url())
    arguments = parsed.translate_connect_args(username="user", database="dbname")
    arguments.update({key: value for key, value in parsed.query.items() if isinstance(value, str)})
    return psycopg2.connect(**arguments)


def ensure_database(settings: Settings | None = None) -> None:
    """Create the archive database on the embedded server if it does not exist yet."""
    settings = settings or get_settings()
    status = embedded_server(settings).status()
    engine = sa.create_engine(status.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": settings.db_name},
            )
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{settings.db_name}"'))
    finally:
        engine.dispose()


def alembic_config(url: str) -> Config:
    """Alembic configuration for the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("lasair_nb") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of Lasair-NB."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    return script.get_current_head()


def upgrade(url: str | None = None) -> str:
    """Apply pending migrations; return the revision the archive is now at."""
    url = url or database_url()
    try:
        command.upgrade(alembic_config(url), "head")
    except sa.exc.OperationalError as error:
        raise DatabaseError(f"cannot migrate the archive at {url}: {error.orig}") from error
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()
