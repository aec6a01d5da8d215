"""The figures of the ingestion status page: is the stream flowing, how fast, how late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa


@dataclass(frozen=True)
class IngestStatus:
    """Figures of the status page; None where nothing was ingested yet."""

    last_batch_at: datetime | None
    last_source: str | None
    last_rate: float | None
    last_latency_p50: float | None
    last_latency_max: float | None
    received_today: int
    ingested_today: int
    new_today: int
    quarantined_today: int
    quarantined_total: int | None
    rate_last_hour: float | None
    latency_max_today: float | None
    objects_waiting: int = 0
    """Objects whose new alerts are queryable but not yet in their summary."""
    objects_set_aside: int = 0
    """Objects whose summary failed three times (``objects_pending.last_error`` says why)."""
    objects_oldest_wait: float | None = None
    """Seconds the longest-waiting of them has waited (None: none waits)."""
    objects_lag_p50: float | None = None
    """Alert queryable → object updated, median of the objects stage's last batch [s]."""
    objects_lag_max: float | None = None
    """Alert queryable → object updated, longest in the objects stage's last batch [s]."""
    objects_latency_max: float | None = None
    """Kafka message → object updated, longest in the stage's last batch from Kafka [s]."""

    @property
    def minutes_since(self) -> float | None:
        """Minutes since the last batch committed."""
        if self.last_batch_at is None:
            return None
        return (datetime.now(UTC) - self.last_batch_at).total_seconds() / 60


def ingest_status(connection: sa.Connection) -> IngestStatus:
    """Read the status figures from ``ingest_batches``, the objects stage and ``quarantine``."""
    last = connection.execute(
        sa.text(
            "SELECT finished_at, source, alerts_per_s, latency_p50_s, latency_max_s"
            " FROM ingest_batches ORDER BY finished_at DESC LIMIT 1"
        )
    ).first()
    today = connection.execute(
        sa.text(
            "SELECT coalesce(sum(n_packets), 0), coalesce(sum(n_new + n_duplicate), 0),"
            " coalesce(sum(n_new), 0), coalesce(sum(n_quarantined), 0), max(latency_max_s)"
            " FROM ingest_batches WHERE finished_at >= date_trunc('day', now() AT TIME ZONE 'UTC')"
            " AT TIME ZONE 'UTC'"
        )
    ).one()
    hour = connection.execute(
        sa.text(
            "SELECT sum(n_packets) / nullif(sum(duration_s), 0) FROM ingest_batches"
            " WHERE finished_at >= now() - interval '1 hour'"
        )
    ).scalar()
    # The quarantine is for operators: a user's status page counts it as unknown.
    # (Two statements: PostgreSQL checks rights on every table a statement names.)
    quarantined = None
    if connection.execute(sa.text("SELECT has_table_privilege('quarantine', 'SELECT')")).scalar():
        quarantined = connection.execute(sa.text("SELECT count(*) FROM quarantine")).scalar()
    waiting = connection.execute(
        sa.text(
            "SELECT count(*) FILTER (WHERE attempts < 3), count(*) FILTER (WHERE attempts >= 3),"
            " extract(epoch FROM clock_timestamp() - min(queued_at) FILTER (WHERE attempts < 3))"
            " FROM objects_pending"
        )
    ).one()
    stage = connection.execute(
        sa.text("SELECT lag_p50_s, lag_max_s FROM object_batches ORDER BY finished_at DESC LIMIT 1")
    ).first()
    from_kafka = connection.execute(
        sa.text(
            "SELECT latency_max_s FROM object_batches WHERE latency_max_s IS NOT NULL"
            " ORDER BY finished_at DESC LIMIT 1"
        )
    ).scalar()
    return IngestStatus(
        objects_waiting=int(waiting[0]),
        objects_set_aside=int(waiting[1]),
        objects_oldest_wait=None if waiting[2] is None else float(waiting[2]),
        objects_lag_p50=stage.lag_p50_s if stage else None,
        objects_lag_max=stage.lag_max_s if stage else None,
        objects_latency_max=from_kafka,
        last_batch_at=last.finished_at if last else None,
        last_source=last.source if last else None,
        last_rate=last.alerts_per_s if last else None,
        last_latency_p50=last.latency_p50_s if last else None,
        last_latency_max=last.latency_max_s if last else None,
        received_today=int(today[0]),
        ingested_today=int(today[1]),
        new_today=int(today[2]),
        quarantined_today=int(today[3]),
        quarantined_total=None if quarantined is None else int(quarantined),
        rate_last_hour=float(hour) if hour is not None else None,
        latency_max_today=today[4],
    )
