"""``SkyMap``: the archive on the sky, in one Aladin Lite view that needs no network.

Layers, each kept as an attribute and drawn as Aladin overlays:

``objects``
    Archive objects detected in the time window (or the rows of a SELECT), clickable: a
    click sets ``selected_object`` and opens an ``ObjectViewer`` below the sky. Up to
    ``max_markers`` objects in the view are drawn one by one; more are drawn as their
    density (filled HEALPix cells, one shade per decade of objects a cell holds), which
    keeps the browser responsive (a browser redraws every marker on every frame: 10⁵ made
    a frame take seconds in headless Chromium). Zooming in until fewer are in view
    draws them one by one again.
``coverage``
    What ZTF observed in the time window: one square per (field, band), as Lasair-ZTF's
    coverage page drew them (g green, r red, i orange).
``skymap``
    A gravitational-wave sky map's credible regions (10 % … 90 %) as contours, and the
    candidates inside the outermost one that were detected in the time window.
``watchlist``, ``watchmap``
    A watchlist's sources (circles of their radius) and a watchmap's area (filled MOC).

The view and the traits follow each other: panning or zooming in the browser sets
``target`` and ``fov`` (and loads the objects of the new view), setting them moves the
view. Everything the view shows is in traits (``target``, ``fov``, ``since``, ``until``, ``bands``,
``layers``, ``skymap_name``, ``levels``, ``watchlist``, ``watchmap``, ``selected_object``),
so a dashboard or a notebook can set them; the data are read through the client only.

One :class:`~lasair_nb.widgets.aladin.LocalAladin` serves the widget for its whole life.
Overlays are sent only once Aladin Lite has been drawn in a browser: ipyaladin queues
calls made before that in a store shared by every instance and never emptied, so sending
early would replay them for other views and pile up 10⁵-row catalogues. Until then the
layers live here, and all of them are drawn when the view reports it is loaded.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import numpy.typing as npt
import pandas as pd
import traitlets
from astropy import units as u
from astropy.coordinates import angular_separation
from astropy.table import Table
from IPython.display import display
from mocpy import MOC

from lasair_nb.domain.sky import parse_target
from lasair_nb.errors import ArgumentError, LasairError
from lasair_nb.widgets.common import Notice

if TYPE_CHECKING:
    from lasair_nb.client import Archive
    from lasair_nb.widgets.aladin import LocalAladin

LAYERS: tuple[str, ...] = ("objects", "coverage", "skymap", "watchlist", "watchmap")
"""The layers a SkyMap can show, in drawing order."""

DRAWN_OBJECT_COLUMNS = ("objectid", "ra", "dec")
"""Columns of ``objects`` sent to the view (a click gives the objectid)."""

BANDS: dict[str, int] = {"g": 1, "r": 2, "i": 3}
"""ZTF band names and their filter ids (``fid``)."""

BAND_COLOURS: dict[str, str] = {"g": "#00ff00", "r": "#ff0000", "i": "#ffaa00"}
"""Coverage square colours: Lasair-ZTF's green for g and red for r; orange for i."""

LAYER_COLOURS: dict[str, str] = {
    "objects": "#ffff00",
    "candidates": "#ff00ff",
    "watchlist": "#00ffff",
    "watchmap": "#ff8800",
}
"""Colours of the other overlays (the contours go from white, 10 %, to blue, 90 %)."""

DEFAULT_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Credible levels drawn as contours, as Lasair-ZTF's sky map page drew them."""

FIELD_WIDTH_DEG = 6.86
"""Side of a ZTF field square [deg]: the camera's 47 deg² field of view."""

ALL_SKY_FOV_DEG = 180.0
"""A field of view at least this wide [deg] means the whole sky: objects from everywhere."""

DISPLAY_MOC_ORDER = 10
"""MOCs are degraded to this HEALPix order (~3.4′ cells) before they are drawn."""

MAX_MARKERS = 5000
"""Default of ``SkyMap.max_markers``: more objects in view are drawn as a density."""

DENSITY_CELLS_ACROSS = 60
"""A density map's cells: about this many across the field of view."""

OBJECT_COLUMNS: tuple[str, ...] = ("objectid", "ra", "dec", "ncand", "jdmin", "jdmax")
"""Columns of ``SkyMap.objects`` (and of the catalogue sent to Aladin Lite)."""


@functools.cache
def ztf_fields() -> pd.DataFrame:
    """The ZTF field centres: primary grid 1-881 and secondary grid 1001-1897.

    Returns
    -------
    pandas.DataFrame
        ``field`` (id), ``ra`` and ``dec`` [deg] of every field centre, from the ZTF
        public field list (``ZTF_Fields.csv``).
    """
    with resources.files("lasair_nb.widgets").joinpath("ztf_fields.csv").open() as source:
        return pd.read_csv(source, comment="#")


