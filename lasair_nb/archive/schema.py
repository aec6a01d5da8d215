"""The archive schema, defined once. Every column has a comment: the query builder shows it.

Column names are lower case so users can type ``objectId`` or ``objectid``
unquoted in SQL; otherwise they keep ZTF's field names. Migrations in
``lasair_nb/migrations`` create exactly these tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from healpix_alchemy import Point, Tile
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, DOUBLE_PRECISION, JSONB, REAL

from lasair_nb.domain.features import FEATURES
from lasair_nb.domain.photometry import BANDS
from lasair_nb.domain.ztf import CANDIDATE_FIELDS, FP_HIST_FIELDS, Field

metadata = sa.MetaData()

AVRO_TYPES: dict[str, sa.types.TypeEngine] = {
    "double": DOUBLE_PRECISION(),
    "float": REAL(),
    "int": sa.Integer(),
    "long": sa.BigInteger(),
    "string": sa.Text(),
}
"""Avro type of a ZTF field → PostgreSQL column type (REAL keeps ZTF's 32-bit floats exact)."""


def _ztf_columns(fields: tuple[Field, ...], skip: tuple[str, ...] = ()) -> list[sa.Column]:
    # All nullable: older schema versions lack some fields, history entries many.
    return [
        sa.Column(field.name, AVRO_TYPES[field.avro_type], comment=field.doc)
        for field in fields
        if field.name not in skip
    ]


def _objectid(**kwargs) -> sa.Column:
    return sa.Column("objectid", sa.Text, nullable=False, comment="ZTF object identifier", **kwargs)


candidates = sa.Table(
    "candidates",
    metadata,
    sa.Column("candid", sa.BigInteger, primary_key=True, comment="Candidate ID from operations DB"),
    _objectid(),
    *_ztf_columns(CANDIDATE_FIELDS, skip=("candid",)),
    sa.Column("schemavsn", sa.Text, nullable=False, comment="ZTF alert schema version"),
    sa.Column("hpx", Point, nullable=False, comment="HEALPix index (nested, order 29) of ra, dec"),
    sa.Column(
        "in_alert",
        sa.Boolean,
        nullable=False,
        comment=(
            "True if this detection's own alert was ingested; false if it is known "
            "only from the prv_candidates history of a later alert (fewer fields)"
        ),
    ),
    sa.Column(
        "dc_mag",
        DOUBLE_PRECISION,
        comment=(
            "Apparent (DC) magnitude: reference flux +/- difference flux [mag]; the "
            "object's own only where distnr <= 1.5 (else it includes a neighbour)"
        ),
    ),
    sa.Column("dc_sigmag", DOUBLE_PRECISION, comment="1-sigma uncertainty of dc_mag [mag]"),
    sa.Column(
        "ingested_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        comment="When this row was first written",
    ),
    sa.Index("ix_candidates_objectid_jd", "objectid", "jd"),
    sa.Index("ix_candidates_hpx", "hpx"),
    sa.Index("ix_candidates_jd", "jd"),
    comment="Every ZTF detection: alert candidates and the detections of their histories",
)

noncandidates = sa.Table(
    "noncandidates",
    metadata,
    _objectid(primary_key=True),
    sa.Column("jd", DOUBLE_PRECISION, primary_key=True, comment="Julian date of the observation"),
    sa.Column("fid", sa.Integer, primary_key=True, comment="Filter ID (1=g; 2=R; 3=i)"),
    sa.Column("pid", sa.BigInteger, comment="Processing ID for the science image"),
    sa.Column(
        "diffmaglim", REAL, comment="5-sigma limiting magnitude of the difference image [mag]"
    ),
    sa.Column("pdiffimfilename", sa.Text, comment="Filename of the difference image"),
    sa.Column("programpi", sa.Text, comment="Principal investigator of the program"),
    sa.Column("programid", sa.Integer, comment="Program ID: public (1), collaboration, Caltech"),
    sa.Column("nid", sa.Integer, comment="Night ID"),
    sa.Column("rcid", sa.Integer, comment="Readout channel ID [00 .. 63]"),
    sa.Column("field", sa.Integer, comment="ZTF field ID"),
    sa.Column("magzpsci", REAL, comment="Magnitude zero point of the science image [mag]"),
    sa.Column("magzpsciunc", REAL, comment="Uncertainty of magzpsci [mag]"),
    sa.Column("magzpscirms", REAL, comment="RMS of the zero-point calibration [mag]"),
    sa.Column("clrcoeff", REAL, comment="Color coefficient of the photometric calibration"),
    sa.Column("clrcounc", REAL, comment="Uncertainty of clrcoeff"),
    sa.Column("rbversion", sa.Text, comment="Version of the real-bogus model"),
    comment="Non-detections (upper limits) from the prv_candidates of alerts",
)

forced_photometry = sa.Table(
    "forced_photometry",
    metadata,
    _objectid(),
    *_ztf_columns(FP_HIST_FIELDS),
    sa.Index(
        "uq_forced_photometry_epoch",
        "objectid",
        "jd",
        "fid",
        "field",
        "rcid",
        unique=True,
        postgresql_nulls_not_distinct=True,
    ),
    comment="Forced PSF photometry at the object's position (fp_hists of 4.x alerts)",
)

cutouts = sa.Table(
    "cutouts",
    metadata,
    sa.Column("candid", sa.BigInteger, primary_key=True, comment="Candidate ID of the alert"),
    _objectid(index=True),
    sa.Column("science", BYTEA, comment="Science image stamp, as received"),
    sa.Column("template", BYTEA, comment="Reference (template) image stamp, as received"),
    sa.Column("difference", BYTEA, comment="Difference image stamp, as received"),
    sa.Column(
        "stamp_format",
        sa.Text,
        nullable=False,
        comment="Encoding of the stamps: fits.gz (ZTF >= 1.8), jpeg (schema 1.5), fits",
    ),
    comment="The three 63x63 image stamps of each alert",
    # The migration sets the stamp columns to STORAGE EXTERNAL: gzip data do not recompress.
)


def _band_columns(band: str) -> list[sa.Column]:
    """Per-band columns of ``objects``; definitions in :mod:`ingest.objects`."""

    def mag(name: str, comment: str) -> sa.Column:
        return sa.Column(name, DOUBLE_PRECISION, comment=comment)

    columns = [
        sa.Column(
            f"ncand_{band}", sa.Integer, nullable=False, comment=f"Detections in {band} band"
        ),
        mag(f"jd{band}max", f"Julian date of the latest {band} detection"),
        mag(f"{band}mag", f"magpsf (difference magnitude) of the latest {band} detection [mag]"),
        mag(
            f"latest_dcmag_{band}",
            f"DC (apparent) magnitude of the latest {band} detection, where the "
            "reference source is the object (distnr <= 1.5) [mag]",
        ),
        mag(f"mag{band}min", f"Brightest {band} magpsf [mag]"),
        mag(f"mag{band}max", f"Faintest {band} magpsf [mag]"),
        mag(f"mag{band}mean", f"Mean {band} magpsf [mag]"),
        mag(
            f"dmdt_{band}",
            f"Brightening rate between the last two {band} detections, if both are positive "
            "differences [mag/day, positive = brightening, as in Lasair-ZTF]",
        ),
        mag(
            f"dmdt_{band}_2",
            f"Brightening rate between the two {band} detections before the latest, if both "
            "are positive differences [mag/day, positive = brightening]",
        ),
        *[
            mag(
                f"mag_{band}{days:02d}",
                f"Exponential moving average of {band} magpsf, time constant {days} days [mag]",
            )
            for days in (2, 8, 28)
        ],
    ]
    columns += [
        sa.Column(f"{name}_{band}", DOUBLE_PRECISION, comment=f"{description} ({band} band)")
        for name, description in FEATURES.items()
    ]
    return columns


objects = sa.Table(
    "objects",
    metadata,
    sa.Column("objectid", sa.Text, primary_key=True, comment="ZTF object identifier"),
    sa.Column(
        "ramean",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Mean right ascension of the detections (ICRS, vector mean) [deg]",
    ),
    sa.Column(
        "decmean",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Mean declination of the detections (ICRS, vector mean) [deg]",
    ),
    sa.Column(
        "rastd",
        DOUBLE_PRECISION,
        comment="Standard deviation of the detections' RA [arcsec of RA, not on the sky]",
    ),
    sa.Column(
        "decstd", DOUBLE_PRECISION, comment="Standard deviation of the detections' Dec [arcsec]"
    ),
    sa.Column(
        "glonmean", DOUBLE_PRECISION, comment="Galactic longitude of the mean position [deg]"
    ),
    sa.Column("glatmean", DOUBLE_PRECISION, comment="Galactic latitude of the mean position [deg]"),
    sa.Column(
        "hpx", Point, nullable=False, comment="HEALPix index (nested, order 29) of ramean, decmean"
    ),
    sa.Column("ncand", sa.Integer, nullable=False, comment="Number of detections"),
    sa.Column(
        "ncandgp",
        sa.Integer,
        comment="Good (rb or drb > 0.75) positive-difference detections",
    ),
    sa.Column(
        "ncandgp_7",
        sa.Integer,
        comment="Good positive detections less than 7 days before jdmax",
    ),
    sa.Column(
        "ncandgp_14",
        sa.Integer,
        comment="Good positive detections less than 14 days before jdmax",
    ),
    sa.Column("nalerts", sa.Integer, nullable=False, comment="Number of alerts received"),
    sa.Column("jdmin", DOUBLE_PRECISION, nullable=False, comment="Julian date of first detection"),
    sa.Column("jdmax", DOUBLE_PRECISION, nullable=False, comment="Julian date of latest detection"),
    sa.Column(
        "g_minus_r",
        DOUBLE_PRECISION,
        comment="g - r of the difference magnitudes on the latest night with positive "
        "detections in both bands [mag]",
    ),
    sa.Column("jd_g_minus_r", DOUBLE_PRECISION, comment="Julian date of that g detection"),
    sa.Column("latest_candid", sa.BigInteger, nullable=False, comment="candid of latest alert"),
    sa.Column(
        "context",
        sa.Text,
        nullable=False,
        comment="Context class from PS1/Gaia fields: star-like, nuclear, near galaxy, orphan",
    ),
    sa.Column("sgscore1", REAL, comment="Star/galaxy score of the nearest PS1 source (1 = star)"),
    sa.Column("distpsnr1", REAL, comment="Distance to the nearest PS1 source [arcsec]"),
    sa.Column("neargaia", REAL, comment="Distance to the nearest Gaia source [arcsec]"),
    sa.Column("maggaia", REAL, comment="Gaia G magnitude of the nearest Gaia source [mag]"),
    sa.Column("ssnamenr", sa.Text, comment="Name of the nearest known solar-system object"),
    sa.Column("sgmag1", REAL, comment="g magnitude of the nearest PS1 source [mag]"),
    sa.Column("srmag1", REAL, comment="r magnitude of the nearest PS1 source [mag]"),
    *[column for band in BANDS.values() for column in _band_columns(band)],
    sa.Index("ix_objects_hpx", "hpx"),
    sa.Index("ix_objects_jdmax", "jdmax"),
    comment="One row per object: position, light-curve summary, features and context",
)

RENAMED_OBJECT_COLUMNS: dict[str, str] = {
    "ra": "ramean",
    "dec": "decmean",
    **{
        f"{old}_{band}": new.format(b=band)
        for band in BANDS.values()
        for old, new in (
            ("latest_mag", "{b}mag"),
            ("min_mag", "mag{b}min"),
            ("max_mag", "mag{b}max"),
            ("mean_mag", "mag{b}mean"),
        )
    },
}
"""``objects`` columns renamed to Lasair-ZTF's names (migration 0007): old → new."""

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True, comment="Row number"),
    sa.Column("source", sa.Text, nullable=False, comment="File, tarball member or topic/offset"),
    sa.Column("sha256", sa.Text, nullable=False, unique=True, comment="SHA-256 of the raw bytes"),
    sa.Column("raw", BYTEA, nullable=False, comment="The packet exactly as received"),
    sa.Column("reason", sa.Text, nullable=False, comment="Why it could not be ingested"),
    sa.Column(
        "received_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        comment="When it was quarantined",
    ),
    comment="Packets that failed to decode or validate, kept whole with the reason",
)

