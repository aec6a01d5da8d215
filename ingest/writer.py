"""Write one batch of alerts to the archive in one transaction.

Rows go in with ``COPY`` into session-local temporary tables, then one
``INSERT … SELECT … ON CONFLICT`` per table, so writes are idempotent: a packet
ingested twice (a re-run, a Kafka redelivery) changes nothing the second time.
The objects whose detections changed are queued in ``objects_pending`` in the
same transaction, and summarised from all their detections after it
(:mod:`ingest.objects_stage`): alerts are queryable first, objects follow.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import numpy as np
import psycopg2
import psycopg2.extensions
import sqlalchemy as sa
from psycopg2.extras import execute_values
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


class _CopyFormat:
    """Sends rows (dicts) of one table to PostgreSQL with ``COPY … (FORMAT csv)``.

    The C ``csv`` writer does the formatting: Python's ``str`` of a float
    round-trips, PostgreSQL reads ``nan``/``inf`` and ``True``/``False``, and None
    becomes an unquoted empty field, which CSV COPY reads as NULL (so an empty
    string is stored as NULL too; ZTF sends none). Tables with bytea columns use
    :func:`_copy_cutouts` instead.
    """

    def __init__(self, table: sa.Table, columns: Sequence[str]) -> None:
        if any(isinstance(table.c[name].type, sa.LargeBinary) for name in columns):
            raise TypeError(f"{table.name} has bytea columns; CSV COPY would hex-encode them")
        self.columns = tuple(columns)
        self._get = itemgetter(*self.columns)

    def copy(self, cursor: Any, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """COPY ``rows`` into ``table``; returns how many were sent."""
        if not rows:
            return 0
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows(map(self._get, rows))
        data = io.BytesIO(buffer.getvalue().encode())
        cursor.copy_expert(
            f"COPY {table} ({', '.join(self.columns)}) FROM STDIN WITH (FORMAT csv)", data
        )
        return len(rows)


log = logging.getLogger(__name__)

CANDIDATES = _CopyFormat(
    schema.candidates, [c.name for c in schema.candidates.c if c.name != "ingested_at"]
)
NONCANDIDATES = _CopyFormat(schema.noncandidates, [c.name for c in schema.noncandidates.c])
FORCED = _CopyFormat(schema.forced_photometry, [c.name for c in schema.forced_photometry.c])


def _copy_cutouts(cursor: Any, rows: Sequence[dict[str, Any]]) -> None:
    """COPY cutout rows in PostgreSQL's binary format: the stamps go as raw bytes.

    Text COPY would double every stamp into hex and make the CSV writer scan it.
    """
    if not rows:
        return
    buffer = io.BytesIO()
    buffer.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
    for row in rows:
        buffer.write(struct.pack("!hiq", len(CUTOUT_COLUMNS), 8, row["candid"]))
        for name in CUTOUT_COLUMNS[1:]:
            value = row[name]
            if value is None:
                buffer.write(b"\xff\xff\xff\xff")
                continue
            if isinstance(value, str):
                value = value.encode()
            buffer.write(struct.pack("!i", len(value)))
            buffer.write(value)
    buffer.write(struct.pack("!h", -1))
    buffer.seek(0)
    cursor.copy_expert(
        f"COPY cutouts ({', '.join(CUTOUT_COLUMNS)}) FROM STDIN WITH (FORMAT binary)", buffer
    )


OBJECTS = _CopyFormat(schema.objects, [c.name for c in schema.objects.c])
CUTOUT_COLUMNS = ("candid", "objectid", "science", "template", "difference", "stamp_format")


def create_staging_tables(cursor: Any) -> None:
    """The session's temporary tables COPY fills before each ``INSERT … SELECT``."""
    for table in ("candidates", "noncandidates", "forced_photometry", "objects"):
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS staging_{table} "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
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
    """Writes batches of alert rows; takes an open psycopg2 connection and owns its transactions.

    Parameters
    ----------
    connection
        A psycopg2 connection to the archive with write rights (the ingester's).

    Notes
    -----
    The objects a batch queues are summarised by :mod:`ingest.objects_stage`
    (``ObjectUpdater(connection).drain()`` does it at once, in this connection).
    """

    def __init__(self, connection: psycopg2.extensions.connection) -> None:
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
        self, cursor: Any, alerts: Sequence[AlertRows], alert_time: float | None = None
    ) -> tuple[int, dict[AlertRows, QuarantinedPacket]]:
        """Write the alerts; if PostgreSQL rejects a value, quarantine the alerts that hold one.

        Validation should catch bad values first; this is the safety net that keeps
        one such packet from failing (and, on Kafka, endlessly re-reading) its batch.
        """
        cursor.execute("SAVEPOINT lasair_batch")
        try:
            return self._write_alerts(cursor, alerts, alert_time), {}
        except psycopg2.DataError:
            cursor.execute("ROLLBACK TO SAVEPOINT lasair_batch")
        log.warning("PostgreSQL rejected a value in this batch; writing its alerts one by one")
        new, rejected = 0, {}
        for alert in alerts:
            cursor.execute("SAVEPOINT lasair_alert")
            try:
                new += self._write_alerts(cursor, [alert], alert_time)
            except psycopg2.DataError as error:
                cursor.execute("ROLLBACK TO SAVEPOINT lasair_alert")
                reason = str(error).strip().splitlines()[0]
                rejected[alert] = QuarantinedPacket(
                    alert.source, alert.raw, f"the archive rejected a value: {reason}"
                )
        return new, rejected

    def _write_alerts(
        self, cursor: Any, alerts: Sequence[AlertRows], alert_time: float | None = None
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
    def _write_candidates(cursor: Any, alerts: Sequence[AlertRows]) -> list[tuple]:
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
        cursor: Any,
        table: str,
        copy_format: _CopyFormat,
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
    def _update_coverage(cursor: Any, detections: list[tuple], limits: list[tuple]) -> None:
        rows = coverage_rows(detections, limits)
        if not rows:
            return
        execute_values(
            cursor,
            "INSERT INTO coverage (night, field, fid, ncandidates, nlimits, maglim_min,"
            " maglim_max, jd_first, jd_last) VALUES %s"
            " ON CONFLICT (night, field, fid) DO UPDATE SET"
            " ncandidates = coverage.ncandidates + EXCLUDED.ncandidates,"
            " nlimits = coverage.nlimits + EXCLUDED.nlimits,"
            " maglim_min = LEAST(coverage.maglim_min, EXCLUDED.maglim_min),"
            " maglim_max = GREATEST(coverage.maglim_max, EXCLUDED.maglim_max),"
            " jd_first = LEAST(coverage.jd_first, EXCLUDED.jd_first),"
            " jd_last = GREATEST(coverage.jd_last, EXCLUDED.jd_last)",
            [
                tuple(
                    row[name]
                    for name in (
                        "night",
                        "field",
                        "fid",
                        "ncandidates",
                        "nlimits",
                        "maglim_min",
                        "maglim_max",
                        "jd_first",
                        "jd_last",
                    )
                )
                for row in sorted(rows, key=lambda row: (row["night"], row["field"], row["fid"]))
            ],
        )

    @staticmethod
    def _write_cutouts(cursor: Any, rows: list[dict[str, Any]]) -> None:
        # Stamps are most of the bytes: skip the staging copy and send only new ones.
        # Two ingesters racing on one candid make this COPY fail and the batch roll
        # back; the retry then finds the stamps present.
        if not rows:
            return
        cursor.execute(
            "SELECT candid FROM cutouts WHERE candid = ANY(%s)", ([r["candid"] for r in rows],)
        )
        _copy_cutouts(cursor, _unseen(rows, ("candid",), cursor.fetchall()))

    @staticmethod
    def _write_quarantine(cursor: Any, quarantined: Sequence[QuarantinedPacket]) -> None:
        if not quarantined:
            return
        execute_values(
            cursor,
            "INSERT INTO quarantine (source, sha256, raw, reason) VALUES %s"
            " ON CONFLICT (sha256) DO NOTHING",
            [
                (packet.source, hashlib.sha256(packet.raw).hexdigest(), packet.raw, packet.reason)
                for packet in quarantined
            ],
        )


def update_objects(cursor: Any, objectids: list[str]) -> None:
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


def queue_objects(cursor: Any, objectids: Sequence[str], alert_time: float | None) -> None:
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