def field_corners(
    ra: npt.ArrayLike, dec: npt.ArrayLike, width: float = FIELD_WIDTH_DEG
) -> npt.NDArray[np.float64]:
    """Corners of square fields of side ``width`` centred on ``(ra, dec)``.

    A corner is ``±width/2`` in longitude and latitude of a frame whose origin is the
    field centre (astropy's ``SkyOffsetFrame``, ``SkyCoord.spherical_offsets_by``), so the
    square keeps its shape near the poles, where RA ± width / cos(dec) would not.

    Parameters
    ----------
    ra, dec
        Field centres [deg], arrays of one length ``n``.
    width
        Side of a field [deg].

    Returns
    -------
    numpy.ndarray
        ``(n, 4, 2)``: RA and Dec [deg] of the corners, counter-clockwise on the sky from
        south-west (``-,-``, ``+,-``, ``+,+``, ``-,+`` in offset longitude, latitude).
    """
    centre_ra = np.radians(np.atleast_1d(np.asarray(ra, dtype=float)))
    centre_dec = np.radians(np.atleast_1d(np.asarray(dec, dtype=float)))
    half = math.radians(width / 2)
    offsets = np.array([(-half, -half), (half, -half), (half, half), (-half, half)])
    lon, lat = offsets[:, 0], offsets[:, 1]
    # Unit vectors in the offset frame, rotated by -dec about y, then by ra about z.
    x0, y0, z0 = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    cos_d, sin_d = np.cos(centre_dec)[:, None], np.sin(centre_dec)[:, None]
    cos_a, sin_a = np.cos(centre_ra)[:, None], np.sin(centre_ra)[:, None]
    x1, z1 = x0 * cos_d - z0 * sin_d, x0 * sin_d + z0 * cos_d
    x, y = x1 * cos_a - y0 * sin_a, x1 * sin_a + y0 * cos_a
    corners = np.empty((centre_ra.size, 4, 2))
    corners[..., 0] = np.degrees(np.arctan2(y, x)) % 360.0
    corners[..., 1] = np.degrees(np.arcsin(np.clip(z1, -1.0, 1.0)))
    return corners


def polygon_stcs(corners: npt.ArrayLike) -> str:
    """An STC-S polygon (ICRS) through the given vertices.

    Parameters
    ----------
    corners
        ``(k, 2)`` RA and Dec [deg] of the vertices.

    Returns
    -------
    str
        E.g. ``"POLYGON ICRS 10.0 20.0 11.0 20.0 11.0 21.0"``.
    """
    points = " ".join(f"{ra:.5f} {dec:.5f}" for ra, dec in np.asarray(corners, dtype=float))
    return f"POLYGON ICRS {points}"


def _frame(rows: Any) -> pd.DataFrame:
    """A client result (DataFrame or astropy Table) as a DataFrame."""
    if isinstance(rows, Table):
        return rows.to_pandas()
    return pd.DataFrame(rows)


def _time_argument(value: str | float | None) -> float | str | None:
    """A time trait as the client accepts it: a JD number or an ISO string (None: open)."""
    if isinstance(value, (int, float)):
        return float(value)
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        return text


def _display_moc(moc: MOC) -> MOC:
    """The MOC to draw: degraded so the browser gets thousands of cells, not millions."""
    if moc.max_order > DISPLAY_MOC_ORDER:
        return moc.degrade_to_order(DISPLAY_MOC_ORDER)
    return moc


def _level_colour(index: int, count: int) -> str:
    """Contour colour: white (innermost level) to pure blue (outermost)."""
    share = 1.0 if count <= 1 else index / (count - 1)
    other = round(255 * (1 - share))
    return f"#{other:02x}{other:02x}ff"


