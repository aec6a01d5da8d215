"""Run by the Lasair kernel before the first cell: ``ln``, ``lasair`` and ``archive``.

It never fails the kernel: when the archive cannot be reached, ``archive`` is None and the
first cell run prints why and how to retry. The widgets (``ln.QueryBuilder``,
``ln.ObjectViewer``, ``ln.SkyMap``, ``ln.WatchlistEditor``) load when first used, so the
kernel starts in about a second.
"""

from __future__ import annotations

from typing import Any

from IPython import get_ipython

import lasair_nb as ln
from lasair_nb import lasair  # noqa: F401 - for Lasair-ZTF notebooks: lasair.lasair_client(...)

archive: ln.Archive | None = None
problem = ""
try:
    archive = ln.connect()
    archive.sql("SELECT 1 AS ready")  # reach the archive now, not at the first query
except (ln.LasairError, OSError) as error:  # the kernel starts anyway
    archive = None
    problem = str(error)


def _say_once(*_: Any) -> None:
    """Print, above the first cell's output, what the preload could not do."""
    get_ipython().events.unregister("pre_run_cell", _say_once)
    print(
        f"Lasair: the archive could not be reached ({problem}).\n"
        "Everything else works; to try again, run:  archive = ln.connect()"
    )


if problem and get_ipython() is not None:
    get_ipython().events.register("pre_run_cell", _say_once)
