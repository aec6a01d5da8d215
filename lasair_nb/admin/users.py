"""Users are PostgreSQL roles: creating, listing and removing them.

A user is a login role in the ``lasair_user`` group (``lasair_admin`` for
administrators), with limits that keep one user from hanging the server. What a
user may read and write is decided by the database (grants and row-level
security, migration 0003), never by client code. The hub calls the same code.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from lasair_nb.archive import engine as database
from lasair_nb.archive import roles
from lasair_nb.errors import DatabaseError, NotFoundError, SettingsError, UserError
from lasair_nb.settings import Settings, get_settings

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED = ("postgres", "pgserver", "public", "tns")
TEMP_FILE_LIMIT = "1GB"


def role_limits(settings: Settings | None = None) -> dict[str, str]:
    """Per-user server settings: no statement, idle transaction or sort may run away.

    The statement and idle-transaction timeouts are ``LASAIR_SQL_TIMEOUT`` and
    ``LASAIR_IDLE_TRANSACTION_TIMEOUT``; the client may lower them, never raise them,
    and the reaper enforces them on sessions that lower their own.
    """
    settings = settings or get_settings()
    return {
        "statement_timeout": f"{math.ceil(settings.sql_timeout * 1000)}ms",
        "idle_in_transaction_session_timeout": (
            f"{math.ceil(settings.idle_transaction_timeout * 1000)}ms"
        ),
        "temp_file_limit": TEMP_FILE_LIMIT,
    }


@dataclass(frozen=True)
class User:
    """A Lasair-NB user."""

    name: str
    admin: bool


def check_name(name: str) -> str:
    """Return ``name`` if it can be a user name; else raise :class:`UserError` saying why."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise UserError(
            f"invalid user name {name!r}: use 1-63 lower-case letters, digits and _, "
            "starting with a letter or _"
        )
    if name in roles.SQL_KEYWORDS:
        raise UserError(f"user name {name!r} is an SQL keyword; choose another")
    if name in RESERVED or name.startswith(("pg_", "lasair_")):
        raise UserError(f"user name {name!r} is reserved; choose another")
    return name


def add_user(
    connection: sa.Connection, name: str, admin: bool = False, settings: Settings | None = None
) -> str:
    """Create a user; returns its new password (shown once).

    Parameters
    ----------
    connection
        A connection with the right to create roles (the archive's owner).
    name
        User name: a PostgreSQL role name, lower case.
    admin
        Also make the user an administrator (may promote queries).
    settings
        Deployment settings (the role's limits); default: read from the environment.
    """
    check_name(name)
    if roles.exists(connection, name):
        raise UserError(f"user {name!r} exists already")
    password = secrets.token_urlsafe(18)
    roles.create_login(connection, name, password, admin, role_limits(settings))
    return password


def ensure_user(name: str, admin: bool = False, settings: Settings | None = None) -> bool:
    """Create the user if they are new (their password is never shown); True if created.

    For services that act as users (``connect(act_as=NAME)``): a hub user who has never
    started a notebook server has no archive role yet.
    """
    check_name(name)
    settings = settings or get_settings()
    engine = database.create_engine(database.database_url(settings))
    try:
        with engine.begin() as connection:
            if roles.exists(connection, name):
                if name not in {user.name for user in list_users(connection)}:
                    raise UserError(f"{name!r} is a database role but not a Lasair-NB user")
                return False
            add_user(connection, name, admin, settings)
            return True
    finally:
        engine.dispose()


def session_password(
    connection: sa.Connection, name: str, admin: bool = False, settings: Settings | None = None
) -> str:
    """Create the user if they are new, else give them a new password; returns it.

    What the hub does before it starts a user's server: the password goes only into that
    server's environment (``LASAIR_PASSWORD``) and changes at every start, so none is
    stored anywhere. An existing user keeps their data and their group; ``admin`` is
    used only when the user is created.

    Parameters
    ----------
    connection
        A connection with the right to create roles (the archive's owner).
    name
        User name (as :func:`check_name` accepts).
    admin
        Make a new user an administrator.
    settings
        Deployment settings (the role's limits); default: read from the environment.

    Returns
    -------
    str
        The password, valid until the next call for this user.
    """
    check_name(name)
    if not roles.exists(connection, name):
        return add_user(connection, name, admin, settings)
    if name not in {user.name for user in list_users(connection)}:
        raise UserError(f"{name!r} is a database role but not a Lasair-NB user")
    password = secrets.token_urlsafe(18)
    roles.set_password(connection, name, password)
    return password