class SkyMap(widgets.VBox):
    """Archive objects, ZTF coverage, GW sky maps, watchlists and watchmaps on the sky.

    Parameters
    ----------
    archive
        The archive (``lasair_nb.connect()``).
    fields
        ZTF field centres (``field``, ``ra``, ``dec`` [deg]) for the coverage squares;
        default the ZTF public field list (:func:`ztf_fields`). A simulated survey with
        its own grid passes its own.
    height
        Height of the sky view [px].
    **kwargs
        Initial values of the traits (``since="2024-06-01"``, ``skymap_name="GW170817"``…).

    Attributes
    ----------
    sky : LocalAladin
        The Aladin Lite view (one for the widget's life).
    objects : astropy.table.Table
        The objects layer: ``objectid, ra, dec, ncand, jdmin, jdmax``.
    coverage : pandas.DataFrame
        One row per (field, band) observed in the window: ``field, fid, band, nights,
        ncandidates, ra, dec, corners`` (``(4, 2)`` RA/Dec [deg]) and ``stcs``.
    contours : dict of float to mocpy.MOC
        Credible region of each level in ``levels`` (exact, as the archive gives it).
    contour_areas : dict of float to float
        Their areas [deg²].
    density : astropy.table.Table or None
        When more than ``max_markers`` objects are in view: how many fall in each HEALPix
        cell drawn (``order``, ``ipix``, ``count``); None when each object is drawn.
    candidates : astropy.table.Table
        Objects inside the outermost contour detected in the window, by credible level.
    watchlist_sources : astropy.table.Table
        The watchlist's sources (``name, ra, dec, radius_arcsec``).
    watchmap_moc : mocpy.MOC or None
        The watchmap's area.
    viewer : ipywidgets.Output
        Where the ``ObjectViewer`` of ``selected_object`` opens.
    notice : Notice
        Errors and counts, in plain words.

    Examples
    --------
    >>> import lasair_nb as ln  # doctest: +SKIP
    >>> from lasair_nb.widgets.sky_map import SkyMap  # doctest: +SKIP
    >>> sky = SkyMap(ln.connect(), since="2024-06-01", until="2024-06-08",
    ...              skymap_name="GW170817")  # doctest: +SKIP
    >>> len(sky.objects), sorted(sky.contours)  # doctest: +SKIP
    """

    target = traitlets.Unicode(
        "0 0",
        help="Centre of the view: coordinates as a cone search takes them ('150.1 2.2', "
        "'10:00:24 +02:12:00'), an objectId or a TNS name in the archive (no network).",
    ).tag(sync=True)
    fov = traitlets.Float(
        360.0,
        help=f"Field of view [deg]; from {ALL_SKY_FOV_DEG:.0f}° on, objects come from all "
        "the sky, else from a cone around target covering the view.",
    ).tag(sync=True)
    since = traitlets.Union(
        [traitlets.Unicode(), traitlets.Float()],
        default_value=None,
        allow_none=True,
        help="Start of the time window: ISO time, or JD as a number or text (None: open).",
    ).tag(sync=True)
    until = traitlets.Union(
        [traitlets.Unicode(), traitlets.Float()],
        default_value=None,
        allow_none=True,
        help="End of the time window: ISO time, or JD as a number or text (None: open).",
    ).tag(sync=True)
    query = traitlets.Unicode(
        "",
        help="A SELECT whose rows are the objects layer instead of the time window "
        "(needs objectid and ramean/decmean or ra/dec columns); empty: the time window.",
    ).tag(sync=True)
    bands = traitlets.List(
        traitlets.Unicode(), default_value=["g", "r"], help="Coverage bands shown: g, r, i."
    ).tag(sync=True)
    layers = traitlets.List(
        traitlets.Unicode(), default_value=list(LAYERS), help=f"Layers shown: {', '.join(LAYERS)}."
    ).tag(sync=True)
    skymap_name = traitlets.Unicode(
        None, allow_none=True, help="Name of a stored GW sky map to draw (None: none)."
    ).tag(sync=True)
    levels = traitlets.List(
        traitlets.Float(),
        default_value=list(DEFAULT_LEVELS),
        help="Credible levels drawn as contours; candidates are inside the largest.",
    ).tag(sync=True)
    watchlist = traitlets.Unicode(
        None, allow_none=True, help="Name of a watchlist to draw (None: none)."
    ).tag(sync=True)
    watchmap = traitlets.Unicode(
        None, allow_none=True, help="Name of a watchmap to draw (None: none)."
    ).tag(sync=True)
    selected_object = traitlets.Unicode(
        None, allow_none=True, help="objectId clicked on the sky (or set): its viewer opens."
    ).tag(sync=True)
    max_markers = traitlets.Int(
        MAX_MARKERS,
        min=0,
        help="At most this many objects in the view are drawn one by one (clickable); more "
        "are drawn as their density on HEALPix cells.",
    ).tag(sync=True)

    def __init__(
        self,
        archive: Archive,
        fields: pd.DataFrame | None = None,
        height: int = 500,
        **kwargs: Any,
    ) -> None:
        from lasair_nb.widgets.aladin import LocalAladin  # noqa: PLC0415 - needs the build

        self.archive = archive
        self.fields = (ztf_fields() if fields is None else fields).set_index("field", drop=False)
        self.fields.index.name = None
        self.objects = Table(names=OBJECT_COLUMNS, dtype=("U20", "f8", "f8", "i8", "f8", "f8"))
        self.coverage = pd.DataFrame()
        self.contours: dict[float, MOC] = {}
        self.contour_areas: dict[float, float] = {}
        self.candidates = Table()
        self.watchlist_sources = Table()
        self.watchmap_moc: MOC | None = None
        self.viewer = widgets.Output()
        self.notice = Notice()
        self._drawn: dict[str, list[str]] = {layer: [] for layer in LAYERS}
        self._loading = True
        self._given_objects: Table | None = None
        self._news = ""
        self._syncing = False
        self._from_view = False
        self._view_region: tuple[float, float, float] | None = None  # ra, dec, radius drawn
        self.density: Table | None = None

        self.since_box = widgets.Text(
            description="since", placeholder="ISO time or JD", continuous_update=False
        )
        self.until_box = widgets.Text(
            description="until", placeholder="ISO time or JD", continuous_update=False
        )
        self.band_boxes = {
            band: widgets.Checkbox(description=band, indent=False, layout={"width": "3em"})
            for band in BANDS
        }
        self.layer_boxes = {
            layer: widgets.Checkbox(description=layer, indent=False, layout={"width": "7em"})
            for layer in LAYERS
        }
        self.summary = widgets.HTML()
        self.since_box.add_class("lasair-sky-since")
        self.until_box.add_class("lasair-sky-until")
        self.summary.add_class("lasair-sky-summary")
        super().__init__(**kwargs)
        # Aitoff shows the whole sky; as the trait (not an Aladin option), so that the front
        # end sets it before the field of view, which SIN would clamp to 180°.
        self.sky: LocalAladin = LocalAladin(
            target=self._centre(), fov=min(self.fov, 360.0), height=height, _projection="AIT"
        )
        # ipyaladin's store of early calls is a class attribute shared by every view: this
        # view gets its own, which stays empty because overlays wait for _is_loaded.
        self.sky._call_store = type(self.sky._call_store)()
        self.sky.observe(self._on_sky_loaded, names="_is_loaded")
        self.sky.observe(self._on_object_clicked, names="clicked_object")
        self.sky.observe(self._on_view_moved, names=["_fov", "_target"])

        traitlets.link((self, "since"), (self.since_box, "value"), transform=(_text, _none))
        traitlets.link((self, "until"), (self.until_box, "value"), transform=(_text, _none))
        for band, box in self.band_boxes.items():
            box.value = band in self.bands
            box.observe(self._on_band_box, names="value")
        for layer, box in self.layer_boxes.items():
            box.value = layer in self.layers
            box.observe(self._on_layer_box, names="value")
        self._observe_traits()

        controls = widgets.HBox(
            [self.since_box, self.until_box, *self.band_boxes.values()],
            layout={"flex_flow": "row wrap"},
        )
        self.redraw_button = widgets.Button(
            description="redraw",
            icon="refresh",
            tooltip="send the overlays to this view again (a second view of the same map, "
            "or a page opened again, starts without them)",
            layout={"width": "8em"},
        )
        self.redraw_button.on_click(lambda _: self.redraw())
        self.children = [
            controls,
            widgets.HBox(
                [*self.layer_boxes.values(), self.redraw_button], layout={"flex_flow": "row wrap"}
            ),
            self.sky,
            self.summary,
            self.notice,
            self.viewer,
        ]
        self._loading = False
        self.refresh()

    def _observe_traits(self) -> None:
        self.observe(self._on_window, names=["since", "until", "target", "fov", "query"])
        self.observe(self._on_bands, names="bands")
        self.observe(self._on_layers, names="layers")
        self.observe(self._on_skymap, names=["skymap_name", "levels"])
        self.observe(lambda change: self._reload(change["name"]), names=["watchlist", "watchmap"])
        self.observe(self._on_selected, names="selected_object")
        self.observe(lambda _: self._redraw_objects(), names="max_markers")

    def _redraw_objects(self) -> None:
        self._draw("objects")
        self._summarise()

    # --- loading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read every layer again from the archive and redraw it."""
        self._reload(*LAYERS)

    def redraw(self) -> None:
        """Send every layer's overlays to the view again, as they are (no archive reads).

        Aladin Lite's overlays are messages, not widget state: a view opened later (the
        map shown a second time, a notebook page reloaded) starts without them.
        """
        for layer in LAYERS:
            self._draw(layer)

    def _reload(self, *layers: str) -> None:
        """Read these layers again, draw them, and say what failed (all in one notice)."""
        if self._loading:
            return
        loaders = {
            "objects": self._load_objects,
            "coverage": self._load_coverage,
            "skymap": self._load_skymap,
            "watchlist": self._load_watchlist,
            "watchmap": self._load_watchmap,
        }
        problems = []
        for layer in layers:
            try:
                loaders[layer]()
            except LasairError as error:
                problems.append(f"{layer}: {error}")
            self._draw(layer)
        self._summarise()
        if problems:
            self.notice.error("; ".join(problems))
        elif self._news:
            self.notice.info(self._news)
        else:
            self.notice.clear()
        self._news = ""

    def show_objects(self, rows: Table | pd.DataFrame | None) -> None:
        """Show these objects instead of the time window's or the query's.

        Parameters
        ----------
        rows
            A table with ``objectid`` and ``ramean``/``decmean`` (or ``ra``/``dec``)
            columns, such as an ``archive.sql`` result; None goes back to the time window
            (or ``query``).

        Raises
        ------
        ArgumentError
            When the columns are missing.
        """
        self._given_objects = None if rows is None else self._object_table(_frame(rows))
        self._reload("objects")

    def _load_objects(self) -> None:
        if "objects" not in self.layers:
            self.objects = self.objects[:0]
            return
        if self._given_objects is not None:
            self.objects = self._given_objects
            return
        if self.query.strip():
            found = _frame(self.archive.sql(self.query, limit=self.archive.settings.sql_max_rows))
        else:
            all_sky = self.fov >= ALL_SKY_FOV_DEG
            radius = 180.0 if all_sky else min(180.0, self.fov * 0.75)  # beyond the corners
            found = _frame(
                self.archive.cone(
                    "0 0" if all_sky else self._centre(),
                    radius * u.deg,
                    since=_time_argument(self.since),
                    until=_time_argument(self.until),
                )
            )
        self.objects = self._object_table(found)

    @staticmethod
    def _object_table(found: pd.DataFrame) -> Table:
        columns = {str(column).lower(): column for column in found.columns}
        ra = columns.get("ramean", columns.get("ra"))
        dec = columns.get("decmean", columns.get("dec"))
        if "objectid" not in columns or ra is None or dec is None:
            raise ArgumentError(
                "the objects need objectid and ramean, decmean (or ra, dec) columns; "
                f"the query gave {', '.join(map(str, found.columns)) or 'none'}"
            )
        table = Table(
            {
                "objectid": found[columns["objectid"]].astype(str).to_numpy(),
                "ra": found[ra].to_numpy(float),
                "dec": found[dec].to_numpy(float),
            }
        )
        for name in OBJECT_COLUMNS[3:]:
            if name in columns:
                table[name] = found[columns[name]].to_numpy()
        table["ra"].unit = table["dec"].unit = u.deg
        return table

    def _load_coverage(self) -> None:
        if "coverage" not in self.layers:
            self.coverage = pd.DataFrame()
            return
        nights = _frame(
            self.archive.coverage(_time_argument(self.since), _time_argument(self.until))
        )
        wanted = [BANDS[band] for band in self.bands if band in BANDS]
        nights = nights[nights["fid"].isin(wanted)]
        squares = (
            nights.groupby(["field", "fid"], as_index=False)
            .agg(nights=("night", "nunique"), ncandidates=("ncandidates", "sum"))
            .sort_values(["fid", "field"], ignore_index=True)
        )
        known = squares["field"].isin(self.fields.index)
        unknown = sorted(set(squares.loc[~known, "field"].tolist()))
        squares = squares[known].reset_index(drop=True)
        centres = self.fields.loc[squares["field"]]
        squares["band"] = squares["fid"].map({fid: band for band, fid in BANDS.items()})
        squares["ra"] = centres["ra"].to_numpy(float)
        squares["dec"] = centres["dec"].to_numpy(float)
        corners = field_corners(squares["ra"], squares["dec"])
        squares["corners"] = list(corners)
        squares["stcs"] = [polygon_stcs(square) for square in corners]
        self.coverage = squares
        if unknown:
            self._news = f"coverage: {len(unknown)} fields not in the field list ({unknown[:5]}…)"

    def _load_skymap(self) -> None:
        self.contours, self.contour_areas, self.candidates = {}, {}, Table()
        if self.skymap_name is None or "skymap" not in self.layers:
            return
        levels = sorted(set(self.levels))
        for level in levels:
            moc, area = self.archive.skymaps.credible_region(self.skymap_name, level)
            self.contours[level], self.contour_areas[level] = moc, float(area)
        if levels:
            found = _frame(
                self.archive.skymaps.candidates(
                    self.skymap_name,
                    level=levels[-1],
                    since=_time_argument(self.since),
                    until=_time_argument(self.until),
                )
            )
            self.candidates = Table.from_pandas(found) if len(found.columns) else Table()

    def _load_watchlist(self) -> None:
        self.watchlist_sources = Table()
        if self.watchlist is None or "watchlist" not in self.layers:
            return
        sources = _frame(self.archive.watchlists.get(self.watchlist))
        self.watchlist_sources = Table.from_pandas(
            sources[["name", "ra", "dec", "radius_arcsec"]].reset_index(drop=True)
        )

    def _load_watchmap(self) -> None:
        self.watchmap_moc = None
        if self.watchmap is None or "watchmap" not in self.layers:
            return
        self.watchmap_moc = self.archive.watchmaps.get(self.watchmap)

    # --- drawing ----------------------------------------------------------------------------

    def _draw(self, layer: str) -> None:
        """Replace the layer's overlays in the view (only once the view is drawn)."""
        if not self.sky._is_loaded:
            return  # drawn by _on_sky_loaded
        present = [name for name in self._drawn[layer] if name in self.sky.overlays]
        if present:
            self.sky.remove_overlay(present)
        self._drawn[layer] = []
        if layer in self.layers:
            self._drawn[layer] = [overlay.name for overlay in self._overlays_of(layer)]

    def _overlays_of(self, layer: str) -> Iterable[Any]:
        """Add the layer's overlays to the view; yields ipyaladin's Overlay of each."""
        sky = self.sky
        if layer == "objects" and len(self.objects):
            yield from self._object_overlays()
        elif layer == "coverage" and len(self.coverage):
            # A field seen in several bands has one square per band, on the same corners:
            # r is drawn first and widest, so the narrower i and g lines on it leave it seen.
            for width, band in zip((6, 4, 2), ("r", "i", "g"), strict=True):
                squares = self.coverage[self.coverage["band"] == band]
                if len(squares):
                    yield sky.add_graphic_overlay_from_stcs(
                        squares["stcs"].tolist(),
                        name=f"ZTF coverage {band}",
                        color=BAND_COLOURS[band],
                        line_width=width,
                    )
        elif layer == "skymap":
            count = len(self.contours)
            for index, (level, moc) in enumerate(sorted(self.contours.items())):
                yield sky.add_moc(
                    _display_moc(moc),
                    name=f"{self.skymap_name} {round(level * 100)}%",
                    color=_level_colour(index, count),
                    fill=False,
                    edge=False,
                    perimeter=True,
                    line_width=2,
                )
            if len(self.candidates):
                columns = self._object_table(self.candidates.to_pandas())
                yield sky.add_table(
                    columns,
                    name=f"{self.skymap_name} candidates",
                    color=LAYER_COLOURS["candidates"],
                    shape="square",
                    source_size=14,
                )
        elif layer == "watchlist" and len(self.watchlist_sources):
            yield sky.add_table(
                self.watchlist_sources,
                name=f"watchlist {self.watchlist}",
                color=LAYER_COLOURS["watchlist"],
                shape="circle",
                source_size=14,
                ra_field="ra",
                dec_field="dec",
            )
        elif layer == "watchmap" and self.watchmap_moc is not None:
            yield sky.add_moc(
                _display_moc(self.watchmap_moc),
                name=f"watchmap {self.watchmap}",
                color=LAYER_COLOURS["watchmap"],
                fill=True,
                opacity=0.3,
                edge=False,
                perimeter=True,
            )

    def _object_overlays(self) -> Iterable[Any]:
        """The objects in view: one marker each, or their density when there are too many."""
        ra, dec, radius = self._view_circle()
        self._view_region = (ra, dec, radius)
        in_view = self.objects[_within(self.objects, ra, dec, radius)]
        self.density = None
        if len(in_view) <= self.max_markers:
            # Only what the view needs: the VOTable is written, sent and parsed per row.
            yield self.sky.add_table(
                in_view[list(DRAWN_OBJECT_COLUMNS)],
                name="objects",
                color=LAYER_COLOURS["objects"],
                shape="circle",
                source_size=10,
            )
            return
        self.density = density_cells(in_view, _density_order(self.fov))
        for threshold, moc in _density_mocs(self.density):
            yield self.sky.add_moc(
                moc,
                name=f"objects: cells with ≥ {threshold}",
                color=LAYER_COLOURS["objects"],
                fill=True,
                opacity=min(0.9, 0.25 + 0.2 * math.log10(threshold)),
                edge=False,
                perimeter=False,
            )

    def _view_circle(self) -> tuple[float, float, float]:
        """A circle around the view (ra, dec, radius in degrees; 180: all the sky)."""
        if self.fov >= ALL_SKY_FOV_DEG:
            return 0.0, 0.0, 180.0
        try:
            ra, dec = (float(part) for part in self._centre().split())
        except LasairError:
            return 0.0, 0.0, 180.0
        return ra, dec, min(180.0, self.fov * 0.75)  # beyond the corners

    def _summarise(self) -> None:
        parts = [f"{len(self.objects)} objects"]
        if self.density is not None:
            shown = int(self.density["count"].sum())
            parts.append(
                f"{shown} in view drawn as their density (more than {self.max_markers}; "
                "zoom in to see each)"
            )
        if len(self.coverage):
            per_band = self.coverage["band"].value_counts()
            squares = ", ".join(f"{count} {band}" for band, count in per_band.items())
            parts.append(f"coverage squares: {squares}")
        if self.contours:
            outer = max(self.contours)
            parts.append(
                f"{self.skymap_name}: {round(outer * 100)}% area "
                f"{self.contour_areas[outer]:.0f} deg², {len(self.candidates)} candidates"
            )
        if len(self.watchlist_sources):
            parts.append(f"watchlist {self.watchlist}: {len(self.watchlist_sources)} sources")
        if self.watchmap_moc is not None:
            area = self.watchmap_moc.sky_fraction * 4 * math.pi * (180 / math.pi) ** 2
            parts.append(f"watchmap {self.watchmap}: {area:.1f} deg²")
        if self.selected_object:
            parts.append(f"selected {self.selected_object}")
        self.summary.value = " · ".join(parts)

    # --- events -----------------------------------------------------------------------------

    def _on_sky_loaded(self, change: dict[str, Any]) -> None:
        if change["new"]:
            for layer in LAYERS:
                self._draw(layer)

    def _on_object_clicked(self, change: dict[str, Any]) -> None:
        data = (change["new"] or {}).get("data") or {}
        object_id = data.get("objectid")
        if object_id:
            self.selected_object = str(object_id)

    def _on_selected(self, change: dict[str, Any]) -> None:
        self._summarise()
        self.viewer.clear_output()
        if not change["new"]:
            return
        from lasair_nb.widgets.object_viewer import ObjectViewer  # noqa: PLC0415 - on demand

        try:
            viewer = ObjectViewer(self.archive, change["new"])
        except LasairError as error:
            self.notice.error(error)
            return
        with self.viewer:
            display(viewer)

    def _on_view_moved(self, _: dict[str, Any]) -> None:
        """The browser panned or zoomed: follow it in ``target`` and ``fov``."""
        if self._syncing:
            return
        self._from_view = True
        try:
            with self.hold_trait_notifications():
                self.target = self.sky._target
                self.fov = float(self.sky._fov)
        finally:
            self._from_view = False

    def _on_window(self, change: dict[str, Any]) -> None:
        if change["name"] in {"target", "fov"} and self._from_view:
            if not self._view_left_region():
                return  # still inside what was loaded and drawn
            if self._given_objects is not None or self.query.strip():
                self._redraw_objects()  # the same rows, drawn for the new view
                return
            self._reload("objects")
            return
        if change["name"] in {"target", "fov"}:
            if not self._move_view():
                return
            if self.fov >= ALL_SKY_FOV_DEG and change["name"] == "target":
                return  # all-sky objects do not depend on where the view looks
        if change["name"] in {"since", "until"}:
            self._reload("objects", "coverage", "skymap")
        else:
            self._reload("objects")

    def _centre(self) -> str:
        """``target`` as 'ra dec' [deg]: Aladin would ask Sesame, over the network, for names.

        Raises
        ------
        TargetError
            When the target is no position, objectId or TNS name the archive knows.
        """
        parsed = parse_target(self.target)
        if parsed.coord is not None:
            return f"{parsed.coord.icrs.ra.deg} {parsed.coord.icrs.dec.deg}"
        found = _frame(self.archive.cone(self.target, nearest=True))
        return f"{float(found['ramean'].iloc[0])} {float(found['decmean'].iloc[0])}"

    def _move_view(self) -> bool:
        """Point the view at ``target`` and ``fov``; False (and said) if target is unknown."""
        self._syncing = True  # the view's echo of this move is not a move of its own
        try:
            self.sky.target = self._centre()
            self.sky.fov = min(self.fov, 360.0)
        except LasairError as error:
            self.notice.error(f"target: {error}")
            return False
        finally:
            self._syncing = False
        return True

    def _view_left_region(self) -> bool:
        """Whether the view now needs objects outside the drawn circle, or another density."""
        if self._view_region is None:
            return True
        ra, dec, radius = self._view_circle()
        old_ra, old_dec, old_radius = self._view_region
        if old_radius >= 180.0:
            # all the sky was loaded: redraw only to go from a density to markers or back
            return self.density is not None or radius < 180.0
        apart = _separation_deg(ra, dec, old_ra, old_dec)
        return apart + radius > old_radius or radius < old_radius / 4

    def _on_bands(self, _: dict[str, Any]) -> None:
        self._syncing = True
        try:
            for band, box in self.band_boxes.items():
                box.value = band in self.bands
        finally:
            self._syncing = False
        self._reload("coverage")

    def _on_layers(self, change: dict[str, Any]) -> None:
        unknown = sorted(set(self.layers) - set(LAYERS))
        if unknown:
            self.notice.error(f"unknown layers {unknown}; the layers are {', '.join(LAYERS)}")
        self._syncing = True
        try:
            for layer, box in self.layer_boxes.items():
                box.value = layer in self.layers
        finally:
            self._syncing = False
        changed = set(change["old"]) ^ set(change["new"])
        self._reload(*(layer for layer in LAYERS if layer in changed))

    def _on_skymap(self, _: dict[str, Any]) -> None:
        self._reload("skymap")

    def _on_band_box(self, _: dict[str, Any]) -> None:
        if self._syncing:
            return
        chosen = [band for band, box in self.band_boxes.items() if box.value]
        if chosen != list(self.bands):
            self.bands = chosen

    def _on_layer_box(self, _: dict[str, Any]) -> None:
        if self._syncing:
            return
        chosen = [layer for layer, box in self.layer_boxes.items() if box.value]
        if chosen != list(self.layers):
            self.layers = chosen

    @traitlets.validate("levels")
    def _check_levels(self, proposal: dict[str, Any]) -> list[float]:
        levels = [float(level) for level in proposal["value"]]
        bad = [level for level in levels if not 0 < level <= 1]
        if bad:
            raise traitlets.TraitError(
                f"credible levels are probabilities in (0, 1], e.g. 0.5 or 0.9; got {bad}"
            )
        return levels

    @traitlets.validate("bands")
    def _check_bands(self, proposal: dict[str, Any]) -> list[str]:
        bad = [band for band in proposal["value"] if band not in BANDS]
        if bad:
            raise traitlets.TraitError(f"ZTF bands are {', '.join(BANDS)}; got {bad}")
        return list(proposal["value"])


