"""The objects stage: summaries of the objects that new alerts touched, after the alerts.

The ingester's transaction writes a batch's alert rows and queues the objects whose
detections changed in ``objects_pending``; once it commits, the alerts are queryable.
This stage then recomputes those objects (summary, features, Lomb–Scargle periods,
Sherlock context, TNS matches, all from their detections in the archive) in
transactions of its own, and removes them from the queue in the same transaction.

Guarantees:

- **Nothing is lost.** The queue is a table written with the alerts: a crash of either
  stage leaves it as it was, and the next run takes it up (restartable).
- **Idempotent.** A summary is computed from all of an object's detections, so doing an
  object twice writes the same row.
- **No half-updated object.** An object's summary row, context and TNS matches change
  in one transaction; readers see the old summary or the new one.
- **No update missed.** The queue row of an object being summarised is locked; an alert
  of that object arriving meanwhile waits for the lock (``ON CONFLICT DO UPDATE``) and
  queues the object again once the summary, made without it, has committed.

:class:`ObjectUpdater` does one batch at a time; :class:`ObjectStage` runs it beside an
ingester, in a process of its own (the summaries' Python work then runs on the other
core, outside the ingester's GIL), after the first few batches in the ingester's own
process (so small ingests do not start a process).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from datetime import datetime
from multiprocessing.synchronize import Event
from types import TracebackType
from typing import Any

import psycopg

from ingest.connection import dsn_of
from ingest.writer import create_staging_tables, update_objects

log = logging.getLogger(__name__)

CHUNK = 500
"""Objects summarised per transaction at most (an alert of one of them waits for it)."""
POLL_S = 0.25
"""How long the stage waits before looking at an empty queue again."""
MAX_BACKOFF_S = 30.0
MAX_ATTEMPTS = 3
"""A queued object whose summary failed this many times is set aside (status page)."""
JOIN_TIMEOUT_S = 600.0
"""How long an ingester waits for its stage process to drain before stopping it."""


class ObjectUpdater:
    """Summarises queued objects, one transaction per batch.

    Parameters
    ----------
    connection
        A psycopg 3 connection with the ingester's rights; the updater owns its
        transactions.
    chunk
        Objects per transaction at most.
    """

    def __init__(self, connection: psycopg.Connection, chunk: int = CHUNK) -> None:
        self.connection = connection
        self.chunk = chunk
        with connection.cursor() as cursor:
            create_staging_tables(cursor)
        connection.commit()

    def now(self) -> datetime:
        """The database's clock: a cutoff for :meth:`drain`."""
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            (moment,) = cursor.fetchone()
        self.connection.rollback()
        return moment

    def update_pending(self, until: datetime | None = None) -> int:
        """Summarise the longest-waiting queued objects (one transaction); how many were taken.

        ``until``: only objects queued by then. If the batch fails, its objects are done
        one by one, and one that fails alone counts an attempt (with the error); after
        :data:`MAX_ATTEMPTS` it is set aside, so one bad object cannot stop the stage.
        """
        started = time.monotonic()
        objectids: list[str] = []
        try:
            with self.connection.cursor() as cursor:
                # Rows an ingester is queueing right now are skipped: they come next time.
                cursor.execute(
                    "SELECT objectid FROM objects_pending WHERE attempts < %s"
                    " AND (%s::timestamptz IS NULL OR queued_at <= %s::timestamptz)"
                    " ORDER BY queued_at, objectid LIMIT %s FOR UPDATE SKIP LOCKED",
                    (MAX_ATTEMPTS, until, until, self.chunk),
                )
                objectids = sorted(row[0] for row in cursor.fetchall())
                if not objectids:
                    self.connection.rollback()
                    return 0
                self._summarise(cursor, objectids, started)
            self.connection.commit()
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise  # the connection is gone: the caller reconnects
        except Exception:  # noqa: BLE001 - any failure of any object: find which, go on
            self.connection.rollback()
            log.warning("objects stage: a batch of %d failed; one by one", len(objectids))
            for objectid in objectids:
                self._one(objectid)
        return len(objectids)

    def _summarise(self, cursor: Any, objectids: list[str], started: float) -> None:
        update_objects(cursor, objectids)
        cursor.execute(
            "DELETE FROM objects_pending WHERE objectid = ANY(%s)"
            " RETURNING extract(epoch FROM clock_timestamp() - queued_at), alert_time",
            (objectids,),
        )
        done = cursor.fetchall()
        lags = sorted(float(row[0]) for row in done)
        alert_times = [row[1] for row in done if row[1] is not None]
        cursor.execute(
            "INSERT INTO object_batches (finished_at, n_objects, duration_s, lag_p50_s,"
            " lag_max_s, latency_max_s) VALUES (clock_timestamp(), %s, %s, %s, %s,"
            " extract(epoch FROM clock_timestamp()) - %s::float8)",
            (
                len(done),
                time.monotonic() - started,
                lags[len(lags) // 2],
                lags[-1],
                min(alert_times) if alert_times else None,
            ),
        )

    def _one(self, objectid: str) -> None:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT objectid FROM objects_pending WHERE objectid = %s"
                    " FOR UPDATE SKIP LOCKED",
                    (objectid,),
                )
                if cursor.fetchone() is not None:
                    self._summarise(cursor, [objectid], time.monotonic())
            self.connection.commit()
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except Exception as error:  # noqa: BLE001 - recorded with the object, which is set aside
            self.connection.rollback()
            reason = f"{type(error).__name__}: {error}".strip()[:500]
            log.error("objects stage: %s cannot be summarised: %s", objectid, reason)
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE objects_pending SET attempts = attempts + 1, last_error = %s"
                    " WHERE objectid = %s",
                    (reason, objectid),
                )
            self.connection.commit()

    def drain(self) -> int:
        """Summarise every object queued until now (not those queued meanwhile); how many.

        Objects another stage is summarising at this moment are left to it.
        """
        until = self.now()
        done = 0
        while count := self.update_pending(until):
            done += count
        return done


