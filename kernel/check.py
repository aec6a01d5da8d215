"""``python -m kernel.check NOTEBOOK``: run every cell in the Lasair kernel, say if all passed.

What promotion and the nightly re-run of system notebooks ask (as ``pytest --nbval-lax``
does: every cell runs without an error; outputs are not compared). Run it as the OS
account and archive role the notebook may use, never as root. Prints one JSON line:
``{"passed": bool, "cell": index or null, "error": "ename: evalue" or null, "seconds": s}``
and exits 0 when the notebook passed, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def check(path: Path, kernel: str = "lasair", timeout: float = 600) -> dict[str, object]:
    """Run the notebook at ``path`` (in its folder) and say whether every cell passed."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, kernel_name=kernel, timeout=timeout, resources={"metadata": {"path": "."}}
    )
    started = time.monotonic()
    result: dict[str, object] = {"passed": True, "cell": None, "error": None}
    try:
        client.execute()
    except CellExecutionError as error:
        failed = [
            index
            for index, cell in enumerate(notebook.cells)
            if any(output.get("output_type") == "error" for output in cell.get("outputs", []))
        ]
        result = {
            "passed": False,
            "cell": failed[0] if failed else None,
            "error": f"{error.ename}: {error.evalue}",
        }
    except (CellTimeoutError, DeadKernelError) as error:
        result = {"passed": False, "cell": None, "error": f"{type(error).__name__}: {error}"}
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    """The command line: ``NOTEBOOK [--timeout S]``."""
    parser = argparse.ArgumentParser(prog="python -m kernel.check", description=__doc__)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    result = check(args.notebook, timeout=args.timeout)
    print(json.dumps(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
