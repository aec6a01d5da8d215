"""``ObjectViewer``: one object's page in a notebook, after the SNAD Viewer's object page.

A bqplot light curve (magnitude, flux and their difference forms; forced photometry on a
toggle; folded on the Lomb–Scargle period or one typed in), the three cutouts of the
clicked detection, an Aladin view with nearby archive objects and the Sherlock match, a
summary block (names, context, period, coordinates, links to other brokers), the
features, annotations with their history, and previous/next through a result list.

Everything shown is also an attribute (``record``, ``lightcurve``, ``cutouts``,
``summary``, ``period``…), and the state is in traits (``object_id``, ``kind``,
``show_forced``, ``folded``, ``period``, ``phase``, ``selected_candid``…), so a dashboard
can set them from URL parameters; setting ``object_id`` loads that object.

Examples
--------
>>> import lasair_nb as ln
>>> from lasair_nb.widgets.object_viewer import ObjectViewer
>>> archive = ln.connect()  # doctest: +SKIP
>>> viewer = ObjectViewer(archive, "ZTF21abiuvdk")  # doctest: +SKIP
>>> viewer.kind = "flux"  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord

from lasair_nb.domain.photometry import BANDS
from lasair_nb.domain.times import jd_to_datetime, jd_to_mjd
from lasair_nb.errors import ArgumentError, LasairError
from lasair_nb.widgets.common import Notice
from lasair_nb.widgets.cutout_view import CutoutView
from lasair_nb.widgets.light_curve_plot import LightCurvePlot

if TYPE_CHECKING:
    from lasair_nb.client.archive import Archive
    from lasair_nb.client.object_record import Cutouts, ObjectRecord

KINDS = ("mag", "flux", "diffmag", "diffflux")
"""Light-curve kinds, as ``ObjectRecord.lightcurve`` takes them."""

KIND_NAMES = {
    "mag": "magnitude",
    "flux": "flux",
    "diffmag": "difference magnitude",
    "diffflux": "difference flux",
}

NEIGHBOUR_RADIUS_ARCSEC = 60.0
"""How far around the object the Aladin view marks other archive objects."""

READ_ONLY_USERS = frozenset({"lasair_reader"})
"""Archive users that cannot annotate (public dashboards run as these)."""


def broker_links(object_id: str, ra: float, dec: float) -> dict[str, str]:
    """Links to an object in other brokers.

    Parameters
    ----------
    object_id
        The ZTF objectId.
    ra, dec
        Its position in degrees (SNAD's viewer works on ZTF data-release objects,
        found by a cone search around the position).

    Returns
    -------
    dict
        ``{"Lasair": url, "ALeRCE": url, "Fink": url, "ANTARES": url, "SNAD": url}``.
    """
    antares_query = {
        "filters": [
            {
                "type": "query_string",
                "field": {"query": f"*{object_id}", "fields": ["properties.ztf_object_id"]},
                "text": f"ID Lookup: {object_id}",
            }
        ]
    }
    return {
        "Lasair": f"https://lasair-ztf.lsst.ac.uk/objects/{object_id}/",
        "ALeRCE": f"https://alerce.online/object/{object_id}",
        "Fink": f"https://fink-portal.org/{object_id}",
        "ANTARES": "https://antares.noirlab.edu/loci?query="
        + quote(json.dumps(antares_query, separators=(",", ":")), safe=""),
        "SNAD": f"https://ztf.snad.space/search/{ra:.6f}%20{dec:+.6f}/5?ztf={object_id}",
    }


def _frame(result: Any) -> pd.DataFrame:
    """A client result as a DataFrame (the archive may deliver astropy tables)."""
    if isinstance(result, pd.DataFrame):
        return result
    return result.to_pandas()


def _text(value: Any) -> str:
    return html.escape(str(value))


def _is_known(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


class _Detail:
    """An attribute filled with the details, after the light curve is drawn.

    Reading it finishes loading first (:meth:`ObjectViewer.finish_loading`), so code in the
    same cell as the constructor sees it filled.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_detail_{name}"

    def __get__(self, viewer: ObjectViewer | None, owner: type | None = None) -> Any:
        if viewer is None:
            return self
        if not viewer._finishing:
            viewer.finish_loading()
        return viewer.__dict__[self.slot]

    def __set__(self, viewer: ObjectViewer, value: Any) -> None:
        viewer.__dict__[self.slot] = value


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (JupyterLab, Voila, nbclient)."""
    try:
        from IPython import get_ipython  # noqa: PLC0415 - only asked once per viewer
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _soon(callback: Callable[[], None], defer: bool) -> None:
    """Run ``callback`` when the event loop next runs (with ``defer``), or now.

    In a kernel the loop runs once the cell returns: the widgets drawn so far are shown
    first. Without a running loop the callback runs now.
    """
    if defer:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            loop.call_soon(callback)
            return
    callback()


class ObjectViewer(widgets.VBox):
    """An archive object: light curve, cutouts, sky view, summary and annotations.

    Parameters
    ----------
    archive
        The archive (``lasair_nb.connect()``).
    object_id
        The ZTF objectId to show first.
    object_ids
        The result list it was opened from (previous/next walk it); default just this one.
    defer_details
        Draw the light curve and return, loading the summary, annotations, cutouts and sky
        view when the event loop next runs (in a kernel: as soon as the cell returns).
        Reading any of those attributes loads them at once. Default: True in a Jupyter
        kernel, else False (everything is loaded before the constructor returns).

    Attributes
    ----------
    record : ObjectRecord
        The object (``archive.object(object_id)``).
    lightcurve : pandas.DataFrame
        Its light curve of the current ``kind``, every row (detections, non-detections,
        forced photometry), as ``record.lightcurve(kind)``.
    folded_lightcurve : pandas.DataFrame or None
        When ``folded``: what is plotted, with ``phase`` (shifted by the ``phase`` trait).
    ls_period : float or None
        The Lomb–Scargle period (days) of the band with the most significant one.
    cutouts : Cutouts or None
        The stamps of ``selected_candid`` (``.science``, ``.template``, ``.difference``).
    summary : dict
        What the summary block shows: names, Sherlock, period, coordinates, links.
    sherlock : dict
        ``archive.sherlock(object_id)`` (``{}`` if not classified).
    tns : pandas.DataFrame
        TNS matches, nearest first.
    features : pandas.DataFrame
        Light-curve features per band.
    annotations, annotation_history : pandas.DataFrame
        The object's annotations and every change to them.
    neighbours : pandas.DataFrame or None
        Archive objects within 60″ (filled when the sky view is built).
    aladin : LocalAladin or None
        The sky view (None when Aladin Lite is not installed; ``notice`` says why).
    plot : LightCurvePlot
        The light-curve figure (``plot.marks``, ``plot.points``).
    cutout_view : CutoutView
        The three stamps (``cutout_view.images``).
    notice : Notice
        Errors and news, in plain words.
    """

    object_id = traitlets.Unicode(help="The ZTF objectId shown; setting it loads that object.")
    object_ids = traitlets.List(
        traitlets.Unicode(), help="The result list previous/next walk through."
    )
    kind = traitlets.Enum(
        KINDS, default_value="mag", help="Light-curve kind: mag, flux, diffmag, diffflux."
    )
    show_forced = traitlets.Bool(False, help="Whether forced photometry is plotted.")
    folded = traitlets.Bool(False, help="Whether the light curve is folded on `period`.")
    period = traitlets.Float(
        None, allow_none=True, help="Folding period in days (default: the Lomb–Scargle one)."
    )
    phase = traitlets.Float(0.0, help="Phase shift of the folded curve, wrapped into [0, 1).")
    selected_candid = traitlets.Int(
        None, allow_none=True, help="The detection whose cutouts are shown (its candid)."
    )
    zoom = traitlets.Bool(True, help="Whether dragging and scrolling pan and zoom the plot.")
    can_annotate = traitlets.Bool(help="Whether the annotation form is offered.")

    # Loaded after the light curve is drawn (see ``finish_loading``).
    cutouts = _Detail()
    summary = _Detail()
    sherlock = _Detail()
    tns = _Detail()
    annotations = _Detail()
    annotation_history = _Detail()
    neighbours = _Detail()
    cutout_view = _Detail()
    sky = _Detail()
    summary_view = _Detail()
    features_view = _Detail()
    annotations_view = _Detail()
    export_links = _Detail()
    form = _Detail()

    def __init__(
        self,
        archive: Archive,
        object_id: str,
        object_ids: list[str] | None = None,
        *,
        defer_details: bool | None = None,
        **kwargs: Any,
    ) -> None:
        self.archive = archive
        self._defer = _in_kernel() if defer_details is None else bool(defer_details)
        self._details_pending = False
        self._finishing = False
        self.record: ObjectRecord | None = None
        self.lightcurve = pd.DataFrame()
        self.folded_lightcurve: pd.DataFrame | None = None
        self.ls_period: float | None = None
        self.cutouts: Cutouts | None = None
        self.summary: dict[str, Any] = {}
        self.sherlock: dict[str, Any] = {}
        self.tns = pd.DataFrame()
        self.features = pd.DataFrame()
        self.annotations = pd.DataFrame()
        self.annotation_history = pd.DataFrame()
        self.neighbours: pd.DataFrame | None = None
        self.aladin: Any = None
        self._curves: dict[str, pd.DataFrame] = {}
        self._loading = False

        self.notice = Notice()
        self.plot = LightCurvePlot(layout=widgets.Layout(flex="3 1 0", min_width="480px"))
        self.plot.on_detection_click(self._detection_clicked)
        self._build_controls()
        header = widgets.HBox(
            [self.previous_button, self.title, self.next_button],
            layout=widgets.Layout(align_items="center"),
        )
        controls = widgets.HBox(
            [
                self.kind_buttons,
                self.forced_box,
                self.folded_box,
                self.period_box,
                self.ls_button,
                self.phase_slider,
                self.zoom_box,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        # Filled by _build_details once the light curve is shown: cutouts and sky beside the
        # plot; export, summary, features and annotations below it.
        self._side = widgets.VBox(layout=widgets.Layout(flex="2 1 0", min_width="470px"))
        self._below = widgets.VBox()
        self._details_built = False
        super().__init__(
            [
                header,
                controls,
                widgets.HBox([self.plot, self._side], layout=widgets.Layout(flex_flow="row wrap")),
                self._below,
                self.notice,
            ],
            **kwargs,
        )
        self.add_class("lasair-object-viewer")
        self.can_annotate = archive.user not in READ_ONLY_USERS
        self.object_ids = list(object_ids) if object_ids else [object_id]
        self.object_id = object_id

    def _build_details(self) -> None:
        """The widgets beside and below the plot (built once, after the light curve)."""
        self._details_built = True
        self.cutout_view = CutoutView()
        self.sky = widgets.VBox(layout=widgets.Layout(min_height="40px"))
        self.summary_view = widgets.HTML(layout=widgets.Layout(flex="1 1 0", min_width="320px"))
        self.features_view = widgets.HTML()
        self.annotations_view = widgets.HTML()
        self.export_links = widgets.HTML()
        self.png_button = widgets.Button(description="PNG", icon="download", tooltip="the plot")
        self.csv_button = widgets.Button(
            description="CSV", icon="download", tooltip="the light curve"
        )
        self.png_button.on_click(lambda _: self._offer_download("png"))
        self.csv_button.on_click(lambda _: self._offer_download("csv"))
        self._build_annotation_form()
        extras = widgets.Accordion(
            children=[self.features_view, widgets.VBox([self.annotations_view, self.form])],
            titles=("features", "annotations"),
        )
        export = widgets.HBox(
            [self.png_button, self.csv_button, self.export_links],
            layout=widgets.Layout(align_items="center"),
        )
        self._side.children = [self.cutout_view, self.sky]
        self._below.children = [export, self.summary_view, extras]

    # --- layout -----------------------------------------------------------------------------

    def _build_controls(self) -> None:
        self.title = widgets.HTML(layout=widgets.Layout(margin="0 12px"))
        self.previous_button = widgets.Button(description="◀ previous", tooltip="previous object")
        self.next_button = widgets.Button(description="next ▶", tooltip="next object")
        self.previous_button.on_click(lambda _: self.previous())
        self.next_button.on_click(lambda _: self.next())
        self.kind_buttons = widgets.ToggleButtons(
            options=[(KIND_NAMES[kind], kind) for kind in KINDS],
            style={"button_width": "auto"},
        )
        self.forced_box = widgets.Checkbox(description="forced photometry", indent=False)
        self.folded_box = widgets.Checkbox(description="folded", indent=False)
        self.period_box = widgets.BoundedFloatText(
            description="period (d)", min=1e-4, max=1e5, step=0.0001, value=1.0,
            layout=widgets.Layout(width="190px"),
        )  # fmt: skip
        self.ls_button = widgets.Button(
            description="LS", tooltip="the Lomb–Scargle period", layout=widgets.Layout(width="50px")
        )
        self.ls_button.on_click(lambda _: self.use_ls_period())
        self.phase_slider = widgets.FloatSlider(
            description="phase", min=0.0, max=0.99, step=0.01, readout_format=".2f"
        )
        self.zoom_box = widgets.Checkbox(description="zoom/pan", indent=False)
        for trait, control in (
            ("kind", self.kind_buttons),
            ("show_forced", self.forced_box),
            ("folded", self.folded_box),
            ("phase", self.phase_slider),
            ("zoom", self.zoom_box),
        ):
            widgets.link((self, trait), (control, "value"))
        self.period_box.observe(self._period_typed, names="value")

    def _build_annotation_form(self) -> None:
        self.tag_input = widgets.TagsInput(allowed_tags=[], allow_duplicates=False)
        self.comment_input = widgets.Textarea(
            placeholder="comment", layout=widgets.Layout(width="60%")
        )
        self.public_box = widgets.Checkbox(value=True, description="public", indent=False)
        self.annotate_button = widgets.Button(description="add annotation", icon="plus")
        self.annotate_button.on_click(lambda _: self._annotate_clicked())
        self.form = widgets.VBox(
            [
                widgets.HTML("<b>add an annotation</b> (tags from the shared vocabulary)"),
                self.tag_input,
                self.comment_input,
                widgets.HBox([self.public_box, self.annotate_button]),
            ]
        )

    # --- loading ---------------------------------------------------------------------------

    @traitlets.validate("phase")
    def _wrap_phase(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"]) % 1.0
        return 0.0 if value >= 1.0 else value

    @traitlets.validate("period")
    def _check_period(self, proposal: dict[str, Any]) -> float | None:
        value = proposal["value"]
        if value is not None and not (math.isfinite(value) and value > 0):
            raise traitlets.TraitError(f"period must be a positive number of days, got {value}")
        return value

    @traitlets.observe("object_id")
    def _object_id_changed(self, change: dict[str, Any]) -> None:
        self.load(change["new"])

    def load(self, object_id: str) -> None:
        """Load an object (what setting ``object_id`` does); errors go to ``notice``.

        The light curve is drawn at once; the summary, annotations, cutouts and sky view
        follow as soon as the running cell returns (:meth:`finish_loading`).
        """
        self.notice.clear()
        self._details_pending = False
        try:
            record = self.archive.object(object_id)
        except (LasairError, ValueError) as error:
            self.record = None
            self.title.value = f"<h3 style='margin:0'>{_text(object_id)}</h3>"
            self.notice.error(error)
            return
        self._loading = True
        try:
            self.record = record
            self._curves = {}
            self.features = _frame(record.features)
            self.ls_period = self._lomb_scargle_period()
            self.period = self.ls_period
            if self.ls_period is not None:
                self.period_box.value = self.ls_period
            self.phase = 0.0
            self.selected_candid = None
            self.sherlock, self.tns, self.summary = {}, pd.DataFrame(), {}
            self.annotations = self.annotation_history = pd.DataFrame()
            self.neighbours = None
        finally:
            self._loading = False
        self._update_navigation()
        self._redraw()
        self._details_pending = True
        _soon(self.finish_loading, self._defer)

    @property
    def loading(self) -> bool:
        """Whether the viewer is setting its own state (loading an object), not its user."""
        return self._loading

    def finish_loading(self) -> None:
        """Load what is shown beside the light curve now, if it is not loaded yet.

        Sherlock and TNS, the summary, features, annotations, the latest alert's cutouts
        and the sky view. Reading any of those attributes calls this first.
        """
        if self._finishing:
            return
        self._finishing = True
        try:
            if not self._details_built:
                self._build_details()
            if self._details_pending:
                self._details_pending = False
                self._load_details()
        finally:
            self._finishing = False

    def _load_details(self) -> None:
        record = self.record
        if record is None:
            return
        self._load_context()
        candid = self.selected_candid
        if candid is None:
            latest = record.summary.get("latest_candid")
            candid = int(latest) if _is_known(latest) else None
        self._loading = True  # shown once, below
        try:
            self.selected_candid = candid
        finally:
            self._loading = False
        self._show_cutouts(candid)
        self._update_sky()

    def _lomb_scargle_period(self) -> float | None:
        best = self._best_period_band()
        return None if best is None else float(self.features.loc[best, "period"])

    def _best_period_band(self) -> str | None:
        """The band whose Lomb–Scargle period is the most significant (None: no period)."""
        period = self.features["period"].to_numpy(dtype=float)
        snr = self.features["period_snr"].to_numpy(dtype=float)
        known = np.isfinite(period) & np.isfinite(snr)
        if not known.any():
            return None
        return str(self.features.index[int(np.argmax(np.where(known, snr, -np.inf)))])

    def _load_context(self) -> None:
        """Sherlock, TNS, annotations: the summary block and the annotation list."""
        record = self.record
        if record is None:
            return
        try:
            self.sherlock = self.archive.sherlock(record.object_id)
            self.tns = _frame(record.tns)
        except LasairError as error:
            self.sherlock, self.tns = {}, pd.DataFrame()
            self.notice.error(error)
        self._load_annotations()
        self.summary = self._summarise()
        self.summary_view.value = self._summary_html()
        self.features_view.value = self._features_html()

    def _load_annotations(self) -> None:
        record = self.record
        if record is None:
            return
        try:
            self.annotations = _frame(record.annotations)
            self.annotation_history = _frame(self.archive.annotations.history(record.object_id))
            self.tag_input.allowed_tags = [
                str(name) for name in _frame(self.archive.tags.list())["name"]
            ]
        except LasairError as error:
            self.notice.error(error)
        self.annotations_view.value = self._annotations_html()
        self.form.layout.display = None if self.can_annotate else "none"

    # --- light curve -----------------------------------------------------------------------

    def curve(self, kind: str | None = None) -> pd.DataFrame:
        """The light curve of ``kind`` (default the current one), fetched once per object."""
        kind = kind or self.kind
        if self.record is None:
            return pd.DataFrame()
        if kind not in self._curves:
            self._curves[kind] = _frame(self.record.lightcurve(kind))
        return self._curves[kind]

    @traitlets.observe("kind", "show_forced", "folded", "period", "phase")
    def _view_changed(self, change: dict[str, Any]) -> None:
        if change["name"] == "period" and change["new"] is not None:
            self.period_box.value = change["new"]
        if not self._loading:
            self._redraw()

    def _period_typed(self, change: dict[str, Any]) -> None:
        if self._loading or change["new"] == self.period:
            return
        self.period = float(change["new"])

    def use_ls_period(self) -> None:
        """Fold on the Lomb–Scargle period again."""
        if self.ls_period is None:
            self.notice.error("this object has no Lomb–Scargle period (too few detections)")
            return
        self.period = self.ls_period
        self.folded = True

    def _redraw(self) -> None:
        record = self.record
        if record is None:
            return
        self.lightcurve = self.curve()
        kind_name = KIND_NAMES[self.kind]
        self.folded_lightcurve = None
        self.phase_slider.disabled = self.period_box.disabled = not self.folded
        if self.folded and self.period is None:
            self.notice.error(
                "no Lomb–Scargle period for this object: type a period in days to fold"
            )
        if self.folded and self.period is not None:
            folded = self._fold(self.lightcurve, self.period)
            self.folded_lightcurve = folded
            self.plot.draw(
                folded,
                self.kind,
                show_forced=self.show_forced,
                x_column="phase",
                x_label=f"phase (period {self.period:.6g} d, shift {self.phase:.2f})",
                title=f"{record.object_id}: {kind_name}, folded",
            )
        else:
            self.plot.draw(
                self.lightcurve,
                self.kind,
                show_forced=self.show_forced,
                title=f"{record.object_id}: {kind_name}",
            )
        self.plot.select(self.selected_candid)
        if self._details_built:
            self.export_links.value = ""

    def _fold(self, curve: pd.DataFrame, period: float) -> pd.DataFrame:
        """As ``ObjectRecord.fold``: detections and forced points, phase shifted."""
        folded = curve[curve["measurement"] != "nondetection"].copy()
        if not len(folded):
            folded["phase"] = pd.Series(dtype=float)
            return folded
        phase = np.mod(folded["jd"] - folded["jd"].min(), period) / period
        phase = np.mod(phase + self.phase, 1.0)
        folded["phase"] = np.where(phase >= 1.0, 0.0, phase)
        folded.attrs["period"] = period
        return folded.sort_values("phase").reset_index(drop=True)

    @traitlets.observe("zoom")
    def _zoom_changed(self, change: dict[str, Any]) -> None:
        self.plot.set_zoom(change["new"])

    # --- cutouts ---------------------------------------------------------------------------

    def _detection_clicked(self, candid: int) -> None:
        self.selected_candid = candid

    @traitlets.observe("selected_candid")
    def _candid_changed(self, change: dict[str, Any]) -> None:
        self.plot.select(change["new"])
        if not self._loading and not self._details_pending:
            self._show_cutouts(change["new"])

    def _show_cutouts(self, candid: int | None) -> None:
        if candid is None or self.record is None:
            self.cutouts = None
            self.cutout_view.clear("no alert selected: click a detection")
            return
        try:
            self.cutouts = self.record.cutouts(candid)
        except (LasairError, ValueError) as error:
            self.cutouts = None
            self.cutout_view.clear(str(error))
            return
        detections = self.lightcurve[self.lightcurve["candid"] == candid]
        when = ""
        if len(detections):
            row = detections.iloc[0]
            when = f" · {row['band']} · MJD {row['mjd']:.4f} · {row['time']:%Y-%m-%d %H:%M} UTC"
        self.cutout_view.show(
            {
                "science": self.cutouts.science.data,
                "template": self.cutouts.template.data,
                "difference": self.cutouts.difference.data,
            },
            f"candid {candid}{when} (zscale)",
        )

    # --- sky --------------------------------------------------------------------------------

    def _update_sky(self) -> None:
        record = self.record
        if record is None:
            return
        try:
            self.neighbours = _frame(record.neighbours(NEIGHBOUR_RADIUS_ARCSEC))
        except LasairError as error:
            self.neighbours = None
            self.notice.error(error)
        if self.aladin is None:
            try:
                from lasair_nb.widgets.aladin import LocalAladin  # noqa: PLC0415 - optional

                self.aladin = LocalAladin(
                    target=f"{record.position.ra.deg} {record.position.dec.deg}",
                    fov=2.5 * NEIGHBOUR_RADIUS_ARCSEC / 3600,
                    height=300,
                    survey="P/PanSTARRS/DR1/color-z-zg-g",
                )
            except (ImportError, LasairError, OSError) as error:
                self.sky.children = [
                    Notice(
                        value=f'<span style="color:#b00020">&#9888; sky view unavailable: '
                        f"{_text(error)}</span>"
                    )
                ]
                return
            self.sky.children = [self.aladin]
        else:
            self.aladin.target = f"{record.position.ra.deg} {record.position.dec.deg}"
            for name in ("object", "archive objects", "Sherlock match"):
                if name in self.aladin.overlays:
                    self.aladin.remove_overlay(name)
        self._overlay_sky()

    def _overlay_sky(self) -> None:
        from ipyaladin import Marker  # noqa: PLC0415 - with the sky view

        record = self.record
        if record is None or self.aladin is None:
            return
        position = record.position
        self.aladin.add_markers(
            Marker(position, record.object_id, "this object"), name="object", color="#ffd700"
        )
        if self.neighbours is not None and len(self.neighbours):
            markers = [
                Marker(
                    SkyCoord(row.ramean * u.deg, row.decmean * u.deg),
                    str(row.objectid),
                    f"{row.separation:.1f}″ away, {int(row.ncand)} detections",
                )
                for row in self.neighbours.itertuples()
            ]
            self.aladin.add_markers(markers, name="archive objects", color="#00bfff")
        match = self.sherlock.get("crossmatches", [{}])[0] if self.sherlock else {}
        if _is_known(match.get("radeg")) and _is_known(match.get("decdeg")):
            self.aladin.add_markers(
                Marker(
                    SkyCoord(match["radeg"] * u.deg, match["decdeg"] * u.deg),
                    f"{match.get('catalogue_table_name')} {match.get('catalogue_object_id') or ''}",
                    f"Sherlock: {self.sherlock.get('classification')}",
                ),
                name="Sherlock match",
                color="#ff00ff",
            )

    # --- summary ----------------------------------------------------------------------------

    def _summarise(self) -> dict[str, Any]:
        record = self.record
        if record is None:
            return {}
        summary = record.summary
        position = record.position
        galactic = position.galactic
        tns_name = tns_type = None
        if len(self.tns):
            first = self.tns.iloc[0]
            prefix = first.get("tns_prefix")
            tns_name = f"{prefix} {first['tns_name']}" if _is_known(prefix) else first["tns_name"]
            tns_type = first.get("type") if _is_known(first.get("type")) else None
        period_band = self._best_period_band() if self.ls_period is not None else None
        sherlock = self.sherlock
        host = None
        if sherlock and _is_known(sherlock.get("catalogue_table_name")):
            host = {
                "catalogue": sherlock.get("catalogue_table_name"),
                "id": sherlock.get("catalogue_object_id"),
                "type": sherlock.get("catalogue_object_type"),
                "separation_arcsec": sherlock.get("separationarcsec"),
                "z": sherlock.get("z") or sherlock.get("photoz"),
            }
        counts = {
            band: int(summary.get(f"ncand_{band}") or 0)
            for band in BANDS.values()
            if _is_known(summary.get(f"ncand_{band}"))
        }
        jdmin, jdmax = float(summary["jdmin"]), float(summary["jdmax"])
        return {
            "object_id": record.object_id,
            "tns_name": tns_name,
            "tns_type": tns_type,
            "sherlock_classification": sherlock.get("classification") if sherlock else None,
            "sherlock_description": sherlock.get("description") if sherlock else None,
            "host": host,
            "period": self.ls_period,
            "period_band": period_band,
            "ra": float(position.ra.deg),
            "dec": float(position.dec.deg),
            "ra_sexagesimal": str(position.ra.to_string(unit=u.hourangle, sep=":", precision=2)),
            "dec_sexagesimal": str(position.dec.to_string(sep=":", precision=1, alwayssign=True)),
            "galactic_l": float(galactic.l.deg),
            "galactic_b": float(galactic.b.deg),
            "detections": int(summary["ncand"]),
            "detections_by_band": counts,
            "first_detection_mjd": float(jd_to_mjd(jdmin)),
            "last_detection_mjd": float(jd_to_mjd(jdmax)),
            "first_detection": jd_to_datetime([jdmin])[0].to_pydatetime(),
            "last_detection": jd_to_datetime([jdmax])[0].to_pydatetime(),
            "context": summary.get("context"),
            "links": broker_links(record.object_id, position.ra.deg, position.dec.deg),
        }

    def _summary_html(self) -> str:
        s = self.summary
        lines = []
        names = f"<b>{_text(s['object_id'])}</b>"
        if s["tns_name"]:
            kind = f" ({_text(s['tns_type'])})" if s["tns_type"] else ""
            names += f" · TNS <b>{_text(s['tns_name'])}</b>{kind}"
        lines.append(("Names", names))
        if s["sherlock_classification"]:
            text = f"<b>{_text(s['sherlock_classification'])}</b>"
            if s["host"]:
                host = s["host"]
                label = " ".join(
                    _text(part) for part in (host["catalogue"], host["id"]) if _is_known(part)
                )
                if _is_known(host["type"]):
                    label += f" ({_text(host['type'])})"
                if _is_known(host["separation_arcsec"]):
                    label += f" at {float(host['separation_arcsec']):.2f}″"
                if _is_known(host["z"]):
                    label += f", z = {float(host['z']):.4f}"
                text += f"; host {label}"
            if s["sherlock_description"]:
                text += f"<br><small>{_text(s['sherlock_description'])}</small>"
            lines.append(("Sherlock", text))
        if s["period"] is not None:
            lines.append(("Period", f"{s['period']:.6g} d (Lomb–Scargle, {s['period_band']} band)"))
        by_band = ", ".join(f"{band} {n}" for band, n in s["detections_by_band"].items())
        lines.append(
            (
                "Detections",
                f"{s['detections']} ({by_band}); MJD {s['first_detection_mjd']:.3f} "
                f"({s['first_detection']:%Y-%m-%d}) to {s['last_detection_mjd']:.3f} "
                f"({s['last_detection']:%Y-%m-%d})",
            )
        )
        lines.append(
            (
                "Coordinates",
                f"Eq {s['ra']:.5f} {s['dec']:+.5f} ({s['ra_sexagesimal']} "
                f"{s['dec_sexagesimal']}), Gal {s['galactic_l']:.4f} {s['galactic_b']:+.4f}",
            )
        )
        links = " · ".join(
            f'<a href="{html.escape(url)}" target="_blank" rel="noopener">{_text(name)}</a>'
            for name, url in s["links"].items()
        )
        lines.append(("Brokers", links))
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:12px;vertical-align:top'>{label}</th>"
            f"<td style='text-align:left'>{value}</td></tr>"
            for label, value in lines
        )
        return f"<h4 style='margin:4px 0'>Summary</h4><table class='lasair-summary'>{rows}</table>"

    def _features_html(self) -> str:
        features = self.features.dropna(how="all")
        if not len(features):
            return "<i>no features (too few detections)</i>"
        return features.T.to_html(float_format=lambda x: f"{x:.4g}", na_rep="", border=0)

    def _annotations_html(self) -> str:
        def table(frame: pd.DataFrame, columns: list[str]) -> str:
            shown = [c for c in columns if c in frame.columns]
            return frame[shown].to_html(index=False, border=0, na_rep="")

        if not len(self.annotations):
            current = "<i>no annotations yet</i>"
        else:
            current = table(self.annotations, ["tags", "comment", "author", "updated_at", "public"])
        if not len(self.annotation_history):
            history = ""
        else:
            history = "<details><summary>history</summary>" + table(
                self.annotation_history,
                ["changed_at", "action", "changed_by", "tags", "comment", "public"],
            )
            history += "</details>"
        return current + history

    # --- annotations ------------------------------------------------------------------------

    def annotate(
        self, tags: list[str] | None = None, comment: str = "", public: bool = True
    ) -> int:
        """Annotate the shown object (tags from ``archive.tags``), then show the annotations.

        Returns
        -------
        int
            The new annotation's id.
        """
        if self.record is None:
            raise ArgumentError("no object is shown")
        annotation_id = self.archive.annotations.add(
            self.record.object_id, tags=list(tags or []), comment=comment, public=public
        )
        self._load_annotations()
        return annotation_id

    def _annotate_clicked(self) -> None:
        try:
            self.annotate(
                list(self.tag_input.value), self.comment_input.value, self.public_box.value
            )
        except (LasairError, PermissionError, ValueError) as error:
            self.notice.error(error)
            return
        self.tag_input.value = []
        self.comment_input.value = ""
        self.notice.info("annotation added")

    # --- navigation -------------------------------------------------------------------------

    def _update_navigation(self) -> None:
        ids = self.object_ids
        here = ids.index(self.object_id) if self.object_id in ids else None
        self.previous_button.disabled = here is None or here == 0
        self.next_button.disabled = here is None or here >= len(ids) - 1
        position = f" <small>({here + 1} of {len(ids)})</small>" if here is not None else ""
        name = self.object_id
        self.title.value = f"<h3 style='margin:0'>{_text(name)}{position}</h3>"

    @traitlets.observe("object_ids")
    def _object_ids_changed(self, _: dict[str, Any]) -> None:
        if self.object_id:
            self._update_navigation()

    def next(self) -> None:
        """Show the next object of ``object_ids``."""
        self._step(+1)

    def previous(self) -> None:
        """Show the previous object of ``object_ids``."""
        self._step(-1)

    def _step(self, offset: int) -> None:
        ids = self.object_ids
        if self.object_id not in ids:
            return
        target = ids.index(self.object_id) + offset
        if 0 <= target < len(ids):
            self.object_id = ids[target]

    # --- export -----------------------------------------------------------------------------

    def save_png(self, path: str | Path) -> Path:
        """Write the plot as shown (kind, folding, forced points) as a PNG file."""
        return self.plot.save_png(path)

    def save_csv(self, path: str | Path) -> Path:
        """Write the light curve of the current kind (every row) as a CSV file."""
        path = Path(path)
        self.lightcurve.to_csv(path, index=False)
        return path

    def _offer_download(self, what: str) -> None:
        """Make the file and show a link that downloads it (works in Voila too)."""
        if self.record is None:
            return
        name = f"{self.record.object_id}_{self.kind}{'_folded' if self.folded else ''}.{what}"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            (self.save_png if what == "png" else self.save_csv)(path)
            data = base64.b64encode(path.read_bytes()).decode("ascii")
        media = "image/png" if what == "png" else "text/csv"
        self.export_links.value = (
            f'<a download="{html.escape(name)}" href="data:{media};base64,{data}">'
            f"save {html.escape(name)}</a>"
        )