ingest_batches = sa.Table(
    "ingest_batches",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True, comment="Batch number"),
    sa.Column("source", sa.Text, nullable=False, comment="Where the batch came from"),
    sa.Column(
        "started_at", sa.DateTime(timezone=True), nullable=False, comment="Start of the batch"
    ),
    sa.Column(
        "finished_at", sa.DateTime(timezone=True), nullable=False, comment="Its database commit"
    ),
    sa.Column("n_packets", sa.Integer, nullable=False, comment="Packets in the batch"),
    sa.Column("n_new", sa.Integer, nullable=False, comment="Alerts new to the archive"),
    sa.Column("n_duplicate", sa.Integer, nullable=False, comment="Alerts already archived"),
    sa.Column("n_quarantined", sa.Integer, nullable=False, comment="Packets quarantined"),
    sa.Column("duration_s", DOUBLE_PRECISION, nullable=False, comment="Wall time [s]"),
    sa.Column("alerts_per_s", DOUBLE_PRECISION, nullable=False, comment="Packets per second"),
    sa.Column(
        "latency_p50_s",
        DOUBLE_PRECISION,
        comment="Median time from Kafka message timestamp to queryable (commit) [s]",
    ),
    sa.Column(
        "latency_max_s",
        DOUBLE_PRECISION,
        comment="Longest time from Kafka message timestamp to queryable (commit) [s]",
    ),
    sa.Index("ix_ingest_batches_finished_at", "finished_at"),
    comment="One row per ingest batch (one database transaction)",
)

