"""Shared notebooks: contributed by users, promoted to system by administrators, re-checked.

Under ``LASAIR_NOTEBOOKS_DIR`` (readable by every account)::

    system/                 promoted notebooks: read-only to users (written by promotion only)
    system/examples/        the example notebooks of notebooks/examples (tested by make test)
    system/PROMOTIONS.jsonl who promoted what, when, from where, its SHA-256 and the check
    system/CHECKS.jsonl     every re-run of the system notebooks, one line per notebook
    contributed/NAME/       NAME's published notebooks: theirs to write, everyone's to read

The spawner links them into each user's home as ``~/system`` and ``~/contributed``; a user
publishes by saving a notebook into ``~/contributed/NAME/``.

A notebook is promoted only if every cell runs in the Lasair kernel against the archive
as it is now (:func:`kernel.check.check`, as ``pytest --nbval-lax``). It runs as the OS
account and archive role ``notebook_runner`` — an ordinary user, never root or the
archive's owner — because whatever one user saves, another may run.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.accounts import default_venv, ensure_service_account
from lasair_nb.admin.users import server_environment
from lasair_nb.errors import ArgumentError, LasairError
from lasair_nb.settings import Settings, get_settings

RUNNER = "notebook_runner"
"""The OS account and archive role that shared notebooks run as when they are checked."""
EXAMPLES = Path(__file__).resolve().parents[1] / "notebooks" / "examples"
"""The example notebooks of this checkout (``make test`` runs each under nbval)."""
INSTALLER = "lasair-nb (examples, tested by make test)"
"""Who promotions of the examples are recorded as."""


class PromotionError(LasairError):
    """A notebook that cannot be promoted: where it is, or which cell failed and how."""


class SharedNotebooks:
    """The shared notebook area of a deployment.

    Parameters
    ----------
    settings
        Deployment settings (``notebooks_dir``, the archive); default: the environment's.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.root = Path(self.settings.notebooks_dir).expanduser().resolve()
        self.system = self.root / "system"
        self.contributed = self.root / "contributed"

    def ensure(self) -> None:
        """Make the area: every folder root's and open to read, none to write."""
        for folder in (self.root, self.system, self.contributed):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)

    def prepare_home(self, account: pwd.struct_passwd) -> Path:
        """A user's ``contributed/NAME`` (theirs) and the ``~/system``, ``~/contributed`` links."""
        self.ensure()
        mine = self.contributed / account.pw_name
        mine.mkdir(exist_ok=True)
        os.chown(mine, account.pw_uid, account.pw_gid)
        mine.chmod(0o755)
        home = Path(account.pw_dir)
        for name, target in (("system", self.system), ("contributed", self.contributed)):
            link = home / name
            if not link.is_symlink() and not link.exists():
                link.symlink_to(target, target_is_directory=True)
                os.lchown(link, account.pw_uid, account.pw_gid)
        return mine

    # --- checking --------------------------------------------------------------------------

    def check(self, notebook: Path, timeout: float = 600) -> dict[str, Any]:
        """Run a copy of ``notebook`` as ``notebook_runner``; the result of kernel.check."""
        account = ensure_service_account(RUNNER)
        python = default_venv(self.settings) / "bin" / "python"
        work = Path(tempfile.mkdtemp(prefix="check-", dir=account.pw_dir))
        try:
            os.chown(work, account.pw_uid, account.pw_gid)
            copy = work / notebook.name
            shutil.copyfile(notebook, copy)
            os.chown(copy, account.pw_uid, account.pw_gid)
            env = {
                "PATH": f"{python.parent}:/usr/bin:/bin",
                "HOME": account.pw_dir,
                "USER": RUNNER,
                **server_environment(RUNNER, settings=self.settings),
            }
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            run = subprocess.run(
                [runuser, "-u", RUNNER, "--", str(python), "-m", "kernel.check", str(copy),
                 "--timeout", str(timeout)],
                env=env, cwd=work, capture_output=True, text=True, check=False,
            )  # fmt: skip
        finally:
            shutil.rmtree(work, ignore_errors=True)
        lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
        if not lines:
            return {"passed": False, "cell": None, "error": run.stderr.strip()[-500:]}
        return json.loads(lines[-1])

    # --- promoting -------------------------------------------------------------------------

    def promote(self, path: Path, by: str, name: str | None = None) -> dict[str, Any]:
        """Check a contributed notebook and, if every cell passes, copy it into system.

        Parameters
        ----------
        path
            A ``.ipynb`` under ``contributed/``.
        by
            The administrator promoting it (recorded).
        name
            Its file name in ``system/`` (default: the same).

        Returns
        -------
        dict
            The record written to ``system/PROMOTIONS.jsonl``.

        Raises
        ------
        PromotionError
            When it is not a contributed notebook, or a cell fails (which, and the error).
        """
        source = Path(path).resolve()
        if source.suffix != ".ipynb" or not source.is_file():
            raise PromotionError(f"{path} is not a notebook (.ipynb file)")
        if not source.is_relative_to(self.contributed.resolve()):
            raise PromotionError(
                f"{path} is not a contributed notebook: promote one under {self.contributed}"
            )
        target_name = name or source.name
        if "/" in target_name or not target_name.endswith(".ipynb") or target_name.startswith("."):
            raise ArgumentError(f"system notebook name {target_name!r}: a plain NAME.ipynb")
        result = self.check(source)
        if not result["passed"]:
            where = f"cell {result['cell']}" if result.get("cell") is not None else "the notebook"
            raise PromotionError(
                f"{source.name} was not promoted: {where} failed against the current archive "
                f"({result['error']})"
            )
        self.ensure()
        target = self.system / target_name
        shutil.copyfile(source, target)
        target.chmod(0o644)
        record = {
            "notebook": target_name,
            "from": str(source.relative_to(self.root)),
            "by": by,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            "check_seconds": result.get("seconds"),
        }
        self._append(self.system / "PROMOTIONS.jsonl", record)
        return record

    def install_examples(self, source: Path = EXAMPLES) -> list[dict[str, Any]]:
        """Copy the example notebooks into ``system/examples``: the new and the changed ones.

        They need no check here: ``make test`` runs every one of them under nbval against a
        seeded archive, and the nightly :meth:`check_all` re-runs them here with the rest.
        Each copy is recorded in ``PROMOTIONS.jsonl`` like a promotion; an unchanged one is
        left alone, so starting the hub again records nothing.

        Returns
        -------
        list of dict
            The records written (empty when every example was already there).
        """
        self.ensure()
        folder = self.system / "examples"
        folder.mkdir(exist_ok=True)
        folder.chmod(0o755)
        records = []
        for notebook in sorted(Path(source).glob("*.ipynb")):
            data = notebook.read_bytes()
            target = folder / notebook.name
            if target.is_file() and target.read_bytes() == data:
                continue
            target.write_bytes(data)
            target.chmod(0o644)
            record = {
                "notebook": f"examples/{notebook.name}",
                "from": f"notebooks/examples/{notebook.name}",
                "by": INSTALLER,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "sha256": hashlib.sha256(data).hexdigest(),
                "check_seconds": None,
            }
            self._append(self.system / "PROMOTIONS.jsonl", record)
            records.append(record)
        return records

    def promotions(self) -> list[dict[str, Any]]:
        """Every promotion recorded, oldest first."""
        log = self.system / "PROMOTIONS.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def check_all(self) -> list[dict[str, Any]]:
        """Re-run every system notebook against the archive as it is now; the results.

        Each result (``notebook``, ``passed``, ``cell``, ``error``, ``at``) is also
        appended to ``system/CHECKS.jsonl``: the nightly report of what broke.
        """
        results = []
        for notebook in sorted(self.system.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in notebook.parts:
                continue
            name = str(notebook.relative_to(self.system))
            result = {"notebook": name, **self.check(notebook)}
            result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
            self._append(self.system / "CHECKS.jsonl", result)
            results.append(result)
        return results

    @staticmethod
    def _append(log: Path, record: dict[str, Any]) -> None:
        with log.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        log.chmod(0o644)