def follow(dsn: str, finish: Event, parent: int, poll: float = POLL_S) -> None:
    """The stage's process: summarise queued objects; when ``finish`` is set, drain and end.

    Draining takes the objects queued until ``finish`` was seen, not those other ingesters
    keep queueing. It ignores SIGINT (a terminal's Ctrl-C reaches the whole process group;
    the ingester decides), ends after its current batch on SIGTERM (the queue waits for
    the next run), and ends when its parent ingester has gone.
    """
    stopping = False

    def stop(*_: object) -> None:
        # Only a flag: the handler may run while this process is inside ``finish.wait``,
        # holding the event's lock (setting the event here would deadlock).
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    backoff = 1.0
    connection: psycopg.Connection | None = None
    updater: ObjectUpdater | None = None
    until: datetime | None = None
    while os.getppid() == parent and not stopping:
        try:
            if updater is None:
                connection = psycopg.connect(dsn)
                updater = ObjectUpdater(connection)
            if finish.is_set() and until is None:
                until = updater.now()  # drain what is queued now, then end
            if updater.update_pending(until):
                backoff = 1.0
                continue
            if finish.is_set():
                break  # drained
            finish.wait(poll)
        except Exception as error:  # noqa: BLE001 - the stage goes on (or ends, if told to)
            _close(connection)
            connection, updater = None, None
            if finish.is_set():  # ending: the queue waits for the next run
                log.warning("objects stage: stopping on %s: %s", type(error).__name__, error)
                break
            log.warning("objects stage: %s: %s; retrying", type(error).__name__, error)
            waited_until = time.monotonic() + backoff
            while not (stopping or finish.is_set()) and time.monotonic() < waited_until:
                finish.wait(poll)  # short waits: a SIGTERM or the ingester ending is seen
            backoff = min(2 * backoff, MAX_BACKOFF_S)
    _close(connection)


def _close(connection: psycopg.Connection | None) -> None:
    if connection is not None:
        try:
            connection.close()
        except psycopg.Error:
            log.debug("closing a broken connection failed", exc_info=True)


class ObjectStage:
    """The objects stage beside an ingester, for a ``with`` block.

    Parameters
    ----------
    connection
        The ingester's connection: in-process summaries use it (between the ingester's
        transactions), and a separate process connects like it.
    in_process
        True: summarise in this process, after each batch (:meth:`after_batch`).
        False: in a process of its own, from the start. None (the ingester's choice):
        in this process for the first ``after`` batches, then in a process of its own;
        small ingests do not pay the second or so a process takes to start.
    after
        With ``in_process=None``, the batches summarised here before the process starts.

    On leaving the block, every queued object has been summarised: the separate process is
    told to drain the queue and is waited for; whatever it left (it died, say) is
    summarised here.
    """

    def __init__(
        self,
        connection: psycopg.Connection,
        in_process: bool | None = None,
        after: int = 4,
    ) -> None:
        self.connection = connection
        self.in_process = in_process
        self.after = after
        self._batches = 0
        self._process: multiprocessing.process.BaseProcess | None = None
        self._finish: Event | None = None
        self._updater: ObjectUpdater | None = None

    def _here(self) -> ObjectUpdater:
        """The in-process updater on the ingester's connection (made once per connection)."""
        if self._updater is None or self._updater.connection is not self.connection:
            self._updater = ObjectUpdater(self.connection)
        return self._updater

    def start(self) -> None:
        """Start the stage's own process now (with ``in_process=False``)."""
        if self.in_process is False and self._process is None:
            self._start_process()

    def _start_process(self) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a threaded ingester
        self._finish = context.Event()
        self._process = context.Process(
            target=follow,
            args=(dsn_of(self.connection), self._finish, os.getpid()),
            name="lasair-objects-stage",
            daemon=True,
        )
        self._process.start()

    def after_batch(self) -> None:
        """Called by the ingester after each commit.

        In process, this summarises the queue now (and, with ``in_process=None``, hands
        over to a process of its own after ``after`` batches); a stage process that has
        died is started again (the queue is still there).
        """
        self._batches += 1
        if self._process is None:
            self._here().drain()
            if self.in_process is None and self._batches >= self.after:
                self._start_process()  # a long ingest: the rest beside it
        elif not self._process.is_alive():
            log.warning("objects stage exited with %s; starting it again", self._process.exitcode)
            self._start_process()

    def finish(self, drain: bool = True) -> None:
        """Stop the stage's process once it has drained the queue; drain what it left.

        ``drain=False`` (the ingester is being interrupted) stops the process after its
        current batch and leaves the queue for the next run.
        """
        if self._process is not None and self._finish is not None:
            if not drain:
                self._process.terminate()  # SIGTERM: it ends after its current batch
            self._finish.set()
            self._process.join(JOIN_TIMEOUT_S)
            if self._process.is_alive():  # a huge queue, or a server that hangs
                log.warning("objects stage still busy after %.0f s: stopping it", JOIN_TIMEOUT_S)
                self._process.terminate()
                self._process.join(30)
                drain = False
            if self._process.exitcode:
                log.warning("objects stage exited with %s", self._process.exitcode)
            self._process = None
        if drain:
            self._here().drain()

    def __enter__(self) -> ObjectStage:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
            return
        try:  # the ingest failed: leave the queue to the next run
            self.finish(drain=False)
        except psycopg.Error:
            log.warning("objects stage: not stopped cleanly", exc_info=True)