coverage = sa.Table(
    "coverage",
    metadata,
    sa.Column(
        "night", sa.Date, primary_key=True, comment="Local date the Palomar night began (UTC-20h)"
    ),
    sa.Column("field", sa.Integer, primary_key=True, comment="ZTF field ID"),
    sa.Column("fid", sa.Integer, primary_key=True, comment="Filter ID (1=g; 2=R; 3=i)"),
    sa.Column("ncandidates", sa.Integer, nullable=False, comment="Detections archived"),
    sa.Column("nlimits", sa.Integer, nullable=False, comment="Upper limits archived"),
    sa.Column(
        "maglim_min",
        REAL,
        comment="Shallowest 5-sigma limiting magnitude of the alerts and upper limits [mag]",
    ),
    sa.Column(
        "maglim_max",
        REAL,
        comment="Deepest 5-sigma limiting magnitude of the alerts and upper limits [mag]",
    ),
    sa.Column("jd_first", DOUBLE_PRECISION, nullable=False, comment="First observation [JD]"),
    sa.Column("jd_last", DOUBLE_PRECISION, nullable=False, comment="Last observation [JD]"),
    comment="What each night observed, per ZTF field and band, kept current by ingest",
)


# --- users' own data (migration 0003) ------------------------------------------------
# Rows belong to database roles; row-level security policies (in the migration) let a
# user see public rows and their own, and change only their own.


