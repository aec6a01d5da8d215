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

    broker_port: int = Field(
        default=9092, description="Port of the embedded Kafka-protocol broker (127.0.0.1)."
    )
    demo_objects: int = Field(
        default=2000, gt=0, description="Sources in the simulated stream that `up` publishes."
    )
    demo_nights: int = Field(
        default=60, gt=0, description="Nights in the simulated stream that `up` publishes."
    )
    demo_night_interval: float = Field(
        default=180.0,
        ge=0,
        description="Seconds between two simulated nights published by `up`.",
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
