"""Lasair-NB: the transient-alert archive from a notebook.

>>> import lasair_nb as ln
>>> archive = ln.connect()

The client (and astropy, mocpy, pandas behind it) is imported on first use, so
the ingester and the ``lasair-nb`` command do not pay for it at start-up.
"""

from importlib import import_module
from typing import Any

from lasair_nb.errors import (
    ArgumentError,
    DatabaseError,
    IngestError,
    LasairError,
    NotAllowedError,
    NotFoundError,
    ObjectNotFoundError,
    QueryCancelledError,
    QueryError,
    SettingsError,
    SkyMapError,
    StoreError,
    TargetError,
    UserError,
)

__version__ = "0.1.0"

_LAZY = {
    "Archive": "lasair_nb.client.archive",
    "Cancellation": "lasair_nb.client.cancellation",
    "ObjectRecord": "lasair_nb.client.object_record",
    "ObjectViewer": "lasair_nb.widgets.object_viewer",
    "QueryBuilder": "lasair_nb.widgets.query_builder",
    "SkyMap": "lasair_nb.widgets.sky_map",
    "WatchlistEditor": "lasair_nb.widgets.watchlist_editor",
    "connect": "lasair_nb.client.archive",
    "to_table": "lasair_nb.client.results",
}

__all__ = [
    "Archive",
    "ArgumentError",
    "Cancellation",
    "DatabaseError",
    "IngestError",
    "LasairError",
    "NotAllowedError",
    "NotFoundError",
    "ObjectNotFoundError",
    "ObjectRecord",
    "ObjectViewer",
    "QueryBuilder",
    "QueryCancelledError",
    "QueryError",
    "SettingsError",
    "SkyMap",
    "SkyMapError",
    "StoreError",
    "TargetError",
    "UserError",
    "WatchlistEditor",
    "__version__",
    "connect",
    "to_table",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lasair_nb' has no attribute {name!r}")
