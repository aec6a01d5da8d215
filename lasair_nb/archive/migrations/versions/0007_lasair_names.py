"""Lasair-ZTF's names and meanings: objects columns, watchlist/area hits, TNS crossmatch, comments

Revision ID: 0007
Revises: 0006

* ``objects`` columns take Lasair-ZTF's names for the same ideas (``ra`` → ``ramean``,
  ``latest_mag_g`` → ``gmag``, ``min_mag_g`` → ``maggmin``…) and gain Lasair's other
  columns (``rastd``, ``glatmean``, ``ncandgp``, ``g_minus_r``, ``jdgmax``, ``dmdt_g_2``,
  the moving averages ``mag_g02``…). Definitions: :mod:`ingest.objects`.
  ``dmdt_b`` now has Lasair's meaning (the last two detections, both positive); the
  stored rates of the earlier meaning are cleared, and the new columns are NULL, until
  ``lasair-nb ingest resummarise`` recomputes every object (new alerts recompute theirs).
* ``annotations`` gains Lasair's annotator fields (``topic``, ``classification``,
  ``version``, ``explanation``, ``classdict``, ``url``), so ``annotator:TOPIC`` queries
  and ``annotations.classification`` filters work; users write them like the rest.
* ``tns_matches``: archive objects within 1.5″ of a TNS object, kept by the TNS loader
  and by ingest.
* Views for Lasair's query builder, each ``security_invoker`` so row-level security of
  the tables beneath applies to whoever queries: ``watchlist_hits`` (wl_id, cone_id,
  objectid, name, arcsec: objects inside each watchlist source's radius, always
  current), ``area_hits`` (ar_id, objectid: objects inside each watchmap),
  ``crossmatch_tns`` (TNS name, type, redshift… of matched objects) and ``comments``
  (the comments of public annotations).
* ``lasair_separation_arcsec(ra1, dec1, ra2, dec2)``: angular separation (haversine).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION, JSONB, REAL

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BANDS = ("g", "r", "i")
READERS = "lasair_reader, lasair_user"


def _renames() -> list[tuple[str, str]]:
    pairs = [("ra", "ramean"), ("dec", "decmean")]
    for band in BANDS:
        pairs += [
            (f"latest_mag_{band}", f"{band}mag"),
            (f"min_mag_{band}", f"mag{band}min"),
            (f"max_mag_{band}", f"mag{band}max"),
            (f"mean_mag_{band}", f"mag{band}mean"),
        ]
    return pairs


COMMENTS = {
    "ramean": "Mean right ascension of the detections (ICRS, vector mean) [deg]",
    "decmean": "Mean declination of the detections (ICRS, vector mean) [deg]",
    "hpx": "HEALPix index (nested, order 29) of ramean, decmean",
    **{
        f"{band}mag": f"magpsf (difference magnitude) of the latest {band} detection [mag]"
        for band in BANDS
    },
    **{
        f"dmdt_{band}": (
            f"Brightening rate between the last two {band} detections, if both are positive "
            "differences [mag/day, positive = brightening, as in Lasair-ZTF]"
        )
        for band in BANDS
    },
}
OLD_COMMENTS = {
    "ra": "Mean right ascension (ICRS) [deg]",
    "dec": "Mean declination (ICRS) [deg]",
    "hpx": "HEALPix index (nested, order 29) of ra, dec",
    **{f"latest_mag_{band}": f"magpsf of the latest {band} detection [mag]" for band in BANDS},
    **{
        f"dmdt_{band}": (
            f"Brightening rate in {band} since the previous night's detection "
            "[mag/day, positive = brightening, as in Lasair-ZTF]"
        )
        for band in BANDS
    },
}


def _new_columns() -> list[sa.Column]:
    def double(name: str, comment: str) -> sa.Column:
        return sa.Column(name, DOUBLE_PRECISION(), comment=comment)

    columns = [
        double("rastd", "Standard deviation of the detections' RA [arcsec of RA, not on the sky]"),
        double("decstd", "Standard deviation of the detections' Dec [arcsec]"),
        double("glonmean", "Galactic longitude of the mean position [deg]"),
        double("glatmean", "Galactic latitude of the mean position [deg]"),
        sa.Column(
            "ncandgp",
            sa.Integer(),
            comment="Good (rb or drb > 0.75) positive-difference detections",
        ),
        sa.Column(
            "ncandgp_7",
            sa.Integer(),
            comment="Good positive detections less than 7 days before jdmax",
        ),
        sa.Column(
            "ncandgp_14",
            sa.Integer(),
            comment="Good positive detections less than 14 days before jdmax",
        ),
        double(
            "g_minus_r",
            "g - r of the difference magnitudes on the latest night with positive "
            "detections in both bands [mag]",
        ),
        double("jd_g_minus_r", "Julian date of that g detection"),
        sa.Column("sgmag1", REAL(), comment="g magnitude of the nearest PS1 source [mag]"),
        sa.Column("srmag1", REAL(), comment="r magnitude of the nearest PS1 source [mag]"),
    ]
    for band in BANDS:
        columns += [
            double(f"jd{band}max", f"Julian date of the latest {band} detection"),
            double(
                f"dmdt_{band}_2",
                f"Brightening rate between the two {band} detections before the latest, if "
                "both are positive differences [mag/day, positive = brightening]",
            ),
            *[
                double(
                    f"mag_{band}{days:02d}",
                    f"Exponential moving average of {band} magpsf, time constant {days} days [mag]",
                )
                for days in (2, 8, 28)
            ],
        ]
    return columns


ANNOTATOR_COLUMNS = (
    ("topic", sa.Text(), "Lasair annotator topic (annotator:TOPIC in queries), if any"),
    ("classification", sa.Text(), "Lasair annotator classification, if any"),
    ("version", sa.Text(), "Lasair annotator version, if any"),
    ("explanation", sa.Text(), "Lasair annotator explanation, if any"),
    ("classdict", JSONB(), "Lasair annotator class dictionary (JSON), if any"),
    ("url", sa.Text(), "Lasair annotator link, if any"),
)
ANNOTATOR_CHECKS = {
    "annotator_length": (
        "char_length(topic) <= 100 AND char_length(classification) <= 100"
        " AND char_length(version) <= 16 AND char_length(explanation) <= 10000"
        " AND char_length(url) <= 2000 AND octet_length(classdict::text) <= 100000"
    ),
}
USER_ANNOTATION_COLUMNS = "topic, classification, version, explanation, classdict, url"

SEPARATION_FUNCTION = """
CREATE FUNCTION lasair_separation_arcsec(
    ra1 double precision, dec1 double precision, ra2 double precision, dec2 double precision
) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 7200.0 * degrees(asin(least(1.0, sqrt(
        sin(radians(dec2 - dec1) / 2) ^ 2
        + cos(radians(dec1)) * cos(radians(dec2)) * sin(radians(ra2 - ra1) / 2) ^ 2))))
