"""The ingester's database connections: psycopg 3.

The ingester writes through psycopg 3 because its ``COPY … (FORMAT BINARY)`` formats
rows in C (``Copy.write_row``), which is most of what hand-formatted CSV cost
(``bench/ingest.py``). The client, the widgets and the services stay on psycopg2 under
SQLAlchemy: nothing there is bound by the driver's speed, and their pools, statement
timeouts and roles are built and tested on it. Both drivers speak libpq, so the
archive's URL serves both.
"""

from __future__ import annotations

import psycopg
import sqlalchemy as sa

from lasair_nb.archive.engine import database_url

KEEPALIVES = {"connect_timeout": "10", "keepalives_idle": "30", "keepalives_count": "3"}
"""A vanished server must not hang an ingester (nor the objects stage it waits for)."""


def connect(url: str | sa.URL | None = None) -> psycopg.Connection:
    """A psycopg 3 connection to the archive at ``url`` (default: the settings' URL).

    Parameters
    ----------
    url
        The archive's SQLAlchemy URL (any driver name; ``?host=`` for a Unix socket).

    Returns
    -------
    psycopg.Connection
        Not in autocommit: the ingester owns its transactions.
    """
    parsed = sa.make_url(url or database_url())
    arguments = parsed.translate_connect_args(username="user", database="dbname")
    arguments.update({key: value for key, value in parsed.query.items() if isinstance(value, str)})
    return psycopg.connect(**{**KEEPALIVES, **arguments})


def dsn_of(connection: psycopg.Connection) -> str:
    """A connection string for another connection like ``connection`` (password included).

    For the objects stage's own process: it is handed over a pipe, never on a command line.
    """
    info = connection.info
    # get_parameters() leaves out values equal to libpq's defaults (port 5432): the other
    # process must not take them from its own environment (PGPORT) instead.
    parameters = {
        **info.get_parameters(),
        "host": info.host,
        "port": str(info.port),
        "dbname": info.dbname,
        "user": info.user,
    }
    if info.password:
        parameters["password"] = info.password
    return psycopg.conninfo.make_conninfo(**{**parameters, **KEEPALIVES})
