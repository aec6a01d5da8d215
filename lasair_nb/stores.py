"""Users' own data: watchlists, watchmaps, sky maps, saved queries, tags, annotations, TNS.

Each store belongs to an :class:`~lasair_nb.client.Archive` and acts as its user;
what that user may see and change is enforced by PostgreSQL (row-level security),
not here.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import psycopg2.errors
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy_healpix import level_to_nside, neighbours, nside_to_pixel_resolution
from astropy_healpix import lonlat_to_healpix as healpix_index
from healpix_alchemy.constants import HPX, LEVEL
from mocpy import MOC

from lasair_nb.errors import LasairError, QueryError
from lasair_nb.query import check_select
from lasair_nb.sky import as_radius
from lasair_nb.skymaps import SkyMap, read_skymap

if TYPE_CHECKING:
    from lasair_nb.client import Archive

NAME = re.compile(r"^[\w.+-][\w .+/-]{0,99}$")
TNS_MATCH_RADIUS = 1.5 * u.arcsec
"""Objects within this distance of a TNS object get its name, as in Lasair."""


class StoreError(LasairError, ValueError):
    """A store was asked for something it cannot do; the message says why."""


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not NAME.match(name) or "/" in name:
        raise StoreError(f"invalid {what} name {name!r}: 1-100 letters, digits, spaces and . _ + -")
    return name


def _database_error(error: sa.exc.DBAPIError, what: str) -> LasairError:
    original = error.orig
    if isinstance(original, psycopg2.errors.UniqueViolation):
        return StoreError(f"{what} exists already; choose another name or update it")
    if isinstance(original, psycopg2.errors.InsufficientPrivilege):
        first = str(original).strip().splitlines()[0]
        return StoreError(f"not allowed: {first}")
    first = str(original).strip().splitlines()[0]
    return StoreError(f"{what}: {first}")


def _insert_csv(connection: sa.Connection, table: str, columns: str, data: io.StringIO) -> None:
    """Bulk-insert CSV rows: COPY into a temporary table, then INSERT … SELECT.

    COPY cannot write a table with row-level security; the INSERT is checked by it.
    """
    staging = f"staging_{table}"
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT DROP"
    )
    data.seek(0)
    connection.connection.cursor().copy_expert(
        f"COPY {staging} ({columns}) FROM STDIN WITH (FORMAT csv)", data
    )
    connection.exec_driver_sql(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}"  # noqa: S608 - fixed names
    )
    connection.exec_driver_sql(f"TRUNCATE {staging}")


class _Store:
    """Shared plumbing: the archive, its engine, name resolution ('name' or 'owner/name')."""

    table = ""
    what = ""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    @property
    def engine(self) -> sa.Engine:
        return self.archive.engine

    def _find(self, connection: sa.Connection, name: str) -> sa.Row:
        """The row named ``name`` (yours first) or ``owner/name``, visible to you."""
        owner, _, bare = name.rpartition("/")
        rows = connection.execute(
            sa.text(
                f"SELECT * FROM {self.table} WHERE name = :name"  # noqa: S608 - fixed table names
                " AND (:owner = '' OR owner = :owner)"
                " ORDER BY owner = current_user DESC, owner"
            ),
            {"name": bare, "owner": owner},
        ).all()
        if not rows:
            raise StoreError(f"no {self.what} {name!r} visible to you; list() shows them")
        if len(rows) > 1 and rows[0].owner != self.archive.user:
            owners = ", ".join(f"{row.owner}/{bare}" for row in rows)
            raise StoreError(f"several public {self.what}s are named {bare!r}: say which: {owners}")
        return rows[0]

    def delete(self, name: str) -> None:
        """Delete one of yours (``name``, or ``owner/name``)."""
        with self.engine.begin() as connection:
            row = self._find(connection, name)
            deleted = connection.execute(
                sa.text(f"DELETE FROM {self.table} WHERE id = :id"),  # noqa: S608 - fixed names
                {"id": row.id},
            ).rowcount
        if not deleted:  # row-level security: only the owner's rows can be deleted
            raise StoreError(f"{self.what} {name!r} belongs to {row.owner}; you cannot delete it")


# --- watchlists ---------------------------------------------------------------------------


def read_sources(sources: Any, radius: float | u.Quantity) -> pd.DataFrame:
    """Watchlist sources from an astropy Table, a DataFrame or a CSV path.

    Columns (case-insensitive): a name (``name``, ``source``, ``id``), ``ra`` and
    ``dec`` in degrees or sexagesimal strings (RA in hours), and optionally
    ``radius`` in arcsec per source.
    """
    if isinstance(sources, (str, Path)):
        sources = pd.read_csv(sources, skipinitialspace=True)
    elif isinstance(sources, Table):
        sources = sources.to_pandas()
    if not isinstance(sources, pd.DataFrame):
        raise StoreError(
            "sources must be an astropy Table, a pandas DataFrame or a CSV path, "
            f"not {type(sources).__name__}"
        )
    columns = {column.lower().strip(): column for column in sources.columns}

    def pick(*names: str, required: bool = True) -> str | None:
        for name in names:
            if name in columns:
                return columns[name]
        if required:
            raise StoreError(
                f"sources need a column named one of {', '.join(names)}; got "
                f"{', '.join(map(str, sources.columns))}"
            )
        return None

    name_col = pick("name", "source", "source_name", "source name", "objectid", required=False)
    if name_col is None:  # catalogues say "3HSP Source name", "Object Name", ...
        name_col = next((c for key, c in columns.items() if key.endswith("name")), None)
    ra_col = pick("ra", "r.a.", "raj2000", "ra_deg", "ra (deg)", "_raj2000")
    dec_col = pick("dec", "dec.", "decl", "dej2000", "decj2000", "dec_deg", "dec (deg)", "_dej2000")
    radius_col = pick("radius", "radius_arcsec", required=False)
    if len(sources) == 0:
        raise StoreError("the watchlist has no sources")
    ra, dec = sources[ra_col], sources[dec_col]
    try:
        if not pd.api.types.is_numeric_dtype(ra):  # sexagesimal strings, as catalogues give
            ra = ra.astype(str).str.strip(' "')
            dec = dec.astype(str).str.strip(' "')
            coords = SkyCoord(ra.to_numpy(), dec.to_numpy(), unit=(u.hourangle, u.deg))
        else:
            coords = SkyCoord(ra.to_numpy(float) * u.deg, dec.to_numpy(float) * u.deg)
    except (ValueError, TypeError) as error:
        raise StoreError(f"cannot read the source positions: {error}") from error
    default = as_radius(radius).to_value(u.arcsec)
    radii = sources[radius_col].to_numpy(float) if radius_col else np.full(len(sources), default)
    radii = np.where(np.isfinite(radii) & (radii > 0), radii, default)
    if np.any(radii > 3600):
        raise StoreError("a source radius is above 3600 arcsec; watchlists take small cones")
    names = (
        sources[name_col].astype(str).to_numpy()
        if name_col
        else np.array([f"source {n + 1}" for n in range(len(sources))])
    )
    return pd.DataFrame(
        {
            "number": np.arange(1, len(sources) + 1),
            "name": names,
            "ra": coords.ra.deg,
            "dec": coords.dec.deg,
            "radius_arcsec": radii,
        }
    )


def cone_tiles(ra: np.ndarray, dec: np.ndarray, radius_arcsec: np.ndarray) -> pd.DataFrame:
    """HEALPix tiles (order-29 ranges) covering each cone: its pixel and the 8 around it.

    For each source the order is the finest whose pixels are at least twice the
    radius across, so the 3x3 block of pixels contains the whole cone.

    Returns
    -------
    pandas.DataFrame
        ``index`` (into the inputs), ``lo``, ``hi``.
    """
    parts = []
    resolution = {
        level: nside_to_pixel_resolution(level_to_nside(level)).to_value(u.arcsec)
        for level in range(LEVEL + 1)
    }
    fits_in = np.array([resolution[level] for level in range(LEVEL + 1)])
    levels = np.array(
        [
            np.flatnonzero(fits_in >= 2 * r)[-1] if np.any(fits_in >= 2 * r) else 0
            for r in radius_arcsec
        ]
    )
    for level in np.unique(levels):
        chosen = np.flatnonzero(levels == level)
        nside = level_to_nside(int(level))
        centre = healpix_index(ra[chosen] * u.deg, dec[chosen] * u.deg, nside, order="nested")
        with np.errstate(invalid="ignore"):  # pixels with 7 neighbours give -1
            around = neighbours(centre, nside, order="nested")  # (8, n)
        pixels = np.vstack([centre[np.newaxis, :], around])
        index = np.broadcast_to(chosen, pixels.shape)
        keep = pixels >= 0
        shift = 2 * (LEVEL - int(level))
        pixel = pixels[keep].astype(np.int64)
        parts.append(
            pd.DataFrame({"index": index[keep], "lo": pixel << shift, "hi": (pixel + 1) << shift})
        )
    return pd.concat(parts, ignore_index=True).drop_duplicates()


class WatchlistStore(_Store):
    """Watchlists: named lists of sources, crossmatched with the archive's objects."""

    table = "watchlists"
    what = "watchlist"

    def create(
        self,
        name: str,
        sources: Any,
        radius: float | u.Quantity = 2.0,
        *,
        public: bool = False,
        active: bool = False,
        description: str = "",
    ) -> int:
        """Create a watchlist; returns its id.

        Parameters
        ----------
        name
            Unique among your watchlists.
        sources
            Astropy Table, DataFrame or CSV path: name, ra, dec, optional radius.
        radius
            Default match radius (arcsec or angle) for sources without one.
        public, active
            Visible to everyone; matched against every new batch.
        description
            What it is for.
        """
        _check_name(name, "watchlist")
        table = read_sources(sources, radius)
        with self.engine.begin() as connection:
            try:
                watchlist_id = connection.execute(
                    sa.text(
                        "INSERT INTO watchlists (name, description, public, active, radius_arcsec)"
                        " VALUES (:name, :description, :public, :active, :radius) RETURNING id"
                    ),
                    {
                        "name": name,
                        "description": description,
                        "public": bool(public),
                        "active": bool(active),
                        "radius": as_radius(radius).to_value(u.arcsec),
                    },
                ).scalar_one()
            except sa.exc.DBAPIError as error:
                raise _database_error(error, f"watchlist {name!r}") from error
            self._write_sources(connection, watchlist_id, table)
        return int(watchlist_id)

    @staticmethod
    def _write_sources(connection: sa.Connection, watchlist_id: int, table: pd.DataFrame) -> None:
        tiles = cone_tiles(
            table["ra"].to_numpy(), table["dec"].to_numpy(), table["radius_arcsec"].to_numpy()
        )
        numbers = table["number"].to_numpy()
        columns = ["watchlist_id", "number", "name", "ra", "dec", "radius_arcsec"]
        sources = io.StringIO()
        table.assign(watchlist_id=watchlist_id)[columns].to_csv(sources, index=False, header=False)
        _insert_csv(connection, "watchlist_sources", ", ".join(columns), sources)
        ranges = io.StringIO()
        pd.DataFrame(
            {
                "watchlist_id": watchlist_id,
                "number": numbers[tiles["index"].to_numpy()],
                "tile": "[" + tiles["lo"].astype(str) + "," + tiles["hi"].astype(str) + ")",
            }
        ).to_csv(ranges, index=False, header=False)
        _insert_csv(connection, "watchlist_tiles", "watchlist_id, number, tile", ranges)

    def list(self) -> pd.DataFrame:
        """Watchlists visible to you (yours and public ones), with source counts."""
        with self.engine.connect() as connection:
            return pd.read_sql(
                sa.text(
                    "SELECT w.id, w.owner, w.name, w.description, w.public, w.active,"
                    " w.radius_arcsec, (SELECT count(*) FROM watchlist_sources s"
                    " WHERE s.watchlist_id = w.id) AS sources, w.created_at"
                    " FROM watchlists w ORDER BY w.owner, w.name"
                ),
                connection,
            )

    def get(self, name: str) -> pd.DataFrame:
        """The sources of a watchlist (``.attrs`` holds its settings)."""
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            sources = pd.read_sql(
                sa.text(
                    "SELECT number, name, ra, dec, radius_arcsec FROM watchlist_sources"
                    " WHERE watchlist_id = :id ORDER BY number"
                ),
                connection,
                params={"id": row.id},
            )
        sources.attrs.update(row._asdict())
        return sources

    def update(
        self,
        name: str,
        *,
        sources: Any = None,
        radius: float | u.Quantity | None = None,
        public: bool | None = None,
        active: bool | None = None,
        description: str | None = None,
    ) -> None:
        """Change a watchlist of yours; ``sources`` replaces all its sources."""
        changes = {"public": public, "active": active, "description": description}
        if radius is not None:
            changes["radius_arcsec"] = as_radius(radius).to_value(u.arcsec)
        changes = {key: value for key, value in changes.items() if value is not None}
        with self.engine.begin() as connection:
            row = self._find(connection, name)
            if row.owner != self.archive.user:
                raise StoreError(f"watchlist {name!r} belongs to {row.owner}; you can only read it")
            if changes:
                assignments = ", ".join(f"{key} = :{key}" for key in changes)
                connection.execute(
                    sa.text(f"UPDATE watchlists SET {assignments} WHERE id = :id"),  # noqa: S608 - keys are fixed
                    {**changes, "id": row.id},
                )
            if sources is not None:
                table = read_sources(sources, radius if radius is not None else row.radius_arcsec)
                connection.execute(
                    sa.text("DELETE FROM watchlist_sources WHERE watchlist_id = :id"),
                    {"id": row.id},
                )
                connection.execute(
                    sa.text("DELETE FROM watchlist_tiles WHERE watchlist_id = :id"), {"id": row.id}
                )
                self._write_sources(connection, row.id, table)

    def crossmatch(self, name: str, since: Any = None) -> pd.DataFrame:
        """Objects within each source's radius: one SQL join over HEALPix tiles.

        Returns
        -------
        pandas.DataFrame
            ``source``, ``objectid``, ``separation`` [arcsec], ``ncand``,
            ``context``, positions and detection times, by source then separation.
        """
        from lasair_nb.client import _jd  # noqa: PLC0415

        since_jd = _jd(since, "since")
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            found = pd.read_sql(
                sa.text(
                    "SELECT s.number, s.name AS source, s.ra AS source_ra, s.dec AS source_dec,"
                    " s.radius_arcsec, o.objectid, o.ra, o.dec, o.ncand, o.context, o.jdmin,"
                    " o.jdmax FROM watchlist_tiles t"
                    " JOIN objects o ON o.hpx >= lower(t.tile) AND o.hpx < upper(t.tile)"
                    " JOIN watchlist_sources s ON s.watchlist_id = t.watchlist_id"
                    " AND s.number = t.number"
                    " WHERE t.watchlist_id = :id AND (:since IS NULL OR o.jdmax >= :since)"
                ),
                connection,
                params={"id": row.id, "since": since_jd},
            )

        def position(ra: str, dec: str) -> SkyCoord:
            return SkyCoord(found[ra].to_numpy(float) * u.deg, found[dec].to_numpy(float) * u.deg)

        separation = position("source_ra", "source_dec").separation(position("ra", "dec"))
        found.insert(2, "separation", separation.to_value(u.arcsec))
        found = found[found["separation"] <= found["radius_arcsec"]]
        return found.sort_values(["number", "separation"]).reset_index(drop=True)