$$
"""

VIEWS = {
    "watchlist_hits": (
        "SELECT t.watchlist_id AS wl_id, t.number AS cone_id, o.objectid, s.name,"
        " lasair_separation_arcsec(s.ra, s.dec, o.ramean, o.decmean) AS arcsec"
        " FROM watchlist_tiles t"
        " JOIN objects o ON o.hpx >= lower(t.tile) AND o.hpx < upper(t.tile)"
        " JOIN watchlist_sources s ON s.watchlist_id = t.watchlist_id AND s.number = t.number"
        " WHERE lasair_separation_arcsec(s.ra, s.dec, o.ramean, o.decmean) <= s.radius_arcsec",
        "Objects within the radius of each watchlist source (Lasair's watchlist:N)",
        {
            "wl_id": "Watchlist id",
            "cone_id": "Source row number in the watchlist",
            "objectid": "ZTF object identifier",
            "name": "Source name",
            "arcsec": "Separation of the object from the source [arcsec]",
        },
    ),
    "area_hits": (
        "SELECT t.watchmap_id AS ar_id, o.objectid FROM watchmap_tiles t"
        " JOIN objects o ON o.hpx >= lower(t.tile) AND o.hpx < upper(t.tile)",
        "Objects inside each watchmap (Lasair's area:N)",
        {"ar_id": "Watchmap id", "objectid": "ZTF object identifier"},
    ),
    "crossmatch_tns": (
        "SELECT m.objectid, t.name AS tns_name, t.prefix AS tns_prefix, t.ra, t.dec AS decl,"
        " t.type, t.redshift AS z, t.discoverydate AS disc_date, t.discoverymag AS disc_mag,"
        " t.internal_names AS disc_int_name, t.reporting_group AS sender, t.lastmodified,"
        " m.separation_arcsec AS separation"
        " FROM tns_matches m JOIN tns_objects t ON t.name = m.tns_name",
        "TNS objects within 1.5 arcsec of archive objects (Lasair's crossmatch_tns)",
        {
            "objectid": "ZTF object identifier",
            "tns_name": "TNS name without prefix, e.g. 2021abc",
            "tns_prefix": "AT, SN, ...",
            "ra": "TNS right ascension [deg]",
            "decl": "TNS declination [deg]",
            "type": "Spectroscopic classification, e.g. SN Ia",
            "z": "Redshift",
            "disc_date": "Discovery date (UT)",
            "disc_mag": "Discovery magnitude",
            "disc_int_name": "Survey names, e.g. ZTF21abiuvdk",
            "sender": "Group that reported it",
            "lastmodified": "Last change at TNS",
            "separation": "Separation of the object from the TNS position [arcsec]",
        },
    ),
    "comments": (
        'SELECT id AS comment_id, objectid, author AS "user", comment AS content,'
        " updated_at AS time FROM annotations WHERE public AND comment <> ''",
        "Comments of public annotations (Lasair's comments)",
        {
            "comment_id": "Annotation id",
            "objectid": "ZTF object identifier",
            "user": "Who wrote it",
            "content": "The comment",
            "time": "Last change",
        },
    ),
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    for old, new in _renames():
        op.alter_column("objects", old, new_column_name=new)
    for name, comment in COMMENTS.items():
        op.alter_column("objects", name, comment=comment)
    for column in _new_columns():
        op.add_column("objects", column)
    op.execute("UPDATE objects SET " + ", ".join(f"dmdt_{band} = NULL" for band in BANDS))

    for name, type_, comment in ANNOTATOR_COLUMNS:
        op.add_column("annotations", sa.Column(name, type_, comment=comment))
    for name, check in ANNOTATOR_CHECKS.items():
        op.create_check_constraint(name, "annotations", check)
    op.execute(f"GRANT INSERT ({USER_ANNOTATION_COLUMNS}) ON annotations TO lasair_user")
    op.execute(f"GRANT UPDATE ({USER_ANNOTATION_COLUMNS}) ON annotations TO lasair_user")

    op.create_table(
        "tns_matches",
        sa.Column("objectid", sa.Text(), primary_key=True, comment="ZTF object identifier"),
        sa.Column("tns_name", sa.Text(), primary_key=True, comment="TNS name without prefix"),
        sa.Column(
            "separation_arcsec",
            DOUBLE_PRECISION(),
            nullable=False,
            comment="Separation of the object from the TNS position [arcsec]",
        ),
        comment="Archive objects within 1.5 arcsec of a TNS object, kept by loader and ingest",
    )
    op.create_index("ix_tns_matches_tns_name", "tns_matches", ["tns_name"])
    op.execute(f"GRANT SELECT ON tns_matches TO {READERS}")

    op.execute(SEPARATION_FUNCTION)
    op.execute(
        "GRANT EXECUTE ON FUNCTION lasair_separation_arcsec(double precision, double precision,"
        f" double precision, double precision) TO {READERS}"
    )
    for name, (query, comment, columns) in VIEWS.items():
        op.execute(f"CREATE VIEW {name} WITH (security_invoker = true) AS {query}")
        op.execute(f"COMMENT ON VIEW {name} IS {_literal(comment)}")
        for column, text in columns.items():
            op.execute(f'COMMENT ON COLUMN {name}."{column}" IS {_literal(text)}')
        op.execute(f"GRANT SELECT ON {name} TO {READERS}")


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
    op.execute(
        "DROP FUNCTION lasair_separation_arcsec(double precision, double precision,"
        " double precision, double precision)"
    )
    op.drop_table("tns_matches")
    for name in ANNOTATOR_CHECKS:
        op.drop_constraint(name, "annotations")
    for name, _, _ in ANNOTATOR_COLUMNS:
        op.drop_column("annotations", name)
    for column in _new_columns():
        op.drop_column("objects", column.name)
    op.execute("UPDATE objects SET " + ", ".join(f"dmdt_{band} = NULL" for band in BANDS))
    for old, new in _renames():
        op.alter_column("objects", new, new_column_name=old)
    for name, comment in OLD_COMMENTS.items():
        op.alter_column("objects", name, comment=comment)
