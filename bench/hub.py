"""Benchmark: how long the hub takes to give a user a server, and the Lasair kernel to start.

In one run, on this machine:

* a user's server spawned by the hub (``POST /hub/api/users/NAME/server`` until it is ready
  and its lab page answers), against a bare ``jupyter lab`` of the same users'
  environment started by hand until its API answers (aim: spawn ≤ 1.5× the bare start);
* the Lasair kernel (client and archive preloaded in a thread) against a plain Python
  kernel of the same environment: from start to ready, and from start to the end of a
  first cell that queries the archive (the plain kernel imports and connects in it).

The hub is ``hub/jupyterhub_config.py`` with its defaults, over a throw-away embedded
archive reached by TCP. Run (as root: the hub makes an OS account):
``python -m bench.hub [--repeat 7] [--no-record]``; appends to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import requests
import sqlalchemy as sa

from bench.results import report
from lasair_nb.admin.users import add_user
from lasair_nb.archive.migrate import upgrade
from lasair_nb.server.embedded import EmbeddedServer
from lasair_nb.server.processes import free_ports

REPO = Path(__file__).resolve().parents[1]
USER_ENV = REPO / ".venv-user"


def wait_until(ready: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("not ready in time")
        time.sleep(0.05)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    found = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    return found.group(1) if found else ""


def sign_up_and_log_in(base: str, name: str, password: str) -> requests.Session:
    """A session of the hub user ``name`` (signed up now: an administrator, or open sign-up)."""
    session = requests.Session()
    session.post(
        f"{base}/hub/signup",
        data={
            "_xsrf": token(session, f"{base}/hub/signup"),
            "username": name,
            "signup_password": password,
            "signup_password_confirmation": password,
        },
        timeout=30,
    )
    session.post(
        f"{base}/hub/login?next=",
        data={"_xsrf": token(session, f"{base}/hub/login"), "username": name, "password": password},
        timeout=30,
    )
    session.headers["X-XSRFToken"] = session.cookies.get("_xsrf", path="/hub/") or ""
    return session


def spawn_seconds(base: str, name: str, password: str, repeat: int) -> list[float]:
    """Sign up the administrator ``name``, then start and stop their server ``repeat`` times."""
    session = sign_up_and_log_in(base, name, password)
    api = f"{base}/hub/api/users/{name}"

    def server() -> dict:
        return session.get(api, timeout=30).json()["servers"].get("", {})

    times = []
    for run in range(repeat + 1):  # the first makes the OS account and the role: a warm-up
        started = time.monotonic()
        session.post(f"{api}/server", timeout=60).raise_for_status()
        wait_until(lambda: server().get("ready", False))
        ready = time.monotonic() - started
        session.get(f"{base}/user/{name}/lab", timeout=60).raise_for_status()
        if run:
            times.append(time.monotonic() - started)
            print(f"spawn {run}: ready {ready:.2f} s, lab answered {times[-1]:.2f} s")
        session.delete(f"{api}/server", timeout=60)
        wait_until(lambda: not server())
    return times


def bare_seconds(home: Path, repeat: int) -> list[float]:
    """``jupyter lab`` of the users' environment, started by hand until its API answers."""
    times = []
    for run in range(repeat + 1):
        port = free_ports()
        started = time.monotonic()
        process = subprocess.Popen(
            [
                str(USER_ENV / "bin" / "jupyter-lab"), "--no-browser", "--allow-root",
                f"--port={port}", "--IdentityProvider.token=", f"--notebook-dir={home}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_until(lambda port=port: answers(f"http://127.0.0.1:{port}/api"))
            requests.get(f"http://127.0.0.1:{port}/lab", timeout=60).raise_for_status()
            if run:
                times.append(time.monotonic() - started)
        finally:
            process.terminate()
            process.wait(30)
    return times


def kernel_seconds(
    kernel: str, env: dict[str, str], repeat: int, cell: str
) -> tuple[list[float], list[float]]:
    """For a kernel of the users' environment: seconds from start to ready, and from start
    to the end of a first ``cell``."""
    from jupyter_client import KernelManager  # noqa: PLC0415
    from jupyter_client.kernelspec import KernelSpecManager  # noqa: PLC0415

    specs = KernelSpecManager(kernel_dirs=[str(USER_ENV / "share" / "jupyter" / "kernels")])
    ready, first = [], []
    for run in range(repeat + 1):
        manager = KernelManager(kernel_name=kernel, kernel_spec_manager=specs)
        started = time.monotonic()
        manager.start_kernel(env=env)
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            up = time.monotonic() - started
            printed: list[str] = []

            def keep(message: dict, printed: list[str] = printed) -> None:
                if message["msg_type"] == "stream":
                    printed.append(message["content"]["text"])

            reply = client.execute_interactive(cell, timeout=60, output_hook=keep)
            assert reply["content"]["status"] == "ok", (reply["content"], printed)
            if run:
                ready.append(up)
                first.append(time.monotonic() - started)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return ready, first


@dataclass
class RunningHub:
    """A hub of ``hub/jupyterhub_config.py`` (its defaults) over a throw-away archive."""

    base: str
    url: str
    """The archive's owner URL over TCP (as the hub reaches it)."""
    env: dict[str, str]
    home: Path


@contextmanager
def running_hub(admin: str) -> Iterator[RunningHub]:
    """Start an embedded archive (TCP) and a hub whose administrator is ``admin``.

    On leaving, the hub, the OS account ``admin`` and the archive are removed.
    """
    if os.geteuid() != 0 or not (USER_ENV / "bin" / "jupyter-lab").exists():
        raise SystemExit("run as root after `make` (the hub makes OS accounts; .venv-user)")
    home = Path(tempfile.mkdtemp(prefix="lasair-bench-hub-"))
    home.chmod(0o755)
    server = EmbeddedServer(home / "pgdata", tcp_port=free_ports())
    status = server.start()
    hub = None
    try:
        owner_engine = sa.create_engine(status.url("postgres"), isolation_level="AUTOCOMMIT")
        with owner_engine.connect() as connection:
            connection.exec_driver_sql("CREATE DATABASE bench")
        owner_engine.dispose()
        upgrade(status.url("bench"))
        owner = server.owner_password_file.read_text().strip()
        url = sa.URL.create(
            "postgresql", "postgres", owner, "127.0.0.1", server.tcp_port, "bench"
        ).render_as_string(hide_password=False)
        port = free_ports(6)
        env = {key: value for key, value in os.environ.items() if not key.startswith("LASAIR_")}
        env |= {
            "LASAIR_HOME": str(home / "lasair"),
            "LASAIR_DB_URL": url,
            "LASAIR_HUB_PORT": str(port),
            "LASAIR_HUB_ADMINS": admin,
            "LASAIR_NOTEBOOKS_DIR": str(home / "notebooks"),
        }
        hub = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(REPO / "hub" / "jupyterhub_config.py")],
            env=env,
            cwd=home,
            stdout=(home / "hub.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base}/hub/api"))
        yield RunningHub(base, url, env, home)
    finally:
        if hub is not None:
            hub.terminate()
            hub.wait(60)
        if (home / "hub.log").exists():  # the spawner's own account of each spawn
            print("\n".join(re.findall(r"Spawn of .*", (home / "hub.log").read_text())))
        subprocess.run(["pkill", "-KILL", "-u", admin], check=False)
        subprocess.run(["userdel", "--remove", admin], check=False, capture_output=True)
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    name = f"bench{uuid.uuid4().hex[:6]}"
    with running_hub(name) as hub:
        spawns = spawn_seconds(hub.base, name, f"Bench-{uuid.uuid4().hex}", args.repeat)
        bare = bare_seconds(hub.home, args.repeat)
        # the kernels run as a user of the archive, as in a hub session
        engine = sa.create_engine(sa.make_url(hub.url).set(drivername="postgresql+psycopg2"))
        with engine.begin() as connection:
            password = add_user(connection, f"{name}_kernel")
        engine.dispose()
        kernel_env = {key: value for key, value in hub.env.items() if key != "LASAIR_HUB_ADMINS"}
        kernel_env |= {"LASAIR_USER": f"{name}_kernel", "LASAIR_PASSWORD": password}
        lasair, lasair_cell = kernel_seconds(
            "lasair", kernel_env, args.repeat, "archive.sql('SELECT 1 AS one')"
        )
        plain, plain_cell = kernel_seconds(
            "python3",
            kernel_env,
            args.repeat,
            "import lasair_nb as ln\nln.connect().sql('SELECT 1 AS one')",
        )

    def p(times: list[float], q: int) -> float:
        return float(np.percentile(times, q))

    lines = [
        f"## Hub — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()};"
        f" {args.repeat} runs of each after a warm-up (the first spawn also makes the OS account"
        " and the archive role).",
        "",
        "| measure | p50 s | p95 s | baseline (same run) | p50 s | p95 s | ratio p50 / p95 | aim |",
        "|---|---:|---:|---|---:|---:|---:|---|",
        f"| spawn: hub start of a user's server, until its lab answers | {p(spawns, 50):.2f} | "
        f"{p(spawns, 95):.2f} | bare `jupyter lab` by hand, until its lab answers | "
        f"{p(bare, 50):.2f} | {p(bare, 95):.2f} | {p(spawns, 50) / p(bare, 50):.2f} / "
        f"{p(spawns, 95) / p(bare, 95):.2f} | ≤ 1.5 |",
        f"| Lasair kernel: start until ready (the preload goes on in a thread) | "
        f"{p(lasair, 50):.2f} | {p(lasair, 95):.2f} | plain Python kernel, until ready | "
        f"{p(plain, 50):.2f} | {p(plain, 95):.2f} | "
        f"{p(lasair, 50) / p(plain, 50):.2f} / {p(lasair, 95) / p(plain, 95):.2f} | |",
        f"| Lasair kernel: start, then a first cell `archive.sql(...)` | "
        f"{p(lasair_cell, 50):.2f} | {p(lasair_cell, 95):.2f} | plain kernel: start, then "
        f"`import lasair_nb; ln.connect().sql(...)` | {p(plain_cell, 50):.2f} | "
        f"{p(plain_cell, 95):.2f} | {p(lasair_cell, 50) / p(plain_cell, 50):.2f} / "
        f"{p(lasair_cell, 95) / p(plain_cell, 95):.2f} | |",
        "",
    ]
    report(lines, record=not args.no_record)


if __name__ == "__main__":
    main()
