"""Write one batch of alerts to the archive in one transaction.

Rows go in with ``COPY`` into session-local temporary tables, then one
``INSERT … SELECT … ON CONFLICT`` per table, so writes are idempotent: a packet
ingested twice (a re-run, a Kafka redelivery) changes nothing the second time.
The objects whose detections changed are queued in ``objects_pending`` in the
same transaction, and summarised from all their detections after it
(:mod:`ingest.objects_stage`): alerts are queryable first, objects follow.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import numpy as np
import psycopg
import psycopg.errors
import sqlalchemy as sa
from tqdm.auto import tqdm

from ingest.coverage import coverage_rows
from ingest.objects import DETECTION_COLUMNS, summarise_objects
from ingest.rows import AlertRows, add_derived_columns
from lasair_nb.archive import schema, sherlock, tns


@dataclass(frozen=True)
class QuarantinedPacket:
    """A packet that could not be ingested, with where it came from and why."""

    source: str
    raw: bytes
    reason: str


@dataclass(frozen=True)
class BatchResult:
    """What one batch did to the archive."""

    packets: int
    new: int
    duplicates: int
    quarantined: int
    seconds: float


class _BinaryCopy:
    """Sends rows (dicts) of one table to PostgreSQL with ``COPY … (FORMAT BINARY)``.

    psycopg 3 formats each row in C (``Copy.write_row``): floats and stamps go as their
    bytes, with no text to build or parse. Binary COPY needs each value's exact type, so
    rows go to staging tables whose integers are all ``int8`` and whose floats are all
    ``float8`` (:func:`create_staging_tables`); PostgreSQL's own cast into the archive
    table then refuses an out-of-range value, as it would refuse it in text.
    """

    def __init__(self, table: sa.Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.types = tuple(_staging_type(table.c[name].type) for name in self.columns)
        self._get = itemgetter(*self.columns)

    def copy(self, cursor: psycopg.Cursor, target: str, rows: Sequence[dict[str, Any]]) -> int:
        """COPY ``rows`` into ``target``; returns how many were sent.

        Raises
        ------
        UnstorableValueError
            If a value cannot be sent as its column's type (a hostile writer schema).
        """
        if not rows:
            return 0
        with cursor.copy(
            f"COPY {target} ({', '.join(self.columns)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(self.types)
            write = copy.write_row
            for values in map(self._get, rows):
                try:
                    write(values)
                except (TypeError, ValueError, OverflowError) as error:
                    raise UnstorableValueError(self._explain(values, error)) from error
        return len(rows)

    def _explain(self, values: Sequence[Any], error: Exception) -> str:
        """Which column's value the driver could not send, and why."""
        for name, kind, value in zip(self.columns, self.types, values, strict=True):
            if value is not None and not isinstance(value, _PYTHON_TYPES[kind]):
                return (
                    f"{self.table.name}.{name} holds a {type(value).__name__}, "
                    f"the archive stores {kind}"
                )
            if kind == "int8" and isinstance(value, int) and not -(2**63) <= value < 2**63:
                return f"{self.table.name}.{name} = {value} is out of the int8 range"
        return f"{self.table.name}: {error}"


class UnstorableValueError(ValueError):
    """A row holds a value its column cannot take; the message names the column."""


def _staging_type(kind: sa.types.TypeEngine) -> str:
    """The type of a staging column: the widest of its family (see :class:`_BinaryCopy`)."""
    if isinstance(kind, sa.TypeDecorator):  # healpix-alchemy's Point: a bigint
        kind = kind.impl_instance
    if isinstance(kind, sa.Boolean):
        return "bool"
    if isinstance(kind, sa.Integer):
        return "int8"
    if isinstance(kind, sa.Float | sa.Numeric):
        return "float8"
    if isinstance(kind, sa.LargeBinary):
        return "bytea"
    if isinstance(kind, sa.Date):
        return "date"
    if isinstance(kind, sa.String):
        return "text"
    raise TypeError(f"no staging type for {kind!r}")


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int8": (int,),
    "float8": (int, float),
    "bytea": (bytes, bytearray, memoryview),
    "text": (str,),
    "date": (date,),
}


log = logging.getLogger(__name__)

