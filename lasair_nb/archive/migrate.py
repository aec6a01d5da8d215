"""Creating the archive database and bringing its schema up to date (Alembic)."""

from __future__ import annotations

from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from lasair_nb.archive.engine import database_url, locate_embedded
from lasair_nb.errors import DatabaseError
from lasair_nb.settings import Settings, get_settings


def ensure_database(settings: Settings | None = None) -> None:
    """Create the archive database on the embedded server if it does not exist yet."""
    settings = settings or get_settings()
    status = locate_embedded(settings.pgdata)
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
    config.set_main_option(
        "script_location", str(resources.files("lasair_nb.archive") / "migrations")
    )
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of Lasair-NB."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    return script.get_current_head()


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the archive is at."""
    return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def upgrade(url: str | None = None) -> str:
    """Apply pending migrations; return the revision the archive is now at."""
    url = url or database_url()
    try:
        command.upgrade(alembic_config(url), "head")
    except sa.exc.OperationalError as error:
        shown = sa.make_url(url).render_as_string(hide_password=True)
        raise DatabaseError(f"cannot migrate the archive at {shown}: {error.orig}") from error
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()
