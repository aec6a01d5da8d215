"""users: database roles, their watchlists, watchmaps, sky maps, queries, annotations,
tags and the TNS table, private rows protected by row-level security

Revision ID: 0003
Revises: 0002

Roles are cluster-wide, so they are created only if missing (several archives
may share one server); downgrade leaves them.

* ``lasair_reader``: may log in; reads the archive and public user data. Public
  dashboards and ``Archive.sql`` of an administrator run as it.
* ``lasair_user``: group of every user: reads the archive, writes its own rows of
  the user tables (row-level security decides which rows).
* ``lasair_admin``: group of administrators: may also promote queries to system.
"""

from __future__ import annotations

import healpix_alchemy
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ARCHIVE_TABLES = (
    "candidates",
    "noncandidates",
    "forced_photometry",
    "cutouts",
    "objects",
    "coverage",
    "ingest_batches",
)
USER_TABLES = (
    "watchlists",
    "watchlist_sources",
    "watchlist_tiles",
    "watchmaps",
    "watchmap_tiles",
    "skymaps",
    "queries",
    "annotations",
    "annotation_history",
    "tags",
    "tns_objects",
)


def _owner() -> sa.Column:
    return sa.Column(
        "owner",
        sa.Text(),
        server_default=sa.text("current_user"),
        nullable=False,
        comment="Database role (user) that owns the row",
    )


def _created() -> sa.Column:
    return sa.Column(
        "created_at",
        sa.DateTime(timezone=True),
        server_default=sa.text("now()"),
        nullable=False,
        comment="When it was created",
    )


def _public(default: bool) -> sa.Column:
    return sa.Column(
        "public",
        sa.Boolean(),
        server_default=sa.true() if default else sa.false(),
        nullable=False,
        comment="Visible to every user (else to its owner only)",
    )


def _roles() -> None:
    op.execute(
        """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lasair_reader') THEN
                CREATE ROLE lasair_reader LOGIN;
            END IF;
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lasair_user') THEN
                CREATE ROLE lasair_user NOLOGIN;
            END IF;
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lasair_admin') THEN
                CREATE ROLE lasair_admin NOLOGIN IN ROLE lasair_user;
            END IF;
        END $$
        """
    )
    # No user may hang the server: bounded statements, idle transactions, temp space.
    for role in ("lasair_reader",):
        op.execute(f"ALTER ROLE {role} SET statement_timeout = '60s'")
        op.execute(f"ALTER ROLE {role} SET idle_in_transaction_session_timeout = '5min'")
        op.execute(f"ALTER ROLE {role} SET temp_file_limit = '1GB'")
        op.execute(f"ALTER ROLE {role} CONNECTION LIMIT 50")