CANDIDATES = _BinaryCopy(
    schema.candidates, [c.name for c in schema.candidates.c if c.name != "ingested_at"]
)
NONCANDIDATES = _BinaryCopy(schema.noncandidates, [c.name for c in schema.noncandidates.c])
FORCED = _BinaryCopy(schema.forced_photometry, [c.name for c in schema.forced_photometry.c])
OBJECTS = _BinaryCopy(schema.objects, [c.name for c in schema.objects.c])
COVERAGE = _BinaryCopy(schema.coverage, [c.name for c in schema.coverage.c])
CUTOUTS = _BinaryCopy(
    schema.cutouts, ("candid", "objectid", "science", "template", "difference", "stamp_format")
)
"""Stamps go straight into ``cutouts`` (no staging copy of most of the bytes): its
columns are ``int8``, ``text`` and ``bytea`` already."""
STAGED = (CANDIDATES, NONCANDIDATES, FORCED, OBJECTS, COVERAGE)
REJECTED = (psycopg.DataError, psycopg.errors.ProgramLimitExceeded, UnstorableValueError)
"""A value PostgreSQL refused (or found too large to index), or one the driver could not
send: its alert is quarantined. Anything else fails the batch, to be tried again."""


def create_staging_tables(cursor: psycopg.Cursor) -> None:
    """The session's temporary tables COPY fills before each ``INSERT … SELECT``."""
    for staged in STAGED:
        columns = ", ".join(
            f"{name} {kind}" for name, kind in zip(staged.columns, staged.types, strict=True)
        )
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS staging_{staged.table.name} ({columns})"
            " ON COMMIT DELETE ROWS"
        )


def _unseen(
    rows: Iterable[dict[str, Any]], key: tuple[str, ...], present: Iterable[tuple]
) -> list[dict[str, Any]]:
    """Rows whose ``key`` is neither in ``present`` nor repeated earlier in ``rows``."""
    seen = set(present)
    get = itemgetter(*key)
    unseen = []
    for row in rows:
        value = get(row) if len(key) > 1 else (get(row),)
        if value not in seen:
            seen.add(value)
            unseen.append(row)
    return unseen