# --- watchmaps ------------------------------------------------------------------------------


class WatchmapStore(_Store):
    """Watchmaps: named sky areas (MOCs) whose objects a user follows."""

    table = "watchmaps"
    what = "watchmap"

    def create(
        self,
        name: str,
        moc: MOC | str | Path | None = None,
        *,
        cone: tuple[SkyCoord, float | u.Quantity] | None = None,
        polygon: SkyCoord | None = None,
        skymap: str | None = None,
        level: float = 0.9,
        public: bool = False,
        active: bool = False,
        description: str = "",
    ) -> int:
        """Create a watchmap; returns its id.

        The area is exactly one of: a MOC (or MOC FITS path), a cone ``(centre,
        radius)``, a polygon (SkyCoord vertices) or a stored sky map's credible
        region at ``level``.
        """
        _check_name(name, "watchmap")
        given = [item is not None for item in (moc, cone, polygon, skymap)]
        if sum(given) != 1:
            raise StoreError(
                "give exactly one area: moc=MOC or FITS path, cone=(SkyCoord, radius), "
                "polygon=SkyCoord vertices, or skymap=name with level"
            )
        if isinstance(moc, (str, Path)):
            moc = MOC.from_fits(moc)
        elif cone is not None:
            centre, radius = cone
            radius = as_radius(radius)
            depth = int(
                np.clip(math.ceil(math.log2(4 * 211_000 / radius.to_value(u.arcsec))), 2, 29)
            )
            moc = MOC.from_cone(centre.ra, centre.dec, radius=radius, max_depth=min(depth, 20))
        elif polygon is not None:
            moc = MOC.from_polygon_skycoord(polygon, max_depth=16)
        elif skymap is not None:
            moc = self.archive.skymaps.credible_region(skymap, level)[0]
        if not isinstance(moc, MOC):
            raise StoreError(
                f"moc must be a mocpy MOC or a MOC FITS path, not {type(moc).__name__}"
            )
        area = float(moc.sky_fraction * 4 * math.pi * (180 / math.pi) ** 2)
        buffer = io.BytesIO()
        moc.serialize(format="fits").writeto(buffer)
        with self.engine.begin() as connection:
            try:
                watchmap_id = connection.execute(
                    sa.text(
                        "INSERT INTO watchmaps (name, description, public, active, moc, area_deg2)"
                        " VALUES (:name, :description, :public, :active, :moc, :area) RETURNING id"
                    ),
                    {
                        "name": name,
                        "description": description,
                        "public": bool(public),
                        "active": bool(active),
                        "moc": buffer.getvalue(),
                        "area": area,
                    },
                ).scalar_one()
            except sa.exc.DBAPIError as error:
                raise _database_error(error, f"watchmap {name!r}") from error
            ranges = moc.to_depth29_ranges
            tiles = io.StringIO()
            for low, high in ranges.tolist():
                tiles.write(f'{watchmap_id},"[{low},{high})"\n')
            _insert_csv(connection, "watchmap_tiles", "watchmap_id, tile", tiles)
        return int(watchmap_id)

    def list(self) -> pd.DataFrame:
        """Watchmaps visible to you."""
        with self.engine.connect() as connection:
            return pd.read_sql(
                sa.text(
                    "SELECT id, owner, name, description, public, active, area_deg2, created_at"
                    " FROM watchmaps ORDER BY owner, name"
                ),
                connection,
            )

    def get(self, name: str) -> MOC:
        """The area of a watchmap as a MOC."""
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            ranges = connection.execute(
                sa.text(
                    "SELECT lower(tile), upper(tile) FROM watchmap_tiles"
                    " WHERE watchmap_id = :id ORDER BY 1"
                ),
                {"id": row.id},
            ).all()
        return MOC.from_depth29_ranges(29, np.array(ranges, dtype=np.uint64).reshape(-1, 2))

    def objects(self, name: str, since: Any = None) -> pd.DataFrame:
        """Objects inside the watchmap (detected since ``since``, if given)."""
        from lasair_nb.client import _jd  # noqa: PLC0415

        with self.engine.connect() as connection:
            row = self._find(connection, name)
            return pd.read_sql(
                sa.text(
                    "SELECT o.* FROM watchmap_tiles t JOIN objects o"
                    " ON o.hpx >= lower(t.tile) AND o.hpx < upper(t.tile)"
                    " WHERE t.watchmap_id = :id AND (:since IS NULL OR o.jdmax >= :since)"
                    " ORDER BY o.objectid"
                ),
                connection,
                params={"id": row.id, "since": _jd(since, "since")},
            )


