"""objects as a second stage: a queue of objects to summarise, and the stage's batches

Revision ID: 0013
Revises: 0012

The ingester used to recompute every touched object's summary (features, Lomb–Scargle
periods, Sherlock context, TNS matches) inside the transaction that writes the alerts.
Now that transaction queues the objects in ``objects_pending``, and the objects stage
(``ingest.objects_stage``) summarises them in transactions of its own, logging each in
``object_batches`` (its lag is on the status page). Readers may read both.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

READERS = "lasair_reader, lasair_user"


def upgrade() -> None:
    op.create_table(
        "objects_pending",
        sa.Column("objectid", sa.Text(), primary_key=True, comment="Object whose summary is due"),
        sa.Column(
            "queued_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("clock_timestamp()"),
            comment="When its first alert not yet in the summary was written",
        ),
        sa.Column(
            "alert_time",
            postgresql.DOUBLE_PRECISION(),
            comment="Kafka timestamp of that alert's batch (Unix seconds; NULL from files)",
        ),
        sa.Column(
            "attempts",
            sa.Integer(),
            nullable=False,
            server_default="0",
            comment="Summaries of it that failed (set aside after 3)",
        ),
        sa.Column("last_error", sa.Text(), comment="Why its last summary failed"),
        comment="Objects whose new detections are archived but not yet summarised in objects",
    )
    op.create_index("ix_objects_pending_queued_at", "objects_pending", ["queued_at"])
    op.create_table(
        "object_batches",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True, comment="Batch number"),
        sa.Column(
            "finished_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Its database commit",
        ),
        sa.Column("n_objects", sa.Integer(), nullable=False, comment="Objects summarised"),
        sa.Column(
            "duration_s", postgresql.DOUBLE_PRECISION(), nullable=False, comment="Wall time [s]"
        ),
        sa.Column(
            "lag_p50_s",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="Median time from an alert being queryable to its object updated [s]",
        ),
        sa.Column(
            "lag_max_s",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="Longest time from an alert being queryable to its object updated [s]",
        ),
        sa.Column(
            "latency_max_s",
            postgresql.DOUBLE_PRECISION(),
            comment="Longest time from Kafka message timestamp to object updated [s]",
        ),
        comment="One row per objects-stage batch (one database transaction)",
    )
    op.create_index("ix_object_batches_finished_at", "object_batches", ["finished_at"])
    op.execute(f"GRANT SELECT ON objects_pending, object_batches TO {READERS}")


def downgrade() -> None:
    op.drop_table("object_batches")
    op.drop_table("objects_pending")
