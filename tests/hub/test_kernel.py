"""The Lasair kernel of the users' environment, started as a notebook server starts it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts Jupyter kernels

REPO = Path(__file__).resolve().parents[2]
KERNELS = REPO / ".venv-user" / "share" / "jupyter" / "kernels"


def _run_in_lasair_kernel(env: dict[str, str], code: str) -> tuple[str, float]:
    """Start the installed Lasair kernel with ``env``, run one cell: (printed, start seconds)."""
    from jupyter_client import KernelManager  # noqa: PLC0415
    from jupyter_client.kernelspec import KernelSpecManager  # noqa: PLC0415

    if not (KERNELS / "lasair" / "kernel.json").exists():
        pytest.skip("no users' environment with the Lasair kernel (make)")
    manager = KernelManager(
        kernel_name="lasair", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(KERNELS)])
    )
    started = time.monotonic()
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        ready = time.monotonic() - started
        printed: list[str] = []

        def keep(message: dict) -> None:
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])

        reply = client.execute_interactive(code, timeout=60, output_hook=keep)
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(printed), ready
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_the_kernel_starts_and_says_how_to_retry_when_the_archive_is_down() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LASAIR_")}
    env |= {
        "LASAIR_DB_URL": "postgresql://127.0.0.1:9/lasair",  # nothing listens on port 9
        "LASAIR_USER": "alice",
        "LASAIR_PASSWORD": "not-a-secret-in-this-test",
    }
    printed, _ = _run_in_lasair_kernel(
        env,
        "print(archive, type(ln).__name__)\n"
        "import pandas as pd\n"
        "print(pd.get_option('display.max_columns'))",  # a notebook's tables, as any kernel's
    )
    lines = printed.splitlines()
    assert lines[0].startswith("Lasair: the archive could not be reached (")
    assert "127.0.0.1" in lines[0]  # where it tried
    assert "not-a-secret-in-this-test" not in printed
    assert "archive = ln.connect()" in lines[1]
    assert lines[-2] == "None module"
    assert lines[-1] == "20"  # pandas imported in the preload thread chose a terminal's 0


def test_the_kernel_preloads_an_archive_connected_as_the_user(archive_url: str, over_tcp) -> None:
    import sqlalchemy as sa  # noqa: PLC0415

    from lasair_nb.admin.users import add_user  # noqa: PLC0415

    engine = sa.create_engine(over_tcp(archive_url))
    with engine.begin() as connection:
        password = add_user(connection, "kernel_tester")
    engine.dispose()
    url = sa.make_url(over_tcp(archive_url)).set(username=None, password=None)
    env = {key: value for key, value in os.environ.items() if not key.startswith("LASAIR_")}
    env |= {
        "LASAIR_DB_URL": url.render_as_string(hide_password=False),
        "LASAIR_USER": "kernel_tester",
        "LASAIR_PASSWORD": password,
    }
    printed, seconds = _run_in_lasair_kernel(
        env, "print(type(archive).__name__, archive.sql('SELECT current_user AS me')['me'][0])"
    )
    assert printed.strip() == "Archive kernel_tester"
    print(f"Lasair kernel ready in {seconds:.2f} s")


def test_the_users_environment_has_every_widget() -> None:
    """What a notebook in the lab imports: the users' environment has all of it."""
    import subprocess  # noqa: PLC0415

    python = REPO / ".venv-user" / "bin" / "python"
    if not python.exists():
        pytest.skip("no users' environment (make)")
    run = subprocess.run(
        [
            str(python), "-c",
            "import lasair_nb as ln\n"
            "for name in ('QueryBuilder', 'ObjectViewer', 'SkyMap', 'WatchlistEditor'):\n"
            "    getattr(ln, name)\n"
            "from lasair_nb import lasair\n"
            "print('ok')",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.stdout.strip() == "ok", run.stderr[-2000:]
