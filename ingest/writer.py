"""Write one batch of alerts to the archive in one transaction.

Rows go in with ``COPY`` into session-local temporary tables, then one
``INSERT … SELECT … ON CONFLICT`` per table, so writes are idempotent: a packet
ingested twice (a re-run, a Kafka redelivery) changes nothing the second time.
The objects the batch touched are re-summarised from all their detections in
the same transaction.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg2.extensions import connection as PgConnection
from psycopg2.extras import execute_values

from ingest.objects import DETECTION_COLUMNS, summarise_objects
from ingest.rows import AlertRows, add_derived_columns
from lasair_nb import schema

CANDIDATE_COLUMNS = tuple(column.name for column in schema.candidates.c if column.name != "ingested_at")
NONCANDIDATE_COLUMNS = tuple(column.name for column in schema.noncandidates.c)
FORCED_COLUMNS = tuple(column.name for column in schema.forced_photometry.c)
CUTOUT_COLUMNS = tuple(column.name for column in schema.cutouts.c)
OBJECT_COLUMNS = tuple(column.name for column in schema.objects.c)


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


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(value).hex()
    text = str(value)
    if any(character in text for character in "\\\t\n\r"):
        text = (
            text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        )
    return text


def _copy_rows(
    cursor: Any, table: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]
) -> None:
    buffer = io.StringIO()
    write = buffer.write
    for row in rows:
        write("\t".join([_copy_text(row.get(column)) for column in columns]))
        write("\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def _staging_tables(cursor: Any) -> None:
    for table in ("candidates", "noncandidates", "forced_photometry", "cutouts", "objects"):
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS staging_{table} "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )


class ArchiveWriter:
    """Writes batches of alert rows; takes an open psycopg2 connection and owns its transactions.

    Parameters
    ----------
    connection
        A psycopg2 connection to the archive with write rights (the ingester's).
    """

    def __init__(self, connection: PgConnection) -> None:
        self.connection = connection
        with connection.cursor() as cursor:
            _staging_tables(cursor)
        connection.commit()

    def write_batch(
        self,
        alerts: Sequence[AlertRows],
        quarantined: Sequence[QuarantinedPacket] = (),
        source: str = "",
        started: float | None = None,
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

        Returns
        -------
        BatchResult
            Counts of new, duplicate and quarantined packets.
        """
        started = time.monotonic() if started is None else started
        started_at = datetime.now(UTC)
        try:
            with self.connection.cursor() as cursor:
                new = self._write_alerts(cursor, alerts)
                self._write_quarantine(cursor, quarantined)
                seconds = time.monotonic() - started
                packets = len(alerts) + len(quarantined)
                cursor.execute(
                    "INSERT INTO ingest_batches (source, started_at, finished_at, n_packets, n_new,"
                    " n_duplicate, n_quarantined, duration_s, alerts_per_s)"
                    " VALUES (%s, %s, now(), %s, %s, %s, %s, %s, %s)",
                    (
                        source,
                        started_at,
                        packets,
                        new,
                        len(alerts) - new,
                        len(quarantined),
                        seconds,
                        packets / seconds if seconds > 0 else 0.0,
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

    def _write_alerts(self, cursor: Any, alerts: Sequence[AlertRows]) -> int:
        if not alerts:
            return 0
        # One row per candid: an alert's own candidate beats a history copy of it.
        candidates: dict[int, dict[str, Any]] = {}
        for alert in alerts:
            for row in alert.candidates:
                kept = candidates.get(row["candid"])
                if kept is None or (row["in_alert"] and not kept["in_alert"]):
                    candidates[row["candid"]] = row
        rows = list(candidates.values())
        add_derived_columns(rows)
        _copy_rows(cursor, "staging_candidates", CANDIDATE_COLUMNS, rows)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CANDIDATE_COLUMNS if c != "candid")
        cursor.execute(
            f"INSERT INTO candidates ({', '.join(CANDIDATE_COLUMNS)})"
            f" SELECT {', '.join(CANDIDATE_COLUMNS)} FROM staging_candidates"
            f" ON CONFLICT (candid) DO UPDATE SET {updates}"
            " WHERE NOT candidates.in_alert AND EXCLUDED.in_alert"
            " RETURNING candid, in_alert, objectid"
        )
        changed = cursor.fetchall()
        alert_candids = {alert.candid for alert in alerts}
        new = sum(1 for candid, in_alert, _ in changed if in_alert and candid in alert_candids)

        self._insert_new(
            cursor, "noncandidates", NONCANDIDATE_COLUMNS,
            (row for alert in alerts for row in alert.noncandidates),
        )
        self._insert_new(
            cursor, "forced_photometry", FORCED_COLUMNS,
            (row for alert in alerts for row in alert.forced),
        )
        self._insert_new(
            cursor, "cutouts", CUTOUT_COLUMNS,
            (alert.cutout for alert in alerts if alert.cutout is not None),
        )
        # Only objects whose detections changed need a new summary.
        self._update_objects(cursor, sorted({objectid for _, _, objectid in changed}))
        return new

    @staticmethod
    def _insert_new(
        cursor: Any, table: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]
    ) -> None:
        _copy_rows(cursor, f"staging_{table}", columns, rows)
        names = ", ".join(columns)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM staging_{table}"
            " ON CONFLICT DO NOTHING"
        )

    @staticmethod
    def _update_objects(cursor: Any, objectids: list[str]) -> None:
        if not objectids:
            return
        cursor.execute(
            f"SELECT {', '.join(DETECTION_COLUMNS)} FROM candidates WHERE objectid = ANY(%s)",
            (objectids,),
        )
        summaries = summarise_objects(cursor.fetchall())
        _copy_rows(cursor, "staging_objects", OBJECT_COLUMNS, summaries)
        names = ", ".join(OBJECT_COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in OBJECT_COLUMNS if c != "objectid")
        cursor.execute(
            f"INSERT INTO objects ({names}) SELECT {names} FROM staging_objects"
            f" ON CONFLICT (objectid) DO UPDATE SET {updates}"
            " WHERE (objects.*) IS DISTINCT FROM (EXCLUDED.*)"
        )

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
