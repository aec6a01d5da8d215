"""skymap_tiles: sky maps as multi-order HEALPix tiles with probability density

Revision ID: 0004
Revises: 0003

Credible regions, credible levels and candidates of a sky map become SQL over its tiles
(as SkyPortal does with healpix-alchemy), so no process keeps or re-reads a map. Each
tile is a range of order-29 indices of one density; ``cumprob`` is the probability of
all the map's tiles at least as dense (a window sum over the density, ties included).

``skymaps.skymap`` (the bytes as received) becomes nullable: it is kept for provenance
only, and may be pruned. Maps stored before this revision get their tiles here, read
from those bytes.

Tiles follow their map's visibility exactly as watchmap_tiles follow their watchmap:
a user reads the tiles of the maps row-level security lets them see (public ones and
their own) and writes only those of their own maps. Tiles are written once, never
updated.
"""

from __future__ import annotations

import io
import math

import healpix_alchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from lasair_nb.domain.skymaps import read_skymap

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_BYTES_COMMENT = "The map as received (FITS, possibly gzipped)"
BYTES_COMMENT = (
    "The map as received (FITS, possibly gzipped, or an IGWN JSON notice), for provenance "
    "only; NULL once pruned. Questions are answered from skymap_tiles"
)
PIXEL_AREA_SR = math.ldexp(math.pi / 3, -2 * 29)
"""Area of one order-29 cell [sr]."""


def _table() -> None:
    op.create_table(
        "skymap_tiles",
        sa.Column(
            "skymap_id",
            sa.BigInteger(),
            sa.ForeignKey("skymaps.id", ondelete="CASCADE"),
            nullable=False,
            comment="Sky map id",
        ),
        sa.Column(
            "tile",
            healpix_alchemy.Tile(),
            nullable=False,
            comment="HEALPix range (order 29) of one probability density; the map's tiles do "
            "not overlap",
        ),
        sa.Column(
            "probdensity",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="Probability density [1/sr]",
        ),
        sa.Column(
            "cumprob",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="Probability of all the map's tiles at least as dense as this one, this "
            "one included: the credible level of a position in it",
        ),
        sa.Column(
            "distmu",
            postgresql.DOUBLE_PRECISION(),
            comment="Distance ansatz location [Mpc] (Singer+16)",
        ),
        sa.Column(
            "distsigma", postgresql.DOUBLE_PRECISION(), comment="Distance ansatz scale [Mpc]"
        ),
        sa.Column(
            "distnorm",
            postgresql.DOUBLE_PRECISION(),
            comment="Distance ansatz normalisation [Mpc-2]",
        ),
        comment="Gravitational-wave sky maps as multi-order HEALPix tiles with probability "
        "density, so that credible regions, levels and candidates are SQL",
    )
    op.create_index("ix_skymap_tiles_skymap_cumprob", "skymap_tiles", ["skymap_id", "cumprob"])
    # SP-GiST on the ranges: which tile holds a point (``tile @> hpx``), as healpix-alchemy
    # indexes its Tile columns.
    op.create_index("ix_skymap_tiles_tile", "skymap_tiles", ["tile"], postgresql_using="spgist")


def _security() -> None:
    op.execute("ALTER TABLE skymap_tiles ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY visible ON skymap_tiles FOR SELECT"
        " USING (EXISTS (SELECT FROM skymaps p WHERE p.id = skymap_id))"
    )
    mine = "EXISTS (SELECT FROM skymaps p WHERE p.id = skymap_id AND p.owner = current_user)"
    op.execute(f"CREATE POLICY own ON skymap_tiles FOR ALL USING ({mine}) WITH CHECK ({mine})")
    op.execute("GRANT SELECT ON skymap_tiles TO lasair_reader, lasair_user")
    op.execute("GRANT INSERT, DELETE ON skymap_tiles TO lasair_user")


def _tiles_of_stored_maps() -> None:
    """Tile the maps stored before this revision, from the bytes they were received as."""
    connection = op.get_bind()
    stored = connection.execute(sa.text("SELECT id, skymap FROM skymaps ORDER BY id")).all()
    for skymap_id, data in stored:
        tiles = read_skymap(bytes(data)).tiles()
        distances = tiles.distmu is not None
        columns = [tiles.probdensity]
        if distances:
            columns += [tiles.distmu, tiles.distsigma, tiles.distnorm]
        buffer = io.StringIO()
        for lo, hi, *values in zip(
            tiles.lo.tolist(), tiles.hi.tolist(), *(c.tolist() for c in columns), strict=True
        ):
            buffer.write(f'"[{lo},{hi})",{",".join(map(repr, values))}\n')
        buffer.seek(0)
        names = "tile, probdensity" + (", distmu, distsigma, distnorm" if distances else "")
        connection.exec_driver_sql(
            "CREATE TEMP TABLE staging_skymap_tiles (tile int8range, probdensity float8,"
            " distmu float8, distsigma float8, distnorm float8) ON COMMIT DROP"
        )
        connection.connection.cursor().copy_expert(
            f"COPY staging_skymap_tiles ({names}) FROM STDIN WITH (FORMAT csv)", buffer
        )
        connection.exec_driver_sql(
            "INSERT INTO skymap_tiles"
            " (skymap_id, tile, probdensity, cumprob, distmu, distsigma, distnorm)"
            f" SELECT {int(skymap_id)}, tile, probdensity,"
            "  sum(probdensity * (upper(tile) - lower(tile)) * %(area)s)"
            "   OVER (ORDER BY probdensity DESC),"
            "  distmu, distsigma, distnorm"
            " FROM staging_skymap_tiles",
            {"area": PIXEL_AREA_SR},
        )
        connection.exec_driver_sql("DROP TABLE staging_skymap_tiles")


def upgrade() -> None:
    op.alter_column(
        "skymaps",
        "skymap",
        existing_type=postgresql.BYTEA(),
        nullable=True,
        comment=BYTES_COMMENT,
        existing_comment=OLD_BYTES_COMMENT,
    )
    _table()
    _security()
    _tiles_of_stored_maps()


def downgrade() -> None:
    op.drop_table("skymap_tiles")
    # Fails if a map's bytes were pruned: without them it cannot live in revision 0003.
    op.alter_column(
        "skymaps",
        "skymap",
        existing_type=postgresql.BYTEA(),
        nullable=False,
        comment=OLD_BYTES_COMMENT,
        existing_comment=BYTES_COMMENT,
    )
