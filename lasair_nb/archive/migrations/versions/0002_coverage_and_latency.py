"""coverage per night, field and band; ingest latency in ingest_batches

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "ingest_batches",
        sa.Column(
            "latency_p50_s",
            postgresql.DOUBLE_PRECISION(),
            comment="Median time from Kafka message timestamp to queryable (commit) [s]",
        ),
    )
    op.add_column(
        "ingest_batches",
        sa.Column(
            "latency_max_s",
            postgresql.DOUBLE_PRECISION(),
            comment="Longest time from Kafka message timestamp to queryable (commit) [s]",
        ),
    )
    op.create_index("ix_ingest_batches_finished_at", "ingest_batches", ["finished_at"])
    op.create_table(
        "coverage",
        sa.Column(
            "night",
            sa.Date(),
            nullable=False,
            comment="Local date the Palomar night began (UTC-20h)",
        ),
        sa.Column("field", sa.Integer(), nullable=False, comment="ZTF field ID"),
        sa.Column("fid", sa.Integer(), nullable=False, comment="Filter ID (1=g; 2=R; 3=i)"),
        sa.Column("ncandidates", sa.Integer(), nullable=False, comment="Detections archived"),
        sa.Column("nlimits", sa.Integer(), nullable=False, comment="Upper limits archived"),
        sa.Column(
            "maglim_min",
            sa.REAL(),
            comment="Shallowest 5-sigma limiting magnitude of the alerts and upper limits [mag]",
        ),
        sa.Column(
            "maglim_max",
            sa.REAL(),
            comment="Deepest 5-sigma limiting magnitude of the alerts and upper limits [mag]",
        ),
        sa.Column(
            "jd_first",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="First observation [JD]",
        ),
        sa.Column(
            "jd_last",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="Last observation [JD]",
        ),
        sa.PrimaryKeyConstraint("night", "field", "fid"),
        comment="What each night observed, per ZTF field and band, kept current by ingest",
    )
    # Backfill from what is already archived.
    op.execute(
        """
        INSERT INTO coverage
        SELECT night, field, fid, sum(ncandidates), sum(nlimits), min(maglim), max(maglim),
               min(jd), max(jd)
        FROM (
            SELECT (timestamp '1970-01-01' + (jd - 2440587.5 - 20.0 / 24) * interval '1 day')::date
                       AS night, field, fid, 1 AS ncandidates, 0 AS nlimits,
                   CASE WHEN in_alert THEN diffmaglim END AS maglim, jd
            FROM candidates WHERE field IS NOT NULL
            UNION ALL
            SELECT (timestamp '1970-01-01' + (jd - 2440587.5 - 20.0 / 24) * interval '1 day')::date,
                   field, fid, 0, 1, diffmaglim, jd
            FROM noncandidates WHERE field IS NOT NULL
        ) measured
        GROUP BY night, field, fid
        """
    )


def downgrade() -> None:
    op.drop_table("coverage")
    op.drop_index("ix_ingest_batches_finished_at", table_name="ingest_batches")
    op.drop_column("ingest_batches", "latency_max_s")
    op.drop_column("ingest_batches", "latency_p50_s")