def _owner() -> sa.Column:
    return sa.Column(
        "owner",
        sa.Text,
        nullable=False,
        server_default=sa.text("current_user"),
        comment="Database role (user) that owns the row",
    )


def _created() -> sa.Column:
    return sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        comment="When it was created",
    )


def _public(default: bool) -> sa.Column:
    return sa.Column(
        "public",
        sa.Boolean,
        nullable=False,
        server_default=sa.true() if default else sa.false(),
        comment="Visible to every user (else to its owner only)",
    )


def _followed() -> list[sa.Column]:
    """Owner, name, description, visibility and the real-time flag of a watched thing."""
    return [
        _owner(),
        sa.Column("name", sa.Text, nullable=False, comment="Name, unique per owner"),
        sa.Column(
            "description", sa.Text, nullable=False, server_default="", comment="What it is for"
        ),
        _public(False),
        sa.Column(
            "active",
            sa.Boolean,
            nullable=False,
            server_default=sa.false(),
            comment="Matched against every ingested batch (real-time filters)",
        ),
    ]


watchlists = sa.Table(
    "watchlists",
    metadata,
    sa.Column(
        "id", sa.BigInteger, sa.Identity(always=True), primary_key=True, comment="Watchlist id"
    ),
    *_followed(),
    sa.Column(
        "radius_arcsec",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Default match radius of its sources [arcsec]",
    ),
    _created(),
    sa.UniqueConstraint("owner", "name"),
    sa.CheckConstraint("radius_arcsec > 0 AND radius_arcsec <= 3600", name="radius_range"),
    sa.CheckConstraint("char_length(name) <= 100", name="name_length"),
    sa.CheckConstraint("char_length(description) <= 10000", name="description_length"),
    comment="Named lists of sky positions whose new transients a user wants to know of",
)

watchlist_sources = sa.Table(
    "watchlist_sources",
    metadata,
    sa.Column(
        "watchlist_id",
        sa.BigInteger,
        sa.ForeignKey("watchlists.id", ondelete="CASCADE"),
        primary_key=True,
        comment="Watchlist id",
    ),
    sa.Column("number", sa.Integer, primary_key=True, comment="Row number in the watchlist"),
    sa.Column("name", sa.Text, nullable=False, comment="Source name"),
    sa.Column("ra", DOUBLE_PRECISION, nullable=False, comment="Right ascension [deg]"),
    sa.Column("dec", DOUBLE_PRECISION, nullable=False, comment="Declination [deg]"),
    sa.Column(
        "radius_arcsec",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Match radius of this source [arcsec]",
    ),
    sa.CheckConstraint("char_length(name) <= 100", name="name_length"),
    comment="The sources of each watchlist",
)

watchlist_tiles = sa.Table(
    "watchlist_tiles",
    metadata,
    sa.Column(
        "watchlist_id",
        sa.BigInteger,
        sa.ForeignKey("watchlists.id", ondelete="CASCADE"),
        nullable=False,
        comment="Watchlist id",
    ),
    sa.Column("number", sa.Integer, nullable=False, comment="Source row number"),
    sa.Column(
        "tile",
        Tile,
        nullable=False,
        comment="HEALPix range (order 29) covering part of the source's cone",
    ),
    sa.Index("ix_watchlist_tiles_watchlist", "watchlist_id"),
    comment="HEALPix tiles covering each watchlist source's cone, for one-join crossmatches",
)

watchmaps = sa.Table(
    "watchmaps",
    metadata,
    sa.Column(
        "id", sa.BigInteger, sa.Identity(always=True), primary_key=True, comment="Watchmap id"
    ),
    *_followed(),
    sa.Column("moc", BYTEA, nullable=False, comment="The area as a MOC FITS file"),
    sa.Column("area_deg2", DOUBLE_PRECISION, nullable=False, comment="Area [deg2]"),
    _created(),
    sa.UniqueConstraint("owner", "name"),
    sa.CheckConstraint("char_length(name) <= 100", name="name_length"),
    sa.CheckConstraint("char_length(description) <= 10000", name="description_length"),
    comment="Named sky areas (MOCs) whose transients a user wants to know of",
)

watchmap_tiles = sa.Table(
    "watchmap_tiles",
    metadata,
    sa.Column(
        "watchmap_id",
        sa.BigInteger,
        sa.ForeignKey("watchmaps.id", ondelete="CASCADE"),
        nullable=False,
        comment="Watchmap id",
    ),
    sa.Column("tile", Tile, nullable=False, comment="HEALPix range (order 29) of the area"),
    sa.Index("ix_watchmap_tiles_watchmap", "watchmap_id"),
    comment="The HEALPix ranges of each watchmap",
)

SKYMAP_BYTES_COMMENT = (
    "The map as received (FITS, possibly gzipped, or an IGWN JSON notice), for provenance "
    "only; NULL once pruned. Questions are answered from skymap_tiles"
)

