"""The Lasair-NB client: ``connect()`` → :class:`Archive`, the whole archive from a notebook.

>>> import lasair_nb as ln
>>> archive = ln.connect()
>>> archive.sql("SELECT objectid, ncand FROM objects ORDER BY ncand DESC", limit=5)
>>> archive.cone("12:34:56.7 +12:34:56 5")
>>> archive.object("ZTF21abiuvdk").lightcurve(kind="flux")

This module holds the only SQL of the client (besides the stores it composes);
every argument is validated and bad ones raise a :class:`lasair_nb.LasairError`
subclass that says what was wrong and what is accepted.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.errors
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
from erfa import ErfaWarning
from mocpy import MOC

from lasair_nb import database
from lasair_nb.errors import LasairError, QueryError
from lasair_nb.query import check_select
from lasair_nb.settings import Settings, get_settings
from lasair_nb.sky import Target, TargetError, as_radius, parse_target

READER_ROLE = "lasair_reader"
NUMBER = (int, float, np.integer, np.floating)


class ObjectNotFoundError(LasairError, KeyError):
    """No object with that objectId is in the archive."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def connect(
    url: str | None = None, *, user: str | None = None, password: str | None = None
) -> Archive:
    """Connect to the archive.

    Parameters
    ----------
    url
        SQLAlchemy URL of the archive. Default: ``LASAIR_DB_URL``; else the
        embedded server of ``$LASAIR_HOME``.
    user, password
        Log in as this user. Default: ``LASAIR_USER``/``LASAIR_PASSWORD``, which
        the Lasair kernel provides in a hub session; else the URL's own user.

    Returns
    -------
    Archive
        The archive, as that user.
    """
    settings = get_settings()
    address = sa.make_url(url or database.database_url(settings))
    user = user or os.environ.get("LASAIR_USER")
    password = password or os.environ.get("LASAIR_PASSWORD")
    if user:
        address = address.set(username=user, password=password)
    return Archive(sa.create_engine(address, pool_pre_ping=True), settings)


