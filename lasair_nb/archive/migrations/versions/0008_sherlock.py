"""context catalogues and Sherlock-like classifications

Revision ID: 0008
Revises: 0007

* ``catalogs`` and ``catalog_sources``: context catalogues the operator loads
  (``lasair-nb catalogs load``), every source with its HEALPix index.
* ``sherlock_classifications`` (one row per object, Lasair-ZTF's column names) and
  ``sherlock_crossmatches`` (every ranked match), written by the ingester.

All four are archive tables: the ingester (the archive's owner) writes them, users and
``lasair_reader`` read them (SELECT only, like ``objects``).
"""

from __future__ import annotations

import healpix_alchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("catalogs", "catalog_sources", "sherlock_classifications", "sherlock_crossmatches")
KINDS = ("galaxy", "agn", "qso", "star", "cv")
CLASSES = ("SN", "NT", "AGN", "VS", "CV", "BS", "ORPHAN", "UNCLEAR")


def _kind_check() -> sa.CheckConstraint:
    listed = ", ".join(f"'{kind}'" for kind in KINDS)
    return sa.CheckConstraint(f"kind IN ({listed})", name="catalog_kind")


def _double(name: str, comment: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, postgresql.DOUBLE_PRECISION(), nullable=nullable, comment=comment)


def _match_columns() -> list[sa.Column]:
    return [
        sa.Column(
            "association_type",
            sa.Text(),
            comment="What the match makes the transient: SN, NT, AGN, VS, CV or BS",
        ),
        sa.Column(
            "catalogue_table_name",
            sa.Text(),
            comment="Catalogue of the match (catalogs.name, PS1)",
        ),
        sa.Column("catalogue_object_id", sa.Text(), comment="Id of the matched source"),
        sa.Column(
            "catalogue_object_type",
            sa.Text(),
            comment="Type of the matched source: galaxy, star...",
        ),
        _double("separationarcsec", "Separation of the transient from the source [arcsec]"),
        _double("northseparationarcsec", "Offset of the transient north of the source [arcsec]"),
        _double("eastseparationarcsec", "Offset of the transient east of the source [arcsec]"),
        _double("physical_separation_kpc", "Projected separation at the source's distance [kpc]"),
        _double(
            "direct_distance", "Catalogued (redshift-independent) distance of the source [Mpc]"
        ),
        _double(
            "distance",
            "Distance used: direct_distance, else the luminosity distance of z (Planck18) [Mpc]",
        ),
        _double("z", "Redshift of the source"),
        _double("photoz", "Photometric redshift (none catalogued)"),
        _double(
            "major_axis_arcsec", "Semi-major axis of the galaxy used for the association [arcsec]"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "catalogs",
        sa.Column("name", sa.Text(), primary_key=True, comment="Catalogue name, e.g. CLU, 4LAC"),
        sa.Column(
            "kind",
            sa.Text(),
            nullable=False,
            comment="What it lists: galaxy, agn, qso, star or cv",
        ),
        sa.Column("file", sa.Text(), nullable=False, comment="File it was loaded from"),
        sa.Column("rows", sa.Integer(), nullable=False, comment="Sources loaded"),
        sa.Column(
            "loaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When it was (last) loaded",
        ),
        sa.Column(
            "column_map",
            postgresql.JSONB(),
            server_default="{}",
            nullable=False,
            comment="Which file column gave each field: id, ra, dec, z, distance, radius, mag",
        ),
        _kind_check(),
        comment="Context catalogues loaded by the operator, for Sherlock-like classification",
    )
    op.create_table(
        "catalog_sources",
        sa.Column(
            "catalogue",
            sa.Text(),
            sa.ForeignKey("catalogs.name", ondelete="CASCADE"),
            primary_key=True,
            comment="Catalogue name (catalogs.name)",
        ),
        sa.Column(
            "number", sa.Integer(), primary_key=True, comment="Row number in the loaded file"
        ),
        sa.Column(
            "source_id", sa.Text(), nullable=False, comment="Source id or name in the catalogue"
        ),
        sa.Column(
            "kind",
            sa.Text(),
            nullable=False,
            comment="What the source is: galaxy, agn, qso, star, cv",
        ),
        _double("ra", "Right ascension (ICRS) [deg]", nullable=False),
        _double("dec", "Declination (ICRS) [deg]", nullable=False),
        sa.Column(
            "hpx",
            healpix_alchemy.Point(),
            nullable=False,
            comment="HEALPix index (nested, order 29) of ra, dec",
        ),
        _double("redshift", "Redshift (spectroscopic or as catalogued)"),
        _double(
            "distance_mpc",
            "Distance as catalogued, e.g. CLU distmpc (redshift-independent if known) [Mpc]",
        ),
        _double("radius_arcsec", "Semi-major axis of the galaxy (its extent on the sky) [arcsec]"),
        _double("mag", "Magnitude as catalogued (band of the catalogue)"),
        _kind_check(),
        comment="The sources of the context catalogues, indexed by HEALPix for crossmatches",
    )
    op.create_index("ix_catalog_sources_hpx", "catalog_sources", ["hpx"])
    classes = ", ".join(f"'{name}'" for name in CLASSES)
    op.create_table(
        "sherlock_classifications",
        sa.Column("objectid", sa.Text(), primary_key=True, comment="ZTF object identifier"),
        sa.Column(
            "classification",
            sa.Text(),
            nullable=False,
            comment="Context class, as Sherlock: SN, NT, AGN, VS, CV, BS, ORPHAN or UNCLEAR",
        ),
        *_match_columns(),
        sa.Column(
            "description", sa.Text(), nullable=False, comment="The classification in one sentence"
        ),
        sa.Column(
            "annotator",
            sa.Text(),
            nullable=False,
            comment="What classified it, with its rule version",
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="When it was last classified",
        ),
        sa.CheckConstraint(f"classification IN ({classes})", name="sherlock_class"),
        comment="Sherlock-like context class of every object, with its best catalogue match",
    )
    op.create_index(
        "ix_sherlock_classifications_classification",
        "sherlock_classifications",
        ["classification"],
    )
    op.create_table(
        "sherlock_crossmatches",
        sa.Column("objectid", sa.Text(), primary_key=True, comment="ZTF object identifier"),
        sa.Column("rank", sa.Integer(), primary_key=True, comment="Rank of the match (1 = best)"),
        sa.Column(
            "classificationreliability",
            sa.Integer(),
            nullable=False,
            comment="1: synonym (the transient is the source), 2: association (near it)",
        ),
        *_match_columns(),
        _double("radeg", "Right ascension of the source [deg]"),
        _double("decdeg", "Declination of the source [deg]"),
        comment="Every ranked catalogue match of every object (Sherlock's crossmatches)",
    )
    # Archive tables: the ingester writes, everyone reads (as objects, migration 0003).
    op.execute(f"GRANT SELECT ON {', '.join(TABLES)} TO lasair_reader, lasair_user")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