skymaps = sa.Table(
    "skymaps",
    metadata,
    sa.Column(
        "id", sa.BigInteger, sa.Identity(always=True), primary_key=True, comment="Sky map id"
    ),
    _owner(),
    sa.Column("name", sa.Text, nullable=False, comment="Name, e.g. the event id, unique per owner"),
    _public(True),
    sa.Column("event", sa.Text, comment="Event id from the map's header"),
    sa.Column(
        "meta",
        JSONB,
        nullable=False,
        server_default="{}",
        comment="Header facts: DATE-OBS, DISTMEAN, DISTSTD, INSTRUME, ...",
    ),
    sa.Column("skymap", BYTEA, comment=SKYMAP_BYTES_COMMENT),
    sa.Column("has_distance", sa.Boolean, nullable=False, comment="Map has DISTMU/DISTSIGMA"),
    sa.Column(
        "area90_deg2",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Area of the 90% credible region [deg2]",
    ),
    _created(),
    sa.UniqueConstraint("owner", "name"),
    sa.CheckConstraint("char_length(name) <= 100", name="name_length"),
    sa.CheckConstraint("char_length(event) <= 100", name="event_length"),
    comment="Gravitational-wave sky maps (LVK HEALPix)",
)

skymap_tiles = sa.Table(
    "skymap_tiles",
    metadata,
    sa.Column(
        "skymap_id",
        sa.BigInteger,
        sa.ForeignKey("skymaps.id", ondelete="CASCADE"),
        nullable=False,
        comment="Sky map id",
    ),
    sa.Column(
        "tile",
        Tile,
        nullable=False,
        comment="HEALPix range (order 29) of one probability density; the map's tiles do not "
        "overlap",
    ),
    sa.Column(
        "probdensity", DOUBLE_PRECISION, nullable=False, comment="Probability density [1/sr]"
    ),
    sa.Column(
        "cumprob",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Probability of all the map's tiles at least as dense as this one, this one "
        "included: the credible level of a position in it",
    ),
    sa.Column("distmu", DOUBLE_PRECISION, comment="Distance ansatz location [Mpc] (Singer+16)"),
    sa.Column("distsigma", DOUBLE_PRECISION, comment="Distance ansatz scale [Mpc]"),
    sa.Column("distnorm", DOUBLE_PRECISION, comment="Distance ansatz normalisation [Mpc-2]"),
    sa.Index("ix_skymap_tiles_skymap_cumprob", "skymap_id", "cumprob"),
    sa.Index("ix_skymap_tiles_tile", "tile", postgresql_using="spgist"),
    comment="Gravitational-wave sky maps as multi-order HEALPix tiles with probability density, "
    "so that credible regions, levels and candidates are SQL",
)

queries = sa.Table(
    "queries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True, comment="Query id"),
    _owner(),
    sa.Column("name", sa.Text, nullable=False, comment="Name, unique per owner"),
    sa.Column("sql", sa.Text, nullable=False, comment="The SELECT statement"),
    sa.Column("description", sa.Text, nullable=False, server_default="", comment="What it finds"),
    _public(False),
    sa.Column(
        "system",
        sa.Boolean,
        nullable=False,
        server_default=sa.false(),
        comment="Promoted by an administrator: shown to everyone as a system query",
    ),
    _created(),
    sa.UniqueConstraint("owner", "name"),
    sa.CheckConstraint("char_length(name) <= 100", name="name_length"),
    sa.CheckConstraint("char_length(description) <= 10000", name="description_length"),
    sa.CheckConstraint("char_length(sql) <= 20000", name="sql_length"),
    comment="Saved SQL queries: mine, public, system",
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("name", sa.Text, primary_key=True, comment="Tag, e.g. 'sn-ia', 'agn', 'bogus'"),
    sa.Column("description", sa.Text, nullable=False, server_default="", comment="What it means"),
    sa.Column(
        "created_by",
        sa.Text,
        nullable=False,
        server_default=sa.text("current_user"),
        comment="Who added it",
    ),
    _created(),
    sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9_.:-]*$'", name="tag_name"),
    sa.CheckConstraint("char_length(name) <= 100", name="name_length"),
    sa.CheckConstraint("char_length(description) <= 10000", name="description_length"),
    comment="The shared vocabulary of annotation tags",
)

