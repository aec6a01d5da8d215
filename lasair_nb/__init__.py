"""Lasair-NB: the transient-alert archive from a notebook.

>>> import lasair_nb as ln
>>> archive = ln.connect()
"""

from lasair_nb.client import Archive, ObjectNotFoundError, connect
from lasair_nb.errors import DatabaseError, IngestError, LasairError, QueryError
from lasair_nb.sky import TargetError
from lasair_nb.skymaps import SkyMapError
from lasair_nb.stores import StoreError
from lasair_nb.users import UserError

__version__ = "0.1.0"

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