class ArchiveWriter:
    """Writes batches of alert rows; takes an open connection and owns its transactions.

    Parameters
    ----------
    connection
        A psycopg 3 connection to the archive with write rights (the ingester's:
        :func:`ingest.connection.connect`).

    Notes
    -----
    The objects a batch queues are summarised by :mod:`ingest.objects_stage`
    (``ObjectUpdater(connection).drain()`` does it at once, in this connection).
    """

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection
        with connection.cursor() as cursor:
            create_staging_tables(cursor)
        connection.commit()

    def resummarise(
        self, objectids: Sequence[str], chunk: int = 1000, progress: bool = True
    ) -> int:
        """Recompute the summaries (and context matches) of these objects from their detections.

        One transaction per ``chunk`` objects, with a progress bar: after a migration that
        changes what ``objects`` holds, or after loading context catalogues.

        Returns
        -------
        int
            The number of objects recomputed.
        """
        starts = range(0, len(objectids), chunk)
        with tqdm(total=len(objectids), desc="objects", unit="obj", disable=not progress) as bar:
            for start in starts:
                part = list(objectids[start : start + chunk])
                with self.connection.cursor() as cursor:
                    update_objects(cursor, part)
                self.connection.commit()
                bar.update(len(part))
        return len(objectids)

    def write_batch(
        self,
        alerts: Sequence[AlertRows],
        quarantined: Sequence[QuarantinedPacket] = (),
        source: str = "",
        started: float | None = None,
        message_times: Sequence[float] = (),
    ) -> BatchResult:
        """Write ``alerts`` and ``quarantined`` packets in one transaction and log the batch.

        Parameters
        ----------
        alerts
            Row sets of the good alerts of the batch.
        quarantined
            Packets that failed to decode or validate.
        source
            Where the batch came from, for ``ingest_batches``.
        started
            ``time.monotonic()`` when the batch's first packet was read (default: now).
        message_times
            Kafka message timestamps (Unix seconds) of the batch, for the
            alert-to-queryable latency; empty for files.

        Returns
        -------
        BatchResult
            Counts of new, duplicate and quarantined packets.
        """
        started = time.monotonic() if started is None else started
        started_at = datetime.now(UTC)
        try:
            with self.connection.cursor() as cursor:
                alert_time = min(message_times) if message_times else None
                new, rejected = self._write_alerts_or_reject(cursor, alerts, alert_time)
                if rejected:
                    alerts = [alert for alert in alerts if alert not in rejected]
                    quarantined = [*quarantined, *rejected.values()]
                self._write_quarantine(cursor, quarantined)
                seconds = time.monotonic() - started
                packets = len(alerts) + len(quarantined)
                # The commit follows at once: this is when the alerts become queryable.
                latencies = sorted(time.time() - stamp for stamp in message_times)
                cursor.execute(
                    "INSERT INTO ingest_batches (source, started_at, finished_at, n_packets, n_new,"
                    " n_duplicate, n_quarantined, duration_s, alerts_per_s, latency_p50_s,"
                    " latency_max_s)"
                    " VALUES (%s, %s, clock_timestamp(), %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        source,
                        started_at,
                        packets,
                        new,
                        len(alerts) - new,
                        len(quarantined),
                        seconds,
                        packets / seconds if seconds > 0 else 0.0,
                        latencies[len(latencies) // 2] if latencies else None,
                        latencies[-1] if latencies else None,
                    ),
                )
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        return BatchResult(
            packets=len(alerts) + len(quarantined),
            new=new,
            duplicates=len(alerts) - new,
            quarantined=len(quarantined),
            seconds=time.monotonic() - started,
        )

    def _write_alerts_or_reject(
        self, cursor: psycopg.Cursor, alerts: Sequence[AlertRows], alert_time: float | None = None
    ) -> tuple[int, dict[AlertRows, QuarantinedPacket]]:
        """Write the alerts; if PostgreSQL rejects a value, quarantine the alerts that hold one.

        Validation should catch bad values first; this is the safety net that keeps
        one such packet from failing (and, on Kafka, endlessly re-reading) its batch.
        """
        cursor.execute("SAVEPOINT lasair_batch")
        try:
            return self._write_alerts(cursor, alerts, alert_time), {}
        except REJECTED:
            cursor.execute("ROLLBACK TO SAVEPOINT lasair_batch")
        log.warning("PostgreSQL rejected a value in this batch; writing its alerts one by one")
        new, rejected = 0, {}
        for alert in alerts:
            # The staging tables keep their rows until the commit: empty them, or the next
            # alert's INSERT … SELECT would write this one's rows again (coverage twice).
            for staged in STAGED:
                cursor.execute(f"DELETE FROM staging_{staged.table.name}")
            cursor.execute("SAVEPOINT lasair_alert")
            try:
                new += self._write_alerts(cursor, [alert], alert_time)
                cursor.execute("RELEASE SAVEPOINT lasair_alert")
            except REJECTED as error:
                cursor.execute("ROLLBACK TO SAVEPOINT lasair_alert")
                rejected[alert] = QuarantinedPacket(
                    alert.source, alert.raw, f"the archive rejected a value: {_reason(error)}"
                )
        return new, rejected

    def _write_alerts(
        self, cursor: psycopg.Cursor, alerts: Sequence[AlertRows], alert_time: float | None = None
    ) -> int:
        if not alerts:
            return 0
        objectids = sorted({alert.objectid for alert in alerts})
        changed = self._write_candidates(cursor, alerts)
        alert_candids = {alert.candid for alert in alerts}
        new = sum(1 for row in changed if row[1] and row[0] in alert_candids)

        # Each alert repeats its object's history: send only rows the archive lacks
        # (ON CONFLICT still guards against a concurrent ingester).
        cursor.execute(
            "SELECT objectid, jd, fid FROM noncandidates WHERE objectid = ANY(%s)", (objectids,)
        )
        limits = self._insert_new(
            cursor,
            "noncandidates",
            NONCANDIDATES,
            _unseen(
                (r for a in alerts for r in a.noncandidates),
                ("objectid", "jd", "fid"),
                cursor.fetchall(),
            ),
            returning="field, fid, jd, diffmaglim",
        )
        cursor.execute(
            "SELECT objectid, jd, fid, field, rcid FROM forced_photometry WHERE objectid = ANY(%s)",
            (objectids,),
        )
        self._insert_new(
            cursor,
            "forced_photometry",
            FORCED,
            _unseen(
                (r for a in alerts for r in a.forced),
                ("objectid", "jd", "fid", "field", "rcid"),
                cursor.fetchall(),
            ),
        )
        self._write_cutouts(cursor, [a.cutout for a in alerts if a.cutout is not None])
        # Only objects whose detections changed need a new summary: queued for the stage.
        queue_objects(cursor, sorted({row[2] for row in changed}), alert_time)
        self._update_coverage(cursor, [(*row[4:], row[3], row[1]) for row in changed], limits)
        return new

    @staticmethod
    def _write_candidates(cursor: psycopg.Cursor, alerts: Sequence[AlertRows]) -> list[tuple]:
        """Insert new detections, upgrade history-only ones whose alert arrived.

        Returns ``(candid, in_alert, objectid, inserted, field, fid, jd, diffmaglim)``
        of every row inserted or upgraded (``inserted`` false for an upgrade).
        """
        # One row per candid: an alert's own candidate beats a history copy of it.
        candidates: dict[int, dict[str, Any]] = {}
        for alert in alerts:
            for row in alert.candidates:
                kept = candidates.get(row["candid"])
                if kept is None or (row["in_alert"] and not kept["in_alert"]):
                    candidates[row["candid"]] = row
        cursor.execute(
            "SELECT candid, in_alert FROM candidates WHERE candid = ANY(%s)", (list(candidates),)
        )
        for candid, in_alert in cursor.fetchall():
            if in_alert or not candidates[candid]["in_alert"]:
                del candidates[candid]
        if not candidates:
            return []
        rows = list(candidates.values())
        add_derived_columns(rows)
        CANDIDATES.copy(cursor, "staging_candidates", rows)
        names = ", ".join(CANDIDATES.columns)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CANDIDATES.columns if c != "candid")
        cursor.execute(
            f"INSERT INTO candidates ({names}) SELECT {names} FROM staging_candidates"
            " ORDER BY candid"  # a fixed lock order for concurrent ingesters
            f" ON CONFLICT (candid) DO UPDATE SET {updates}"
            " WHERE NOT candidates.in_alert AND EXCLUDED.in_alert"
            " RETURNING candid, in_alert, objectid, xmax = 0, field, fid, jd, diffmaglim"
        )
        return cursor.fetchall()

    @staticmethod
    def _insert_new(
        cursor: psycopg.Cursor,
        table: str,
        copy_format: _BinaryCopy,
        rows: list[dict[str, Any]],
        returning: str | None = None,
    ) -> list[tuple]:
        if not rows:
            return []
        copy_format.copy(cursor, f"staging_{table}", rows)
        names = ", ".join(copy_format.columns)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM staging_{table}"
            " ON CONFLICT DO NOTHING" + (f" RETURNING {returning}" if returning else "")
        )
        return cursor.fetchall() if returning else []

    @staticmethod
    def _update_coverage(
        cursor: psycopg.Cursor, detections: list[tuple], limits: list[tuple]
    ) -> None:
        rows = coverage_rows(detections, limits)
        if not rows:
            return
        COVERAGE.copy(cursor, "staging_coverage", rows)
        names = ", ".join(COVERAGE.columns)
        cursor.execute(
            f"INSERT INTO coverage ({names}) SELECT {names} FROM staging_coverage"
            " ORDER BY night, field, fid"  # a fixed lock order for concurrent ingesters
            " ON CONFLICT (night, field, fid) DO UPDATE SET"
            " ncandidates = coverage.ncandidates + EXCLUDED.ncandidates,"
            " nlimits = coverage.nlimits + EXCLUDED.nlimits,"
            " maglim_min = LEAST(coverage.maglim_min, EXCLUDED.maglim_min),"
            " maglim_max = GREATEST(coverage.maglim_max, EXCLUDED.maglim_max),"
            " jd_first = LEAST(coverage.jd_first, EXCLUDED.jd_first),"
            " jd_last = GREATEST(coverage.jd_last, EXCLUDED.jd_last)"
        )

    @staticmethod
    def _write_cutouts(cursor: psycopg.Cursor, rows: list[dict[str, Any]]) -> None:
        # Stamps are most of the bytes: skip the staging copy and send only new ones.
        # Two ingesters racing on one candid make this COPY fail and the batch roll
        # back; the retry then finds the stamps present.
        if not rows:
            return
        cursor.execute(
            "SELECT candid FROM cutouts WHERE candid = ANY(%s)", ([r["candid"] for r in rows],)
        )
        CUTOUTS.copy(cursor, "cutouts", _unseen(rows, ("candid",), cursor.fetchall()))

    @staticmethod
    def _write_quarantine(cursor: psycopg.Cursor, quarantined: Sequence[QuarantinedPacket]) -> None:
        if not quarantined:
            return
        cursor.executemany(
            "INSERT INTO quarantine (source, sha256, raw, reason) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (sha256) DO NOTHING",
            [
                (
                    packet.source.replace("\x00", "\\0"),
                    hashlib.sha256(packet.raw).hexdigest(),
                    packet.raw,
                    packet.reason.replace("\x00", "\\0"),  # text cannot hold NUL
                )
                for packet in quarantined
            ],
        )