annotations = sa.Table(
    "annotations",
    metadata,
    sa.Column(
        "id", sa.BigInteger, sa.Identity(always=True), primary_key=True, comment="Annotation id"
    ),
    sa.Column("objectid", sa.Text, nullable=False, comment="Annotated object"),
    sa.Column(
        "author",
        sa.Text,
        nullable=False,
        server_default=sa.text("current_user"),
        comment="Who wrote it (a user, or a bot such as 'tns')",
    ),
    sa.Column(
        "tags",
        ARRAY(sa.Text),
        nullable=False,
        server_default="{}",
        comment="Tags from the shared vocabulary",
    ),
    sa.Column("comment", sa.Text, nullable=False, server_default="", comment="Free text"),
    _public(True),
    _created(),
    sa.Column(
        "updated_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        comment="Last change",
    ),
    sa.Column(
        "topic", sa.Text, comment="Lasair annotator topic (annotator:TOPIC in queries), if any"
    ),
    sa.Column("classification", sa.Text, comment="Lasair annotator classification, if any"),
    sa.Column("version", sa.Text, comment="Lasair annotator version, if any"),
    sa.Column("explanation", sa.Text, comment="Lasair annotator explanation, if any"),
    sa.Column("classdict", JSONB, comment="Lasair annotator class dictionary (JSON), if any"),
    sa.Column("url", sa.Text, comment="Lasair annotator link, if any"),
    sa.Index("ix_annotations_objectid", "objectid"),
    sa.Index("ix_annotations_tags", "tags", postgresql_using="gin"),
    sa.CheckConstraint("char_length(comment) <= 10000", name="comment_length"),
    sa.CheckConstraint(
        "cardinality(tags) <= 100 AND char_length(array_to_string(tags, ',')) <= 10000",
        name="tags_size",
    ),
    sa.CheckConstraint(
        "char_length(topic) <= 100 AND char_length(classification) <= 100"
        " AND char_length(version) <= 16 AND char_length(explanation) <= 10000"
        " AND char_length(url) <= 2000 AND octet_length(classdict::text) <= 100000",
        name="annotator_length",
    ),
    sa.CheckConstraint(
        "classdict IS NULL OR (jsonb_typeof(classdict) = 'object'"
        " AND NOT jsonb_path_exists(classdict, 'strict $.**{9 to last}'))",
        name="classdict_shape",
    ),
    comment="Expert knowledge about objects: tags and comments (the SNAD knowledge base)",
)

annotation_history = sa.Table(
    "annotation_history",
    metadata,
    sa.Column(
        "id", sa.BigInteger, sa.Identity(always=True), primary_key=True, comment="Change number"
    ),
    sa.Column("annotation_id", sa.BigInteger, nullable=False, comment="Annotation changed"),
    sa.Column("objectid", sa.Text, nullable=False, comment="Its object"),
    sa.Column("action", sa.Text, nullable=False, comment="insert, update or delete"),
    sa.Column(
        "changed_by",
        sa.Text,
        nullable=False,
        server_default=sa.text("current_user"),
        comment="Who made the change",
    ),
    sa.Column(
        "changed_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.text("clock_timestamp()"),
        comment="When",
    ),
    sa.Column("author", sa.Text, nullable=False, comment="Author of the annotation"),
    sa.Column("tags", ARRAY(sa.Text), nullable=False, comment="Tags after the change"),
    sa.Column("comment", sa.Text, nullable=False, comment="Comment after the change"),
    sa.Column("public", sa.Boolean, nullable=False, comment="Visibility after the change"),
    sa.Column("topic", sa.Text, comment="Lasair annotator topic after the change"),
    sa.Column(
        "classification", sa.Text, comment="Lasair annotator classification after the change"
    ),
    sa.Column("version", sa.Text, comment="Lasair annotator version after the change"),
    sa.Column("explanation", sa.Text, comment="Lasair annotator explanation after the change"),
    sa.Column("classdict", JSONB, comment="Lasair annotator class dictionary after the change"),
    sa.Column("url", sa.Text, comment="Lasair annotator link after the change"),
    sa.Index("ix_annotation_history_objectid", "objectid"),
    comment="Every change to every annotation: who, when, what",
)

annotators = sa.Table(
    "annotators",
    metadata,
    sa.Column("topic", sa.Text, primary_key=True, comment="Annotator topic (lower case)"),
    sa.Column("owner", sa.Text, nullable=False, comment="The user who writes under it"),
    sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        comment="When it was claimed",
    ),
    comment="Lasair annotator topics and their owners: the first to annotate under a topic",
)

tns_objects = sa.Table(
    "tns_objects",
    metadata,
    sa.Column("name", sa.Text, primary_key=True, comment="TNS name without prefix, e.g. 2021abc"),
    sa.Column("prefix", sa.Text, comment="AT, SN, ..."),
    sa.Column("ra", DOUBLE_PRECISION, nullable=False, comment="Right ascension [deg]"),
    sa.Column("dec", DOUBLE_PRECISION, nullable=False, comment="Declination [deg]"),
    sa.Column("hpx", Point, nullable=False, comment="HEALPix index (order 29)"),
    sa.Column("type", sa.Text, comment="Spectroscopic classification, e.g. SN Ia"),
    sa.Column("redshift", DOUBLE_PRECISION, comment="Redshift"),
    sa.Column("discoverydate", sa.Text, comment="Discovery date (UT)"),
    sa.Column("discoverymag", DOUBLE_PRECISION, comment="Discovery magnitude"),
    sa.Column("internal_names", sa.Text, comment="Survey names, e.g. ZTF21abiuvdk"),
    sa.Column("reporting_group", sa.Text, comment="Group that reported it"),
    sa.Column("lastmodified", sa.Text, comment="Last change at TNS"),
    sa.Index("ix_tns_objects_hpx", "hpx"),
    comment="The Transient Name Server's public objects",
)

tns_matches = sa.Table(
    "tns_matches",
    metadata,
    sa.Column("objectid", sa.Text, primary_key=True, comment="ZTF object identifier"),
    sa.Column("tns_name", sa.Text, primary_key=True, comment="TNS name without prefix"),
    sa.Column(
        "separation_arcsec",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Separation of the object from the TNS position [arcsec]",
    ),
    sa.Index("ix_tns_matches_tns_name", "tns_name"),
    comment="Archive objects within 1.5 arcsec of a TNS object, kept by loader and ingest",
)

