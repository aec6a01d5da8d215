"""Settings of one Lasair-NB deployment, read from ``LASAIR_*`` environment variables.

Every variable Lasair-NB reads is a field of :class:`Settings`, with its
description. Settings are read when :func:`get_settings` is called, never at
import time, so tests and notebooks can change the environment before they
connect. A malformed variable raises :class:`~lasair_nb.errors.SettingsError`
with one line naming it and saying what is accepted.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from lasair_nb.errors import SettingsError


class Settings(BaseSettings):
    """Configuration of one Lasair-NB deployment (each field is ``LASAIR_`` + its name)."""

    model_config = SettingsConfigDict(env_prefix="LASAIR_", extra="ignore")

    home: Path = Field(
        default=Path("~/.lasair-nb"),
        description="Directory for the embedded database, logs and run-time files.",
    )
    db_url: SecretStr | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of an external PostgreSQL server (>= 14), e.g. "
            "postgresql://owner:password@host/lasair. When set, Lasair-NB uses it and "
            "never starts the embedded server."
        ),
    )
    db_port: int = Field(
        default=54320,
        ge=0,
        lt=65536,
        description=(
            "TCP port on 127.0.0.1 where the embedded server also listens (as notebook "
            "servers reach it), every login by password (scram-sha-256); 0: the Unix socket "
            "only, for this OS account."
        ),
    )
    db_name: str = Field(default="lasair", description="Database name used on the embedded server.")
    user: str | None = Field(
        default=None,
        description=(
            "Log in as this user (a PostgreSQL role made by `lasair-nb users add`); the "
            "Lasair kernel sets it in a hub session. Default: the URL's own user."
        ),
    )
    password: SecretStr | None = Field(
        default=None, description="Password of LASAIR_USER (set by the hub, never in a notebook)."
    )
    reader_password: SecretStr | None = Field(
        default=None,
        description=(
            "Password of the read-only role lasair_reader, which the archive owner's user SQL "
            "runs as. Needed only on a server that asks lasair_reader for a password (set it "
            "with ALTER ROLE lasair_reader PASSWORD '...'); the embedded server does not."
        ),
    )
    sql_timeout: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description=(
            "Statement timeout, in seconds, for user SQL: the default of sql(), of "
            "`lasair-nb sql` and of each user's role (their ceiling)."
        ),
    )
    sql_max_rows: int = Field(
        default=100_000, gt=0, description="Largest number of rows one user query may return."
    )
    idle_transaction_timeout: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Seconds a user's session may sit idle inside a transaction before the server "
            "(and the reaper) ends it, releasing its locks."
        ),
    )
    reaper_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between two sweeps of the reaper that `up` starts.",
    )
    ingest_batch_size: int = Field(
        default=500, gt=0, description="Alerts per ingest batch (one database transaction each)."
    )
    broker_port: int = Field(
        default=9092,
        gt=0,
        lt=65536,
        description="Port of the embedded Kafka broker on 127.0.0.1 (`broker start`, `up`).",
    )
    kafka_session_timeout: float = Field(
        default=20.0,
        ge=6,
        le=300,
        description=(
            "Kafka consumer session timeout, in seconds: how long the group waits for a silent "
            "ingester before giving its partitions to others (and to its restarted self). On "
            "the embedded broker a restart after kill -9 takes about 1.8 times this."
        ),
    )
    demo_objects: int = Field(
        default=2000, gt=0, description="Sources in the simulated stream that `up` publishes."
    )
    demo_nights: int = Field(
        default=60, gt=0, description="Nights in the simulated stream that `up` publishes."
    )
    demo_night_interval: float = Field(
        default=180.0, ge=0, description="Seconds between two simulated nights published by `up`."
    )
    hub_port: int = Field(
        default=8000,
        gt=0,
        lt=65536,
        description="Port of the hub on 127.0.0.1 (its proxy); the hub itself, the proxy's "
        "API, the Notebooks page and the JSON API use the next four.",
    )
    api_rate_limit: int = Field(
        default=600,
        gt=0,
        description="Requests a minute that one token may make to the JSON API "
        "(/services/api/); more get HTTP 429 with Retry-After.",
    )
    hub_admins: str = Field(
        default="admin",
        description="Comma-separated hub administrators: they sign up under these names "
        "first, and approve the other users at /hub/authorize.",
    )
    hub_open_signup: bool = Field(
        default=False,
        description="Whether a new hub user may log in at once (else an administrator "
        "approves them first).",
    )
    notebooks_dir: Path = Field(
        default=Path("/srv/lasair-nb/notebooks"),
        description="Shared notebooks, readable by every account: system/ (promoted) and "
        "contributed/NAME/ (each user's published ones).",
    )
    dashboards_dir: Path | None = Field(
        default=None,
        description="Folder of dashboard notebooks the hub serves at /services/dashboards/ "
        "(default: the dashboards/ folder of this installation).",
    )
    dashboard_pool: int = Field(
        default=1,
        ge=0,
        le=8,
        description="Pre-started kernels kept ready per dashboard (0: start one per visit).",
    )
    user_env: Path | None = Field(
        default=None,
        description="Virtualenv users' notebook servers run from, readable by every account "
        "(default: .venv-user beside the lasair_nb checkout, which `make up` makes).",
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
    """Read the settings from the environment now.

    Raises
    ------
    SettingsError
        If a ``LASAIR_*`` variable is malformed (one line: which, and what is accepted).
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = "LASAIR_" + "_".join(str(part) for part in item["loc"]).upper()
            problems.append(f"{name}={item.get('input')!r}: {item['msg']}")
        raise SettingsError("bad setting " + "; ".join(problems)) from None


def describe_settings() -> list[tuple[str, str, str]]:
    """``(variable, default, description)`` of every setting, for documentation."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = "" if field.default is None else str(field.default)
        rows.append((f"LASAIR_{name.upper()}", default, field.description or ""))
    return rows