# --- sky maps -------------------------------------------------------------------------------


class SkymapStore(_Store):
    """Gravitational-wave sky maps: stored as received, regions and candidates on demand."""

    table = "skymaps"
    what = "sky map"

    def __init__(self, archive: Archive) -> None:
        super().__init__(archive)
        self._maps: dict[str, SkyMap] = {}

    def ingest(self, path: str | Path | bytes, name: str | None = None) -> str:
        """Store an LVK HEALPix sky map (flat or multi-order, gzipped or not); returns its name."""
        data = path if isinstance(path, bytes) else Path(path).read_bytes()
        skymap = read_skymap(data)
        name = _check_name(name or skymap.event_name or Path(str(path)).stem, "sky map")
        _, area = skymap.credible_region(0.9)
        meta = {key: _json_safe(value) for key, value in skymap.meta.items()}
        with self.engine.begin() as connection:
            try:
                connection.execute(
                    sa.text(
                        "INSERT INTO skymaps (name, event, meta, skymap, has_distance, area90_deg2)"
                        " VALUES (:name, :event, CAST(:meta AS jsonb), :skymap, :distance, :area)"
                    ),
                    {
                        "name": name,
                        "event": skymap.event_name,
                        "meta": pd.Series(meta).to_json(),
                        "skymap": data,
                        "distance": skymap.has_distance,
                        "area": area,
                    },
                )
            except sa.exc.DBAPIError as error:
                raise _database_error(error, f"sky map {name!r}") from error
        self._maps[name] = skymap
        return name

    def list(self) -> pd.DataFrame:
        """Sky maps in the archive."""
        with self.engine.connect() as connection:
            return pd.read_sql(
                sa.text(
                    "SELECT name, event, owner, has_distance, area90_deg2, meta, created_at"
                    " FROM skymaps ORDER BY created_at"
                ),
                connection,
            )

    def get(self, name: str) -> SkyMap:
        """The sky map itself (cached)."""
        if name not in self._maps:
            with self.engine.connect() as connection:
                row = self._find(connection, name)
            self._maps[name] = read_skymap(bytes(row.skymap))
        return self._maps[name]

    def credible_region(self, name: str, level: float = 0.9) -> tuple[MOC, float]:
        """The smallest region holding ``level`` of the probability: MOC and area [deg²]."""
        if not 0 < level <= 1:
            raise StoreError(f"level must be in (0, 1], got {level!r}")
        region = self.get(name).credible_region(level)
        return region.moc, region.area_deg2

    def candidates(
        self, name: str, level: float = 0.9, since: Any = None, until: Any = None
    ) -> pd.DataFrame:
        """Objects inside the ``level`` credible region detected between ``since`` and ``until``.

        Returns
        -------
        pandas.DataFrame
            The objects with ``probdensity`` [1/sr] at each, the ``credible_level``
            it lies at, and ``distmu``/``distsigma`` [Mpc] where the map has distances.
        """
        from lasair_nb.client import _jd  # noqa: PLC0415

        skymap = self.get(name)
        moc, _ = self.credible_region(name, level)
        ranges = moc.to_depth29_ranges
        with self.engine.connect() as connection:
            found = pd.read_sql(
                sa.text(
                    "SELECT o.* FROM unnest(CAST(:low AS bigint[]), CAST(:high AS bigint[]))"
                    " AS r(lo, hi) JOIN objects o ON o.hpx >= r.lo AND o.hpx < r.hi"
                    " WHERE (:since IS NULL OR o.jdmax >= :since)"
                    " AND (:until IS NULL OR o.jdmin <= :until)"
                ),
                connection,
                params={
                    "low": ranges[:, 0].tolist(),
                    "high": ranges[:, 1].tolist(),
                    "since": _jd(since, "since"),
                    "until": _jd(until, "until"),
                },
            )
        at = skymap.credible_level(hpx=found["hpx"].to_numpy(np.int64))
        found["probdensity"] = at.probdensity
        found["credible_level"] = at.credible_level
        if skymap.has_distance:
            pixel = skymap.pixel_index(found["hpx"].to_numpy(np.int64))
            inside = pixel >= 0
            found["distmu"] = np.where(inside, skymap.distmu[np.maximum(pixel, 0)], np.nan)
            found["distsigma"] = np.where(inside, skymap.distsigma[np.maximum(pixel, 0)], np.nan)
        return found.sort_values("credible_level").reset_index(drop=True)


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


