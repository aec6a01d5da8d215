"""Users' own data: watchlists, watchmaps, sky maps, saved queries, tags, annotations, TNS.

Each store belongs to an :class:`~lasair_nb.client.archive.Archive` and acts as
its user; what that user may see and change is enforced by PostgreSQL
(row-level security), not here. Stores validate arguments and call the storage
functions of :mod:`lasair_nb.archive`; they write no SQL.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from healpix_alchemy.constants import HPX
from mocpy import MOC

from lasair_nb.archive import annotations as annotation_storage
from lasair_nb.archive import named
from lasair_nb.archive import objects as object_storage
from lasair_nb.archive import queries as query_storage
from lasair_nb.archive import skymaps as skymap_storage
from lasair_nb.archive import tns as tns_storage
from lasair_nb.archive import watchlists as watchlist_storage
from lasair_nb.archive import watchmaps as watchmap_storage
from lasair_nb.archive.schema import queries, skymaps, watchlists, watchmaps
from lasair_nb.archive.user_sql import check_select
from lasair_nb.domain.healpix import area_deg2, cone_moc, moc_ranges
from lasair_nb.domain.sky import as_radius
from lasair_nb.domain.skymaps import SkyMap, read_skymap
from lasair_nb.domain.times import to_jd
from lasair_nb.domain.values import json_value
from lasair_nb.errors import NotAllowedError, NotFoundError, SkyMapError, StoreError

if TYPE_CHECKING:
    from lasair_nb.client.archive import Archive

TNS_MATCH_RADIUS = tns_storage.MATCH_RADIUS_ARCSEC * u.arcsec
"""Objects within this distance of a TNS object get its name, as in Lasair."""


def _check_flags(**flags: Any) -> None:
    for name, value in flags.items():
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise StoreError(f"{name} must be True or False, not {value!r}")


def _watchlist_radius(radius: Any) -> float:
    arcsec = float(as_radius(radius).to_value(u.arcsec))
    if arcsec > 3600:
        raise StoreError(f"a watchlist radius is at most 3600 arcsec, not {arcsec:g}")
    return arcsec


def _check_id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise StoreError(f"{what} must be a whole number (an id), not {value!r}")
    return int(value)


def _check_text(value: Any, what: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise StoreError(f"{what} must be a string, not {value!r}")
    if value is not None and "\x00" in value:
        raise StoreError(f"{what} holds a NUL character, which text cannot hold; remove it")
    return value


class _Store:
    """Shared plumbing: the archive, its engine, name resolution ('name' or 'owner/name')."""

    table: sa.Table
    what = ""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    @property
    def engine(self) -> sa.Engine:
        return self.archive.engine

    def _find(self, connection: sa.Connection, name: str) -> sa.Row:
        return named.find(connection, self.table, name, self.what)

    def _find_own(self, connection: sa.Connection, name: str) -> sa.Row:
        row = self._find(connection, name)
        if row.owner != self.archive.user:
            raise NotAllowedError(
                f"{self.what} {name!r} belongs to {row.owner}; you can only read it"
            )
        return row

    def delete(self, name: str) -> None:
        """Delete one of yours (``name``, or ``owner/name``)."""
        with self.engine.begin() as connection:
            row = self._find(connection, name)
            if not named.delete(connection, self.table, row.id):
                raise NotAllowedError(
                    f"{self.what} {name!r} belongs to {row.owner}; you cannot delete it"
                )


# --- watchlists ---------------------------------------------------------------------------


def _positions(ra: pd.Series, dec: pd.Series) -> SkyCoord:
    """Source positions: decimal degrees (numbers or text), else sexagesimal (RA in hours)."""
    if not pd.api.types.is_numeric_dtype(ra):
        as_numbers = pd.to_numeric(ra.astype(str).str.strip(' "'), errors="coerce")
        if as_numbers.notna().all():
            ra = as_numbers
            dec = pd.to_numeric(dec.astype(str).str.strip(' "'), errors="coerce")
    try:
        if not pd.api.types.is_numeric_dtype(ra):  # sexagesimal, as catalogues give it
            ra = ra.astype(str).str.strip(' "')
            dec = dec.astype(str).str.strip(' "')
            coords = SkyCoord(ra.to_numpy(), dec.to_numpy(), unit=(u.hourangle, u.deg))
        else:
            coords = SkyCoord(ra.to_numpy(float) * u.deg, dec.to_numpy(float) * u.deg)
    except (ValueError, TypeError) as error:
        raise StoreError(f"cannot read the source positions: {error}") from error
    bad = ~(np.isfinite(coords.ra.deg) & np.isfinite(coords.dec.deg))
    if bad.any():
        rows = ", ".join(str(row + 1) for row in np.flatnonzero(bad)[:10])
        raise StoreError(f"sources without a position (RA and Dec needed) in rows {rows}")
    return coords


def read_sources(sources: Any, radius: float | u.Quantity) -> pd.DataFrame:
    """Watchlist sources from an astropy Table, a DataFrame or a CSV path.

    Columns (case-insensitive): a name (``name``, ``source``, ``id``), ``ra`` and
    ``dec`` in degrees or sexagesimal strings (RA in hours), and optionally
    ``radius`` in arcsec per source.
    """
    if isinstance(sources, (str, Path)):
        try:
            sources = pd.read_csv(sources, skipinitialspace=True)
        except (OSError, ValueError, pd.errors.ParserError) as error:
            raise StoreError(f"cannot read the CSV {str(sources)!r}: {error}") from error
    elif isinstance(sources, Table):
        sources = sources.to_pandas()
    if not isinstance(sources, pd.DataFrame):
        raise StoreError(
            "sources must be an astropy Table, a pandas DataFrame or a CSV path, "
            f"not {type(sources).__name__}"
        )
    columns = {str(column).lower().strip(): column for column in sources.columns}

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
    coords = _positions(sources[ra_col], sources[dec_col])
    default = as_radius(radius).to_value(u.arcsec)
    try:
        radii = (
            pd.to_numeric(sources[radius_col]).to_numpy(float)
            if radius_col
            else np.full(len(sources), default)
        )
    except (ValueError, TypeError) as error:
        raise StoreError(f"the radius column must hold arcseconds: {error}") from error
    radii = np.where(np.isfinite(radii) & (radii > 0), radii, default)
    if np.any(radii > 3600):
        raise StoreError("a source radius is above 3600 arcsec; watchlists take small cones")
    names = (
        sources[name_col].astype(str).str.replace("\x00", "", regex=False).to_numpy()
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


class WatchlistStore(_Store):
    """Watchlists: named lists of sources, crossmatched with the archive's objects."""

    table = watchlists
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
        named.check_name(name, "watchlist")
        _check_flags(public=public, active=active)
        table = read_sources(sources, radius)
        with self.engine.begin() as connection:
            return watchlist_storage.create(
                connection,
                table,
                name=name,
                description=_check_text(str(description), "description"),
                public=bool(public),
                active=bool(active),
                radius_arcsec=_watchlist_radius(radius),
            )

    def list(self) -> Any:
        """Watchlists visible to you (yours and public ones), with source counts."""
        with self.engine.connect() as connection:
            return self.archive._deliver(watchlist_storage.visible(connection))

    def get(self, name: str) -> Any:
        """The sources of a watchlist (``.attrs`` holds its settings)."""
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            sources = watchlist_storage.sources_of(connection, row.id)
        sources.attrs.update(row._asdict())
        return self.archive._deliver(sources)

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
        _check_flags(public=public, active=active)
        changes = {"public": public, "active": active, "description": description}
        if radius is not None:
            changes["radius_arcsec"] = _watchlist_radius(radius)
        changes = {key: value for key, value in changes.items() if value is not None}
        with self.engine.begin() as connection:
            row = self._find_own(connection, name)
            named.update(connection, watchlists, row.id, **changes)
            if sources is not None:
                table = read_sources(sources, radius if radius is not None else row.radius_arcsec)
                watchlist_storage.replace_sources(connection, row.id, table)

    def crossmatch(self, name: str, since: Any = None) -> Any:
        """Objects within each source's radius: one SQL join over HEALPix ranges.

        Returns
        -------
        pandas.DataFrame or astropy.table.Table
            ``source``, ``objectid``, ``separation`` [arcsec], ``ncand``,
            ``context``, positions and detection times, by source then separation.
        """
        since_jd = to_jd(since, "since")
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            found = watchlist_storage.candidate_matches(connection, row.id, since_jd)

        def position(ra: str, dec: str) -> SkyCoord:
            return SkyCoord(found[ra].to_numpy(float) * u.deg, found[dec].to_numpy(float) * u.deg)

        separation = position("source_ra", "source_dec").separation(position("ramean", "decmean"))
        found.insert(2, "separation", separation.to_value(u.arcsec))
        found = found[found["separation"] <= found["radius_arcsec"]]
        return self.archive._deliver(
            found.sort_values(["number", "separation"]).reset_index(drop=True)
        )


