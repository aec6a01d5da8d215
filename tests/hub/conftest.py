"""The hub tests' parts: a real JupyterHub on this machine, and users driven over HTTP.

``hub`` starts ``jupyterhub -f hub/jupyterhub_config.py`` (the configuration ``make up``
uses, with its defaults) on free ports, over a seeded archive reached by TCP with
passwords, and removes the OS accounts its users got. :class:`HubUser` does what a
browser does: NativeAuthenticator's forms (``_xsrf`` from the page), the hub's REST API
with the session cookie, and a Jupyter kernel over its websocket.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from lasair_nb.server.processes import free_ports

TIMEOUT = 120.0


def form_token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    page.raise_for_status()
    found = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    return found.group(1) if found else session.cookies.get("_xsrf", "")


def alert(html: str) -> str:
    """The message NativeAuthenticator shows in its alert box ('' if none)."""
    found = re.search(r'class="alert[^"]*"[^>]*>\s*(.*?)\s*</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else ""


@dataclass
class HubUser:
    base: str
    name: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)

    def sign_up(self) -> str:
        """Sign up; the page's message."""
        token = form_token(self.session, f"{self.base}/hub/signup")
        page = self.session.post(
            f"{self.base}/hub/signup",
            data={
                "_xsrf": token,
                "username": self.name,
                "signup_password": self.password,
                "signup_password_confirmation": self.password,
            },
            timeout=30,
        )
        return alert(page.text)

    def log_in(self) -> requests.Response:
        token = form_token(self.session, f"{self.base}/hub/login")
        return self.session.post(
            f"{self.base}/hub/login?next=",
            data={"_xsrf": token, "username": self.name, "password": self.password},
            allow_redirects=False,
            timeout=30,
        )

    def _hub_headers(self) -> dict[str, str]:
        return {"X-XSRFToken": self.session.cookies.get("_xsrf", path="/hub/") or ""}

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return self.session.request(
            method, f"{self.base}/hub/api{path}", headers=self._hub_headers(), timeout=60, **kwargs
        )

    def start_server(self) -> float:
        """Start my server and wait until it answers; the seconds it took."""
        started = time.monotonic()
        answer = self.api("POST", f"/users/{self.name}/server")
        assert answer.status_code in (201, 202), answer.text
        while True:
            model = self.api("GET", f"/users/{self.name}").json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                break
            assert time.monotonic() - started < TIMEOUT, f"server not ready: {model}"
            time.sleep(0.5)
        self.session.get(f"{self.base}/user/{self.name}/lab", timeout=60).raise_for_status()
        return time.monotonic() - started

    def run(self, code: str, kernel: str = "lasair") -> tuple[str, list[dict]]:
        """Run ``code`` in a new kernel of my server: (printed text, error contents)."""
        prefix = f"{self.base}/user/{self.name}"
        token = self.session.cookies.get("_xsrf", path=f"/user/{self.name}/") or ""
        headers = {"X-XSRFToken": token}
        made = self.session.post(
            f"{prefix}/api/kernels", json={"name": kernel}, headers=headers, timeout=60
        )
        assert made.status_code == 201, made.text
        kernel_id = made.json()["id"]
        try:
            # in a thread of its own: a browser test may hold this thread's event loop
            with ThreadPoolExecutor(1) as pool:
                return pool.submit(asyncio.run, self._execute(kernel_id, code, token)).result()
        finally:
            self.session.delete(f"{prefix}/api/kernels/{kernel_id}", headers=headers, timeout=60)

    async def _execute(self, kernel_id: str, code: str, token: str) -> tuple[str, list[dict]]:
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        url = (
            self.base.replace("http", "ws", 1)
            + f"/user/{self.name}/api/kernels/{kernel_id}/channels"
        )
        socket = await websocket_connect(
            HTTPRequest(url, headers={"Cookie": cookie, "X-XSRFToken": token})
        )
        message_id = uuid.uuid4().hex
        socket.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": message_id,
                        "msg_type": "execute_request",
                        "username": self.name,
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {"code": code, "silent": False},
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        printed, errors = [], []
        try:
            while True:
                raw = await asyncio.wait_for(socket.read_message(), TIMEOUT)
                assert raw is not None, "the kernel's websocket closed"
                message = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != message_id:
                    continue
                kind = message["msg_type"]
                if kind == "stream":
                    printed.append(message["content"]["text"])
                elif kind == "error":
                    errors.append(message["content"])
                elif kind == "status" and message["content"]["execution_state"] == "idle":
                    break
        finally:
            socket.close()
        return "".join(printed), errors


REPO = Path(__file__).resolve().parents[2]


@dataclass
class Hub:
    base: str
    admin: HubUser
    log: Path
    prefix: str
    made: list[str]
    notebooks: Path

    users: list[HubUser] = field(default_factory=list)
    db_url: str = ""
    """The archive as its owner sees it (over TCP, as the hub reaches it)."""

    def user(self, role: str, password: str | None = None) -> HubUser:
        """A new hub user (not signed up yet) with a name no module of this hub had."""
        name = f"{self.prefix}{role}"
        number = 1
        while name in self.made:
            number += 1
            name = f"{self.prefix}{role}{number}"
        self.made.append(name)
        user = HubUser(self.base, name, password or f"Lasair-{uuid.uuid4().hex[:12]}")
        self.users.append(user)
        return user


