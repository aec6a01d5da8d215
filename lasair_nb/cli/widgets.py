"""``lasair-nb widgets``: what the notebook widgets need on the server.

::

    lasair-nb widgets fetch-assets [--force]

downloads the pinned Aladin Lite build from the npm registry, checks its sha512 integrity
and keeps it in ``lasair_nb/widgets/static/``, so the sky widgets load it from there
instead of a CDN (run once per installation, e.g. in the set-up).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lasair_nb.cli.main import CommandLine


def register(cli: CommandLine) -> None:
    """Add ``lasair-nb widgets fetch-assets``."""
    group = cli.group("widgets", "assets of the notebook widgets")
    fetch = group.add_parser(
        "fetch-assets", help="download the pinned Aladin Lite build from the npm registry"
    )
    fetch.add_argument("--force", action="store_true", help="download again even if kept")
    fetch.set_defaults(handler=widgets_fetch_assets)


def widgets_fetch_assets(args: argparse.Namespace) -> int:
    """Fetch and verify Aladin Lite; print where it is kept."""
    from lasair_nb.widgets import assets  # noqa: PLC0415 - on use, like the other commands

    path = assets.fetch_aladin_lite(force=args.force)
    print(f"Aladin Lite {assets.ALADIN_LITE_VERSION}: {path}")
    return 0