def _object_ids_sql(ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    return "objectid = ANY(:ids)", {"ids": list(ids)}


def _jd(value: Any, name: str) -> float | None:
    """A time as a Julian date: astropy Time, JD number, ISO string or datetime."""
    if value is None:
        return None
    if isinstance(value, Time):
        return float(value.jd)
    if isinstance(value, NUMBER):
        if not 2_400_000 < float(value) < 2_600_000:
            raise QueryError(f"{name}={value!r} is not a Julian date; give a JD, ISO date or Time")
        return float(value)
    try:
        with warnings.catch_warnings():
            # Dates past the leap-second table are fine for selecting detections.
            warnings.simplefilter("ignore", ErfaWarning)
            return float(Time(value).jd)
    except (ValueError, TypeError) as error:
        raise QueryError(
            f"{name}={value!r} is not a time; accepted: astropy Time, Julian date, "
            "ISO string ('2021-09-01'), datetime"
        ) from error


def cone_ranges(coord: SkyCoord, radius: u.Quantity) -> tuple[list[int], list[int]]:
    """HEALPix (order 29) index ranges covering a cone, from a MOC a little finer than it."""
    radius_arcsec = radius.to_value(u.arcsec)
    # Pixels about a quarter of the radius across keep the cover tight but small.
    depth = int(np.clip(math.ceil(math.log2(4 * 211_000 / max(radius_arcsec, 1e-3))), 2, 29))
    moc = MOC.from_cone(coord.ra, coord.dec, radius=radius, max_depth=depth)
    ranges = moc.to_depth29_ranges
    return ranges[:, 0].tolist(), ranges[:, 1].tolist()


class Archive:
    """The archive, as one user. Make it with :func:`connect`.

    Parameters
    ----------
    engine
        Engine on the archive, logged in as the user.
    settings
        Deployment settings (limits).
    """

    def __init__(self, engine: sa.Engine, settings: Settings | None = None) -> None:
        self.engine = engine
        self.settings = settings or get_settings()
        self._reader: sa.Engine | None = None
        with engine.connect() as connection:
            self.user, self._privileged = connection.execute(
                sa.text(
                    "SELECT current_user, rolsuper OR has_table_privilege('candidates', 'INSERT')"
                    " FROM pg_roles WHERE rolname = current_user"
                )
            ).one()
        self._names: tuple[list[str], list[str]] | None = None
        from lasair_nb.stores import (  # noqa: PLC0415 - they import this module
            AnnotationStore,
            QueryStore,
            SkymapStore,
            TagStore,
            TnsStore,
            WatchlistStore,
            WatchmapStore,
        )

        self.watchlists = WatchlistStore(self)
        self.watchmaps = WatchmapStore(self)
        self.skymaps = SkymapStore(self)
        self.queries = QueryStore(self)
        self.tags = TagStore(self)
        self.annotations = AnnotationStore(self)
        self.tns = TnsStore(self)

    def __repr__(self) -> str:
        return f"<Archive {self.engine.url.database} as {self.user}>"

    def close(self) -> None:
        """Close the archive's database connections."""
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()

    # --- SQL ----------------------------------------------------------------------------

    def _query_engine(self) -> sa.Engine:
        """The engine user SQL runs on: the user's own, or the read-only role's.

        An archive owner (the ingester's role, a superuser) must not run free SQL:
        it then runs as ``lasair_reader``, which can read and nothing else.
        """
        if not self._privileged:
            return self.engine
        if self._reader is None:
            reader_url = self.engine.url.set(
                username=READER_ROLE, password=os.environ.get("LASAIR_READER_PASSWORD")
            )
            self._reader = sa.create_engine(reader_url, pool_pre_ping=True)
        return self._reader

    def sql(
        self, sql: str, limit: int = 1000, offset: int = 0, timeout: float = 60
    ) -> pd.DataFrame:
        """Run one SELECT and return its rows.

        Parameters
        ----------
        sql
            Exactly one SELECT statement.
        limit, offset
            Rows to return and rows to skip (paging). ``limit`` is at most the
            deployment's ``sql_max_rows``.
        timeout
            Seconds before the statement is cancelled.

        Returns
        -------
        pandas.DataFrame
            The rows; ``.attrs["truncated"]`` is True when more rows follow.

        Raises
        ------
        QueryError
            For anything but one SELECT, a timeout, an unknown table or column
            (with the nearest names), or a database error.
        """
        text = check_select(sql)
        maximum = self.settings.sql_max_rows
        if not isinstance(limit, (int, np.integer)) or not 1 <= limit <= maximum:
            raise QueryError(f"limit must be a whole number from 1 to {maximum}, got {limit!r}")
        if not isinstance(offset, (int, np.integer)) or offset < 0:
            raise QueryError(f"offset must be a whole number >= 0, got {offset!r}")
        if not isinstance(timeout, NUMBER) or not 0 < timeout <= 3600:
            raise QueryError(f"timeout must be seconds between 0 and 3600, got {timeout!r}")
        connection = self._query_engine().raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute("SET LOCAL statement_timeout = %s", (int(timeout * 1000),))
            try:
                # A cursor takes only a query, and pages without re-running it.
                cursor.execute(f"DECLARE lasair_query NO SCROLL CURSOR FOR {text}")
                if offset:
                    cursor.execute(f"MOVE FORWARD {int(offset)} IN lasair_query")
                cursor.execute(f"FETCH FORWARD {int(limit) + 1} FROM lasair_query")
            except psycopg2.Error as error:
                raise self._query_error(error, timeout) from error
            columns = [column.name for column in cursor.description]
            rows = cursor.fetchall()
        finally:
            connection.rollback()
            # Session state a query may have left (advisory locks, prepared plans)
            # must not follow the pooled connection to the next caller.
            connection.driver_connection.autocommit = True
            try:
                with connection.driver_connection.cursor() as cleanup:
                    cleanup.execute("DISCARD ALL")
            finally:
                connection.driver_connection.autocommit = False
                connection.close()
        frame = pd.DataFrame(rows[:limit], columns=columns)
        frame.attrs["truncated"] = len(rows) > limit
        return frame

    def _known_names(self) -> tuple[list[str], list[str]]:
        if self._names is None:
            schema = self.schema()
            self._names = (sorted(set(schema["table"])), sorted(set(schema["column"])))
        return self._names

    def _query_error(self, error: psycopg2.Error, timeout: float) -> QueryError:
        message = (error.pgerror or str(error)).strip().splitlines()[0]
        if isinstance(error, psycopg2.errors.QueryCanceled):
            return QueryError(f"query exceeded {timeout:g} s (statement timeout) and was cancelled")
        if isinstance(error, psycopg2.errors.ReadOnlySqlTransaction):
            return QueryError("queries are read-only: only SELECT statements are accepted")
        if isinstance(error, psycopg2.errors.InsufficientPrivilege):
            return QueryError(f"not allowed: {message}")
        tables, columns = self._known_names()
        for kind, names, pattern in (
            ("table", tables, r'relation "([^"]+)" does not exist'),
            ("column", columns, r'column "?([\w.]+)"? does not exist'),
        ):
            found = re.search(pattern, message)
            if found:
                name = found.group(1).split(".")[-1]
                near = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                return QueryError(f"unknown {kind} {name!r}{hint} (archive.schema() lists them)")
        return QueryError(f"query failed: {message}")

    def query(
        self,
        selected: str,
        tables: str,
        conditions: str = "",
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Lasair-style query: ``SELECT selected FROM tables WHERE conditions``.

        As in the Lasair client, several tables are joined on ``objectid``, and the
        result is a list of row dictionaries, so Lasair notebooks port unchanged.

        Parameters
        ----------
        selected
            Column list, e.g. ``"objects.objectid, ncand, context"``.
        tables
            Comma-separated tables, e.g. ``"objects, candidates"``.
        conditions
            A WHERE clause without ``WHERE`` (may be empty), e.g. ``"ncand > 10"``.
        limit, offset
            As in :meth:`sql`.
        """
        names = [name.strip() for name in tables.split(",") if name.strip()]
        if not names or not selected.strip():
            raise QueryError("give the selected columns and at least one table, as in Lasair")
        for name in names:
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                raise QueryError(f"table {name!r} is not a table name")
        joins = [f"{names[0]}.objectid = {other}.objectid" for other in names[1:]]
        where = " AND ".join(
            [f"({condition})" for condition in [*joins, conditions] if condition.strip()]
        )
        # User text by design, as in Lasair: sql() checks it and runs it read-only.
        sql = f"SELECT {selected} FROM {', '.join(names)}" + (f" WHERE {where}" if where else "")  # noqa: S608
        return self.sql(sql, limit=limit, offset=offset).to_dict("records")

    def schema(self) -> pd.DataFrame:
        """Tables and columns a user can query, with types and descriptions.

        Returns
        -------
        pandas.DataFrame
            ``table, column, type, description`` (the column comments), and
            ``table_description``.
        """
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),"
                    " col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
                    " AND NOT a.attisdropped"
                    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')"
                    " AND c.relname <> 'alembic_version' AND has_table_privilege(c.oid, 'SELECT')"
                    " ORDER BY c.relname, a.attnum"
                )
            ).all()
        return pd.DataFrame(
            rows, columns=["table", "column", "type", "description", "table_description"]
        )

    # --- sky ----------------------------------------------------------------------------

    def cone(
        self,
        target: Any,
        radius: float | u.Quantity = 2.0,
        nearest: bool = False,
        since: Any = None,
        until: Any = None,
    ) -> pd.DataFrame:
        """Objects within ``radius`` of a position, nearest first.

        Parameters
        ----------
        target
            A SkyCoord; ``(ra, dec)`` in degrees; or a string: decimal or
            sexagesimal coordinates with an optional radius in arcsec last, an
            objectId, several comma-separated, or a TNS name.
        radius
            Arcsec, or an astropy angle. A radius in the target string wins.
        nearest
            Only the nearest object.
        since, until
            Only objects detected at some time in this window (Time, JD or ISO).

        Returns
        -------
        pandas.DataFrame
            The ``objects`` rows with ``separation`` [arcsec], nearest first.
        """
        parsed = parse_target(target)
        if parsed.kind == "name":
            parsed = self._resolve_name(parsed)
        if parsed.kind == "objects":
            found = self._objects_by_id(parsed.object_ids)
            found.insert(1, "separation", 0.0)
            return found
        cone_radius = parsed.radius if parsed.radius is not None else as_radius(radius)
        since_jd, until_jd = _jd(since, "since"), _jd(until, "until")
        low, high = cone_ranges(parsed.coord, cone_radius)
        conditions = ["o.hpx >= r.lo", "o.hpx < r.hi"]
        if since_jd is not None:
            conditions.append("o.jdmax >= :since")
        if until_jd is not None:
            conditions.append("o.jdmin <= :until")
        with self.engine.connect() as connection:
            found = pd.read_sql(
                sa.text(
                    "SELECT o.* FROM unnest(CAST(:low AS bigint[]), CAST(:high AS bigint[]))"  # noqa: S608 - fixed text
                    f" AS r(lo, hi) JOIN objects o ON {' AND '.join(conditions)}"
                ),
                connection,
                params={"low": low, "high": high, "since": since_jd, "until": until_jd},
            )
        separation = parsed.coord.separation(
            SkyCoord(found["ra"].to_numpy(float) * u.deg, found["dec"].to_numpy(float) * u.deg)
        ).to_value(u.arcsec)
        found.insert(1, "separation", separation)
        found = found[found["separation"] <= cone_radius.to_value(u.arcsec)]
        found = found.sort_values("separation", kind="stable").reset_index(drop=True)
        return found.head(1) if nearest else found

    def _resolve_name(self, target: Target) -> Target:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT ra, dec FROM tns_objects WHERE name = :name"),
                {"name": target.name},
            ).first()
        if row is None:
            raise TargetError(
                f"TNS name {target.name!r} is not in the archive's TNS table "
                "(load it with archive.tns.load(csv))"
            )
        return Target(coord=SkyCoord(row.ra * u.deg, row.dec * u.deg))

    def _objects_by_id(self, object_ids: Sequence[str]) -> pd.DataFrame:
        where, params = _object_ids_sql(object_ids)
        with self.engine.connect() as connection:
            found = pd.read_sql(
                sa.text(f"SELECT * FROM objects WHERE {where} ORDER BY objectid"),  # noqa: S608 - fixed text
                connection,
                params=params,
            )
        missing = sorted(set(object_ids) - set(found["objectid"]))
        if missing:
            raise ObjectNotFoundError(f"not in the archive: {', '.join(missing)}")
        return found

    # --- objects --------------------------------------------------------------------------

    def object(self, object_id: str):
        """Everything about one object: summary, light curve, cutouts, annotations.

        Raises
        ------
        ObjectNotFoundError
            If no object has that id (the message suggests near ids).
        """
        from lasair_nb.object_record import ObjectRecord  # noqa: PLC0415 - it imports this module

        if not isinstance(object_id, str) or not object_id.strip():
            raise QueryError(f"objectId must be a string like 'ZTF21abiuvdk', got {object_id!r}")
        object_id = object_id.strip()
        with self.engine.connect() as connection:
            summary = (
                connection.execute(
                    sa.text("SELECT * FROM objects WHERE objectid = :id"), {"id": object_id}
                )
                .mappings()
                .first()
            )
            if summary is None:
                near = (
                    connection.execute(
                        sa.text(
                            "SELECT objectid FROM objects WHERE objectid LIKE :prefix"
                            " ORDER BY objectid LIMIT 3"
                        ),
                        {"prefix": object_id[:7] + "%"},
                    )
                    .scalars()
                    .all()
                )
        if summary is None:
            hint = f"; similar ids: {', '.join(near)}" if near else ""
            raise ObjectNotFoundError(f"no object {object_id!r} in the archive{hint}")
        return ObjectRecord(self, dict(summary))

    def annotate(
        self, object_id: str, tags: Sequence[str] = (), comment: str = "", public: bool = True
    ) -> int:
        """Annotate an object with tags and a comment; returns the annotation id."""
        return self.annotations.add(object_id, tags=tags, comment=comment, public=public)

    # --- survey -----------------------------------------------------------------------------

    def coverage(self, since: Any = None, until: Any = None) -> pd.DataFrame:
        """What the survey observed per night, field and band between two times."""
        since_jd, until_jd = _jd(since, "since"), _jd(until, "until")
        with self.engine.connect() as connection:
            return pd.read_sql(
                sa.text(
                    "SELECT * FROM coverage WHERE (:since IS NULL OR jd_last >= :since)"
                    " AND (:until IS NULL OR jd_first <= :until) ORDER BY night, field, fid"
                ),
                connection,
                params={"since": since_jd, "until": until_jd},
            )

    def status(self) -> dict[str, Any]:
        """The ingestion status page's figures (see ``lasair-nb status``)."""
        from lasair_nb.status import ingest_status  # noqa: PLC0415

        with self.engine.connect() as connection:
            status = ingest_status(connection)
        figures = dict(status.__dict__)
        figures["minutes_since"] = status.minutes_since
        return figures