def _tables() -> None:
    tile = healpix_alchemy.Tile()
    op.create_table(
        "watchlists",
        sa.Column(
            "id",
            sa.BigInteger(),
            sa.Identity(always=True),
            primary_key=True,
            comment="Watchlist id",
        ),
        _owner(),
        sa.Column("name", sa.Text(), nullable=False, comment="Name, unique per owner"),
        sa.Column(
            "description", sa.Text(), server_default="", nullable=False, comment="What it is for"
        ),
        _public(False),
        sa.Column(
            "active",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
            comment="Matched against every ingested batch (real-time filters)",
        ),
        sa.Column(
            "radius_arcsec",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="Default match radius of its sources [arcsec]",
        ),
        _created(),
        sa.UniqueConstraint("owner", "name"),
        sa.CheckConstraint("radius_arcsec > 0 AND radius_arcsec <= 3600", name="radius_range"),
        comment="Named lists of sky positions whose new transients a user wants to know of",
    )
    op.create_table(
        "watchlist_sources",
        sa.Column(
            "watchlist_id",
            sa.BigInteger(),
            sa.ForeignKey("watchlists.id", ondelete="CASCADE"),
            primary_key=True,
            comment="Watchlist id",
        ),
        sa.Column("number", sa.Integer(), primary_key=True, comment="Row number in the watchlist"),
        sa.Column("name", sa.Text(), nullable=False, comment="Source name"),
        sa.Column(
            "ra", postgresql.DOUBLE_PRECISION(), nullable=False, comment="Right ascension [deg]"
        ),
        sa.Column(
            "dec", postgresql.DOUBLE_PRECISION(), nullable=False, comment="Declination [deg]"
        ),
        sa.Column(
            "radius_arcsec",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="Match radius of this source [arcsec]",
        ),
        comment="The sources of each watchlist",
    )
    op.create_table(
        "watchlist_tiles",
        sa.Column(
            "watchlist_id",
            sa.BigInteger(),
            sa.ForeignKey("watchlists.id", ondelete="CASCADE"),
            nullable=False,
            comment="Watchlist id",
        ),
        sa.Column("number", sa.Integer(), nullable=False, comment="Source row number"),
        sa.Column(
            "tile",
            tile,
            nullable=False,
            comment="HEALPix range (order 29) covering part of the source's cone",
        ),
        comment="HEALPix tiles covering each watchlist source's cone, for one-join crossmatches",
    )
    op.create_index("ix_watchlist_tiles_watchlist", "watchlist_tiles", ["watchlist_id"])
    op.create_table(
        "watchmaps",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=True), primary_key=True, comment="Watchmap id"
        ),
        _owner(),
        sa.Column("name", sa.Text(), nullable=False, comment="Name, unique per owner"),
        sa.Column(
            "description", sa.Text(), server_default="", nullable=False, comment="What it is for"
        ),
        _public(False),
        sa.Column(
            "active",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
            comment="Matched against every ingested batch (real-time filters)",
        ),
        sa.Column("moc", postgresql.BYTEA(), nullable=False, comment="The area as a MOC FITS file"),
        sa.Column(
            "area_deg2", postgresql.DOUBLE_PRECISION(), nullable=False, comment="Area [deg2]"
        ),
        _created(),
        sa.UniqueConstraint("owner", "name"),
        comment="Named sky areas (MOCs) whose transients a user wants to know of",
    )
    op.create_table(
        "watchmap_tiles",
        sa.Column(
            "watchmap_id",
            sa.BigInteger(),
            sa.ForeignKey("watchmaps.id", ondelete="CASCADE"),
            nullable=False,
            comment="Watchmap id",
        ),
        sa.Column("tile", tile, nullable=False, comment="HEALPix range (order 29) of the area"),
        comment="The HEALPix ranges of each watchmap",
    )
    op.create_index("ix_watchmap_tiles_watchmap", "watchmap_tiles", ["watchmap_id"])
    op.create_table(
        "skymaps",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=True), primary_key=True, comment="Sky map id"
        ),
        _owner(),
        sa.Column(
            "name", sa.Text(), nullable=False, comment="Name, e.g. the event id, unique per owner"
        ),
        _public(True),
        sa.Column("event", sa.Text(), comment="Event id from the map's header"),
        sa.Column(
            "meta",
            postgresql.JSONB(),
            nullable=False,
            server_default="{}",
            comment="Header facts: DATE-OBS, DISTMEAN, DISTSTD, INSTRUME, ...",
        ),
        sa.Column(
            "skymap",
            postgresql.BYTEA(),
            nullable=False,
            comment="The map as received (FITS, possibly gzipped)",
        ),
        sa.Column("has_distance", sa.Boolean(), nullable=False, comment="Map has DISTMU/DISTSIGMA"),
        sa.Column(
            "area90_deg2",
            postgresql.DOUBLE_PRECISION(),
            nullable=False,
            comment="Area of the 90% credible region [deg2]",
        ),
        _created(),
        sa.UniqueConstraint("owner", "name"),
        comment="Gravitational-wave sky maps (LVK HEALPix)",
    )
    op.create_table(
        "queries",
        sa.Column(
            "id", sa.BigInteger(), sa.Identity(always=True), primary_key=True, comment="Query id"
        ),
        _owner(),
        sa.Column("name", sa.Text(), nullable=False, comment="Name, unique per owner"),
        sa.Column("sql", sa.Text(), nullable=False, comment="The SELECT statement"),
        sa.Column(
            "description", sa.Text(), server_default="", nullable=False, comment="What it finds"
        ),
        _public(False),
        sa.Column(
            "system",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
            comment="Promoted by an administrator: shown to everyone as a system query",
        ),
        _created(),
        sa.UniqueConstraint("owner", "name"),
        comment="Saved SQL queries: mine, public, system",
    )
    op.create_table(
        "tags",
        sa.Column("name", sa.Text(), primary_key=True, comment="Tag, e.g. 'sn-ia', 'agn', 'bogus'"),
        sa.Column(
            "description", sa.Text(), server_default="", nullable=False, comment="What it means"
        ),
        sa.Column(
            "created_by",
            sa.Text(),
            server_default=sa.text("current_user"),
            nullable=False,
            comment="Who added it",
        ),
        _created(),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9_.:-]*$'", name="tag_name"),
        comment="The shared vocabulary of annotation tags",
    )
    op.create_table(
        "annotations",
        sa.Column(
            "id",
            sa.BigInteger(),
            sa.Identity(always=True),
            primary_key=True,
            comment="Annotation id",
        ),
        sa.Column("objectid", sa.Text(), nullable=False, comment="Annotated object"),
        sa.Column(
            "author",
            sa.Text(),
            server_default=sa.text("current_user"),
            nullable=False,
            comment="Who wrote it (a user, or a bot such as 'tns')",
        ),
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.Text()),
            server_default="{}",
            nullable=False,
            comment="Tags from the shared vocabulary",
        ),
        sa.Column("comment", sa.Text(), server_default="", nullable=False, comment="Free text"),
        _public(True),
        _created(),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
            comment="Last change",
        ),
        comment="Expert knowledge about objects: tags and comments (the SNAD knowledge base)",
    )
    op.create_index("ix_annotations_objectid", "annotations", ["objectid"])
    op.create_index("ix_annotations_tags", "annotations", ["tags"], postgresql_using="gin")
    op.create_table(
        "annotation_history",
        sa.Column(
            "id",
            sa.BigInteger(),
            sa.Identity(always=True),
            primary_key=True,
            comment="Change number",
        ),
        sa.Column("annotation_id", sa.BigInteger(), nullable=False, comment="Annotation changed"),
        sa.Column("objectid", sa.Text(), nullable=False, comment="Its object"),
        sa.Column("action", sa.Text(), nullable=False, comment="insert, update or delete"),
        sa.Column(
            "changed_by",
            sa.Text(),
            server_default=sa.text("current_user"),
            nullable=False,
            comment="Who made the change",
        ),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
            comment="When",
        ),
        sa.Column("author", sa.Text(), nullable=False, comment="Author of the annotation"),
        sa.Column(
            "tags", postgresql.ARRAY(sa.Text()), nullable=False, comment="Tags after the change"
        ),
        sa.Column("comment", sa.Text(), nullable=False, comment="Comment after the change"),
        sa.Column("public", sa.Boolean(), nullable=False, comment="Visibility after the change"),
        comment="Every change to every annotation: who, when, what",
    )
    op.create_index("ix_annotation_history_objectid", "annotation_history", ["objectid"])
    op.create_table(
        "tns_objects",
        sa.Column(
            "name", sa.Text(), primary_key=True, comment="TNS name without prefix, e.g. 2021abc"
        ),
        sa.Column("prefix", sa.Text(), comment="AT, SN, ..."),
        sa.Column(
            "ra", postgresql.DOUBLE_PRECISION(), nullable=False, comment="Right ascension [deg]"
        ),
        sa.Column(
            "dec", postgresql.DOUBLE_PRECISION(), nullable=False, comment="Declination [deg]"
        ),
        sa.Column(
            "hpx", healpix_alchemy.Point(), nullable=False, comment="HEALPix index (order 29)"
        ),
        sa.Column("type", sa.Text(), comment="Spectroscopic classification, e.g. SN Ia"),
        sa.Column("redshift", postgresql.DOUBLE_PRECISION(), comment="Redshift"),
        sa.Column("discoverydate", sa.Text(), comment="Discovery date (UT)"),
        sa.Column("discoverymag", postgresql.DOUBLE_PRECISION(), comment="Discovery magnitude"),
        sa.Column("internal_names", sa.Text(), comment="Survey names, e.g. ZTF21abiuvdk"),
        sa.Column("reporting_group", sa.Text(), comment="Group that reported it"),
        sa.Column("lastmodified", sa.Text(), comment="Last change at TNS"),
        comment="The Transient Name Server's public objects",
    )
    op.create_index("ix_tns_objects_hpx", "tns_objects", ["hpx"])
    op.create_table(
        "object_locks",
        sa.Column("objectid", sa.Text(), primary_key=True, comment="Object being summarised"),
        comment="Ingester-only: rows locked while an object's summary is recomputed, so "
        "concurrent ingesters summarise each object one at a time",
    )


