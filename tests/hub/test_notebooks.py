"""Shared notebooks: promotion only when every cell passes (run as an ordinary user, never
root), who promoted what and when, and the re-run that reports what a schema change broke.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa

from hub.notebooks import INSTALLER, RUNNER, PromotionError, SharedNotebooks
from lasair_nb.settings import Settings

pytestmark = pytest.mark.slow  # notebooks run in real kernels, as another OS account

REPO = Path(__file__).resolve().parents[2]


def _notebook(path: Path, *cells: str) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {
        "name": "lasair",
        "display_name": "Lasair (Python 3)",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def owner_url(make_seeded_archive, over_tcp) -> str:
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("checking notebooks runs them as another OS account: root and runuser")
    if not (REPO / ".venv-user" / "bin" / "python").exists():
        pytest.skip("no users' environment (make)")
    return over_tcp(make_seeded_archive())


@pytest.fixture
def shared(owner_url: str) -> Iterator[SharedNotebooks]:
    # not under pytest's basetemp (mode 0700): the runner account must read it
    root = Path(tempfile.mkdtemp(prefix="lasair-nb-shared-"))
    root.chmod(0o755)
    area = SharedNotebooks(Settings(db_url=owner_url, notebooks_dir=root))
    area.ensure()
    yield area
    shutil.rmtree(root, ignore_errors=True)


def test_a_passing_notebook_is_promoted_and_recorded(shared: SharedNotebooks) -> None:
    source = _notebook(
        shared.contributed / "alice" / "bright.ipynb",
        "import os\nassert os.getuid() != 0, 'checked as root'",
        f"assert archive.user == {RUNNER!r}, archive.user",
        "n = archive.sql('SELECT count(*) AS n FROM objects')['n'][0]\nassert n > 0",
    )
    record = shared.promote(source, by="root_admin")
    target = shared.system / "bright.ipynb"
    assert target.read_bytes() == source.read_bytes()
    assert oct(target.stat().st_mode & 0o777) == "0o644"  # read-only to users
    assert record["by"] == "root_admin" and record["from"] == "contributed/alice/bright.ipynb"
    assert record["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert shared.promotions() == [record]
    assert record["at"].endswith("+00:00")


def test_a_failing_notebook_is_not_promoted_and_says_which_cell(shared: SharedNotebooks) -> None:
    source = _notebook(
        shared.contributed / "alice" / "broken.ipynb",
        "x = 1",
        "archive.sql('SELECT no_such_column FROM objects')",
    )
    with pytest.raises(PromotionError) as refused:
        shared.promote(source, by="root_admin")
    assert "cell 1 failed" in refused.value.message
    assert "no_such_column" in refused.value.message
    assert not (shared.system / "broken.ipynb").exists()
    assert shared.promotions() == []


def test_only_contributed_notebooks_can_be_promoted(shared: SharedNotebooks, tmp_path) -> None:
    outside = _notebook(tmp_path / "elsewhere.ipynb", "1")
    with pytest.raises(PromotionError, match="not a contributed notebook"):
        shared.promote(outside, by="root_admin")
    escape = shared.contributed / "alice" / "link.ipynb"
    escape.parent.mkdir(parents=True, exist_ok=True)
    escape.symlink_to(outside)  # a link out of contributed/ is judged by where it points
    with pytest.raises(PromotionError, match="not a contributed notebook"):
        shared.promote(escape, by="root_admin")


def test_the_nightly_check_reports_a_notebook_a_schema_change_broke(
    shared: SharedNotebooks, owner_url: str
) -> None:
    engine = sa.create_engine(owner_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE promo_probe (n int)")
        connection.exec_driver_sql("GRANT SELECT ON promo_probe TO lasair_user")
    try:
        source = _notebook(
            shared.contributed / "alice" / "probe.ipynb",
            "archive.sql('SELECT n FROM promo_probe')",
        )
        shared.promote(source, by="root_admin")
        assert [r["passed"] for r in shared.check_all()] == [True]
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE promo_probe RENAME COLUMN n TO m")
        results = shared.check_all()
        assert [(r["notebook"], r["passed"], r["cell"]) for r in results] == [
            ("probe.ipynb", False, 0)
        ]
        logged = [
            json.loads(x) for x in (shared.system / "CHECKS.jsonl").read_text().split("\n") if x
        ]
        assert [r["passed"] for r in logged] == [True, False]
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS promo_probe")
        engine.dispose()


def test_the_command_line_promotes_and_refuses(shared: SharedNotebooks, owner_url: str) -> None:
    good = _notebook(shared.contributed / "bob" / "fine.ipynb", "print(archive.user)")
    bad = _notebook(shared.contributed / "bob" / "bad.ipynb", "1 / 0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASAIR_")}
    env |= {"LASAIR_DB_URL": owner_url, "LASAIR_NOTEBOOKS_DIR": str(shared.root)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lasair_nb.cli", "notebooks", *args],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    done = run("promote", str(good), "--by", "root_admin")
    assert done.returncode == 0, done.stderr
    assert "promoted contributed/bob/fine.ipynb to system/fine.ipynb by root_admin" in done.stdout
    refused = run("promote", str(bad), "--by", "root_admin")
    assert refused.returncode != 0
    assert "ZeroDivisionError" in refused.stderr and "Traceback" not in refused.stderr
    listed = run("list")
    assert "fine.ipynb" in listed.stdout and "bob/bad.ipynb" in listed.stdout


def test_the_examples_are_installed_once_and_checked_nightly(shared: SharedNotebooks) -> None:
    """The examples land in system/examples once, and the nightly check runs them there as
    notebook_runner (the getting-started one here; tests/notebooks runs all eight as an
    ordinary user in the Lasair kernel)."""
    records = shared.install_examples()
    examples = sorted((REPO / "notebooks" / "examples").glob("*.ipynb"))
    assert [r["notebook"] for r in records] == [f"examples/{p.name}" for p in examples]
    assert all(r["by"] == INSTALLER for r in records)
    for path in examples:
        installed = shared.system / "examples" / path.name
        assert installed.read_bytes() == path.read_bytes()
        assert oct(installed.stat().st_mode & 0o777) == "0o644"
    assert shared.install_examples() == []  # unchanged: nothing copied, nothing recorded
    for path in examples[1:]:  # the nightly run, on the getting-started example only
        (shared.system / "examples" / path.name).unlink()
    results = shared.check_all()
    assert [(r["notebook"], r["passed"]) for r in results] == [
        (f"examples/{examples[0].name}", True)
    ], results