def _dashboards(shared: Path) -> Path:
    """The repository's dashboards and two that are not public, in a folder all can read."""
    folder = shared / "dashboards"
    folder.mkdir()
    folder.chmod(0o755)
    for notebook in (REPO / "dashboards").glob("*.ipynb"):
        shutil.copyfile(notebook, folder / notebook.name)
    for name, access in (("members", "users"), ("team", "group:team")):
        book = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(f"print('only for {access}')")],
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3"},
                "lasair": {"access": access},
            },
        )
        nbformat.write(book, folder / f"{name}.ipynb")
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


@contextmanager
def _running_hub(archive_url: str, basetemp: Path, pool: str | None) -> Iterator[Hub]:
    """A running hub with the default configuration; its first administrator signed up.

    ``pool`` is ``LASAIR_DASHBOARD_POOL`` (``None``: the default). The dashboards folder
    is the repository's, plus two that are not public (``members``: logged-in users;
    ``team``: the hub group ``team``), made here.
    """
    jupyterhub = Path(sys.executable).with_name("jupyterhub")
    missing = [
        what
        for what, there in (
            ("root (the hub makes OS accounts)", os.geteuid() == 0),
            ("useradd", shutil.which("useradd") is not None),
            ("the users' environment .venv-user (make)", (REPO / ".venv-user" / "bin").exists()),
            ("jupyterhub", jupyterhub.exists()),
            ("configurable-http-proxy (make)", Path(sys.prefix, "node_modules").exists()),
        )
        if not there
    ]
    if missing:
        pytest.skip(f"the hub needs {', '.join(missing)}")
    home = basetemp
    # shared notebooks: not under pytest's basetemp (0700), every account reads them
    shared = Path(tempfile.mkdtemp(prefix="lasair-nb-hub-notebooks-"))
    shared.chmod(0o755)
    port = free_ports(6)
    prefix = f"t{uuid.uuid4().hex[:5]}_"
    admin = HubUser(f"http://127.0.0.1:{port}", f"{prefix}admin", f"Admin-{uuid.uuid4().hex[:12]}")
    env = {key: value for key, value in os.environ.items() if not key.startswith("LASAIR_")}
    env |= {
        "LASAIR_HOME": str(home),
        "LASAIR_DB_URL": archive_url,
        "LASAIR_HUB_PORT": str(port),
        "LASAIR_HUB_ADMINS": admin.name,
        "LASAIR_NOTEBOOKS_DIR": str(shared),
        "LASAIR_READER_PASSWORD": os.environ["LASAIR_READER_PASSWORD"],  # set by over_tcp
        "LASAIR_DASHBOARDS_DIR": str(_dashboards(shared)),
    }
    if pool is not None:
        env["LASAIR_DASHBOARD_POOL"] = pool
    log = home / "hub.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(jupyterhub), "-f", str(REPO / "hub" / "jupyterhub_config.py")],
            env=env,
            cwd=home,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    made = [admin.name]
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{admin.base}/hub/api", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        assert "signup was successful" in admin.sign_up().lower()
        assert admin.log_in().status_code == 302
        running = Hub(admin.base, admin, log, prefix, made, shared, db_url=env["LASAIR_DB_URL"])
        yield running
        for user in running.users:
            user.session.close()
    finally:
        admin.session.close()
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        # Sockets the HTTP clients left for the garbage collector go now, not inside a
        # later test (where pytest would report their ResourceWarning as its error).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        for name in made:
            try:
                pwd.getpwnam(name)
            except KeyError:
                continue
            subprocess.run(["pkill", "-KILL", "-u", name], check=False)
            subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
        shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_hub(
    make_seeded_archive: Callable[[], str],
    over_tcp: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hub]:
    """One hub for every module that does not look at the dashboards' kernel pool.

    It keeps no pre-started dashboard kernels (``LASAIR_DASHBOARD_POOL=0``); each module
    makes its own users (``Hub.user`` never gives a name twice), so modules stay apart.
    """
    url = over_tcp(make_seeded_archive())
    with _running_hub(url, tmp_path_factory.mktemp("hub-home"), "0") as running:
        yield running


@pytest.fixture(scope="module")
def hub(
    request: pytest.FixtureRequest,
    make_seeded_archive: Callable[[], str],
    over_tcp: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hub]:
    """The hub a test module uses: the shared one, or its own with the default pool.

    A module that sets ``DASHBOARD_POOL = None`` gets a hub of its own with the default
    pool of pre-started dashboard kernels, as ``make up`` runs it.
    """
    if getattr(request.module, "DASHBOARD_POOL", "0") is None:
        url = over_tcp(make_seeded_archive())
        with _running_hub(url, tmp_path_factory.mktemp("hub-home"), None) as running:
            yield running
    else:
        shared = request.getfixturevalue("shared_hub")
        known = len(shared.users)
        yield shared
        # The module's users' HTTP sessions close now, and the sockets they left go to
        # the garbage collector here, not inside a later module's test (where pytest
        # would report their ResourceWarning as its error).
        for user in shared.users[known:]:
            user.session.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
