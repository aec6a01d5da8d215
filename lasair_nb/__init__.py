"""Lasair-NB: the transient-alert archive from a notebook.

The client API (``connect()``) arrives with the client-library issue; the
archive schema, settings and embedded server live here already.
"""

from lasair_nb.errors import DatabaseError, IngestError, LasairError, QueryError

__version__ = "0.1.0"

__all__ = ["DatabaseError", "IngestError", "LasairError", "QueryError", "__version__"]
