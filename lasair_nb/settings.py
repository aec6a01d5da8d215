"""Settings of the archive and the ingester, read from ``LASAIR_*`` variables.

Settings are read when :func:`get_settings` is called, never at import time, so
tests and notebooks can change the environment before they connect.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of one Lasair-NB deployment."""

    model_config = SettingsConfigDict(env_prefix="LASAIR_", extra="ignore")

    home: Path = Field(
        default=Path("~/.lasair-nb"),
        description="Directory for the embedded database and run-time files.",
    )
    db_url: SecretStr | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of an external PostgreSQL server (>= 14). When set, "
            "Lasair-NB uses it and never starts the embedded server."
        ),
    )
    db_name: str = Field(
        default="lasair",
        description="Database name used on the embedded server.",
    )
    sql_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Statement timeout, in seconds, for user SQL.",
    )
    sql_max_rows: int = Field(
        default=100_000,
        gt=0,
        description="Largest number of rows one user query may return.",
    )
    ingest_batch_size: int = Field(
        default=500,
        gt=0,
        description="Alerts per ingest batch (one database transaction each).",
    )

    @property
    def home_dir(self) -> Path:
        """The home directory with ``~`` expanded."""
        return self.home.expanduser()

    @property
    def pgdata(self) -> Path:
        """Data directory of the embedded PostgreSQL server."""
        return self.home_dir / "pgdata"


def get_settings() -> Settings:
    """Read the settings from the environment now."""
    return Settings()