def server_environment(
    name: str, admin: bool = False, settings: Settings | None = None
) -> dict[str, str]:
    """What a hub user's notebook server needs to reach the archive as that user.

    Creates the user's role if it is new, else gives it a new password
    (:func:`session_password`), and says where the archive listens over TCP, without any
    credentials in the URL.

    Parameters
    ----------
    name
        The hub user (also the PostgreSQL role).
    admin
        Make a new user an administrator.
    settings
        Deployment settings; default: read from the environment.

    Returns
    -------
    dict
        ``LASAIR_DB_URL``, ``LASAIR_USER`` and ``LASAIR_PASSWORD``, for the server's
        environment only (never a file, never a notebook).

    Raises
    ------
    DatabaseError
        When the archive is not reachable over TCP (an embedded server with
        ``LASAIR_DB_PORT=0``), or not running.
    """
    settings = settings or get_settings()
    if settings.db_url is not None:
        owner_url = sa.make_url(database.database_url(settings))
        url = owner_url.set(username=None, password=None, drivername="postgresql")
    else:
        if not settings.db_port:
            raise DatabaseError(
                "notebook servers reach the archive over TCP, but the embedded server listens "
                "on its Unix socket only (LASAIR_DB_PORT=0): set LASAIR_DB_PORT, e.g. 54320"
            )
        url = sa.URL.create(
            "postgresql", host="127.0.0.1", port=settings.db_port, database=settings.db_name
        )
    engine = database.create_engine(database.database_url(settings))
    try:
        with engine.begin() as connection:
            password = session_password(connection, name, admin, settings)
    finally:
        engine.dispose()
    return {
        "LASAIR_DB_URL": url.render_as_string(hide_password=False),
        "LASAIR_USER": name,
        "LASAIR_PASSWORD": password,
    }


def list_users(connection: sa.Connection) -> list[User]:
    """Every user, with whether they are an administrator."""
    return [User(name, admin) for name, admin in roles.users(connection)]


def remove_user(connection: sa.Connection, name: str) -> None:
    """Remove a user and everything they own in this archive (their private data)."""
    check_name(name)
    if name not in {user.name for user in list_users(connection)}:
        raise NotFoundError(f"no user {name!r}; `lasair-nb users list` shows them")
    roles.drop_login(connection, name)


def reader_environment(settings: Settings | None = None) -> dict[str, str]:
    """What a public service (the dashboards) needs to reach the archive read-only.

    The role is ``lasair_reader``: it reads, public rows only, and writes nothing.

    Returns
    -------
    dict
        ``LASAIR_DB_URL`` (without credentials), ``LASAIR_USER`` and ``LASAIR_PASSWORD``.

    Raises
    ------
    SettingsError
        When ``LASAIR_READER_PASSWORD`` is not set (``lasair-nb up`` sets it for the hub).
    """
    settings = settings or get_settings()
    if settings.reader_password is None:
        raise SettingsError(
            "the dashboards reach the archive as lasair_reader: set LASAIR_READER_PASSWORD "
            "(`lasair-nb up` does, from the embedded server's reader password)"
        )
    if settings.db_url is not None:
        url = sa.make_url(database.database_url(settings)).set(
            username=None, password=None, drivername="postgresql"
        )
    else:
        url = sa.URL.create(
            "postgresql", host="127.0.0.1", port=settings.db_port, database=settings.db_name
        )
    return {
        "LASAIR_DB_URL": url.render_as_string(hide_password=False),
        "LASAIR_USER": "lasair_reader",
        "LASAIR_PASSWORD": settings.reader_password.get_secret_value(),
    }