def _reason(error: Exception) -> str:
    """The first line of a refusal, and where PostgreSQL met it (table and column)."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    diag = getattr(error, "diag", None)
    context = diag.context if diag is not None else None
    if context:  # e.g. "COPY staging_candidates, line 3, column pdiffimfilename"
        reason += f" ({context.strip().splitlines()[0][:200]})"
    return reason


def update_objects(cursor: psycopg.Cursor, objectids: list[str]) -> None:
    """Recompute these objects' summaries, context and TNS matches from their detections.

    In the caller's transaction; the objects' rows in ``object_locks`` are locked first,
    so two writers summarise an object one after the other.
    """
    if not objectids:
        return
    # One ingester at a time per object: otherwise two concurrent batches each
    # summarise without the other's new detection, and the later one wins.
    cursor.execute(
        "INSERT INTO object_locks SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
        (objectids,),
    )
    cursor.execute(
        "SELECT objectid FROM object_locks WHERE objectid = ANY(%s) ORDER BY objectid FOR UPDATE",
        (objectids,),
    )
    cursor.execute(
        f"SELECT {', '.join(DETECTION_COLUMNS)} FROM candidates WHERE objectid = ANY(%s)",
        (objectids,),
    )
    summaries = summarise_objects(cursor.fetchall())
    OBJECTS.copy(cursor, "staging_objects", summaries)
    names = ", ".join(OBJECTS.columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in OBJECTS.columns if c != "objectid")
    cursor.execute(
        f"INSERT INTO objects ({names}) SELECT {names} FROM staging_objects"
        f" ON CONFLICT (objectid) DO UPDATE SET {updates}"
        " WHERE (objects.*) IS DISTINCT FROM (EXCLUDED.*)"
    )
    tns.match_objects(
        cursor,
        [row["objectid"] for row in summaries],
        np.array([row["ramean"] for row in summaries]),
        np.array([row["decmean"] for row in summaries]),
        tns.MATCH_RADIUS_ARCSEC,
    )
    # Context (Sherlock-like) from the loaded catalogues and the alerts' PS1/Gaia fields.
    sherlock.classify(cursor, objectids)


def queue_objects(
    cursor: psycopg.Cursor, objectids: Sequence[str], alert_time: float | None
) -> None:
    """Queue objects for the stage, in the caller's (the alerts') transaction.

    ``DO UPDATE`` rather than ``DO NOTHING``: it waits for the lock a running summary holds
    on the row, so an object summarised without this alert is queued again.
    """
    if not objectids:
        return
    cursor.execute(
        "INSERT INTO objects_pending (objectid, alert_time)"
        " SELECT objectid, %s FROM unnest(%s::text[]) AS q(objectid) ORDER BY objectid"
        " ON CONFLICT (objectid) DO UPDATE"
        " SET alert_time = LEAST(objects_pending.alert_time, EXCLUDED.alert_time)",
        (alert_time, sorted(objectids)),
    )