object_locks = sa.Table(
    "object_locks",
    metadata,
    sa.Column("objectid", sa.Text, primary_key=True, comment="Object being summarised"),
    comment="Ingester-only: rows locked while an object's summary is recomputed, so "
    "concurrent ingesters summarise each object one at a time",
)

# --- objects as a second stage (migration 0013) -----------------------------------------
# The ingester commits an alert's rows and queues its object here in the same transaction
# (alerts are queryable at once); the objects stage (ingest.objects_stage) recomputes the
# queued objects' summaries in transactions of its own and removes them from the queue.

objects_pending = sa.Table(
    "objects_pending",
    metadata,
    sa.Column("objectid", sa.Text, primary_key=True, comment="Object whose summary is due"),
    sa.Column(
        "queued_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.text("clock_timestamp()"),
        comment="When its first alert not yet in the summary was written",
    ),
    sa.Column(
        "alert_time",
        DOUBLE_PRECISION,
        comment="Kafka timestamp of that alert's batch (Unix seconds; NULL from files)",
    ),
    sa.Column(
        "attempts",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Summaries of it that failed (set aside after 3)",
    ),
    sa.Column("last_error", sa.Text, comment="Why its last summary failed"),
    sa.Index("ix_objects_pending_queued_at", "queued_at"),
    comment="Objects whose new detections are archived but not yet summarised in objects",
)

object_batches = sa.Table(
    "object_batches",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True, comment="Batch number"),
    sa.Column(
        "finished_at", sa.DateTime(timezone=True), nullable=False, comment="Its database commit"
    ),
    sa.Column("n_objects", sa.Integer, nullable=False, comment="Objects summarised"),
    sa.Column("duration_s", DOUBLE_PRECISION, nullable=False, comment="Wall time [s]"),
    sa.Column(
        "lag_p50_s",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Median time from an alert being queryable to its object updated [s]",
    ),
    sa.Column(
        "lag_max_s",
        DOUBLE_PRECISION,
        nullable=False,
        comment="Longest time from an alert being queryable to its object updated [s]",
    ),
    sa.Column(
        "latency_max_s",
        DOUBLE_PRECISION,
        comment="Longest time from Kafka message timestamp to object updated [s]",
    ),
    sa.Index("ix_object_batches_finished_at", "finished_at"),
    comment="One row per objects-stage batch (one database transaction)",
)

# --- context catalogues and Sherlock classifications (migration 0008) -----------------
# Operators load context catalogues (galaxies, AGN, stars...) with `lasair-nb catalogs
# load`; the ingester classifies every object it touches against them and against the
# alert's own PS1/Gaia fields (rules in lasair_nb.domain.sherlock). Users read them.

CATALOG_KINDS = ("galaxy", "agn", "qso", "star", "cv")
"""What a context catalogue lists (``lasair_nb.domain.sherlock`` holds the rules per kind)."""

SHERLOCK_CLASSES = ("SN", "NT", "AGN", "VS", "CV", "BS", "ORPHAN", "UNCLEAR")
"""Sherlock's classes, as Lasair-ZTF's ``sherlock_classifications.classification``."""


def _kind_check() -> sa.CheckConstraint:
    listed = ", ".join(f"'{kind}'" for kind in CATALOG_KINDS)
    return sa.CheckConstraint(f"kind IN ({listed})", name="catalog_kind")


catalogs = sa.Table(
    "catalogs",
    metadata,
    sa.Column("name", sa.Text, primary_key=True, comment="Catalogue name, e.g. CLU, 4LAC"),
    sa.Column(
        "kind", sa.Text, nullable=False, comment="What it lists: galaxy, agn, qso, star or cv"
    ),
    sa.Column("file", sa.Text, nullable=False, comment="File it was loaded from"),
    sa.Column("rows", sa.Integer, nullable=False, comment="Sources loaded"),
    sa.Column(
        "loaded_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        comment="When it was (last) loaded",
    ),
    sa.Column(
        "column_map",
        JSONB,
        nullable=False,
        server_default="{}",
        comment="Which file column gave each field: id, ra, dec, z, distance, radius, mag",
    ),
    _kind_check(),
    comment="Context catalogues loaded by the operator, for Sherlock-like classification",
)

