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
core, outside the ingester's GIL) or, for small ingests, in the ingester's own process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.synchronize import Event
from types import TracebackType

import psycopg2
import psycopg2.extensions

from ingest.writer import create_staging_tables, update_objects

log = logging.getLogger(__name__)

CHUNK = 2000
"""Objects summarised per transaction at most."""
POLL_S = 0.25
"""How long the stage waits before looking at an empty queue again."""
MAX_BACKOFF_S = 30.0


class ObjectUpdater:
    """Summarises queued objects, one transaction per batch.

    Parameters
    ----------
    connection
        A psycopg2 connection with the ingester's rights; the updater owns its
        transactions.
    chunk
        Objects per transaction at most.
    """

    def __init__(self, connection: psycopg2.extensions.connection, chunk: int = CHUNK) -> None:
        self.connection = connection
        self.chunk = chunk
        with connection.cursor() as cursor:
            create_staging_tables(cursor)
        connection.commit()

    def update_pending(self) -> int:
        """Summarise the longest-waiting queued objects (one transaction); how many."""
        started = time.monotonic()
        try:
            with self.connection.cursor() as cursor:
                # Rows an ingester is queueing right now are skipped: they come next time.
                cursor.execute(
                    "SELECT objectid, extract(epoch FROM clock_timestamp() - queued_at),"
                    " alert_time FROM objects_pending ORDER BY queued_at, objectid"
                    " LIMIT %s FOR UPDATE SKIP LOCKED",
                    (self.chunk,),
                )
                queued = cursor.fetchall()
                if not queued:
                    self.connection.rollback()
                    return 0
                objectids = sorted(row[0] for row in queued)
                update_objects(cursor, objectids)
                cursor.execute("DELETE FROM objects_pending WHERE objectid = ANY(%s)", (objectids,))
                waited = time.monotonic() - started
                lags = sorted(float(row[1]) + waited for row in queued)
                alert_times = [row[2] for row in queued if row[2] is not None]
                cursor.execute(
                    "INSERT INTO object_batches (finished_at, n_objects, duration_s, lag_p50_s,"
                    " lag_max_s, latency_max_s) VALUES (clock_timestamp(), %s, %s, %s, %s,"
                    " CASE WHEN %s::float8 IS NULL THEN NULL"
                    " ELSE extract(epoch FROM clock_timestamp()) - %s::float8 END)",
                    (
                        len(objectids),
                        waited,
                        lags[len(lags) // 2],
                        lags[-1],
                        min(alert_times) if alert_times else None,
                        min(alert_times) if alert_times else None,
                    ),
                )
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        return len(objectids)

    def drain(self) -> int:
        """Summarise every queued object; how many."""
        done = 0
        while count := self.update_pending():
            done += count
        return done


def dsn_of(connection: psycopg2.extensions.connection) -> str:
    """A connection string for another connection like ``connection`` (password included).

    For the stage's own process: it is handed over a pipe, never on a command line.
    """
    parameters = {
        key: value for key, value in connection.get_dsn_parameters().items() if value != ""
    }
    if connection.info.password:
        parameters["password"] = connection.info.password
    return psycopg2.extensions.make_dsn(**parameters)


def follow(dsn: str, finish: Event, parent: int, poll: float = POLL_S) -> None:
    """The stage's process: summarise queued objects; when ``finish`` is set, drain and end.

    It ignores SIGINT (a terminal's Ctrl-C reaches the whole process group; the ingester
    decides), ends after its current batch on SIGTERM (the queue waits for the next
    run), and ends when its parent ingester has gone.
    """
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        finish.set()

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    backoff = 1.0
    connection = None
    while os.getppid() == parent and not stopping:
        try:
            if connection is None:
                connection = psycopg2.connect(dsn)
                updater = ObjectUpdater(connection)
            if updater.update_pending():
                backoff = 1.0
                continue
            if finish.is_set():
                break  # drained
            finish.wait(poll)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
            log.warning("objects stage: database unavailable (%s); retrying", error)
            connection = None
            time.sleep(backoff)
            backoff = min(2 * backoff, MAX_BACKOFF_S)
    if connection is not None:
        connection.close()


class ObjectStage:
    """The objects stage beside an ingester, for a ``with`` block.

    Parameters
    ----------
    connection
        The ingester's connection: in-process summaries use it (between the ingester's
        transactions), and a separate process connects like it.
    in_process
        Summarise in this process, after each batch (:meth:`after_batch`), rather than in
        a process of its own. Small ingests: starting a process costs about a second.

    On leaving the block, every queued object has been summarised: the separate process is
    told to drain the queue and is waited for; whatever it left (it died, say) is
    summarised here.
    """

    def __init__(self, connection: psycopg2.extensions.connection, in_process: bool) -> None:
        self.connection = connection
        self.in_process = in_process
        self._process: multiprocessing.process.BaseProcess | None = None
        self._finish: Event | None = None

    def start(self) -> None:
        """Start the stage's own process (nothing to start in process)."""
        if self.in_process or self._process is not None:
            return
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
        """Called by the ingester after each commit: in-process, summarise the queue now."""
        if self.in_process:
            ObjectUpdater(self.connection).drain()

    def finish(self, drain: bool = True) -> None:
        """Stop the stage's process once it has drained the queue; drain what it left.

        ``drain=False`` (the ingester is being interrupted) stops the process after its
        current batch and leaves the queue for the next run.
        """
        if self._process is not None and self._finish is not None:
            if not drain:
                self._process.terminate()  # SIGTERM: it ends after its current batch
            self._finish.set()
            self._process.join()
            if self._process.exitcode:
                log.warning("objects stage exited with %s", self._process.exitcode)
            self._process = None
        if drain:
            ObjectUpdater(self.connection).drain()

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
        except psycopg2.Error:
            log.warning("objects stage: not stopped cleanly", exc_info=True)
