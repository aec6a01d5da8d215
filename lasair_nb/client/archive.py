"""The Lasair-NB client: ``connect()`` → :class:`Archive`, the whole archive from a notebook.

>>> import lasair_nb as ln
>>> archive = ln.connect()
>>> archive.sql("SELECT objectid, ncand FROM objects ORDER BY ncand DESC", limit=5)
>>> archive.cone("12:34:56.7 +12:34:56 5")
>>> archive.object("ZTF21abiuvdk").lightcurve(kind="flux")

The client writes no SQL: it validates arguments, calls the storage functions of
:mod:`lasair_nb.archive` and shapes their answers. Bad arguments raise a
:class:`lasair_nb.LasairError` subclass that says what was wrong and what is accepted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord

from lasair_nb.archive import annotations as annotation_storage
from lasair_nb.archive import engine as archive_engine
from lasair_nb.archive import lasair_query, user_sql
from lasair_nb.archive import objects as object_storage
from lasair_nb.archive import sherlock as sherlock_storage
from lasair_nb.archive import status as status_storage
from lasair_nb.archive import tns as tns_storage
from lasair_nb.client.cancellation import Cancellation
from lasair_nb.client.object_record import ObjectRecord
from lasair_nb.client.results import OUTPUTS, Output, deliver
from lasair_nb.client.stores import (
    AnnotationStore,
    QueryStore,
    SkymapStore,
    TagStore,
    TnsStore,
    WatchlistStore,
    WatchmapStore,
)
from lasair_nb.domain.healpix import cone_ranges
from lasair_nb.domain.sky import Target, as_radius, parse_target
from lasair_nb.domain.times import to_jd
from lasair_nb.domain.values import json_value
from lasair_nb.errors import (
    ArgumentError,
    NotAllowedError,
    ObjectNotFoundError,
    QueryCancelledError,
    QueryError,
    TargetError,
)
from lasair_nb.settings import Settings, get_settings

_NUMBER = (int, float, np.integer, np.floating)
MAX_OFFSET = 2**31 - 1
"""PostgreSQL's MOVE takes a 32-bit count."""


ACT_AS = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""A user name ``connect(act_as=...)`` accepts (as ``lasair_nb.admin.users`` makes them)."""


def connect(
    url: str | None = None,
    *,
    user: str | None = None,
    password: str | None = None,
    output: Output = "pandas",
    act_as: str | None = None,
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
    output
        ``"pandas"`` (DataFrames) or ``"astropy"`` (Tables with units) for every
        tabular result.
    act_as
        For services that answer many users (the JSON API): log in with the URL's own
        role (the archive's owner) and act as this Lasair-NB user, with exactly their
        rights and row-level security (``SET ROLE`` on every connection). The user must
        exist (:func:`lasair_nb.admin.users.ensure_user`).

    Returns
    -------
    Archive
        The archive, as that user.
    """
    settings = get_settings()
    try:
        address = archive_engine.with_driver(url or archive_engine.database_url(settings))
    except sa.exc.ArgumentError as error:
        raise ArgumentError(
            f"{url!r} is not a database URL; give postgresql://user:password@host/database"
        ) from error
    user = user or settings.user
    if password is None and settings.password is not None:
        password = settings.password.get_secret_value()
    if user:
        address = address.set(username=user, password=password)
    if act_as is not None and not (isinstance(act_as, str) and ACT_AS.fullmatch(act_as)):
        raise ArgumentError(f"act_as must be a Lasair-NB user name, got {act_as!r}")
    try:
        return Archive(
            archive_engine.create_engine(address, act_as=act_as), settings, output=output
        )
    except sa.exc.DBAPIError as error:
        raise archive_engine.unreachable(error, address) from error


def _run_cancellable(  # noqa: PLR0917 - run_select's arguments and the handle
    connection: Any,
    text: str,
    limit: int,
    offset: int,
    timeout: float,
    cancellation: Cancellation | None,
) -> user_sql.QueryResult:
    if cancellation is None:
        return user_sql.run_select(connection, text, limit, offset, timeout)
    cancellation.attach(connection)
    try:
        return user_sql.run_select(connection, text, limit, offset, timeout)
    except QueryError as error:
        if cancellation.cancelled:
            raise QueryCancelledError("the query was cancelled") from error
        raise
    finally:
        cancellation.detach()