def _text(value: str | float | None) -> str:
    """A time trait as the text box shows it ('' for an open end)."""
    return "" if value is None else str(value)


def _none(value: str) -> str | None:
    """The text box's value as a time trait (None for an empty box)."""
    return value.strip() or None


def object_ids(table: Table | pd.DataFrame) -> Sequence[str]:
    """The objectIds of a layer table (for comparisons in notebooks and tests).

    Parameters
    ----------
    table
        ``SkyMap.objects`` or ``SkyMap.candidates``.

    Returns
    -------
    list of str
        Sorted objectIds.
    """
    return sorted(str(value) for value in table["objectid"])


def _separation_deg(ra1: Any, dec1: Any, ra2: float, dec2: float) -> Any:
    """Angular separation [deg] of positions in degrees (arrays or numbers), by astropy."""
    radians = (np.radians(value) for value in (ra1, dec1, ra2, dec2))
    return np.degrees(angular_separation(*radians))


def _within(table: Table, ra: float, dec: float, radius: float) -> npt.NDArray[np.bool_]:
    """Which rows of a table with ra, dec [deg] are within ``radius`` of (ra, dec)."""
    if radius >= 180.0:
        return np.ones(len(table), dtype=bool)
    ras = np.asarray(table["ra"], dtype=float)
    decs = np.asarray(table["dec"], dtype=float)
    return np.asarray(_separation_deg(ras, decs, ra, dec) <= radius)


