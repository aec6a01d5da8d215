"""``lasair-nb notebooks …``: the shared notebooks, from the command line (as root).

Registered through the ``lasair_nb.commands`` entry point (``lasair_nb`` never imports the
hub): ``notebooks list``, ``notebooks promote PATH --by ADMIN``, ``notebooks check``
(what a nightly cron job runs: every system notebook against the archive as it is now),
``notebooks install-examples`` (what the hub does when it starts).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # handed in; the hub never imports lasair_nb.cli
    from hub.notebooks import SharedNotebooks
    from lasair_nb.cli.main import CommandLine


def _notebooks(args: argparse.Namespace) -> SharedNotebooks:
    """The shared notebooks (imported on use: ``lasair-nb`` starts fast without them)."""
    from hub.notebooks import SharedNotebooks  # noqa: PLC0415 - the archive schema: slow

    return SharedNotebooks(args.settings)


def list_notebooks(args: argparse.Namespace) -> int:
    """Print the system and contributed notebooks, and the promotions."""
    shared = _notebooks(args)
    for title, folder, pattern in (
        ("system", shared.system, "**/*.ipynb"),
        ("contributed", shared.contributed, "*/*.ipynb"),
    ):
        found = sorted(folder.glob(pattern)) if folder.exists() else []
        print(f"{title} ({folder}): {len(found)}")
        for path in found:
            print(f"  {path.relative_to(folder)}")
    for record in shared.promotions():
        print("promoted {notebook} from {from} by {by} at {at}".format_map(record))
    return 0


def promote(args: argparse.Namespace) -> int:
    """Promote a contributed notebook to system, if every cell passes."""
    record = _notebooks(args).promote(args.path, by=args.by, name=args.name)
    print(
        f"promoted {record['from']} to system/{record['notebook']} by {record['by']} "
        f"at {record['at']} (every cell passed in {record['check_seconds']} s)"
    )
    return 0


def check(args: argparse.Namespace) -> int:
    """Re-run every system notebook; exit 1 when any broke."""
    results = _notebooks(args).check_all()
    for result in results:
        state = (
            "passed" if result["passed"] else f"BROKEN at cell {result['cell']}: {result['error']}"
        )
        print(f"{result['notebook']}: {state}")
    if not results:
        print("no system notebooks")
    return 0 if all(result["passed"] for result in results) else 1


def install_examples(args: argparse.Namespace) -> int:
    """Copy the example notebooks into system/examples (new and changed ones)."""
    records = _notebooks(args).install_examples()
    for record in records:
        print(f"installed system/{record['notebook']}")
    print(f"{len(records)} example notebooks installed or updated")
    return 0


def register(cli: CommandLine) -> None:
    """Add the ``notebooks`` commands to ``lasair-nb``."""
    actions = cli.group("notebooks", "shared notebooks: contributed, promoted to system")
    actions.add_parser("list", help="system and contributed notebooks, promotions").set_defaults(
        handler=list_notebooks
    )
    up = actions.add_parser(
        "promote", help="copy a contributed notebook to system if every cell passes"
    )
    up.add_argument("path", type=Path, help="a notebook under contributed/")
    up.add_argument("--by", required=True, help="the administrator promoting it (recorded)")
    up.add_argument("--name", help="its name in system/ (default: the same)")
    up.set_defaults(handler=promote)
    actions.add_parser(
        "install-examples", help="copy notebooks/examples into system/examples (the hub does)"
    ).set_defaults(handler=install_examples)
    actions.add_parser(
        "check", help="re-run every system notebook; exit 1 if any broke (nightly)"
    ).set_defaults(handler=check)