# --- watchmaps ------------------------------------------------------------------------------

WATCHMAP_MAX_DEPTH = 20
"""Finest HEALPix depth of a watchmap drawn from a cone (~0.2″ cells)."""


def _read_moc(path: str | Path) -> MOC:
    if not Path(path).is_file():
        raise StoreError(f"no MOC FITS file at {str(path)!r}")
    try:
        return MOC.from_fits(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StoreError(f"{str(path)!r} is not a MOC FITS file: {error}") from error


def _cone(cone: Any) -> tuple[SkyCoord, Any]:
    if (
        not isinstance(cone, (tuple, list))
        or len(cone) != 2
        or not isinstance(cone[0], SkyCoord)
        or not cone[0].isscalar
        or not np.isfinite([cone[0].ra.deg, cone[0].dec.deg]).all()
    ):
        raise StoreError("cone must be (centre, radius): one finite SkyCoord and a radius")
    return cone[0], cone[1]


class WatchmapStore(_Store):
    """Watchmaps: named sky areas (MOCs) whose objects a user follows."""

    table = watchmaps
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
        named.check_name(name, "watchmap")
        given = [item is not None for item in (moc, cone, polygon, skymap)]
        if sum(given) != 1:
            raise StoreError(
                "give exactly one area: moc=MOC or FITS path, cone=(SkyCoord, radius), "
                "polygon=SkyCoord vertices, or skymap=name with level"
            )
        _check_flags(public=public, active=active)
        if isinstance(moc, (str, Path)):
            moc = _read_moc(moc)
        elif cone is not None:
            centre, radius = _cone(cone)
            moc = cone_moc(centre, as_radius(radius), max_depth=WATCHMAP_MAX_DEPTH)
        elif polygon is not None:
            if not isinstance(polygon, SkyCoord) or polygon.isscalar or len(polygon) < 3:
                raise StoreError("polygon must be a SkyCoord of at least 3 vertices")
            moc = MOC.from_polygon_skycoord(polygon, max_depth=16)
        elif skymap is not None:
            moc = self.archive.skymaps.credible_region(skymap, level)[0]
        if not isinstance(moc, MOC):
            raise StoreError(
                f"moc must be a mocpy MOC or a MOC FITS path, not {type(moc).__name__}"
            )
        buffer = io.BytesIO()
        moc.serialize(format="fits").writeto(buffer)
        with self.engine.begin() as connection:
            return watchmap_storage.create(
                connection,
                moc_ranges(moc),
                name=name,
                description=_check_text(str(description), "description"),
                public=bool(public),
                active=bool(active),
                moc=buffer.getvalue(),
                area_deg2=area_deg2(moc),
            )

    def list(self) -> Any:
        """Watchmaps visible to you."""
        with self.engine.connect() as connection:
            return self.archive._deliver(watchmap_storage.visible(connection))

    def get(self, name: str) -> MOC:
        """The area of a watchmap as a MOC."""
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            ranges = watchmap_storage.ranges_of(connection, row.id)
        return MOC.from_depth29_ranges(29, ranges)

    def objects(self, name: str, since: Any = None) -> Any:
        """Objects inside the watchmap (detected since ``since``, if given)."""
        since_jd = to_jd(since, "since")
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            return self.archive._deliver(
                watchmap_storage.objects_inside(connection, row.id, since_jd)
            )


# --- sky maps -------------------------------------------------------------------------------


class SkymapStore(_Store):
    """Gravitational-wave sky maps, stored as HEALPix tiles: regions and candidates are SQL.

    Nothing is kept between calls: every answer comes from the archive, so any process
    (a notebook, a dashboard, an API worker) gives the same one.
    """

    table = skymaps
    what = "sky map"

    def _find(self, connection: sa.Connection, name: str) -> sa.Row:
        return skymap_storage.find(connection, name)  # the facts, not the map's bytes

    def ingest(self, path: str | Path | bytes, name: str | None = None) -> str:
        """Store an LVK HEALPix sky map (flat or multi-order, gzipped or not); returns its name.

        The map is stored as tiles of one probability density each (neighbouring pixels
        of equal values merged, which loses nothing), and the bytes as received.
        """
        if isinstance(path, (bytes, bytearray, memoryview)):
            data, stem = bytes(path), None
        elif isinstance(path, (str, Path)):
            if not Path(path).is_file():
                raise SkyMapError(f"no sky map file at {path}")
            data, stem = Path(path).read_bytes(), Path(path).stem
        else:
            raise StoreError(
                f"give a sky map as a path or bytes (FITS or IGWN JSON), not {type(path).__name__}"
            )
        skymap = read_skymap(data)
        name = named.check_name(name or skymap.event_name or stem, "sky map")
        tiles = skymap.tiles()
        meta = {key: json_value(value) for key, value in skymap.meta.items()}
        with self.engine.begin() as connection:
            skymap_storage.create(
                connection,
                meta,
                tiles,
                name=name,
                event=skymap.event_name,
                skymap=data,
                has_distance=skymap.has_distance,
            )
        return name

    def list(self) -> Any:
        """Sky maps in the archive."""
        with self.engine.connect() as connection:
            return self.archive._deliver(skymap_storage.visible(connection))

    def get(self, name: str) -> SkyMap:
        """The sky map, rebuilt from its stored tiles (multi-order; same values everywhere)."""
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            tiles = skymap_storage.tiles_of(connection, row.id, distance=row.has_distance)
        return SkyMap.from_tiles(tiles, meta=row.meta)

    @staticmethod
    def _check_level(level: Any) -> float:
        if (
            isinstance(level, bool)
            or not isinstance(level, (int, float, np.integer, np.floating))
            or not 0 < level <= 1
        ):
            raise StoreError(f"level must be a probability in (0, 1], got {level!r}")
        return float(level)

    def credible_region(self, name: str, level: float = 0.9) -> tuple[MOC, float]:
        """The smallest region holding ``level`` of the probability: MOC and area [deg²]."""
        level = self._check_level(level)
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            ranges, area = skymap_storage.credible_region(connection, row.id, level)
        return MOC.from_depth29_ranges(29, ranges), area

    def candidates(
        self, name: str, level: float = 0.9, since: Any = None, until: Any = None
    ) -> Any:
        """Objects inside the ``level`` credible region detected between ``since`` and ``until``.

        Returns
        -------
        pandas.DataFrame or astropy.table.Table
            The objects with ``probdensity`` [1/sr] at each, the ``credible_level``
            it lies at, and ``distmu``/``distsigma`` [Mpc] where the map has distances;
            by credible level.
        """
        level = self._check_level(level)
        since_jd, until_jd = to_jd(since, "since"), to_jd(until, "until")
        with self.engine.connect() as connection:
            row = self._find(connection, name)
            found = skymap_storage.candidates(
                connection,
                row.id,
                level,
                since_jd=since_jd,
                until_jd=until_jd,
                distance=row.has_distance,
            )
        return self.archive._deliver(found)


# --- saved queries --------------------------------------------------------------------------


class QueryStore(_Store):
    """Saved SQL queries: yours, public ones, and system ones promoted by administrators."""

    table = queries
    what = "query"

    def save(self, name: str, sql: str, description: str = "", public: bool = False) -> int:
        """Save a SELECT under a name; returns its id."""
        named.check_name(name, "query")
        text = check_select(sql)
        with self.engine.begin() as connection:
            description = _check_text(str(description), "description")
            return query_storage.create(connection, name, text, description, bool(public))

    def list(self, scope: str = "mine") -> Any:
        """Queries in ``scope``: ``"mine"``, ``"public"`` or ``"system"``."""
        if scope not in query_storage.SCOPES:
            raise StoreError(f"scope must be 'mine', 'public' or 'system', not {scope!r}")
        with self.engine.connect() as connection:
            return self.archive._deliver(query_storage.in_scope(connection, scope))

    def run(self, name: str, limit: int = 1000, offset: int = 0) -> Any:
        """Run a saved query.

        ``name`` alone is one of yours, else a system query of that name; another
        user's public query is ``owner/name`` (a bare name never picks someone else's
        public query). A query that is not yours runs as the read-only role
        ``lasair_reader``, which sees only public rows: whoever wrote it, it cannot
        read (nor pass on) your private rows.

        Raises
        ------
        NotFoundError
            If no such query is visible to you.
        NotAllowedError
            If another user's query cannot run as ``lasair_reader`` (that role cannot
            log in from here: set ``LASAIR_READER_PASSWORD``); it never runs as you.
        """
        with self.engine.connect() as connection:
            row = query_storage.to_run(connection, name)
        mine = row.owner == self.archive.user
        return self.archive.sql(row.sql, limit=limit, offset=offset, as_reader=not mine)

    def promote(self, name: str) -> None:
        """Make a public query a system query (administrators only; the database checks)."""
        with self.engine.begin() as connection:
            row = self._find(connection, name)
            if not query_storage.promote(connection, row.id):
                raise NotAllowedError(f"query {name!r} is not public, or you may not promote it")


# --- tags and annotations -------------------------------------------------------------------

TAG = "lower-case letters, digits and _ . : - (at most 64, starting with a letter or digit)"


class TagStore:
    """The shared vocabulary of annotation tags, with descriptions anyone may edit."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    def list(self) -> Any:
        """Every tag with its description."""
        with self.archive.engine.connect() as connection:
            return self.archive._deliver(annotation_storage.all_tags(connection))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        with self.archive.engine.connect() as connection:
            return name in annotation_storage.tag_names(connection)

    def add(self, name: str, description: str = "") -> None:
        """Add a tag (lower case: letters, digits and _ . : -)."""
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_.:-]{0,63}", name):
            raise StoreError(f"invalid tag {name!r}: {TAG}")
        with self.archive.engine.begin() as connection:
            annotation_storage.add_tag(
                connection, name, _check_text(str(description), "description")
            )

    def describe(self, name: str, description: str) -> None:
        """Change a tag's description."""
        _check_text(name, "a tag")
        with self.archive.engine.begin() as connection:
            description = _check_text(str(description), "description")
            if not annotation_storage.describe_tag(connection, name, description):
                raise NotFoundError(
                    f"no tag {name!r}; add it with archive.tags.add(name, description)"
                )


ANNOTATOR_LIMITS = {
    "topic": 100, "classification": 100, "version": 16, "explanation": 10_000, "url": 2000,
}  # fmt: skip
"""Longest text of each Lasair annotator field (the archive's CHECK constraint)."""


CLASSDICT_MAX_DEPTH = 8
"""Deepest nesting of a classdict (the archive's CHECK constraint says the same)."""


def _json_depth(value: Any) -> int:
    """Levels of objects and lists in a JSON value (a scalar is 0)."""
    if isinstance(value, dict):
        return 1 + max((_json_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_json_depth(item) for item in value), default=0)
    return 0


def _check_annotator(annotator: Mapping[str, Any] | None) -> dict[str, Any]:
    if annotator is None:
        return {}
    if not isinstance(annotator, Mapping):
        raise StoreError(f"annotator must be a dict of Lasair fields, got {annotator!r}")
    unknown = set(annotator) - set(annotation_storage.ANNOTATOR_FIELDS)
    if unknown:
        raise StoreError(
            f"unknown annotator field(s) {', '.join(sorted(map(str, unknown)))}; accepted: "
            + ", ".join(annotation_storage.ANNOTATOR_FIELDS)
        )
    fields = dict(annotator)
    for name, limit in ANNOTATOR_LIMITS.items():
        value = fields.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise StoreError(f"annotator {name} must be text of at most {limit} characters")
        _check_text(value, name)
    classdict = fields.get("classdict")
    if classdict is not None:
        try:
            size = len(json.dumps(classdict, allow_nan=False))
        except (TypeError, ValueError, RecursionError) as error:
            raise StoreError(
                f"classdict must be plain JSON (a dict of numbers/text): {error}"
            ) from None
        if "\\u0000" in json.dumps(classdict):
            raise StoreError("classdict holds a NUL character, which text cannot hold; remove it")
        if _json_depth(classdict) > CLASSDICT_MAX_DEPTH:
            raise StoreError(
                f"classdict may nest at most {CLASSDICT_MAX_DEPTH} levels of objects and lists"
            )
        if not isinstance(classdict, dict) or size > 100_000:
            raise StoreError("classdict must be a dict of at most 100000 characters of JSON")
    return fields


class AnnotationStore:
    """Annotations: tags and comments on objects, with the full history of every change."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    @staticmethod
    def _check_tags(connection: sa.Connection, tags: Sequence[str]) -> list[str]:
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, (list, tuple, set, frozenset)) or not all(
            isinstance(tag, str) for tag in tags
        ):
            raise StoreError(f"tags must be a list of tag names, not {tags!r}")
        tags = list(tags)
        known = annotation_storage.tag_names(connection)
        unknown = sorted({str(tag) for tag in tags} - known)
        if unknown:
            raise StoreError(
                f"unknown tags {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}"
                " (add one with archive.tags.add(name, description))"
            )
        return tags

    def add(
        self,
        object_id: str,
        tags: Sequence[str] = (),
        comment: str = "",
        public: bool = True,
        annotator: Mapping[str, Any] | None = None,
    ) -> int:
        """Annotate an object; returns the annotation id.

        ``annotator`` optionally carries Lasair annotator fields: ``topic``,
        ``classification``, ``version``, ``explanation``, ``classdict`` (a dict), ``url``
        (what ``lasair_client.annotate`` writes; ``annotator:TOPIC`` queries them).
        """
        _check_text(comment, "comment")
        _check_flags(public=public)
        if not tags and not comment:
            raise StoreError("an annotation needs tags, a comment, or both")
        fields = _check_annotator(annotator)
        with self.archive.engine.begin() as connection:
            if not isinstance(object_id, str) or not object_storage.exists(connection, object_id):
                raise NotFoundError(f"no object {object_id!r} in the archive")
            tags = self._check_tags(connection, tags)
            return annotation_storage.add(
                connection, object_id, tags, str(comment), bool(public), annotator=fields
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
        annotation_id = _check_id(annotation_id, "annotation_id")
        _check_text(comment, "comment")
        _check_flags(public=public)
        with self.archive.engine.begin() as connection:
            checked = None if tags is None else self._check_tags(connection, tags)
            if not annotation_storage.update(connection, annotation_id, checked, comment, public):
                raise NotFoundError(f"no annotation {annotation_id} of yours")

    def delete(self, annotation_id: int) -> None:
        """Delete an annotation of yours (its history remains)."""
        annotation_id = _check_id(annotation_id, "annotation_id")
        with self.archive.engine.begin() as connection:
            if not annotation_storage.delete(connection, annotation_id):
                raise NotFoundError(f"no annotation {annotation_id} of yours")

    def search(
        self,
        tag: str | None = None,
        author: str | None = None,
        text: str | None = None,
        object_id: str | None = None,
    ) -> Any:
        """Annotations visible to you with this tag / author / text in the comment / object."""
        for what, value in (
            ("tag", tag),
            ("author", author),
            ("text", text),
            ("object_id", object_id),
        ):
            _check_text(value, what)
        with self.archive.engine.connect() as connection:
            return self.archive._deliver(
                annotation_storage.search(connection, tag, author, text, object_id)
            )

    def history(self, object_id: str) -> Any:
        """Every change to the annotations of an object: who, when, what."""
        _check_text(object_id, "object_id")
        with self.archive.engine.connect() as connection:
            return self.archive._deliver(annotation_storage.history(connection, object_id))


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
        if not self.archive.is_owner:
            raise NotAllowedError(
                "loading TNS writes the archive: administrators (the archive owner) only"
            )
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
        with self.archive.engine.begin() as connection:
            tns_storage.upsert(connection, rows)
            return tns_storage.name_objects(connection, float(TNS_MATCH_RADIUS.to_value(u.arcsec)))

    def names(self) -> Any:
        """The TNS table."""
        with self.archive.engine.connect() as connection:
            return self.archive._deliver(tns_storage.all_names(connection))


def _tns_header_lines(csv_path: str | Path) -> int:
    """TNS CSVs may start with a line like ``"2024-01-01 00:00:00"`` before the header."""
    with open(csv_path, encoding="utf-8") as handle:
        first = handle.readline()
    return 0 if "name" in first else 1