# --- saved queries --------------------------------------------------------------------------


class QueryStore(_Store):
    """Saved SQL queries: yours, public ones, and system ones promoted by administrators."""

    table = "queries"
    what = "query"

    def save(self, name: str, sql: str, description: str = "", public: bool = False) -> int:
        """Save a SELECT under a name; returns its id."""
        _check_name(name, "query")
        text = check_select(sql)
        with self.engine.begin() as connection:
            try:
                return int(
                    connection.execute(
                        sa.text(
                            "INSERT INTO queries (name, sql, description, public)"
                            " VALUES (:name, :sql, :description, :public) RETURNING id"
                        ),
                        {"name": name, "sql": text, "description": description, "public": public},
                    ).scalar_one()
                )
            except sa.exc.DBAPIError as error:
                raise _database_error(error, f"query {name!r}") from error

    def list(self, scope: str = "mine") -> pd.DataFrame:
        """Queries in ``scope``: ``"mine"``, ``"public"`` or ``"system"``."""
        where = {
            "mine": "owner = current_user",
            "public": "public AND NOT system",
            "system": "system",
        }.get(scope)
        if where is None:
            raise StoreError(f"scope must be 'mine', 'public' or 'system', not {scope!r}")
        with self.engine.connect() as connection:
            return pd.read_sql(
                sa.text(
                    "SELECT id, owner, name, description, sql, public, system, created_at"  # noqa: S608 - fixed text
                    f" FROM queries WHERE {where} ORDER BY owner, name"
                ),
                connection,
            )

    def run(self, name: str, limit: int = 1000, offset: int = 0) -> pd.DataFrame:
        """Run a saved query (yours, public or system; ``owner/name`` to choose)."""
        with self.engine.connect() as connection:
            row = self._find(connection, name)
        return self.archive.sql(row.sql, limit=limit, offset=offset)

    def promote(self, name: str) -> None:
        """Make a public query a system query (administrators only; the database checks)."""
        with self.engine.begin() as connection:
            row = self._find(connection, name)
            try:
                changed = connection.execute(
                    sa.text("UPDATE queries SET system = true WHERE id = :id"), {"id": row.id}
                ).rowcount
            except sa.exc.DBAPIError as error:
                raise _database_error(error, f"promoting {name!r}") from error
        if not changed:
            raise StoreError(f"query {name!r} is not public, or you may not promote it")


