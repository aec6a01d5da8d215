"""Users are PostgreSQL roles: creating, listing and removing them.

A user is a login role in the ``lasair_user`` group (``lasair_admin`` for
administrators), with limits that keep one user from hanging the server. What a
user may read and write is decided by the database (grants and row-level
security, migration 0003), never by client code. The hub calls the same code.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from lasair_nb.errors import LasairError

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED = ("postgres", "pgserver", "public", "tns")
ROLE_LIMITS = {
    "statement_timeout": "60s",
    "idle_in_transaction_session_timeout": "5min",
    "temp_file_limit": "1GB",
}
"""Per-user server settings: no statement, idle transaction or sort may run away."""


class UserError(LasairError, ValueError):
    """A user name was refused or a user does not exist."""


@dataclass(frozen=True)
class User:
    """A Lasair-NB user."""

    name: str
    admin: bool


def check_name(name: str) -> str:
    """Return ``name`` if it can be a user name; else raise :class:`UserError` saying why."""
    if not NAME.match(name):
        raise UserError(
            f"invalid user name {name!r}: use 1-63 lower-case letters, digits and _, "
            "starting with a letter or _"
        )
    if name in RESERVED or name.startswith(("pg_", "lasair_")):
        raise UserError(f"user name {name!r} is reserved; choose another")
    return name


def add_user(connection: sa.Connection, name: str, admin: bool = False) -> str:
    """Create a user; returns its new password (shown once).

    Parameters
    ----------
    connection
        A connection with the right to create roles (the archive's owner).
    name
        User name: a PostgreSQL role name, lower case.
    admin
        Also make the user an administrator (may promote queries).
    """
    check_name(name)
    if connection.execute(
        sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}
    ).first():
        raise UserError(f"user {name!r} exists already")
    password = secrets.token_urlsafe(18)
    group = "lasair_admin" if admin else "lasair_user"
    # Role names cannot be bound parameters; check_name() allows only [a-z0-9_].
    connection.exec_driver_sql(
        f"CREATE ROLE {name} LOGIN CONNECTION LIMIT 20 IN ROLE {group} PASSWORD %(password)s",
        {"password": password},
    )
    for setting, value in ROLE_LIMITS.items():
        connection.exec_driver_sql(f"ALTER ROLE {name} SET {setting} = '{value}'")
    database = connection.exec_driver_sql("SELECT current_database()").scalar()
    connection.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {name}')
    return password


def list_users(connection: sa.Connection) -> list[User]:
    """Every user, with whether they are an administrator."""
    rows = connection.execute(
        sa.text(
            "SELECT r.rolname, pg_has_role(r.oid, 'lasair_admin', 'MEMBER') FROM pg_roles r"
            " WHERE pg_has_role(r.oid, 'lasair_user', 'MEMBER') AND r.rolcanlogin"
            " AND NOT r.rolsuper"
            " ORDER BY r.rolname"
        )
    ).all()
    return [User(name, bool(admin)) for name, admin in rows]


def remove_user(connection: sa.Connection, name: str) -> None:
    """Remove a user and everything they own in this archive (their private data)."""
    check_name(name)
    if name not in {user.name for user in list_users(connection)}:
        raise UserError(f"no user {name!r}")
    for table, column in (
        ("watchlists", "owner"),
        ("watchmaps", "owner"),
        ("queries", "owner"),
        ("skymaps", "owner"),
        ("annotations", "author"),
    ):
        connection.execute(sa.text(f"DELETE FROM {table} WHERE {column} = :n"), {"n": name})  # noqa: S608 - fixed names
    database = connection.exec_driver_sql("SELECT current_database()").scalar()
    connection.exec_driver_sql(f'REVOKE ALL ON DATABASE "{database}" FROM {name}')
    connection.exec_driver_sql(f"DROP ROLE {name}")
