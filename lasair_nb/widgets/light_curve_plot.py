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
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import matplotlib as mpl
import numpy as np
import numpy.typing as npt
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


def _columns(curve: pd.DataFrame, kind: str, x_column: str) -> dict[str, Any]:
    """The plotted numbers of a light curve, as arrays: x, y, error-bar ends, what each is.

    Also ``date`` (the UTC calendar date to the minute, for hovering) and ``plotted``
    (whether x and y are finite numbers). Arrays, not a frame: a light curve is split
    nine ways (band × role) and numpy masks cost a fraction of pandas indexing.
    """
    if kind in MAGNITUDE_KINDS:
        y = curve["mag"].to_numpy(dtype=float, na_value=np.nan)
        if "mag_err" in curve:
            minus = plus = curve["mag_err"].to_numpy(dtype=float, na_value=np.nan)
        else:  # diffmag: asymmetric, "plus" is fainter (a larger magnitude)
            minus = curve["mag_err_minus"].to_numpy(dtype=float, na_value=np.nan)
            plus = curve["mag_err_plus"].to_numpy(dtype=float, na_value=np.nan)
    else:
        y = curve["flux"].to_numpy(dtype=float, na_value=np.nan) * MICROJANSKY_PER_JANSKY
        minus = plus = (
            curve["flux_err"].to_numpy(dtype=float, na_value=np.nan) * MICROJANSKY_PER_JANSKY
        )
    x = curve[x_column].to_numpy(dtype=float, na_value=np.nan)
    time = curve["time"].array  # a DatetimeArray: an object array of Timestamps costs ~10 ms
    # numpy's datetime strings are ~5x faster than strftime
    minutes = pd.DatetimeIndex(time).tz_convert("UTC").tz_localize(None).to_numpy("datetime64[m]")
    return {
        "x": x,
        "y": y,
        "low": y - minus,
        "high": y + plus,
        "mjd": curve["mjd"].to_numpy(dtype=float, na_value=np.nan),
        "time": time,
        "candid": curve["candid"].array,  # Int64: a float would round the candid
        "measurement": curve["measurement"].to_numpy(dtype=object),
        "band": curve["band"].to_numpy(dtype=object),
        "upper_limit": curve["upper_limit"].astype(bool).to_numpy(),
        "date": np.char.replace(np.datetime_as_string(minutes, unit="m"), "T", " "),
        "plotted": np.isfinite(x) & np.isfinite(y),
    }


POINT_COLUMNS = ("x", "y", "low", "high", "mjd", "time", "candid", "measurement")
"""The columns of ``LightCurvePlot.points`` frames."""


def _empty_points() -> pd.DataFrame:
    columns = {name: pd.Series(dtype=float) for name in ("x", "y", "low", "high", "mjd")}
    columns.update(
        time=pd.Series(dtype="datetime64[ns, UTC]"),
        candid=pd.Series(dtype="Int64"),
        measurement=pd.Series(dtype=object),
    )
    return pd.DataFrame(columns)


_EMPTY_POINTS = _empty_points()


def _no_points() -> pd.DataFrame:
    """What a mark with no points shows (the columns of ``LightCurvePlot.points``)."""
    return _EMPTY_POINTS.copy()  # building it costs ~2 ms, copying it a tenth


def _hover_text(points: dict[str, Any], band: str, role: str, unit: str) -> list[str]:
    """One line per point: what it is, its value, MJD and calendar date (UTC, to the minute)."""
    y, low, high = points["y"], points["low"], points["high"]
    texts = []
    for value, up, down, error, mjd, date, measurement in zip(
        y.tolist(),
        (high - y).tolist(),
        (y - low).tolist(),
        (np.isfinite(low) & np.isfinite(high)).tolist(),
        points["mjd"].tolist(),
        points["date"].tolist(),
        points["measurement"].tolist(),
        strict=True,
    ):
        if role == "limit":
            shown = "limit %.2f %s" % (value, unit)  # noqa: UP031 - %-format is the fast one
        elif error:
            shown = "%.2f (+%.2f/-%.2f) %s" % (value, up, down, unit)  # noqa: UP031
        else:
            shown = "%.2f %s" % (value, unit)  # noqa: UP031
        texts.append("%s %s: %s · MJD %.4f · %s UTC" % (band, measurement, shown, mjd, date))  # noqa: UP031
    return texts