def _density_order(fov: float) -> int:
    """The HEALPix order whose cells are about fov / DENSITY_CELLS_ACROSS wide (3 to 12)."""
    cell = max(min(fov, 360.0), 1e-3) / DENSITY_CELLS_ACROSS
    return int(np.clip(round(math.log2(58.6 / cell)), 3, 12))  # order k: ~58.6° / 2^k


def density_cells(objects: Table, order: int) -> Table:
    """How many objects fall in each HEALPix cell (nested) of ``order``.

    Parameters
    ----------
    objects
        Rows with ``ra`` and ``dec`` [deg].
    order
        HEALPix order (NSIDE = 2**order).

    Returns
    -------
    astropy.table.Table
        ``order``, ``ipix`` (nested) and ``count`` of every cell holding objects.
    """
    from astropy_healpix import lonlat_to_healpix  # noqa: PLC0415 - with density maps only

    ipix = lonlat_to_healpix(
        np.asarray(objects["ra"], dtype=float) * u.deg,
        np.asarray(objects["dec"], dtype=float) * u.deg,
        2**order,
        order="nested",
    )
    cells, counts = np.unique(ipix, return_counts=True)
    return Table(
        {"order": np.full(len(cells), order), "ipix": cells, "count": counts},
        meta={"order": order},
    )


def _density_mocs(density: Table) -> list[tuple[int, MOC]]:
    """One MOC per decade: the cells holding at least 1, 10, 100… objects."""
    order = int(density.meta["order"])
    counts = np.asarray(density["count"])
    mocs = []
    threshold = 1
    while threshold <= counts.max(initial=0):
        cells = np.asarray(density["ipix"])[counts >= threshold].astype(np.uint64)
        depth = np.full(len(cells), order, dtype=np.uint8)
        mocs.append((threshold, MOC.from_healpix_cells(cells, depth, max_depth=order)))
        threshold *= 10
    return mocs
