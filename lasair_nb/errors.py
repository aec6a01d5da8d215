"""Exceptions raised by Lasair-NB. Every message says what was wrong and what is accepted."""


class LasairError(Exception):
    """Base class of every error Lasair-NB raises on purpose."""


class DatabaseError(LasairError):
    """The archive database cannot be reached, started or migrated."""


class QueryError(LasairError):
    """A user query was refused or failed."""


class IngestError(LasairError):
    """An ingest source cannot be read (a missing path, an unreadable tarball)."""