def _error_segments(points: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The x and y of vertical bars joined into one line broken by NaNs."""
    usable = np.isfinite(points["low"]) & np.isfinite(points["high"])
    count = int(np.count_nonzero(usable))
    x = np.repeat(points["x"][usable], 3)
    y = np.empty(3 * count)
    y[0::3], y[1::3], y[2::3] = points["low"][usable], points["high"][usable], np.nan
    return x, y


class _Points(Mapping[tuple[str, str], pd.DataFrame]):
    """``{(band, role): DataFrame}`` of what each mark shows, made when first read.

    Drawing keeps the plotted columns; nine frames a redraw cost more than the drawing.
    """

    def __init__(self) -> None:
        self._columns: dict[tuple[str, str], dict[str, Any] | None] = {
            (band, role): None for band in BAND_COLOURS for role in ROLES
        }
        self._frames: dict[tuple[str, str], pd.DataFrame] = {}

    def keep(self, key: tuple[str, str], columns: dict[str, Any] | None) -> None:
        """What the mark ``key`` now shows (None: nothing)."""
        self._columns[key] = columns
        self._frames.pop(key, None)

    def candids(self, key: tuple[str, str]) -> npt.NDArray[np.int64]:
        """The candids of a mark's points, in order (without making its frame)."""
        columns = self._columns[key]
        if columns is None:
            return np.empty(0, dtype=np.int64)
        return np.asarray(columns["candid"].to_numpy(dtype="int64", na_value=-1))

    def __getitem__(self, key: tuple[str, str]) -> pd.DataFrame:
        if key not in self._frames:
            columns = self._columns[key]
            self._frames[key] = (
                _no_points()
                if columns is None
                else pd.DataFrame({name: columns[name] for name in POINT_COLUMNS})
            )
        return self._frames[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


class _Marks(dict):
    """``{(band, role): mark}`` that makes a mark when it is first asked for.

    Each bqplot mark costs about half a millisecond to make, and most objects have no i
    band and show no forced points (a toggle).
    """

    def __init__(self, make: Callable[[str, str], bq.Scatter]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: tuple[str, str]) -> bq.Scatter:
        return self._make(*key)


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
        self.marks: dict[tuple[str, str], bq.Scatter] = _Marks(self._make_mark)
        self.error_bars: dict[tuple[str, str], bq.Lines] = {}
        self.points = _Points()
        self.kind = "mag"
        self.x_label = "time (MJD)"
        self.title = ""
        self._tooltip = bq.Tooltip(fields=["name"], show_labels=False)
        self._click_callbacks: list[Callable[[int], None]] = []
        self.pan_zoom = bq.interacts.PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale]})
        self.figure = bq.Figure(
            marks=[],
            axes=[self.x_axis, self.y_axis],
            interaction=self.pan_zoom,
            legend_location="top-right",
            fig_margin={"top": 40, "bottom": 50, "left": 70, "right": 20},
            layout=widgets.Layout(width="100%", height="420px"),
        )
        for band in ("g", "r"):  # the marks almost every ZTF object needs; others on demand
            for role in ("detection", "limit"):
                self._make_mark(band, role, attach=False)
        self._attach_marks()
        self.figure.add_class("lasair-light-curve")
        self.note = widgets.HTML()
        super().__init__([self.figure, self.note], **kwargs)

    def _make_mark(self, band: str, role: str, attach: bool = True) -> bq.Scatter:
        """The scatter (and error bars) of one band and role, added to the figure."""
        colour = BAND_COLOURS[band]
        scales = {"x": self.x_scale, "y": self.y_scale}
        if role in ("detection", "forced"):
            self.error_bars[(band, role)] = bq.Lines(
                x=[], y=[], scales=scales, colors=[colour], stroke_width=1, opacities=[0.6]
            )
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
            tooltip=self._tooltip,
            labels=[f"{band} {role}"],
            display_legend=False,
            selected_style=_SELECTED_STYLE if role == "detection" else {},
        )
        if role == "detection":
            scatter.on_element_click(self._clicked)
        dict.__setitem__(self.marks, (band, role), scatter)
        if attach:
            self._attach_marks()
        return scatter

    def _attach_marks(self) -> None:
        """Put the marks on the figure: error bars under points, bands and roles in order."""
        order = [(band, role) for band in BAND_COLOURS for role in ROLES]
        bars = [self.error_bars[key] for key in order if key in self.error_bars]
        points = [self.marks[key] for key in order if key in self.marks]
        self.figure.marks = bars + points

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
        every = _columns(curve, kind, x_column) if len(curve) else None
        hidden = 0
        for band in BAND_COLOURS:
            for role, (columns, missing) in self._split(every, band, show_forced).items():
                hidden += missing
                self.points.keep((band, role), columns)
                if columns is None and (band, role) not in self.marks:
                    continue  # no mark made for nothing
                scatter = self.marks[(band, role)]
                if columns is None:
                    x, y, texts = np.empty(0), np.empty(0), []
                    bar_x, bar_y = np.empty(0), np.empty(0)
                else:
                    x, y = columns["x"], columns["y"]
                    texts = _hover_text(columns, band, role, unit)
                    bar_x, bar_y = _error_segments(columns)
                with scatter.hold_sync():
                    scatter.selected = None
                    scatter.x, scatter.y = x, y
                    # bqplot cannot serialise an empty array of names
                    scatter.names = np.array(texts, dtype=str) if texts else None
                    scatter.display_legend = role == "detection" and bool(len(x))
                if (band, role) in self.error_bars:
                    bars = self.error_bars[(band, role)]
                    with bars.hold_sync():
                        bars.x, bars.y = bar_x, bar_y
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

    @staticmethod
    def _split(
        every: dict[str, Any] | None, band: str, show_forced: bool
    ) -> dict[str, tuple[dict[str, Any] | None, int]]:
        """Each role's plotted columns of one band (None: none), and its rows not plotted.

        Rows are not plotted when their value is unknown. Roles: detections; limits
        (non-detections, and forced points below the threshold when forced photometry is
        shown); measured forced points when it is shown.
        """
        if every is None:
            return dict.fromkeys(ROLES, (None, 0))
        in_band = every["band"] == band
        measurement, limit = every["measurement"], every["upper_limit"]
        forced = measurement == "forced"
        roles = {
            "detection": measurement == "detection",
            "limit": limit & (~forced | show_forced),
            "forced": forced & ~limit & show_forced,
        }
        split: dict[str, tuple[dict[str, Any] | None, int]] = {}
        for role, chosen in roles.items():
            rows = in_band & chosen
            shown = rows & every["plotted"]
            missing = int(np.count_nonzero(rows)) - int(np.count_nonzero(shown))
            columns = {name: values[shown] for name, values in every.items()}
            split[role] = (columns if np.any(shown) else None, missing)
        return split

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
            if (band, "detection") not in self.marks:
                continue
            candids = self.points.candids((band, "detection"))
            matches = np.flatnonzero(candids == candid) if candid is not None else []
            self.marks[(band, "detection")].selected = [int(i) for i in matches] or None

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