def _check_sql_arguments(
    limit: Any, offset: Any, timeout: Any, as_reader: Any, maximum: int
) -> None:
    """Refuse what :meth:`Archive.sql` cannot run, saying what is accepted."""
    if (
        isinstance(limit, bool)
        or not isinstance(limit, (int, np.integer))
        or not 1 <= limit <= maximum
    ):
        raise QueryError(f"limit must be a whole number from 1 to {maximum}, got {limit!r}")
    if (
        isinstance(offset, bool)
        or not isinstance(offset, (int, np.integer))
        or not 0 <= offset < MAX_OFFSET
    ):
        raise QueryError(
            f"offset must be a whole number from 0 to {MAX_OFFSET - 1}, got {offset!r}"
        )
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, _NUMBER)
        or not math.isfinite(timeout)
        or not 0 < timeout <= 3600
    ):
        raise QueryError(f"timeout must be seconds above 0 and at most 3600, got {timeout!r}")
    if not isinstance(as_reader, (bool, np.bool_)):
        raise QueryError(f"as_reader must be True or False, got {as_reader!r}")


class Archive:
    """The archive, as one user. Make it with :func:`connect`.

    Parameters
    ----------
    engine
        Engine on the archive, logged in as the user.
    settings
        Deployment settings (limits).
    output
        ``"pandas"`` or ``"astropy"``: the type of every tabular result
        (see :mod:`lasair_nb.client.results`).

    Attributes
    ----------
    watchlists, watchmaps, skymaps, queries, tags, annotations, tns
        The user's own data and the shared vocabularies (:mod:`lasair_nb.client.stores`).
    """

    def __init__(
        self, engine: sa.Engine, settings: Settings | None = None, output: Output = "pandas"
    ) -> None:
        self.engine = engine
        self.settings = settings or get_settings()
        self.output = output
        self._reader: sa.Engine | None = None
        with engine.connect() as connection:
            self.user, self._privileged = archive_engine.current_user(connection)
        self.watchlists = WatchlistStore(self)
        self.watchmaps = WatchmapStore(self)
        self.skymaps = SkymapStore(self)
        self.queries = QueryStore(self)
        self.tags = TagStore(self)
        self.annotations = AnnotationStore(self)
        self.tns = TnsStore(self)

    @property
    def output(self) -> Output:
        """``"pandas"`` or ``"astropy"``: what tabular results come back as."""
        return self._output

    @output.setter
    def output(self, value: Output) -> None:
        if value not in OUTPUTS:
            raise ArgumentError(f"output must be one of {', '.join(OUTPUTS)}, got {value!r}")
        self._output = value

    @property
    def is_owner(self) -> bool:
        """Whether this archive's user may write the archive tables (its owner)."""
        return self._privileged

    def __repr__(self) -> str:
        return f"<Archive {self.engine.url.database} as {self.user}>"

    def close(self) -> None:
        """Close the archive's database connections."""
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()

    def _deliver(self, frame: pd.DataFrame) -> Any:
        return deliver(frame, self.output)

    # --- SQL ----------------------------------------------------------------------------

    def _query_engine(self, as_reader: bool = False) -> sa.Engine:
        """The engine user SQL runs on: the user's own, or the read-only role's.

        An archive owner (the ingester's role, a superuser) must not run free SQL:
        it then runs as ``lasair_reader``, which can read and nothing else. Any user's
        SQL runs as ``lasair_reader`` when ``as_reader`` (another user's saved query).
        """
        if not self._privileged and not as_reader:
            return self.engine
        if self._reader is None:
            secret = self.settings.reader_password
            reader_url = self.engine.url.set(
                username=user_sql.READER_ROLE,
                password=None if secret is None else secret.get_secret_value(),
            )
            self._reader = sa.create_engine(reader_url, pool_pre_ping=True)
        return self._reader

    def sql(
        self,
        sql: str,
        limit: int = 1000,
        offset: int = 0,
        timeout: float | None = None,
        *,
        as_reader: bool = False,
        cancellation: Cancellation | None = None,
    ) -> Any:
        """Run one SELECT and return its rows.

        Parameters
        ----------
        sql
            Exactly one SELECT statement.
        limit, offset
            Rows to return and rows to skip (paging). ``limit`` is at most the
            deployment's ``sql_max_rows``.
        timeout
            Seconds before the statement is cancelled (default ``LASAIR_SQL_TIMEOUT``).
            It can lower the limit the user's role has, never raise it.
        as_reader
            Run as the read-only role ``lasair_reader`` (public rows only) rather
            than as the user: for SQL the user did not write, such as another user's
            saved query. It only ever lowers privilege.
        cancellation
            A :class:`Cancellation` whose ``cancel()`` (from another thread) stops the
            query in PostgreSQL; ``sql`` then raises :class:`QueryCancelledError`.

        Returns
        -------
        pandas.DataFrame or astropy.table.Table
            The rows; ``.attrs["truncated"]`` (``.meta`` for a Table) is True
            when more rows follow.

        Raises
        ------
        QueryError
            For anything but one SELECT, a timeout, an unknown table or column
            (with the nearest names), or a database error.
        NotAllowedError
            With ``as_reader`` (or as the archive's owner, whose SQL also runs as
            ``lasair_reader``), if ``lasair_reader`` cannot log in (on a server that
            asks it for a password, set ``LASAIR_READER_PASSWORD``): the SQL is then
            not run at all, never with the user's own rights.
        """
        text = user_sql.check_select(sql)
        maximum = self.settings.sql_max_rows
        if timeout is None:
            timeout = self.settings.sql_timeout
        _check_sql_arguments(limit, offset, timeout, as_reader, maximum)
        engine = self._query_engine(bool(as_reader))
        try:
            connection = engine.raw_connection()
        except (sa.exc.DBAPIError, engine.dialect.loaded_dbapi.Error) as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            if as_reader and not self._privileged:
                raise NotAllowedError(
                    "cannot run SQL you did not write: it runs as the read-only role "
                    f"{user_sql.READER_ROLE}, which cannot log in ({reason}); on a server "
                    "that asks it for a password, set LASAIR_READER_PASSWORD"
                ) from error
            if self._privileged:
                raise NotAllowedError(
                    "the archive's owner runs SQL as the read-only role "
                    f"{user_sql.READER_ROLE}, which cannot log in ({reason}); on a server "
                    "that asks it for a password, set LASAIR_READER_PASSWORD (or connect "
                    "as a user: LASAIR_USER and LASAIR_PASSWORD)"
                ) from error
            raise archive_engine.unreachable(error, engine.url) from error
        try:
            result = _run_cancellable(
                connection.driver_connection, text, int(limit), int(offset), float(timeout),
                cancellation,
            )  # fmt: skip
        finally:
            try:
                if connection.driver_connection.closed:
                    connection.invalidate()  # the pool must not hand a dead connection out
                else:
                    user_sql.reset_session(connection.driver_connection)
            finally:
                connection.close()
        frame = pd.DataFrame(result.rows, columns=result.columns)
        frame.attrs["truncated"] = result.truncated
        return self._deliver(frame)

    def query(
        self,
        selected: str,
        tables: str,
        conditions: str = "",
        limit: int = 1000,
        offset: int = 0,
        *,
        dialect: lasair_query.Dialect = "postgresql",
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """Lasair-style query: ``SELECT selected FROM tables WHERE conditions``.

        As Lasair's query builder (:mod:`lasair_nb.archive.lasair_query`): the tables
        are joined on ``objectid``; ``watchlist:N``, ``area:N`` and ``annotator:TOPIC``
        name Lasair's watchlist, watchmap and annotator tables; the result is a list of
        row dictionaries keyed as ``selected`` names the columns. It runs as
        :meth:`sql` does: read-only, with its timeout and row cap.

        Parameters
        ----------
        selected
            Column list, e.g. ``"objectId, ncand, objects.*"``.
        tables
            Comma-separated tables, e.g. ``"objects, watchlist:42"``.
        conditions
            A WHERE condition without ``WHERE`` (may be empty), e.g. ``"ncand > 10"``,
            optionally followed by ``GROUP BY``, ``HAVING``, ``ORDER BY`` and ``LIMIT n``
            (``LIMIT n OFFSET m``, ``LIMIT m, n``), or only those.
        limit, offset
            As in :meth:`sql`; a LIMIT in ``conditions`` applies first.
        dialect
            ``"postgresql"`` (the default), or ``"mysql"`` for Lasair-ZTF's text
            (``"SN"`` a string, ``LIKE`` ignoring case..., as :mod:`lasair_nb.lasair` sends).
        timeout
            As in :meth:`sql`.

        Returns
        -------
        list of dict
            One dict per row (a name selected twice keeps the last value).

        Raises
        ------
        QueryError
            For anything but such a query, saying what was wrong and what is accepted,
            and as :meth:`sql` raises it.
        """
        with self.engine.connect() as connection:
            known = lasair_query.table_names(connection)
        sql = lasair_query.build_query(selected, tables, conditions, known, dialect=dialect)
        frame = self.sql(sql, limit=limit, offset=offset, timeout=timeout)
        if not isinstance(frame, pd.DataFrame):
            frame = frame.to_pandas()
        columns = [str(column) for column in frame.columns]
        return [dict(zip(columns, row, strict=True)) for row in frame.itertuples(index=False)]

    def lasair_sql(
        self,
        selected: str,
        tables: str,
        conditions: str = "",
        dialect: lasair_query.Dialect = "mysql",
    ) -> str:
        """The SELECT that :meth:`query` would run, as text, without running it.

        Parameters
        ----------
        selected, tables, conditions
            As in :meth:`query`.
        dialect
            ``"mysql"`` (the default: Lasair-ZTF's text) or ``"postgresql"``.

        Returns
        -------
        str
            One SELECT, as :meth:`sql` accepts it.

        Raises
        ------
        QueryError
            For anything but a Lasair query, saying what was wrong and what is accepted.
        """
        with self.engine.connect() as connection:
            known = lasair_query.table_names(connection)
        return lasair_query.build_query(selected, tables, conditions, known, dialect=dialect)

    @staticmethod
    def split_select(sql: str) -> tuple[str, str, str] | None:
        """The builder's parts of a plain SELECT: ``(selected, tables, conditions)``.

        For ``SELECT columns FROM name, … [WHERE …] [GROUP BY / ORDER BY / LIMIT …]``;
        None for anything the builder cannot hold (joins, aliases, subqueries in FROM,
        WITH, UNION). Nothing is run.

        Parameters
        ----------
        sql
            One SELECT statement.

        Returns
        -------
        tuple of str or None
            The parts :meth:`lasair_sql` takes back, or None.
        """
        return lasair_query.split_select(sql)

    def schema(self) -> Any:
        """Tables and columns a user can query, with types and descriptions.

        Returns
        -------
        pandas.DataFrame or astropy.table.Table
            ``table, column, type, description`` (the column comments), and
            ``table_description``.
        """
        with self.engine.connect() as connection:
            rows = user_sql.describe_schema(connection)
        return self._deliver(
            pd.DataFrame(
                rows, columns=["table", "column", "type", "description", "table_description"]
            )
        )

    # --- sky ----------------------------------------------------------------------------

    def cone(
        self,
        target: Any,
        radius: float | u.Quantity = 2.0,
        nearest: bool = False,
        since: Any = None,
        until: Any = None,
    ) -> Any:
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
        pandas.DataFrame or astropy.table.Table
            The ``objects`` rows with ``separation`` [arcsec], nearest first.
        """
        return self._deliver(self._cone(target, radius, nearest, since, until))

    def _cone(
        self,
        target: Any,
        radius: float | u.Quantity = 2.0,
        nearest: bool = False,
        since: Any = None,
        until: Any = None,
    ) -> pd.DataFrame:
        parsed = parse_target(target)
        if parsed.kind == "name":
            parsed = self._resolve_name(parsed)
        if parsed.kind == "objects":
            found = self._objects_by_id(parsed.object_ids)
            found.insert(1, "separation", 0.0)
            return found
        cone_radius = parsed.radius if parsed.radius is not None else as_radius(radius)
        since_jd, until_jd = to_jd(since, "since"), to_jd(until, "until")
        low, high = cone_ranges(parsed.coord, cone_radius)
        with self.engine.connect() as connection:
            found = object_storage.in_ranges(connection, low, high, since_jd, until_jd)
        separation = parsed.coord.separation(
            SkyCoord(
                found["ramean"].to_numpy(float) * u.deg, found["decmean"].to_numpy(float) * u.deg
            )
        ).to_value(u.arcsec)
        found.insert(1, "separation", separation)
        found = found[found["separation"] <= cone_radius.to_value(u.arcsec)]
        found = found.sort_values("separation", kind="stable").reset_index(drop=True)
        return found.head(1) if nearest else found

    def _resolve_name(self, target: Target) -> Target:
        with self.engine.connect() as connection:
            position = tns_storage.position_of(connection, target.name)
        if position is None:
            raise TargetError(
                f"TNS name {target.name!r} is not in the archive's TNS table "
                "(load it with archive.tns.load(csv))"
            )
        return Target(coord=SkyCoord(position[0] * u.deg, position[1] * u.deg))

    def _objects_by_id(self, object_ids: Sequence[str]) -> pd.DataFrame:
        with self.engine.connect() as connection:
            found = object_storage.by_ids(connection, object_ids)
        missing = sorted(set(object_ids) - set(found["objectid"]))
        if missing:
            raise ObjectNotFoundError(f"not in the archive: {', '.join(missing)}")
        return found

    # --- objects --------------------------------------------------------------------------

    def object(self, object_id: str) -> ObjectRecord:
        """Everything about one object: summary, light curve, cutouts, annotations.

        Raises
        ------
        ObjectNotFoundError
            If no object has that id (the message suggests near ids).
        """
        if not isinstance(object_id, str) or not object_id.strip() or "\x00" in object_id:
            raise ArgumentError(f"objectId must be a string like 'ZTF21abiuvdk', got {object_id!r}")
        object_id = object_id.strip()
        with self.engine.connect() as connection:
            summary = object_storage.summary(connection, object_id)
            near = [] if summary else object_storage.ids_like(connection, object_id[:7])
        if summary is None:
            hint = f"; similar ids: {', '.join(near)}" if near else ""
            raise ObjectNotFoundError(f"no object {object_id!r} in the archive{hint}")
        return ObjectRecord(self, summary)

    def annotate(
        self,
        object_id: str,
        tags: Sequence[str] = (),
        comment: str = "",
        public: bool = True,
        annotator: Mapping[str, Any] | None = None,
    ) -> int:
        """Annotate an object with tags and a comment; returns the annotation id.

        ``annotator``: optional Lasair annotator fields (see :meth:`AnnotationStore.add`).
        """
        return self.annotations.add(
            object_id, tags=tags, comment=comment, public=public, annotator=annotator
        )

    # --- context (Sherlock) ---------------------------------------------------------------

    def sherlock(self, object_id: str) -> dict[str, Any]:
        """An object's Sherlock-like context class, with every ranked catalogue match.

        The rules are in :mod:`lasair_nb.domain.sherlock`.

        Returns
        -------
        dict
            The ``sherlock_classifications`` row (``classification``, ``description``,
            the best match's ``catalogue_object_id``, ``separationarcsec``, ...) and
            ``crossmatches``: the ``sherlock_crossmatches`` rows, best first; values as
            JSON has them (``updated_at`` an ISO string). ``{}`` if the object has not
            been classified yet (an operator runs ``lasair-nb catalogs classify``).

        Raises
        ------
        ObjectNotFoundError
            If the object is not in the archive.
        """
        if not isinstance(object_id, str) or not object_id.strip() or "\x00" in object_id:
            raise ArgumentError(f"objectId must be a string like 'ZTF21abiuvdk', got {object_id!r}")
        object_id = object_id.strip()
        with self.engine.connect() as connection:
            found = sherlock_storage.classification(connection, object_id)
            matches = sherlock_storage.crossmatches(connection, object_id) if found else []
            known = found is not None or sherlock_storage.is_object(connection, object_id)
        if not known:
            raise ObjectNotFoundError(f"no object {object_id!r} in the archive")
        if found is None:
            return {}
        result = {key: json_value(value) for key, value in found.items()}
        result["crossmatches"] = [
            {key: json_value(value) for key, value in row.items()} for row in matches
        ]
        return result

    def sherlock_position(self, ra: float, dec: float) -> dict[str, Any]:
        """The Sherlock-like context class of a sky position, from the loaded catalogues.

        Parameters
        ----------
        ra, dec
            ICRS position in degrees.

        Returns
        -------
        dict
            As :meth:`sherlock` (``objectid`` None); no alert, so no PS1/Gaia evidence.
        """
        for name, value in (("ra", ra), ("dec", dec)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TargetError(f"{name} must be a number of degrees, got {value!r}")
            if not math.isfinite(float(value)):
                raise TargetError(f"{name} must be a finite number of degrees, got {value!r}")
        if not -90 <= float(dec) <= 90:
            raise TargetError(f"dec must be from -90 to 90 degrees, got {dec!r}")
        with self.engine.connect() as connection:
            return sherlock_storage.classify_position(connection, float(ra) % 360.0, float(dec))

    # --- survey -----------------------------------------------------------------------------

    def coverage(self, since: Any = None, until: Any = None) -> Any:
        """What the survey observed per night, field and band between two times."""
        since_jd, until_jd = to_jd(since, "since"), to_jd(until, "until")
        with self.engine.connect() as connection:
            return self._deliver(object_storage.survey_coverage(connection, since_jd, until_jd))

    def status(self) -> dict[str, Any]:
        """The ingestion status page's figures (see ``lasair-nb status``)."""
        with self.engine.connect() as connection:
            status = status_storage.ingest_status(connection)
        figures = dict(status.__dict__)
        figures["minutes_since"] = status.minutes_since
        return figures

    def _annotations_of(self, object_id: str) -> pd.DataFrame:
        with self.engine.connect() as connection:
            return annotation_storage.search(connection, object_id=object_id)
