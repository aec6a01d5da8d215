"""Lasair-NB: the transient-alert archive from a notebook.

>>> import lasair_nb as ln
>>> archive = ln.connect()

The client (and astropy, mocpy, pandas behind it) is imported on first use, so
the ingester and the ``lasair-nb`` command do not pay for it at start-up.
"""

from importlib import import_module
from typing import Any

from lasair_nb.errors import DatabaseError, IngestError, LasairError, QueryError

__version__ = "0.1.0"

_LAZY = {
    "Archive": "lasair_nb.client",
    "ObjectNotFoundError": "lasair_nb.client",
    "connect": "lasair_nb.client",
    "SkyMapError": "lasair_nb.skymaps",
    "StoreError": "lasair_nb.stores",
    "TargetError": "lasair_nb.sky",
    "UserError": "lasair_nb.users",
}

__all__ = [
    "Archive",
    "DatabaseError",
    "IngestError",
    "LasairError",
    "ObjectNotFoundError",
    "QueryError",
    "SkyMapError",
    "StoreError",
    "TargetError",
    "UserError",
    "__version__",
    "connect",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lasair_nb' has no attribute {name!r}")
