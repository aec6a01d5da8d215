"""The quarantine: packets that failed to ingest, kept whole with the reason (operators only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from lasair_nb.archive.schema import candidates, quarantine

q = quarantine.c


def count(connection: sa.Connection) -> int:
    """Packets in quarantine."""
    return int(connection.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar_one())


def listing(connection: sa.Connection, limit: int = 100) -> list[sa.Row]:
    """The newest ``limit`` entries: id, time, source, size in bytes, reason."""
    return connection.execute(
        sa.select(q.id, q.received_at, q.source, sa.func.length(q.raw), q.reason)
        .order_by(q.id.desc())
        .limit(limit)
    ).all()


def get(connection: sa.Connection, packet_id: int) -> dict[str, Any] | None:
    """One entry with its bytes (``packet``), or None."""
    row = connection.execute(
        sa.select(
            q.id, q.received_at.label("quarantined_at"), q.source, q.sha256, q.reason,
            q.raw.label("packet"),
        ).where(q.id == packet_id)
    ).mappings().first()  # fmt: skip
    return None if row is None else dict(row)


def entries(connection: sa.Connection, ids: Sequence[int] | None = None) -> list[sa.Row]:
    """Entries (id, source, raw) with these ids, or every one, oldest first."""
    query = sa.select(q.id, q.source, q.raw).order_by(q.id)
    if ids:
        query = query.where(q.id.in_(list(ids)))
    return connection.execute(query).all()


def archived_candids(connection: sa.Connection, candids: Sequence[int]) -> set[int]:
    """Which of these alerts are in the archive as alerts of their own."""
    return set(
        connection.execute(
            sa.select(candidates.c.candid).where(
                candidates.c.candid.in_(list(candids)), candidates.c.in_alert
            )
        ).scalars()
    )


def remove(connection: sa.Connection, ids: Sequence[int]) -> int:
    """Delete entries; returns how many."""
    if not ids:
        return 0
    return connection.execute(sa.delete(quarantine).where(q.id.in_(list(ids)))).rowcount