# --- tags and annotations -------------------------------------------------------------------


class TagStore:
    """The shared vocabulary of annotation tags, with descriptions anyone may edit."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def list(self) -> pd.DataFrame:
        """Every tag with its description."""
        with self.archive.engine.connect() as connection:
            return pd.read_sql(sa.text("SELECT * FROM tags ORDER BY name"), connection)

    def __contains__(self, name: object) -> bool:
        return name in set(self.list()["name"])

    def add(self, name: str, description: str = "") -> None:
        """Add a tag (lower case: letters, digits and _ . : -)."""
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_.:-]{0,63}", name):
            raise StoreError(f"invalid tag {name!r}: lower-case letters, digits and _ . : -")
        with self.archive.engine.begin() as connection:
            try:
                connection.execute(
                    sa.text("INSERT INTO tags (name, description) VALUES (:name, :description)"),
                    {"name": name, "description": description},
                )
            except sa.exc.DBAPIError as error:
                raise _database_error(error, f"tag {name!r}") from error

    def describe(self, name: str, description: str) -> None:
        """Change a tag's description."""
        with self.archive.engine.begin() as connection:
            changed = connection.execute(
                sa.text("UPDATE tags SET description = :description WHERE name = :name"),
                {"name": name, "description": description},
            ).rowcount
        if not changed:
            raise StoreError(f"no tag {name!r}; add it with archive.tags.add(name, description)")


