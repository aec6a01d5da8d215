"""The process manager signals only the processes it started (pids are reused)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lasair_nb.server.processes import ManagedProcess


def test_start_status_stop_of_our_own_process(tmp_path: Path) -> None:
    service = ManagedProcess(tmp_path, "sleeper")
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    pid = service.start(argv)
    assert service.status().running and service.status().pid == pid
    assert service.start(argv) == pid  # already running: not started twice
    assert service.stop(timeout=10) is True
    assert not service.status().running
    assert not service.pid_file.exists()


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    # Another program now holds the pid our pid file names (as after a reboot or
    # a crash and pid reuse): `down` must leave it alone.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        service = ManagedProcess(tmp_path, "ingester")
        service.directory.mkdir(parents=True)
        service.pid_file.write_text(
            json.dumps(
                {"pid": stranger.pid, "argv": [sys.executable, "-m", "lasair_nb.cli", "ingest"]}
            )
        )
        assert service.status().running is False
        assert service.stop(timeout=2) is False
        assert stranger.poll() is None, "the stranger was signalled"
        assert not service.pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_corrupt_pid_file_means_not_running(tmp_path: Path) -> None:
    service = ManagedProcess(tmp_path, "broker")
    service.directory.mkdir(parents=True)
    service.pid_file.write_text("{not json")
    assert service.status().running is False
    assert service.stop() is False
