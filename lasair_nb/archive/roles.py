"""Users as PostgreSQL roles: the role statements (names are checked by the caller).

A user is a login role in ``lasair_user`` (``lasair_admin`` for administrators),
with per-role limits. What a user may read and write is decided by the grants
and row-level security of migrations 0003 and 0005.
"""

from __future__ import annotations

import sqlalchemy as sa
from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

from lasair_nb.archive.schema import (
    annotation_history,
    annotations,
    queries,
    skymaps,
    watchlists,
    watchmaps,
)

SQL_KEYWORDS = frozenset(RESERVED_KEYWORDS | COL_NAME_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS)
"""Words PostgreSQL gives a meaning in a role's place (``user``, ``all``, ``none``, …)."""

USER_GROUP = "lasair_user"
ADMIN_GROUP = "lasair_admin"
SET_OPTION_VERSION = 160000
"""First server version whose role grants have a SET option."""
REMOVED_USER = "(removed user)"
"""What the annotation history says instead of a removed user's name."""


def exists(connection: sa.Connection, name: str) -> bool:
    """Whether a role of this name exists (user or not)."""
    return (
        connection.execute(
            sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}
        ).first()
        is not None
    )


def create_login(
    connection: sa.Connection, name: str, password: str, admin: bool, limits: dict[str, str]
) -> None:
    """Create a login role in the user (or admin) group, with ``limits`` as its settings.

    ``name`` must already be checked to be ``[a-z_][a-z0-9_]*``: role names cannot
    be bound parameters.
    """
    group = ADMIN_GROUP if admin else USER_GROUP
    connection.exec_driver_sql(
        f"CREATE ROLE {name} LOGIN CONNECTION LIMIT 20 PASSWORD %(password)s",
        {"password": password},
    )
    # The group's rights, but no SET ROLE to the group (PostgreSQL 16+): a user acts
    # only as itself. Older servers know no SET option.
    version = int(connection.exec_driver_sql("SHOW server_version_num").scalar())
    options = " WITH INHERIT TRUE, SET FALSE" if version >= SET_OPTION_VERSION else ""
    connection.exec_driver_sql(f"GRANT {group} TO {name}{options}")
    for setting, value in limits.items():
        connection.exec_driver_sql(f"ALTER ROLE {name} SET {setting} = '{value}'")
    database = connection.exec_driver_sql("SELECT current_database()").scalar()
    connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {name}')


def set_password(connection: sa.Connection, name: str, password: str) -> None:
    """Give a login role a new password (``name`` checked by the caller, as above)."""
    connection.exec_driver_sql(f"ALTER ROLE {name} PASSWORD %(password)s", {"password": password})


def users(connection: sa.Connection) -> list[tuple[str, bool]]:
    """Every user (login, non-superuser member of the user group) and whether an admin."""
    rows = connection.execute(
        sa.text(
            "SELECT r.rolname, pg_has_role(r.oid, :admin, 'MEMBER') FROM pg_roles r"
            " WHERE pg_has_role(r.oid, :group, 'MEMBER') AND r.rolcanlogin AND NOT r.rolsuper"
            " ORDER BY r.rolname"
        ),
        {"admin": ADMIN_GROUP, "group": USER_GROUP},
    ).all()
    return [(name, bool(admin)) for name, admin in rows]


def drop_login(connection: sa.Connection, name: str) -> None:
    """Delete a user's rows in this archive and drop the role (name already checked).

    Their annotations' history is deleted too, and their name is removed from the
    history of others' annotations, so that a new user of the same name reads none of it.
    """
    for table, column in (
        (watchlists, "owner"),
        (watchmaps, "owner"),
        (queries, "owner"),
        (skymaps, "owner"),
        (annotations, "author"),
    ):
        connection.execute(sa.delete(table).where(table.c[column] == name))
    # A later user of the same name must not read this one's history: the history of
    # their annotations goes, and changes they made to others' become anonymous.
    history = annotation_history.c
    connection.execute(sa.delete(annotation_history).where(history.author == name))
    connection.execute(
        sa.update(annotation_history)
        .where(history.changed_by == name)
        .values(changed_by=REMOVED_USER)
    )
    database = connection.exec_driver_sql("SELECT current_database()").scalar()
    connection.exec_driver_sql(f'REVOKE ALL ON DATABASE "{database}" FROM {name}')
    connection.exec_driver_sql(f"DROP ROLE {name}")
