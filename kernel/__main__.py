"""``python -m kernel install [--prefix ENV]``: install the Lasair kernel spec into ENV."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kernel import startup

NAME = "lasair"
DISPLAY_NAME = "Lasair (Python 3)"


def kernel_spec(python: str) -> dict[str, object]:
    """The kernel.json of the Lasair kernel run by ``python``."""
    return {
        "argv": [
            python, "-m", "ipykernel_launcher", "-f", "{connection_file}",
            f"--IPKernelApp.exec_files={json.dumps([str(Path(startup.__file__).resolve())])}",
        ],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
    }  # fmt: skip


LAB_OVERRIDES = {
    # a deployment without the internet: JupyterLab should not ask to fetch news
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
"""JupyterLab settings of the users' environment (``share/jupyter/lab/settings``)."""


def install(prefix: Path) -> Path:
    """Write ``PREFIX/share/jupyter/kernels/lasair/kernel.json`` and the lab's settings.

    Returns
    -------
    pathlib.Path
        The kernel spec's folder.
    """
    folder = prefix / "share" / "jupyter" / "kernels" / NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = kernel_spec(str(prefix / "bin" / "python"))
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    settings = prefix / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=1) + "\n")
    return folder


def main(argv: list[str] | None = None) -> int:
    """The command line: `install [--prefix ENV]`."""
    parser = argparse.ArgumentParser(prog="python -m kernel", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    install_command = commands.add_parser("install", help="install the kernel spec")
    install_command.add_argument(
        "--prefix", type=Path, default=Path(sys.prefix), help="environment (default: this one)"
    )
    args = parser.parse_args(argv)
    folder = install(args.prefix.resolve())
    print(f"installed the {DISPLAY_NAME} kernel in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
