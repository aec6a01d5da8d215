"""Users as PostgreSQL roles: the role statements (names are checked by the caller).

A user is a login role in ``lasair_user`` (``lasair_admin`` for administrators),
with per-role limits. What a user may read and write is decided by the grants
and row-level security of migration 0003.
"""

from __future__ import annotations

import sqlalchemy as sa
from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

from lasair_nb.archive.schema import annotations, queries, skymaps, watchlists, watchmaps

SQL_KEYWORDS = frozenset(RESERVED_KEYWORDS | COL_NAME_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS)
"""Words PostgreSQL gives a meaning in a role's place (``user``, ``all``, ``none``, …)."""

USER_GROUP = "lasair_user"
ADMIN_GROUP = "lasair_admin"


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
        f"CREATE ROLE {name} LOGIN CONNECTION LIMIT 20 IN ROLE {group} PASSWORD %(password)s",
        {"password": password},
    )
    for setting, value in limits.items():
        connection.exec_driver_sql(f"ALTER ROLE {name} SET {setting} = '{value}'")
    database = connection.exec_driver_sql("SELECT current_database()").scalar()
    connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {name}')


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
    """Delete a user's rows in this archive and drop the role (name already checked)."""
    for table, column in (
        (watchlists, "owner"),
        (watchmaps, "owner"),
        (queries, "owner"),
        (skymaps, "owner"),
        (annotations, "author"),
    ):
        connection.execute(sa.delete(table).where(table.c[column] == name))
    database = connection.exec_driver_sql("SELECT current_database()").scalar()
    connection.exec_driver_sql(f'REVOKE ALL ON DATABASE "{database}" FROM {name}')
    connection.exec_driver_sql(f"DROP ROLE {name}")
