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
from pathlib import Path

from lasair_nb.archive.engine import ServerStatus, locate_embedded, pgserver_module
from lasair_nb.errors import DatabaseError

log = logging.getLogger(__name__)


class EmbeddedServer:
    """Start, stop and locate the PostgreSQL server whose data live in ``pgdata``."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = Path(pgdata).expanduser().resolve()

    def status(self) -> ServerStatus:
        """Read ``postmaster.pid`` to tell whether the server runs."""
        return locate_embedded(self.pgdata)

    def start(self) -> ServerStatus:
        """Initialise the data directory if needed and start the server (idempotent)."""
        current = self.status()
        if current.running:
            return current
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgserver = pgserver_module()
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
        pgserver = pgserver_module()
        bin_path = pgserver.utils.POSTGRES_VERSIONS[pgserver.TARGET_POSTGRES_VERSION]
        user = "pgserver" if os.geteuid() == 0 else None
        pgserver.pgexec.pgexec(
            "pg_ctl", ("-w", "-D", str(self.pgdata), "-m", "fast", "stop"), bin_path, user=user
        )
        return True