catalog_sources = sa.Table(
    "catalog_sources",
    metadata,
    sa.Column(
        "catalogue",
        sa.Text,
        sa.ForeignKey("catalogs.name", ondelete="CASCADE"),
        primary_key=True,
        comment="Catalogue name (catalogs.name)",
    ),
    sa.Column("number", sa.Integer, primary_key=True, comment="Row number in the loaded file"),
    sa.Column("source_id", sa.Text, nullable=False, comment="Source id or name in the catalogue"),
    sa.Column(
        "kind", sa.Text, nullable=False, comment="What the source is: galaxy, agn, qso, star, cv"
    ),
    sa.Column("ra", DOUBLE_PRECISION, nullable=False, comment="Right ascension (ICRS) [deg]"),
    sa.Column("dec", DOUBLE_PRECISION, nullable=False, comment="Declination (ICRS) [deg]"),
    sa.Column("hpx", Point, nullable=False, comment="HEALPix index (nested, order 29) of ra, dec"),
    sa.Column("redshift", DOUBLE_PRECISION, comment="Redshift (spectroscopic or as catalogued)"),
    sa.Column(
        "distance_mpc",
        DOUBLE_PRECISION,
        comment="Distance as catalogued, e.g. CLU distmpc (redshift-independent if known) [Mpc]",
    ),
    sa.Column(
        "radius_arcsec",
        DOUBLE_PRECISION,
        comment="Semi-major axis of the galaxy (its extent on the sky) [arcsec]",
    ),
    sa.Column("mag", DOUBLE_PRECISION, comment="Magnitude as catalogued (band of the catalogue)"),
    sa.Index("ix_catalog_sources_hpx", "hpx"),
    _kind_check(),
    comment="The sources of the context catalogues, indexed by HEALPix for crossmatches",
)


def _match_columns() -> list[sa.Column]:
    """What Sherlock (and Lasair-ZTF) records of one catalogue match, by its names."""
    return [
        sa.Column(
            "association_type",
            sa.Text,
            comment="What the match makes the transient: SN, NT, AGN, VS, CV or BS",
        ),
        sa.Column(
            "catalogue_table_name", sa.Text, comment="Catalogue of the match (catalogs.name, PS1)"
        ),
        sa.Column("catalogue_object_id", sa.Text, comment="Id of the matched source"),
        sa.Column(
            "catalogue_object_type", sa.Text, comment="Type of the matched source: galaxy, star..."
        ),
        sa.Column(
            "separationarcsec",
            DOUBLE_PRECISION,
            comment="Separation of the transient from the source [arcsec]",
        ),
        sa.Column(
            "northseparationarcsec",
            DOUBLE_PRECISION,
            comment="Offset of the transient north of the source [arcsec]",
        ),
        sa.Column(
            "eastseparationarcsec",
            DOUBLE_PRECISION,
            comment="Offset of the transient east of the source [arcsec]",
        ),
        sa.Column(
            "physical_separation_kpc",
            DOUBLE_PRECISION,
            comment="Projected separation at the source's distance [kpc]",
        ),
        sa.Column(
            "direct_distance",
            DOUBLE_PRECISION,
            comment="Catalogued (redshift-independent) distance of the source [Mpc]",
        ),
        sa.Column(
            "distance",
            DOUBLE_PRECISION,
            comment="Distance used: direct_distance, else the luminosity distance of z "
            "(Planck18) [Mpc]",
        ),
        sa.Column("z", DOUBLE_PRECISION, comment="Redshift of the source"),
        sa.Column("photoz", DOUBLE_PRECISION, comment="Photometric redshift (none catalogued)"),
        sa.Column(
            "major_axis_arcsec",
            DOUBLE_PRECISION,
            comment="Semi-major axis of the galaxy used for the association [arcsec]",
        ),
    ]


sherlock_classifications = sa.Table(
    "sherlock_classifications",
    metadata,
    sa.Column("objectid", sa.Text, primary_key=True, comment="ZTF object identifier"),
    sa.Column(
        "classification",
        sa.Text,
        nullable=False,
        comment="Context class, as Sherlock: SN, NT, AGN, VS, CV, BS, ORPHAN or UNCLEAR",
    ),
    *_match_columns(),
    sa.Column("description", sa.Text, nullable=False, comment="The classification in one sentence"),
    sa.Column(
        "annotator", sa.Text, nullable=False, comment="What classified it, with its rule version"
    ),
    sa.Column(
        "updated_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        comment="When it was last classified",
    ),
    sa.Index("ix_sherlock_classifications_classification", "classification"),
    sa.CheckConstraint(
        "classification IN (" + ", ".join(f"'{name}'" for name in SHERLOCK_CLASSES) + ")",
        name="sherlock_class",
    ),
    comment="Sherlock-like context class of every object, with its best catalogue match",
)

sherlock_crossmatches = sa.Table(
    "sherlock_crossmatches",
    metadata,
    sa.Column("objectid", sa.Text, primary_key=True, comment="ZTF object identifier"),
    sa.Column("rank", sa.Integer, primary_key=True, comment="Rank of the match (1 = best)"),
    sa.Column(
        "classificationreliability",
        sa.Integer,
        nullable=False,
        comment="1: synonym (the transient is the source), 2: association (near it)",
    ),
    *_match_columns(),
    sa.Column("radeg", DOUBLE_PRECISION, comment="Right ascension of the source [deg]"),
    sa.Column("decdeg", DOUBLE_PRECISION, comment="Declination of the source [deg]"),
    comment="Every ranked catalogue match of every object (Sherlock's crossmatches)",
)

ARCHIVE_TABLES = (
    "candidates",
    "noncandidates",
    "forced_photometry",
    "cutouts",
    "objects",
    "coverage",
    "ingest_batches",
    "objects_pending",
    "object_batches",
    "catalogs",
    "catalog_sources",
    "sherlock_classifications",
    "sherlock_crossmatches",
)
"""Tables only the ingester writes; users read them."""
