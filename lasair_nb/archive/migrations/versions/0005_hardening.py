"""hardening: no side channels, no forged ids or times, history follows privacy, bounded text

Revision ID: 0005
Revises: 0004

* Functions that publish session state to other sessions or take advisory locks
  (:data:`SIDE_CHANNEL_FUNCTIONS`) and the large-object functions
  (:data:`LARGE_OBJECT_FUNCTIONS`) are no longer executable by PUBLIC in this
  database (every overload); only the archive owner keeps them. A shared query
  cannot publish what it reads through ``application_name`` (pg_stat_activity),
  pg_locks, NOTIFY or the transaction-id counter. (Other users' queries also run as
  ``lasair_reader`` now: see ``QueryStore.run``.)
* Users write user tables by column: never ids (no ``OVERRIDING SYSTEM VALUE`` id
  squatting), owners/authors (no re-attribution, not even by administrators) or
  timestamps (no forged times). Users have no right on any sequence: identity
  columns need none.
* ``annotation_history`` rows follow their annotation's current visibility: a row is
  visible to the annotation's author, and to others while the annotation exists and
  is visible to them (public). History of deleted annotations is its author's only.
* Membership in ``lasair_user``/``lasair_admin`` no longer lets a user ``SET ROLE``
  to the group (PostgreSQL 16+ ``SET FALSE``); users get ``CONNECTION LIMIT 20``.
* User text is bounded by CHECK constraints (declared in ``schema.py`` too).

Function privileges live in each database's catalog, so this hardens this archive
only. The revocations need a superuser (the functions belong to the bootstrap
superuser): the migration fails if they did not take effect.

Downgrade restores 0004's rights, and so reopens the holes above: it exists for
tests and emergency rollbacks; memberships keep SET FALSE.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SIDE_CHANNEL_FUNCTIONS = (
    "set_config",  # application_name etc., seen by all in pg_stat_activity
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_unlock",
    "pg_advisory_unlock_shared",
    "pg_advisory_unlock_all",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "pg_notify",  # NOTIFY to any listener
    "txid_current",  # consuming transaction ids is seen by all
    "pg_current_xact_id",
)
"""Functions a query could use to publish what it reads to another session."""

LARGE_OBJECT_FUNCTIONS = (
    "lo_creat",
    "lo_create",
    "lo_import",
    "lo_export",
    "lo_open",
    "lo_close",
    "loread",
    "lowrite",
    "lo_lseek",
    "lo_lseek64",
    "lo_tell",
    "lo_tell64",
    "lo_truncate",
    "lo_truncate64",
    "lo_unlink",
    "lo_from_bytea",
    "lo_put",
    "lo_get",
)
"""Large objects: storage outside every table, its quotas and its row-level security."""

TEXT_LIMITS = {
    "watchlists": {
        "name_length": "char_length(name) <= 100",
        "description_length": "char_length(description) <= 10000",
    },
    "watchlist_sources": {"name_length": "char_length(name) <= 100"},
    "watchmaps": {
        "name_length": "char_length(name) <= 100",
        "description_length": "char_length(description) <= 10000",
    },
    "skymaps": {
        "name_length": "char_length(name) <= 100",
        "event_length": "char_length(event) <= 100",
    },
    "queries": {
        "name_length": "char_length(name) <= 100",
        "description_length": "char_length(description) <= 10000",
        "sql_length": "char_length(sql) <= 20000",
    },
    "tags": {
        "name_length": "char_length(name) <= 100",
        "description_length": "char_length(description) <= 10000",
    },
    "annotations": {
        "comment_length": "char_length(comment) <= 10000",
        "tags_size": "cardinality(tags) <= 100 AND char_length(array_to_string(tags, ',')) <= 10000",
    },
}
"""CHECK constraints bounding user text (the same as in ``schema.py``)."""

USER_WRITES = {
    # table: (INSERT columns, UPDATE columns); DELETE stays a table right.
    "watchlists": (
        "name, description, public, active, radius_arcsec",
        "name, description, public, active, radius_arcsec",
    ),
    "watchlist_sources": (
        "watchlist_id, number, name, ra, dec, radius_arcsec",
        "name, ra, dec, radius_arcsec",
    ),
    "watchlist_tiles": ("watchlist_id, number, tile", None),
    "watchmaps": (
        "name, description, public, active, moc, area_deg2",
        "name, description, public, active",
    ),
    "watchmap_tiles": ("watchmap_id, tile", None),
    "skymaps": (
        "name, public, event, meta, skymap, has_distance, area90_deg2",
        "name, public, area90_deg2",
    ),
    "skymap_tiles": (
        "skymap_id, tile, probdensity, cumprob, distmu, distsigma, distnorm",
        None,
    ),
    "queries": ("name, sql, description, public, system", "name, sql, description, public, system"),
    "annotations": ("objectid, tags, comment, public", "tags, comment, public"),
}
"""What users may write, by column: never an id, an owner or author, or a timestamp."""

DELETABLE = (
    "watchlists",
    "watchlist_sources",
    "watchlist_tiles",
    "watchmaps",
    "watchmap_tiles",
    "skymaps",
    "skymap_tiles",
    "queries",
    "annotations",
)


def _revoke_functions(names: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{name}'" for name in names)
    op.execute(
        f"""
        DO $$
        DECLARE
            f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                     WHERE p.pronamespace = 'pg_catalog'::regnamespace
                       AND p.proname IN ({listed})
            LOOP
                EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
                IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, current_user);
                END IF;
                IF has_function_privilege('lasair_user', f, 'EXECUTE')
                   OR has_function_privilege('lasair_reader', f, 'EXECUTE') THEN
                    RAISE EXCEPTION 'could not revoke EXECUTE on % from users: migration 0005'
                        ' must run as a superuser', f;
                END IF;
            END LOOP;
        END $$
        """
    )


def _column_grants() -> None:
    tables = ", ".join([*USER_WRITES, "tags"])
    op.execute(f"REVOKE INSERT, UPDATE ON {tables} FROM lasair_user")
    for table, (insert, update) in USER_WRITES.items():
        op.execute(f"GRANT INSERT ({insert}) ON {table} TO lasair_user")
        if update:
            op.execute(f"GRANT UPDATE ({update}) ON {table} TO lasair_user")
    op.execute(f"GRANT DELETE ON {', '.join(DELETABLE)} TO lasair_user")
    # The vocabulary: anyone adds a tag or edits a description; who and when are the server's.
    op.execute("GRANT INSERT (name, description) ON tags TO lasair_user")
    op.execute("GRANT UPDATE (description) ON tags TO lasair_user")
    # GENERATED ALWAYS identities need no right on their sequences.
    op.execute(
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, lasair_user, lasair_reader"
    )


def _history_follows_privacy() -> None:
    op.execute("DROP POLICY visible ON annotation_history")
    # The subquery is itself filtered by the annotations' row-level security: it finds
    # the annotation only while it exists and is visible (public, or the reader's own).
    op.execute(
        "CREATE POLICY visible ON annotation_history FOR SELECT"
        " USING (author = current_user"
        " OR EXISTS (SELECT FROM annotations a WHERE a.id = annotation_id))"
    )


def _memberships() -> None:
    """Existing users: membership without SET (no SET ROLE to a group), 20 connections."""
    op.execute(
        """
        DO $$
        DECLARE
            m record;
        BEGIN
            FOR m IN SELECT r.rolname AS member, g.rolname AS grp
                     FROM pg_auth_members am
                     JOIN pg_roles r ON r.oid = am.member
                     JOIN pg_roles g ON g.oid = am.roleid
                     WHERE g.rolname IN ('lasair_user', 'lasair_admin')
                       AND r.rolcanlogin AND NOT r.rolsuper
            LOOP
                IF current_setting('server_version_num')::int >= 160000 THEN
                    EXECUTE format('GRANT %I TO %I WITH INHERIT TRUE, SET FALSE',
                                   m.grp, m.member);
                END IF;
                EXECUTE format('ALTER ROLE %I CONNECTION LIMIT 20', m.member);
            END LOOP;
        END $$
        """
    )


def _text_limits() -> None:
    for table, checks in TEXT_LIMITS.items():
        for name, condition in checks.items():
            op.create_check_constraint(name, table, condition)


def upgrade() -> None:
    _revoke_functions(SIDE_CHANNEL_FUNCTIONS + LARGE_OBJECT_FUNCTIONS)
    _column_grants()
    _history_follows_privacy()
    _memberships()
    _text_limits()


def downgrade() -> None:
    """Back to 0004's rights (which reopens the holes above: for tests and rollbacks only)."""
    for table, checks in TEXT_LIMITS.items():
        for name in checks:
            op.drop_constraint(name, table, type_="check")
    op.execute("DROP POLICY visible ON annotation_history")
    op.execute(
        "CREATE POLICY visible ON annotation_history FOR SELECT"
        " USING (public OR author = current_user OR changed_by = current_user)"
    )
    tables = ", ".join([*USER_WRITES, "tags"])
    op.execute(f"REVOKE INSERT, UPDATE ON {tables} FROM lasair_user")
    op.execute(
        "GRANT INSERT, UPDATE, DELETE ON watchlists, watchlist_sources, watchlist_tiles,"
        " watchmaps, watchmap_tiles, skymaps, queries, annotations TO lasair_user"
    )
    op.execute("GRANT INSERT, DELETE ON skymap_tiles TO lasair_user")
    op.execute("GRANT INSERT ON tags TO lasair_user")
    op.execute("GRANT UPDATE (description) ON tags TO lasair_user")
    op.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO lasair_user")
    listed = ", ".join(f"'{name}'" for name in SIDE_CHANNEL_FUNCTIONS + LARGE_OBJECT_FUNCTIONS)
    op.execute(
        f"""
        DO $$
        DECLARE
            f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                     WHERE p.pronamespace = 'pg_catalog'::regnamespace
                       AND p.proname IN ({listed})
            LOOP
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
            END LOOP;
        END $$
        """
    )
