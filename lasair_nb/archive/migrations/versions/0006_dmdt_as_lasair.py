"""dmdt as in Lasair-ZTF: positive = brightening

Revision ID: 0006
Revises: 0005

Lasair-ZTF's ``dmdt_g``/``dmdt_r`` are positive when the object brightens; ours were the
opposite, so a filter copied from Lasair (``dmdt_g > 0``) silently selected fading
objects. The stored rates change sign and the column comments say the convention.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BANDS = ("g", "r", "i")


def _comment(band: str, brightening_positive: bool) -> str:
    if brightening_positive:
        return (
            f"Brightening rate in {band} since the previous night's detection "
            "[mag/day, positive = brightening, as in Lasair-ZTF]"
        )
    return (
        f"Rate of change of the {band} magnitude since the previous night's "
        "detection [mag/day, negative = brightening]"
    )


def _flip(brightening_positive: bool) -> None:
    op.execute(
        "UPDATE objects SET "
        + ", ".join(f"dmdt_{band} = -dmdt_{band}" for band in BANDS)
        + " WHERE "
        + " OR ".join(f"dmdt_{band} IS NOT NULL" for band in BANDS)
    )
    for band in BANDS:
        op.alter_column(
            "objects",
            f"dmdt_{band}",
            existing_type=postgresql.DOUBLE_PRECISION(),
            comment=_comment(band, brightening_positive),
            existing_comment=_comment(band, not brightening_positive),
        )


def upgrade() -> None:
    _flip(brightening_positive=True)


def downgrade() -> None:
    _flip(brightening_positive=False)