def _policies() -> None:
    owned = {
        "watchlists": "owner",
        "watchmaps": "owner",
        "skymaps": "owner",
        "queries": "owner",
        "annotations": "author",
    }
    for table, column in owned.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        visible = f"public OR {column} = current_user" + (
            " OR system" if table == "queries" else ""
        )
        op.execute(f"CREATE POLICY visible ON {table} FOR SELECT USING ({visible})")
        op.execute(
            f"CREATE POLICY own_insert ON {table} FOR INSERT WITH CHECK ({column} = current_user)"
        )
        op.execute(
            f"CREATE POLICY own_update ON {table} FOR UPDATE USING ({column} = current_user)"
            f" WITH CHECK ({column} = current_user)"
        )
        op.execute(
            f"CREATE POLICY own_delete ON {table} FOR DELETE USING ({column} = current_user)"
        )
    # Administrators may promote other users' public queries (the trigger below
    # lets them change nothing else).
    op.execute(
        "CREATE POLICY admin_promote ON queries FOR UPDATE TO lasair_admin"
        " USING (public OR system) WITH CHECK (public OR system)"
    )
    for child, parent, key in (
        ("watchlist_sources", "watchlists", "watchlist_id"),
        ("watchlist_tiles", "watchlists", "watchlist_id"),
        ("watchmap_tiles", "watchmaps", "watchmap_id"),
    ):
        op.execute(f"ALTER TABLE {child} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY visible ON {child} FOR SELECT"
            f" USING (EXISTS (SELECT FROM {parent} p WHERE p.id = {key}))"
        )
        mine = f"EXISTS (SELECT FROM {parent} p WHERE p.id = {key} AND p.owner = current_user)"
        op.execute(f"CREATE POLICY own ON {child} FOR ALL USING ({mine}) WITH CHECK ({mine})")
    op.execute("ALTER TABLE annotation_history ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY visible ON annotation_history FOR SELECT"
        " USING (public OR author = current_user OR changed_by = current_user)"
    )
    op.execute("ALTER TABLE tags ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY everyone_reads ON tags FOR SELECT USING (true)")
    op.execute("CREATE POLICY users_add ON tags FOR INSERT WITH CHECK (created_by = current_user)")
    op.execute("CREATE POLICY users_describe ON tags FOR UPDATE USING (true) WITH CHECK (true)")


