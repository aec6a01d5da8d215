"""Background processes of a one-machine deployment: the broker, the simulator, the ingester.

Each runs detached from the command that started it, with its pid, command line
and log under ``$LASAIR_HOME/run/<name>``, so ``lasair-nb … stop`` from another
shell (or ``make down``) finds it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from lasair_nb.errors import LasairError


class ServiceError(LasairError):
    """A background service could not be started or stopped."""


@dataclass(frozen=True)
class ServiceStatus:
    """Whether a service runs, and what it was started with."""

    name: str
    running: bool
    pid: int | None
    info: dict
    log: Path


def _command_line(pid: int) -> list[str] | None:
    """The command line of a running process, or None if it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


class ManagedProcess:
    """One named background process of this deployment.

    Parameters
    ----------
    home
        The deployment's home directory (``$LASAIR_HOME``).
    name
        Service name, e.g. ``broker``.
    """

    def __init__(self, home: Path, name: str) -> None:
        self.name = name
        self.directory = Path(home).expanduser() / "run" / name
        self.pid_file = self.directory / "pid.json"
        self.log = self.directory / "log"

    def status(self) -> ServiceStatus:
        """Read the pid file and check the process is alive and is the one we started.

        A pid is reused by the system after its process exits: a pid file whose
        process now runs another command line (or cannot be read) means the
        service is not running, and nothing will be signalled.
        """
        if not self.pid_file.exists():
            return ServiceStatus(self.name, False, None, {}, self.log)
        try:
            record = json.loads(self.pid_file.read_text())
            pid = int(record["pid"])
            argv = [str(part) for part in record["argv"]]
        except (ValueError, KeyError, TypeError):
            return ServiceStatus(self.name, False, None, {}, self.log)
        ours = _alive(pid) and _command_line(pid) == argv
        return ServiceStatus(self.name, ours, pid, record.get("info", {}), self.log)

    def start(self, argv: list[str], info: dict | None = None, env: dict | None = None) -> int:
        """Start ``argv`` detached unless already running; returns its pid."""
        current = self.status()
        if current.running:
            return current.pid  # type: ignore[return-value]
        self.directory.mkdir(parents=True, exist_ok=True)
        # posix_spawn in a new session: the service outlives this process, and no
        # Popen object is left to complain that its child is still running.
        log = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            pid = os.posix_spawn(
                argv[0],
                argv,
                os.environ if env is None else env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                ],
                setsid=True,
                # a shell's background job ignores SIGINT; services (the hub's) must not
                setsigdef=(signal.SIGINT, signal.SIGTERM),
            )
        finally:
            os.close(log)
        self.pid_file.write_text(json.dumps({"pid": pid, "argv": argv, "info": info or {}}))
        # Until the child has exec'd, /proc shows this process's command line, and
        # status() would call the service not running: wait for the exec (briefly).
        deadline = time.monotonic() + 5.0
        while _alive(pid) and _command_line(pid) != argv and time.monotonic() < deadline:
            time.sleep(0.01)
        return pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the process and wait for it; SIGKILL after ``timeout``. False if not running."""
        current = self.status()
        if not current.running or current.pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(current.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(current.pid):
            if time.monotonic() > deadline:
                os.kill(current.pid, signal.SIGKILL)
                break
            time.sleep(0.1)
        try:
            os.waitpid(current.pid, os.WNOHANG)  # reap it if this process started it
        except ChildProcessError:
            pass
        self.pid_file.unlink(missing_ok=True)
        return True


def free_ports(count: int = 1) -> int:
    """A port ``p`` of 127.0.0.1 with ``p … p + count - 1`` all free now.

    For services that take several in a row, as the hub does.

    Raises
    ------
    OSError
        When no such run is found in 50 tries.
    """
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + count > 65536:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise OSError(f"no {count} free ports in a row on 127.0.0.1")
