"""The embedded PostgreSQL server: a pgserver-family wheel, data under ``$LASAIR_HOME``.

The server keeps running after the command that started it exits (``db stop``
stops it). It listens only on a Unix socket in its data directory. As root,
the wheel runs PostgreSQL as a ``pgserver`` system user, since PostgreSQL
refuses to run as root.
"""

from __future__ import annotations

import logging
import os
import pwd
import secrets
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lasair_nb.archive.engine import ServerStatus, locate_embedded, pgserver_module
from lasair_nb.errors import DatabaseError

log = logging.getLogger(__name__)


class EmbeddedServer:
    """Start, stop and locate the PostgreSQL server whose data live in ``pgdata``."""

    def __init__(self, pgdata: Path, tcp_port: int | None = None) -> None:
        self.pgdata = Path(pgdata).expanduser().resolve()
        self.tcp_port = tcp_port

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
            server = pgserver.get_server(self.pgdata, cleanup_mode=None, start=False)
            server.ensure_pgdata_inited()
            self._write_authentication(server.system_user)
            if self.tcp_port is None:
                server.start()  # the Unix socket only
            else:
                self._start_with_tcp(pgserver, server)
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
        self._ensure_owner_password(status)
        return status

    def _start_with_tcp(self, pgserver: Any, server: Any) -> None:
        """Start listening on 127.0.0.1:``tcp_port`` as well as on the socket (pg_ctl)."""
        socket_dir = pgserver.utils.find_suitable_socket_dir(self.pgdata, server.runtime_path)
        options = f'-h 127.0.0.1 -p {int(self.tcp_port)} -k "{socket_dir}"'
        pgserver.pgexec.pgexec(
            "pg_ctl",
            ("-w", "-o", options, "-l", str(self.pgdata / "log"), "-D", str(self.pgdata), "start"),
            server.bin_path,
            user=server.system_user,
            timeout=30,
        )

    @property
    def reader_password_file(self) -> Path:
        """Where ``lasair_reader``'s password is kept (0600), for the hub to hand on."""
        return self.pgdata.parent / "reader-password"

    def ensure_reader_password(self, url: str) -> str:
        """Give ``lasair_reader`` a password (once; it needs one over TCP); return it.

        Run after the migrations, which create the role.
        """
        return _ensure_password(url, "lasair_reader", self.reader_password_file)

    @property
    def owner_password_file(self) -> Path:
        """Where the owner's (``postgres``) password is kept, readable by this OS user only."""
        return self.pgdata.parent / "owner-password"

    def _write_authentication(self, server_account: str | None) -> None:
        """Who may log in how, rewritten at every start (initdb's file trusts everyone).

        - The Unix socket: peer authentication, for the OS account that runs Lasair-NB
          (and the server's own account), as any role; any other local account is refused.
        - TCP (when a later release opens it): a password for every role, scram-sha-256.
        - Replication and base backups: nobody.
        """
        accounts = {pwd.getpwuid(os.geteuid()).pw_name}
        if server_account:
            accounts.add(server_account)
        hba = self.pgdata / "pg_hba.conf"
        ident = self.pgdata / "pg_ident.conf"
        hba.write_text(
            "# Written by Lasair-NB at every start (lasair_nb/server/embedded.py).\n"
            "# TYPE  DATABASE  USER  ADDRESS        METHOD\n"
            "local   all       all                  peer map=lasair\n"
            "host    all       all   127.0.0.1/32   scram-sha-256\n"
            "host    all       all   ::1/128        scram-sha-256\n"
            "# No replication lines: base backups and replication are refused.\n"
        )
        ident.write_text(
            "# Written by Lasair-NB: these OS accounts may log in over the socket as any role.\n"
            + "".join(f"lasair  {account}  all\n" for account in sorted(accounts))
        )

    def _ensure_owner_password(self, status: ServerStatus) -> None:
        """Give the owner a password at first start (for TCP), kept in a 0600 file."""
        _ensure_password(status.url("postgres"), "postgres", self.owner_password_file)

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


def _ensure_password(url: str, role: str, secret_file: Path) -> str:
    """The password of ``role``: read from ``secret_file``, else generated, set, then kept there.

    The file (mode 0600) is written only after the server took the password, so a
    failed start leaves nothing that disagrees with the server.
    """
    if secret_file.exists():
        return secret_file.read_text().strip()
    password = secrets.token_urlsafe(24)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            # Role names cannot be bound parameters; both are fixed names of ours.
            connection.exec_driver_sql(
                f"ALTER ROLE {role} PASSWORD %(password)s", {"password": password}
            )
    finally:
        engine.dispose()
    descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    return password
