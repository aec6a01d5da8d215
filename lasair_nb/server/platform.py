"""The whole platform on one machine: archive, reaper, broker, simulated stream, ingester, hub.

``lasair-nb up`` (and ``make up``) starts what is not running yet; ``down`` stops
it all. Each service is a detached process with its log under
``$LASAIR_HOME/run/<name>/log``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from lasair_nb.archive import engine as database
from lasair_nb.archive import migrate
from lasair_nb.errors import DatabaseError
from lasair_nb.server.broker import Broker
from lasair_nb.server.embedded import EmbeddedServer
from lasair_nb.server.processes import ManagedProcess
from lasair_nb.server.reaper import Reaper
from lasair_nb.settings import Settings

ALL_NIGHTS = "ztf_.*_programid1"
NIGHT_TOPIC = "ztf_{date}_programid1"


class Platform:
    """Start and stop the services of a deployment."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reaper = ManagedProcess(settings.home_dir, "reaper")
        self.ingester = ManagedProcess(settings.home_dir, "ingester")
        self.simulator = ManagedProcess(settings.home_dir, "simulator")
        self.hub = ManagedProcess(settings.home_dir, "hub")

    def _broker(self) -> Broker:
        return Broker(self.settings.home_dir)

    @staticmethod
    def _command(*args: str) -> list[str]:
        return [sys.executable, "-m", "lasair_nb.cli", *args]

    def _start_reaper(self, url: str) -> str:
        """Start the reaper if the owner may see and signal users' sessions; its line."""
        engine = database.create_engine(url)
        try:
            Reaper(engine, self.settings).check()
        except DatabaseError as error:
            return f"reaper     NOT started: {error}"
        finally:
            engine.dispose()
        self.reaper.start(self._command("reaper"))
        return (
            f"reaper     user statements > {self.settings.sql_timeout:g} s cancelled, idle "
            f"transactions > {self.settings.idle_transaction_timeout:g} s ended; "
            f"log {self.reaper.log}"
        )

    def _start_hub(self) -> str:
        """Start JupyterHub with hub/jupyterhub_config.py, if the hub package is installed."""
        spec = importlib.util.find_spec("hub")  # found, not imported: lasair_nb is below it
        if spec is None or spec.origin is None or importlib.util.find_spec("jupyterhub") is None:
            return "hub        NOT started: JupyterHub is not installed (pip install -e '.[hub]')"
        config = Path(spec.origin).with_name("jupyterhub_config.py")
        # `python -m`: the process's command line is then exactly this one (a script's
        # shebang would put the interpreter first), which `down` checks before signalling
        self.hub.start([sys.executable, "-m", "jupyterhub", "-f", str(config)])
        base = f"http://127.0.0.1:{self.settings.hub_port}"
        return (
            f"hub        {base}/  (JupyterHub; log {self.hub.log})\n"
            f"api        {base}/services/api/  (Lasair's REST API: "
            f'lasair_client(token, endpoint="{base}/services/api"), tokens at {base}/hub/token)\n'
            f"dashboards {base}/services/dashboards/  (public pages, e.g. "
            f"{base}/services/dashboards/object?objectId=…)"
        )

    def up(self, simulate: bool = True, hub: bool = True) -> Iterator[str]:
        """Start every service that is not running; yield a line per service."""
        settings = self.settings
        tcp = ""
        if settings.db_url is None:
            embedded = EmbeddedServer(settings.pgdata, settings.db_port or None)
            server = embedded.start()
            migrate.ensure_database(settings)
            url = server.url(settings.db_name)
            revision = migrate.upgrade(url)
            reader = embedded.ensure_reader_password(url)
            # the hub's dashboards log in as lasair_reader (os.environ: what the hub inherits)
            os.environ.setdefault("LASAIR_READER_PASSWORD", reader)
            if settings.db_port:
                tcp = f"; TCP 127.0.0.1:{settings.db_port}, passwords"
        else:
            url = database.database_url(settings)
            revision = migrate.upgrade(url)
        yield f"archive    {url}  (schema {revision}{tcp})"

        yield self._start_reaper(url)

        servers = self._broker().start(settings.broker_port)
        yield f"broker     {servers}  (Tansu, topics in memory)"

        self.ingester.start(
            self._command(
                "-v",
                "ingest",
                "kafka",
                "--servers",
                servers,
                "--topic",
                ALL_NIGHTS,
                "--group",
                "lasair-nb",
            ),
        )
        yield f"ingester   consuming {ALL_NIGHTS}; log {self.ingester.log}"

        if simulate:
            self.simulator.start(
                self._command(
                    "simulate",
                    "--objects",
                    str(settings.demo_objects),
                    "--nights",
                    str(settings.demo_nights),
                    "--kafka",
                    servers,
                    "--topic",
                    NIGHT_TOPIC,
                    "--every",
                    str(settings.demo_night_interval),
                    "--no-progress",
                ),
            )
            yield (
                f"simulator  {settings.demo_objects} sources, a night every "
                f"{settings.demo_night_interval:g} s; log {self.simulator.log}"
            )
        if hub:
            yield self._start_hub()

    def down(self) -> Iterator[str]:
        """Stop the simulator, the ingester (finishing its batch), broker, reaper and archive."""
        yield f"{'hub':<10} {'stopped' if self.hub.stop() else 'not running'}"
        for name, service in (("simulator", self.simulator), ("ingester", self.ingester)):
            yield f"{name:<10} {'stopped' if service.stop() else 'not running'}"
        yield f"{'broker':<10} {'stopped' if self._broker().stop() else 'not running'}"
        yield f"{'reaper':<10} {'stopped' if self.reaper.stop() else 'not running'}"
        if self.settings.db_url is None:
            stopped = EmbeddedServer(self.settings.pgdata).stop()
            yield f"{'archive':<10} {'stopped' if stopped else 'not running'}"