class AnnotationStore:
    """Annotations: tags and comments on objects, with the full history of every change."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def _check_tags(self, connection: sa.Connection, tags: Sequence[str]) -> list[str]:
        tags = [tags] if isinstance(tags, str) else list(tags)
        known = set(connection.execute(sa.text("SELECT name FROM tags")).scalars())
        unknown = sorted(set(tags) - known)
        if unknown:
            raise StoreError(
                f"unknown tags {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}"
                " (add one with archive.tags.add(name, description))"
            )
        return tags

    def add(
        self, object_id: str, tags: Sequence[str] = (), comment: str = "", public: bool = True
    ) -> int:
        """Annotate an object; returns the annotation id."""
        if not tags and not comment:
            raise StoreError("an annotation needs tags, a comment, or both")
        with self.archive.engine.begin() as connection:
            if not connection.execute(
                sa.text("SELECT 1 FROM objects WHERE objectid = :id"), {"id": object_id}
            ).first():
                raise StoreError(f"no object {object_id!r} in the archive")
            tags = self._check_tags(connection, tags)
            return int(
                connection.execute(
                    sa.text(
                        "INSERT INTO annotations (objectid, tags, comment, public)"
                        " VALUES (:id, :tags, :comment, :public) RETURNING id"
                    ),
                    {"id": object_id, "tags": tags, "comment": comment, "public": public},
                ).scalar_one()
            )

    def update(
        self,
        annotation_id: int,
        *,
        tags: Sequence[str] | None = None,
        comment: str | None = None,
        public: bool | None = None,
    ) -> None:
        """Change an annotation of yours; the old version stays in the history."""
        with self.archive.engine.begin() as connection:
            values = {
                "tags": None if tags is None else self._check_tags(connection, tags),
                "comment": comment,
                "public": public,
                "id": annotation_id,
            }
            changed = connection.execute(
                sa.text(
                    "UPDATE annotations SET tags = coalesce(:tags, tags),"
                    " comment = coalesce(:comment, comment), public = coalesce(:public, public)"
                    " WHERE id = :id"
                ),
                values,
            ).rowcount
        if not changed:
            raise StoreError(f"no annotation {annotation_id} of yours")

    def delete(self, annotation_id: int) -> None:
        """Delete an annotation of yours (its history remains)."""
        with self.archive.engine.begin() as connection:
            if not connection.execute(
                sa.text("DELETE FROM annotations WHERE id = :id"), {"id": annotation_id}
            ).rowcount:
                raise StoreError(f"no annotation {annotation_id} of yours")

    def search(
        self,
        tag: str | None = None,
        author: str | None = None,
        text: str | None = None,
        object_id: str | None = None,
    ) -> pd.DataFrame:
        """Annotations visible to you with this tag / author / text in the comment / object."""
        with self.archive.engine.connect() as connection:
            return pd.read_sql(
                sa.text(
                    "SELECT id, objectid, author, tags, comment, public, created_at, updated_at"
                    " FROM annotations WHERE (:tag IS NULL OR :tag = ANY(tags))"
                    " AND (:author IS NULL OR author = :author)"
                    " AND (:text IS NULL OR comment ILIKE '%' || :text || '%')"
                    " AND (:object IS NULL OR objectid = :object) ORDER BY created_at, id"
                ),
                connection,
                params={"tag": tag, "author": author, "text": text, "object": object_id},
            )

    def history(self, object_id: str) -> pd.DataFrame:
        """Every change to the annotations of an object: who, when, what."""
        with self.archive.engine.connect() as connection:
            return pd.read_sql(
                sa.text(
                    "SELECT annotation_id, action, changed_by, changed_at, author, tags, comment,"
                    " public FROM annotation_history WHERE objectid = :id ORDER BY id"
                ),
                connection,
                params={"id": object_id},
            )


# --- TNS --------------------------------------------------------------------------------------


class TnsStore:
    """The Transient Name Server's public objects: loaded from its CSV, names on objects."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def load(self, csv_path: str | Path) -> int:
        """Load TNS's public objects CSV; objects within 1.5″ get the name as a ``tns`` annotation.

        Administrators only (it writes the TNS table). Returns the number of
        archive objects newly named.
        """
        frame = pd.read_csv(csv_path, skiprows=_tns_header_lines(csv_path))
        needed = {"name", "ra", "declination"}
        if not needed <= set(frame.columns):
            raise StoreError(
                f"{csv_path} is not the TNS public objects CSV: it lacks "
                f"{', '.join(sorted(needed - set(frame.columns)))}"
            )
        frame = frame.dropna(subset=["name", "ra", "declination"])
        rows = pd.DataFrame(
            {
                "name": frame["name"]
                .astype(str)
                .str.replace(r"^(AT|SN|TDE|FRB)\s*", "", regex=True),
                "prefix": frame.get("name_prefix"),
                "ra": frame["ra"].astype(float),
                "dec": frame["declination"].astype(float),
                "type": frame.get("type"),
                "redshift": pd.to_numeric(frame.get("redshift"), errors="coerce"),
                "discoverydate": frame.get("discoverydate"),
                "discoverymag": pd.to_numeric(frame.get("discoverymag"), errors="coerce"),
                "internal_names": frame.get("internal_names"),
                "reporting_group": frame.get("reporting_group"),
                "lastmodified": frame.get("lastmodified"),
            }
        )
        rows["hpx"] = HPX.lonlat_to_healpix(
            rows["ra"].to_numpy() * u.deg, rows["dec"].to_numpy() * u.deg
        )
        if not self.archive._privileged:
            raise QueryError(
                "loading TNS writes the archive: administrators (the archive owner) only"
            )
        columns = [
            "name",
            "prefix",
            "ra",
            "dec",
            "hpx",
            "type",
            "redshift",
            "discoverydate",
            "discoverymag",
            "internal_names",
            "reporting_group",
            "lastmodified",
        ]
        with self.archive.engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TEMP TABLE tns_load (LIKE tns_objects) ON COMMIT DROP"
            )
            buffer = io.StringIO()
            rows[columns].to_csv(buffer, index=False, header=False)
            buffer.seek(0)
            connection.connection.cursor().copy_expert(
                f"COPY tns_load ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
            )
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "name")
            connection.exec_driver_sql(
                f"INSERT INTO tns_objects SELECT DISTINCT ON (name) * FROM tns_load"  # noqa: S608 - fixed
                f" ON CONFLICT (name) DO UPDATE SET {updates}"
            )
            return self._annotate(connection)

    @staticmethod
    def _annotate(connection: sa.Connection) -> int:
        """Name every object within 1.5″ of a TNS object, once, as the ``tns`` bot."""
        tns = pd.read_sql(sa.text("SELECT name, ra, dec FROM tns_objects"), connection)
        if not len(tns):
            return 0
        radius = TNS_MATCH_RADIUS.to_value(u.arcsec)
        tiles = cone_tiles(tns["ra"].to_numpy(), tns["dec"].to_numpy(), np.full(len(tns), radius))
        connection.exec_driver_sql(
            "CREATE TEMP TABLE tns_tiles (name text, lo bigint, hi bigint) ON COMMIT DROP"
        )
        buffer = io.StringIO()
        pd.DataFrame(
            {"name": tns["name"].to_numpy()[tiles["index"]], "lo": tiles["lo"], "hi": tiles["hi"]}
        ).to_csv(buffer, index=False, header=False)
        buffer.seek(0)
        connection.connection.cursor().copy_expert(
            "COPY tns_tiles FROM STDIN WITH (FORMAT csv)", buffer
        )
        connection.execute(
            sa.text(
                "INSERT INTO tags (name, description, created_by) VALUES"
                " ('tns', 'Named by the Transient Name Server', 'tns') ON CONFLICT DO NOTHING"
            )
        )
        return connection.execute(
            sa.text(
                "INSERT INTO annotations (objectid, author, tags, comment, public)"
                " SELECT o.objectid, 'tns', ARRAY['tns'], concat_ws(' ', 'TNS',"
                "  coalesce(t.prefix, 'AT') || ' ' || t.name, '(' || t.type || ')'), true"
                " FROM tns_tiles tt JOIN objects o ON o.hpx >= tt.lo AND o.hpx < tt.hi"
                " JOIN tns_objects t ON t.name = tt.name"
                # haversine separation, in arcsec
                " WHERE 2 * degrees(asin(sqrt(sin(radians(o.dec - t.dec) / 2) ^ 2"
                "   + cos(radians(o.dec)) * cos(radians(t.dec))"
                "   * sin(radians(o.ra - t.ra) / 2) ^ 2))) * 3600 <= :radius"
                " AND NOT EXISTS (SELECT FROM annotations a WHERE a.objectid = o.objectid"
                "   AND a.author = 'tns' AND a.comment LIKE '% ' || t.name || '%')"
            ),
            {"radius": radius},
        ).rowcount

    def names(self) -> pd.DataFrame:
        """The TNS table."""
        with self.archive.engine.connect() as connection:
            return pd.read_sql(sa.text("SELECT * FROM tns_objects ORDER BY name"), connection)


def _tns_header_lines(csv_path: str | Path) -> int:
    """TNS CSVs may start with a line like ``"2024-01-01 00:00:00"`` before the header."""
    with open(csv_path, encoding="utf-8") as handle:
        first = handle.readline()
    return 0 if "name" in first else 1
