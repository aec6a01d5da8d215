"""Run by the Lasair kernel before the first cell: ``ln``, ``lasair`` and ``archive``.

The kernel is ready as fast as a plain Python kernel: importing the client (astropy,
pandas, SQLAlchemy) and connecting to the archive happen in a thread while the user reads
the notebook, and the first cell run waits for that thread if it has not finished.

It never fails the kernel: when the archive cannot be reached, ``archive`` is None and the
first cell run prints why and how to retry. The widgets (``ln.QueryBuilder``,
``ln.ObjectViewer``, ``ln.SkyMap``, ``ln.WatchlistEditor``) load when first used.
"""

from __future__ import annotations

import threading
from typing import Any

from IPython import get_ipython

import lasair_nb as ln

archive: ln.Archive | None = None
"""The archive, connected as the user (None until the first cell, or if it is down)."""
_preload = {"problem": ""}
_loaded = threading.Event()


def _load() -> None:
    """Import the client and connect (in a thread); remember what went wrong, if anything."""
    global archive, lasair  # noqa: PLW0603 - these names are the notebook's namespace
    try:
        import pandas as pd  # noqa: PLC0415 - imported in this thread, not at start-up

        # Lasair-ZTF notebooks: lasair.lasair_client(...)
        from lasair_nb import lasair  # noqa: PLC0415

        # pandas chose a terminal's display (columns cut to the width), imported this
        # early: a notebook's is up to 20 columns, wrapped, as in any Python kernel
        pd.set_option("display.max_columns", 20)
        connected = ln.connect()
        connected.sql("SELECT 1 AS ready")  # reach the archive now, not at the first query
        archive = connected
    except (ln.LasairError, OSError) as error:  # the kernel works without the archive
        _preload["problem"] = str(error)
    except ImportError as error:  # seen once in a clean run: imported again in the cell
        _preload["problem"] = f"{type(error).__name__}: {error}"
        _preload["import_failed"] = True
    except Exception as error:  # noqa: BLE001 - a thread's end: say it, never lose it
        _preload["problem"] = f"{type(error).__name__}: {error}"
    finally:
        _loaded.set()


def _before_first_cell(*_: Any) -> None:
    """Wait for the preload; print, above the first cell's output, what it could not do."""
    get_ipython().events.unregister("pre_run_cell", _before_first_cell)
    _loaded.wait(300)
    if _preload.pop("import_failed", False):
        # An import in the thread failed while the kernel was still starting (the clean
        # run met "No module named 'pandas'" once): load again, here, in the main thread.
        _preload["problem"] = ""
        _loaded.clear()
        _load()
    if _preload["problem"]:
        print(
            f"Lasair: the archive could not be reached ({_preload['problem']}).\n"
            "Everything else works; to try again, run:  archive = ln.connect()"
        )


if get_ipython() is not None:
    get_ipython().events.register("pre_run_cell", _before_first_cell)
    threading.Thread(target=_load, name="lasair-preload", daemon=True).start()
else:  # run as a plain script (python kernel/startup.py): load in place
    _load()