def _triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION lasair_guard_query() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.system AND (TG_OP = 'INSERT' OR NOT OLD.system)
               AND NOT pg_has_role(current_user, 'lasair_admin', 'MEMBER') THEN
                RAISE EXCEPTION 'only administrators promote queries to system'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.system
               AND NOT pg_has_role(current_user, 'lasair_admin', 'MEMBER')
               AND (NEW.name, NEW.sql, NEW.description, NEW.public, NEW.system)
                   IS DISTINCT FROM (OLD.name, OLD.sql, OLD.description, OLD.public, OLD.system)
            THEN
                RAISE EXCEPTION 'a system query can only be changed by an administrator'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'UPDATE' AND (NEW.id, NEW.created_at) IS DISTINCT FROM (OLD.id, OLD.created_at)
            THEN
                RAISE EXCEPTION 'a query keeps its id and creation time'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'UPDATE' AND current_user <> OLD.owner
               AND (NEW.owner, NEW.name, NEW.sql, NEW.description, NEW.public)
                   IS DISTINCT FROM (OLD.owner, OLD.name, OLD.sql, OLD.description, OLD.public) THEN
                RAISE EXCEPTION 'only its owner may change a query'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON queries"
        " FOR EACH ROW EXECUTE FUNCTION lasair_guard_query()"
    )
    # History is written by the trigger's owner, never by users directly.
    op.execute(
        """
        CREATE FUNCTION lasair_annotation_history() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE
            row public.annotations;
        BEGIN
            IF TG_OP = 'DELETE' THEN row := OLD; ELSE row := NEW; END IF;
            IF TG_OP = 'UPDATE' THEN NEW.updated_at := now(); row := NEW; END IF;
            INSERT INTO public.annotation_history
                (annotation_id, objectid, action, changed_by, author, tags, comment, public)
            VALUES (row.id, row.objectid, lower(TG_OP), session_user, row.author, row.tags,
                    row.comment, row.public);
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER history AFTER INSERT OR DELETE ON annotations"
        " FOR EACH ROW EXECUTE FUNCTION lasair_annotation_history()"
    )
    op.execute(
        "CREATE TRIGGER history_update BEFORE UPDATE ON annotations"
        " FOR EACH ROW EXECUTE FUNCTION lasair_annotation_history()"
    )


def _grants() -> None:
    archive = ", ".join(ARCHIVE_TABLES)
    users = ", ".join(USER_TABLES)
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC")
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    op.execute(f"GRANT SELECT ON {archive}, {users} TO lasair_reader, lasair_user")
    op.execute(
        "GRANT INSERT, UPDATE, DELETE ON watchlists, watchlist_sources, watchlist_tiles,"
        " watchmaps, watchmap_tiles, skymaps, queries, annotations TO lasair_user"
    )
    # The vocabulary is shared: anyone adds a tag or edits a description, nobody
    # renames, re-attributes or deletes one.
    op.execute("GRANT INSERT ON tags TO lasair_user")
    op.execute("GRANT UPDATE (description) ON tags TO lasair_user")
    op.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO lasair_user")
    op.execute("REVOKE ALL ON FUNCTION lasair_annotation_history() FROM PUBLIC")


def upgrade() -> None:
    _roles()
    _tables()
    _policies()
    _triggers()
    _grants()


def downgrade() -> None:
    op.drop_table("object_locks")
    for table in reversed(USER_TABLES):
        op.drop_table(table)
    op.execute("DROP FUNCTION lasair_annotation_history()")
    op.execute("DROP FUNCTION lasair_guard_query()")
