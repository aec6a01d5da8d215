"""`lasair-nb up` / `down`: the whole platform on embedded defaults, as `make up` starts it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the whole platform: archive, broker, simulator, ingester


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_up_streams_simulated_nights_into_the_archive_and_down_stops_all(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASAIR_")}
    env |= {
        "LASAIR_HOME": str(tmp_path / "home"),
        "LASAIR_BROKER_PORT": str(free_port()),
        "LASAIR_DB_PORT": str(free_port()),
        "LASAIR_DEMO_OBJECTS": "120",
        "LASAIR_DEMO_NIGHTS": "3",
        "LASAIR_DEMO_NIGHT_INTERVAL": "2",
        "LASAIR_HUB_PORT": str(free_port()),
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "lasair_nb.cli", *args]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    started = run("up")
    try:
        assert started.returncode == 0, started.stderr
        for service in ("archive", "reaper", "broker", "ingester", "simulator", "hub"):
            assert service in started.stdout
        deadline = time.monotonic() + 150
        while True:
            status = run("status").stdout
            truth = tmp_path / "home" / "simulation" / "truth.csv"
            if "nothing ingested" not in status and truth.exists():
                counted = run(
                    "sql", "SELECT count(DISTINCT objectid) FROM candidates", "--format", "csv"
                )
                if int(counted.stdout.splitlines()[1]) > 0:
                    break
            assert time.monotonic() < deadline, f"nothing ingested in time:\n{status}"
            time.sleep(3)
        assert "alerts today" in status and "latency" in status
        objects = {line.split(",")[0] for line in truth.read_text().splitlines()[1:]}
        stored = run(
            "sql",
            "SELECT DISTINCT objectid FROM candidates",
            "--format",
            "csv",
            "--limit",
            "100000",
        )
        assert (
            set(stored.stdout.splitlines()[1:]) <= objects
        )  # every stored object is a simulated one
    finally:
        stopped = run("down")
    assert stopped.returncode == 0, stopped.stderr
    assert "ingester   stopped" in stopped.stdout and "broker     stopped" in stopped.stdout
    assert "hub        stopped" in stopped.stdout
    assert run("db", "status").returncode == 1
