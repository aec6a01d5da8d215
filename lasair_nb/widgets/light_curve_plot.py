"""``LightCurvePlot``: a bqplot light curve of one object, and the same as a PNG.

Per band (g green, r red, i dark red) up to three kinds of point, each a bqplot mark:
detections (filled circles with error bars; clicking one reports its ``candid``), upper
limits (downward triangles: non-detections and forced points below the threshold) and
measured forced photometry (hollow squares with error bars). Error bars are one
``Lines`` mark per band with NaN breaks between the bars, so a long light curve stays
a handful of SVG paths. :meth:`LightCurvePlot.save_png` draws the same points with
matplotlib, which needs no browser.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import matplotlib as mpl
import numpy as np
import pandas as pd

mpl.use("Agg", force=False)  # PNGs without a display
from matplotlib.figure import Figure

BAND_COLOURS = {"g": "#2ca02c", "r": "#d62728", "i": "#8b0000"}
"""g green, r red, i dark red."""

ROLES = ("detection", "limit", "forced")
"""What a point is: a detection, an upper limit, a measured forced point."""

MICROJANSKY_PER_JANSKY = 1e6

AXIS_LABELS = {
    "mag": "magnitude (AB mag)",
    "flux": "flux (µJy)",
    "diffmag": "difference magnitude (AB mag)",
    "diffflux": "difference flux (µJy)",
}
"""The y-axis label of each light-curve kind, with its unit."""

MAGNITUDE_KINDS = ("mag", "diffmag")
"""Kinds whose axis runs bright-up (reversed)."""

_MARKERS = {"detection": "circle", "limit": "triangle-down", "forced": "square"}
_MPL_MARKERS = {"detection": "o", "limit": "v", "forced": "s"}
_SELECTED_STYLE = {"stroke": "black", "stroke-width": 3}


def _points(curve: pd.DataFrame, kind: str, x_column: str) -> pd.DataFrame:
    """The plotted numbers of a light curve: x, y, error-bar ends; NaN y dropped."""
    magnitude = kind in MAGNITUDE_KINDS
    if magnitude:
        y = curve["mag"].astype(float)
        if "mag_err" in curve:
            low = y - curve["mag_err"].astype(float)
            high = y + curve["mag_err"].astype(float)
        else:  # diffmag: asymmetric, "plus" is fainter (a larger magnitude)
            low = y - curve["mag_err_minus"].astype(float)
            high = y + curve["mag_err_plus"].astype(float)
    else:
        y = curve["flux"].astype(float) * MICROJANSKY_PER_JANSKY
        error = curve["flux_err"].astype(float) * MICROJANSKY_PER_JANSKY
        low, high = y - error, y + error
    points = pd.DataFrame(
        {
            "x": curve[x_column].astype(float).to_numpy(),
            "y": y.to_numpy(),
            "low": low.to_numpy(),
            "high": high.to_numpy(),
            "mjd": curve["mjd"].astype(float).to_numpy(),
            "time": curve["time"].to_numpy(),
            "candid": curve["candid"].to_numpy(),
            "measurement": curve["measurement"].to_numpy(),
        }
    )
    return points[np.isfinite(points["y"]) & np.isfinite(points["x"])].reset_index(drop=True)


def _no_points() -> pd.DataFrame:
    """What a mark with no points shows (the columns of :func:`_points`)."""
    columns = {name: pd.Series(dtype=float) for name in ("x", "y", "low", "high", "mjd")}
    columns.update(
        time=pd.Series(dtype="datetime64[ns, UTC]"),
        candid=pd.Series(dtype="Int64"),
        measurement=pd.Series(dtype=object),
    )
    return pd.DataFrame(columns)


def _hover_text(points: pd.DataFrame, band: str, role: str, unit: str) -> list[str]:
    """One line per point: what it is, its value, MJD and calendar date (UTC)."""
    if not len(points):
        return []
    dates = pd.to_datetime(points["time"], utc=True).dt.strftime("%Y-%m-%d %H:%M")
    texts = []
    for y, low, high, mjd, date, measurement in zip(
        points["y"],
        points["low"],
        points["high"],
        points["mjd"],
        dates,
        points["measurement"],
        strict=True,
    ):
        if role == "limit":
            value = f"limit {y:.2f} {unit}"
        elif np.isfinite(low) and np.isfinite(high):
            value = f"{y:.2f} (+{high - y:.2f}/-{y - low:.2f}) {unit}"
        else:
            value = f"{y:.2f} {unit}"
        texts.append(f"{band} {measurement}: {value} · MJD {mjd:.4f} · {date} UTC")
    return texts


def _error_segments(points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The x and y of vertical bars joined into one line broken by NaNs."""
    usable = points[np.isfinite(points["low"]) & np.isfinite(points["high"])]
    count = len(usable)
    x = np.repeat(usable["x"].to_numpy(), 3)
    y = np.empty(3 * count)
    y[0::3], y[1::3], y[2::3] = usable["low"].to_numpy(), usable["high"].to_numpy(), np.nan
    return x, y


