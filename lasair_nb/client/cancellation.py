"""Cancel a running query from another thread (a notebook's Cancel button)."""

from __future__ import annotations

import threading
from typing import Any

from lasair_nb.errors import QueryCancelledError


class Cancellation:
    """A handle that stops one :meth:`Archive.sql` in PostgreSQL, from any thread.

    Pass it as ``archive.sql(..., cancellation=handle)`` and call :meth:`cancel`
    while the query runs: the server cancels the statement (it is not merely
    abandoned), and ``sql`` raises :class:`QueryCancelledError`. Cancelling before
    the query starts stops it from starting; a handle is good for one query.

    >>> handle = ln.Cancellation()
    >>> threading.Thread(target=archive.sql, args=(text,), kwargs={"cancellation": handle}).start()
    >>> handle.cancel()
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled

    def cancel(self) -> None:
        """Cancel the query: its statement stops in PostgreSQL."""
        with self._lock:
            self._cancelled = True
            if self._connection is not None:
                self._connection.cancel()  # a PostgreSQL cancel request, from outside

    def attach(self, connection: Any) -> None:
        """Called by :meth:`Archive.sql` with the DB-API connection about to run the query."""
        with self._lock:
            if self._cancelled:
                raise QueryCancelledError("the query was cancelled before it started")
            if self._connection is not None:
                raise QueryCancelledError("a Cancellation is for one query at a time")
            self._connection = connection

    def detach(self) -> None:
        """Called by :meth:`Archive.sql` once the query is over."""
        with self._lock:
            self._connection = None
