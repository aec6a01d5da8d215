"""Exceptions raised by Lasair-NB. Every message says what was wrong and what is accepted.

One hierarchy: catch :class:`LasairError` for anything Lasair-NB refuses on
purpose. Each error is also the built-in exception a Python user expects:

==========================  ===============================  ==========================
class                       also a                           raised for
==========================  ===============================  ==========================
:class:`ArgumentError`      ``ValueError``                   a bad argument
:class:`QueryError`         ``ValueError``                   user SQL refused or failed
:class:`NotAllowedError`    ``PermissionError``              a right the user lacks
:class:`NotFoundError`      ``KeyError``                     a name or id not there
:class:`DatabaseError`                                       the archive unreachable
:class:`IngestError`                                         an unreadable source
==========================  ===============================  ==========================
"""


class LasairError(Exception):
    """Base class of every error Lasair-NB raises on purpose.

    ``message`` is the text, as on the ``lasair`` client's LasairError (``e.message``).
    """

    @property
    def message(self) -> str:
        """The error's text (Lasair's client has it as an attribute)."""
        return str(self)


class ArgumentError(LasairError, ValueError):
    """An argument was refused; the message says what is accepted."""


class QueryError(ArgumentError):
    """A user query was refused or failed (syntax, time limit, unknown name)."""


class QueryCancelledError(QueryError):
    """A query was cancelled on request (:class:`lasair_nb.Cancellation`)."""


class NotAllowedError(LasairError, PermissionError):
    """The user may not do this (the database refused, or it is for administrators)."""


class NotFoundError(LasairError, KeyError):
    """No such object, watchlist, query, sky map, user or cutout."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ObjectNotFoundError(NotFoundError):
    """No object with that objectId is in the archive."""


class StoreError(ArgumentError):
    """A store (watchlists, watchmaps, queries, tags, annotations) refused a request."""


class TargetError(ArgumentError):
    """A sky position, target string or radius could not be read.

    Parameters
    ----------
    problem
        What was wrong with the input.
    accepted
        The accepted forms, appended to the message on a new line.
    """

    def __init__(self, problem: str, accepted: str = "") -> None:
        super().__init__(f"{problem}\n{accepted}" if accepted else problem)
        self.problem = problem
        self.accepted = accepted

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # The default would pass the whole message back as ``problem``.
        return type(self), (self.problem, self.accepted)


class SkyMapError(ArgumentError):
    """A sky map could not be read or used."""


class UserError(ArgumentError):
    """A user name was refused or a user does not exist."""


class DatabaseError(LasairError):
    """The archive database cannot be reached, started or migrated."""


class IngestError(LasairError):
    """An ingest source cannot be read (a missing path, an unreadable tarball)."""


class SettingsError(LasairError):
    """A ``LASAIR_*`` environment variable has a value that cannot be used."""