class LightCurvePlot(widgets.VBox):
    """A bqplot figure of a light curve, by band, with hover, click, zoom and pan.

    Attributes
    ----------
    figure
        The ``bqplot.Figure``.
    x_scale, y_scale
        Its scales; ``y_scale.reverse`` is True for magnitudes.
    marks
        ``{(band, role): bqplot.Scatter}`` with role ``"detection"``, ``"limit"`` or
        ``"forced"``.
    error_bars
        ``{(band, role): bqplot.Lines}`` for detections and forced points.
    points
        ``{(band, role): DataFrame}``: what each mark shows (``x``, ``y``, ``low``,
        ``high``, ``mjd``, ``time``, ``candid``); fluxes in µJy.
    pan_zoom
        The ``bqplot.interacts.PanZoom`` interaction (on when ``zoom`` is checked).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale(reverse=True)
        self.x_axis = bq.Axis(scale=self.x_scale, label="time (MJD)", tick_format=".0f")
        self.y_axis = bq.Axis(
            scale=self.y_scale, side="left", label=AXIS_LABELS["mag"], tick_format=".1f"
        )
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.marks: dict[tuple[str, str], bq.Scatter] = {}
        self.error_bars: dict[tuple[str, str], bq.Lines] = {}
        self.points: dict[tuple[str, str], pd.DataFrame] = {}
        self.kind = "mag"
        self.x_label = "time (MJD)"
        self.title = ""
        tooltip = bq.Tooltip(fields=["name"], show_labels=False)
        error_marks, point_marks = [], []
        for band, colour in BAND_COLOURS.items():
            for role in ("detection", "forced"):
                bars = bq.Lines(
                    x=[], y=[], scales=scales, colors=[colour], stroke_width=1, opacities=[0.6]
                )
                self.error_bars[(band, role)] = bars
                error_marks.append(bars)
            for role in ROLES:
                scatter = bq.Scatter(
                    x=[],
                    y=[],
                    scales=scales,
                    colors=[colour],
                    marker=_MARKERS[role],
                    default_size=48 if role == "detection" else 40,
                    fill=role != "forced",
                    stroke=colour if role == "forced" else None,
                    opacities=[0.55 if role == "limit" else 1.0],
                    names=None,
                    display_names=False,
                    tooltip=tooltip,
                    labels=[f"{band} {role}"],
                    display_legend=role == "detection",
                    selected_style=_SELECTED_STYLE if role == "detection" else {},
                )
                self.marks[(band, role)] = scatter
                point_marks.append(scatter)
                self.points[(band, role)] = pd.DataFrame()
        self.pan_zoom = bq.interacts.PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale]})
        self.figure = bq.Figure(
            marks=error_marks + point_marks,
            axes=[self.x_axis, self.y_axis],
            interaction=self.pan_zoom,
            legend_location="top-right",
            fig_margin={"top": 40, "bottom": 50, "left": 70, "right": 20},
            layout=widgets.Layout(width="100%", height="420px"),
        )
        self.figure.add_class("lasair-light-curve")
        self.note = widgets.HTML()
        self._click_callbacks: list[Callable[[int], None]] = []
        for band in BAND_COLOURS:
            self.marks[(band, "detection")].on_element_click(self._clicked)
        super().__init__([self.figure, self.note], **kwargs)

    # --- drawing ----------------------------------------------------------------------------

    def draw(
        self,
        curve: pd.DataFrame,
        kind: str,
        *,
        show_forced: bool,
        x_column: str = "mjd",
        x_label: str = "time (MJD)",
        title: str = "",
    ) -> None:
        """Show a light curve.

        Parameters
        ----------
        curve
            ``ObjectRecord.lightcurve(kind)`` (or ``fold``) rows: ``measurement``,
            ``band``, ``mjd``, ``time``, ``candid``, ``upper_limit``, and the values of
            ``kind`` with their errors.
        kind
            ``"mag"``, ``"flux"``, ``"diffmag"`` or ``"diffflux"``.
        show_forced
            Whether forced-photometry points (measured, and limits) are drawn.
        x_column
            The column on the x axis (``"mjd"``, or ``"phase"`` for a folded curve).
        x_label
            The x-axis label.
        title
            The figure title.
        """
        unit = "mag" if kind in MAGNITUDE_KINDS else "µJy"
        hidden = 0
        for band in BAND_COLOURS:
            rows = curve[curve["band"] == band] if len(curve) else curve
            if len(rows):
                is_forced = rows["measurement"] == "forced"
                limits = rows["upper_limit"].astype(bool)
                parts = {
                    "detection": rows[rows["measurement"] == "detection"],
                    "limit": rows[limits & (~is_forced | show_forced)],
                    "forced": rows[is_forced & ~limits] if show_forced else rows.iloc[:0],
                }
            else:
                parts = dict.fromkeys(ROLES, rows)
            for role, part in parts.items():
                points = _points(part, kind, x_column) if len(part) else _no_points()
                hidden += len(part) - len(points)
                self.points[(band, role)] = points
                scatter = self.marks[(band, role)]
                with scatter.hold_sync():
                    scatter.selected = None
                    scatter.x = points["x"].to_numpy(dtype=float)
                    scatter.y = points["y"].to_numpy(dtype=float)
                    texts = _hover_text(points, band, role, unit)
                    # bqplot cannot serialise an empty array of names
                    scatter.names = np.array(texts, dtype=str) if texts else None
                    scatter.display_legend = role == "detection" and bool(len(points))
                if (band, role) in self.error_bars:
                    bars = self.error_bars[(band, role)]
                    x, y = _error_segments(points)
                    with bars.hold_sync():
                        bars.x, bars.y = x, y
        self.kind = kind
        self.x_label = x_label
        self.title = title
        with self.figure.hold_sync():
            self.y_scale.reverse = kind in MAGNITUDE_KINDS
            self.y_axis.label = AXIS_LABELS[kind]
            self.y_axis.tick_format = ".1f" if kind in MAGNITUDE_KINDS else ".3~s"
            self.x_axis.label = x_label
            self.x_axis.tick_format = ".2f" if x_column == "phase" else ".0f"
            self.figure.title = title
            self.reset_zoom()
        self.note.value = (
            f'<span style="color:#444">{hidden} point(s) have no known {html.escape(kind)} '
            "value (no reference to make the apparent brightness known) and are not shown; "
            "the difference kinds show every detection.</span>"
            if hidden
            else ""
        )

    def reset_zoom(self) -> None:
        """Fit the axes to the points again (after zooming or panning)."""
        for scale in (self.x_scale, self.y_scale):
            scale.min = None
            scale.max = None

    def set_zoom(self, enabled: bool) -> None:
        """Turn zoom and pan with the mouse on or off (off: points are easier to click)."""
        self.figure.interaction = self.pan_zoom if enabled else None

    # --- clicks -----------------------------------------------------------------------------

    def on_detection_click(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(candid)`` when a detection is clicked."""
        self._click_callbacks.append(callback)

    def select(self, candid: int | None) -> None:
        """Outline the detection with this ``candid`` (None: none)."""
        for band in BAND_COLOURS:
            points = self.points[(band, "detection")]
            scatter = self.marks[(band, "detection")]
            matches = (
                np.flatnonzero(points["candid"].to_numpy() == candid)
                if candid is not None and len(points)
                else []
            )
            scatter.selected = [int(i) for i in matches] or None

    def _clicked(self, mark: bq.Scatter, content: dict[str, Any]) -> None:
        index = content.get("data", {}).get("index")
        for (band, role), scatter in self.marks.items():
            if scatter is mark and role == "detection" and index is not None:
                candid = self.points[(band, role)]["candid"].iloc[int(index)]
                if candid is not None and not pd.isna(candid):
                    for callback in self._click_callbacks:
                        callback(int(candid))

    # --- export -----------------------------------------------------------------------------

    def save_png(self, path: str | Path, dpi: int = 120) -> Path:
        """Draw the shown points with matplotlib into a PNG file (no browser needed).

        Parameters
        ----------
        path
            Where to write the PNG.
        dpi
            Resolution (the figure is 8 × 4.5 inches).

        Returns
        -------
        pathlib.Path
            The file written.
        """
        figure = Figure(figsize=(8, 4.5), dpi=dpi, layout="constrained")
        axes = figure.add_subplot()
        for (band, role), points in self.points.items():
            if not len(points):
                continue
            colour = BAND_COLOURS[band]
            if role == "limit":
                axes.scatter(points["x"], points["y"], marker="v", color=colour, alpha=0.55, s=25)
                continue
            axes.errorbar(
                points["x"],
                points["y"],
                yerr=[
                    np.nan_to_num(points["y"] - points["low"]),
                    np.nan_to_num(points["high"] - points["y"]),
                ],
                fmt=_MPL_MARKERS[role],
                color=colour,
                mfc=colour if role == "detection" else "none",
                ms=5,
                elinewidth=1,
                label=f"{band} {role}" if role == "detection" else None,
            )
        if self.kind in MAGNITUDE_KINDS:
            axes.invert_yaxis()
        axes.set_xlabel(self.x_label)
        axes.set_ylabel(AXIS_LABELS[self.kind])
        axes.set_title(self.title)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="best", fontsize="small")
        axes.grid(alpha=0.3)
        path = Path(path)
        figure.savefig(path, format="png")
        return path
