"""Widgets in a real browser: Voila serving notebooks a test writes, headless Chromium.

Chromium is Debian's (``apt-get install chromium``), driven by Python Playwright through
``executable_path``; ``playwright install`` is never needed. ``CHROMIUM_EXECUTABLE``
names another binary.

Fixtures
--------
(The browser's, ``browser``, ``page``, ``screenshot``, ``block_network``…, are in
``tests/conftest.py``.)

start_voila
    Session-wide factory: ``start_voila(notebook_dir, env={...})`` starts Voila on
    127.0.0.1 and a free port, waits until it answers and returns a ``JupyterServer``
    (``url``, ``render_url(name)``, ``log()``, ``stop()``); all are stopped at the end.
    The kernels it starts inherit ``env`` (e.g. ``LASAIR_DB_URL`` of
    ``make_seeded_archive()``).
start_jupyterlab
    The same for JupyterLab (no token; ``window.jupyterapp`` exposed; ``lab_url(name)``);
    ``run_in_jupyterlab(page, server, name)`` opens a notebook and runs all its cells.
aladin_lite
    Session-wide: path of the kept Aladin Lite build, fetched from the npm registry first
    if the set-up has not (``lasair-nb widgets fetch-assets``).

Helpers (import from ``tests.widgets.conftest`` is not possible under importlib mode, so
they are fixtures too): ``write_notebook``, ``block_network``, ``screenshot``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

SERVER_START_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def aladin_lite() -> Path:
    from lasair_nb.widgets import assets  # noqa: PLC0415

    return assets.fetch_aladin_lite()  # at once when already kept


@pytest.fixture(scope="session")
def run_in_jupyterlab() -> Callable[[Page, JupyterServer, str], None]:
    """``run_in_jupyterlab(page, server, name)``: open a notebook, run all its cells, wait."""

    def run(page: Page, server: JupyterServer, name: str) -> None:
        page.goto(server.lab_url(name), timeout=120_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        # Run-all before the kernel is ready can leave cells queued for ever.
        page.wait_for_function(
            """() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel
                       ?.status === 'idle'""",
            timeout=90_000,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        news = page.locator(".jp-toast-button", has_text="No")  # "notified about news?"
        if news.count():
            news.first.click()
        page.wait_for_function(
            """() => Array.from(document.querySelectorAll(".jp-CodeCell .jp-InputArea-prompt"))
                       .every((prompt) => /\\[\\d+\\]/.test(prompt.innerText))""",
            timeout=120_000,
        )

    return run


@pytest.fixture(scope="session")
def write_notebook() -> Callable[[Path, str, Sequence[str]], Path]:
    """``write_notebook(folder, name, cells)``: a notebook of code cells; returns its path."""

    def write(folder: Path, name: str, cells: Sequence[str]) -> Path:
        import nbformat  # noqa: PLC0415 - jupyter side only

        notebook = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(source) for source in cells],
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
        )
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.ipynb"
        nbformat.write(notebook, path)
        return path

    return write


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class JupyterServer:
    """A running Voila or JupyterLab, serving the notebooks of ``notebook_dir`` at ``url``."""

    url: str
    notebook_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def render_url(self, name: str) -> str:
        """Voila's page of notebook ``name`` (without ``.ipynb``)."""
        return f"{self.url}voila/render/{name}.ipynb"

    def lab_url(self, name: str) -> str:
        """JupyterLab's page of notebook ``name`` (without ``.ipynb``)."""
        return f"{self.url}lab/tree/{name}.ipynb"

    def log(self) -> str:
        """What Voila and its kernels wrote so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server and its kernels (SIGTERM, then SIGKILL after 15 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_until_answering(server: JupyterServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.process.args[2]} exited with {server.process.returncode}:\n{server.log()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(server.url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(
        f"{server.process.args[2]} did not answer at {server.url} in {timeout} s:\n{server.log()}"
    )


def _command(app: str, port: int, notebook_dir: Path) -> list[str]:
    if app == "voila":
        return [
            *(sys.executable, "-m", "voila", "--no-browser", f"--port={port}"),
            *("--Voila.ip=127.0.0.1", "--show_tracebacks=True", str(notebook_dir)),
        ]
    return [
        *(sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}"),
        *("--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--allow-root"),
        *("--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={notebook_dir}"),
        "--LabApp.news_url=",
    ]


def _server_factory(
    app: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., JupyterServer]]:
    started: list[JupyterServer] = []

    def start(
        notebook_dir: Path,
        env: Mapping[str, str] | None = None,
        timeout: float = SERVER_START_TIMEOUT,
    ) -> JupyterServer:
        port = _free_port()
        runtime = tmp_path_factory.mktemp(f"{app}-runtime")
        environment = {
            **os.environ,
            # The kernel is this interpreter's (kernelspecs name `python` from PATH).
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "PYTHONWARNINGS": "ignore",  # pytest's warnings-as-errors are not the kernel's
            **(env or {}),
        }
        log_path = runtime / f"{app}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                _command(app, port, notebook_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=notebook_dir,
            )
        server = JupyterServer(f"http://127.0.0.1:{port}/", notebook_dir, process, log_path)
        started.append(server)
        _wait_until_answering(server, timeout)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def start_voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., JupyterServer]]:
    pytest.importorskip("voila")
    yield from _server_factory("voila", tmp_path_factory)


@pytest.fixture(scope="session")
def start_jupyterlab(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., JupyterServer]]:
    pytest.importorskip("jupyterlab")
    yield from _server_factory("jupyterlab", tmp_path_factory)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every widget test is in the full suite only (a minute of widgets): not the fast lane."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)
