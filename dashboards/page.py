"""What every dashboard does: read and check its URL parameters, say what went wrong kindly.

A dashboard notebook has three kinds of cells: one that imports and connects (run ahead
of time in a pre-started kernel), one that reads the page's parameters with
:func:`parameters`, and cells that draw with :func:`show`. A bad or missing parameter is
a :class:`PageError` naming the parameter, what it was and what is accepted; :func:`show`
turns it (and any other :class:`lasair_nb.LasairError`) into a friendly message on the
page. Values are checked here before they reach the client library, which checks them
again before any SQL.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

import ipywidgets as widgets
from IPython.display import display

import lasair_nb as ln

OBJECT_ID = re.compile(r"ZTF\d{2}[a-z]{7}")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
DASHBOARDS_PATH = "/services/dashboards/"
OPEN_PATH = "/services/notebooks/open/"


class PageError(ln.ArgumentError):
    """A page parameter that cannot be used: which, what it was, what is accepted."""


QUERY: str | None = None
"""The parameters as a query string, set by a notebook made with "Open in my notebook"
(then there is no page to read them from)."""


def _query_string() -> str:
    """The page's query string (waits for the visitor in a pre-started kernel)."""
    if QUERY is not None:
        return QUERY
    try:
        from voila.utils import get_query_string  # noqa: PLC0415 - only under Voila
    except ImportError:
        return os.environ.get("QUERY_STRING", "")
    return get_query_string() or ""


def _object_id(value: str) -> str:
    if not OBJECT_ID.fullmatch(value):
        raise PageError(
            f"objectId {value!r} is not a ZTF objectId; one looks like ZTF21abiuvdk "
            "(ZTF, two digits, seven lower-case letters)"
        )
    return value


def _float(value: str) -> float:
    """The number ``value`` reads as (NaN when it reads as none)."""
    try:
        return float(value)
    except ValueError:
        return math.nan


def _degrees(low: float, high: float) -> Callable[[str], float]:
    def convert(value: str) -> float:
        number = _float(value)
        if not (math.isfinite(number) and low <= number <= high):
            raise PageError(f"{value!r} is not a number of degrees from {low:g} to {high:g}")
        return number

    return convert


def _arcsec(value: str) -> float:
    number = _float(value)
    if not (math.isfinite(number) and 0 < number <= 3600):
        raise PageError(f"radius {value!r} is not a number of arcsec above 0 and up to 3600")
    return number


def _name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise PageError(
            f"{value!r} is not a name: up to 64 letters, digits and _ . + - "
            "(e.g. S190425z or GW170817)"
        )
    return value


def _whole(value: str) -> int:
    if not re.fullmatch(r"\d{1,9}", value):
        raise PageError(f"{value!r} is not a whole number like 12")
    return int(value)


def _date(value: str) -> str:
    from astropy.time import Time  # noqa: PLC0415 - astropy is slow to import

    try:
        Time(value)
    except ValueError as error:
        raise PageError(f"{value!r} is not a date like 2024-05-30 (or an ISO time)") from error
    return value


def _band(value: str) -> str:
    if value not in ("g", "r", "i"):
        raise PageError(f"band {value!r} is not one of g, r, i")
    return value


def _level(value: str) -> float:
    number = _float(value)
    if not (math.isfinite(number) and 0 < number <= 1):
        raise PageError(f"level {value!r} is not a probability above 0 and up to 1 (e.g. 0.9)")
    return number


def _target(value: str) -> str:
    if not 0 < len(value) <= 200:
        raise PageError("target must be a position or a name, up to 200 characters")
    return value


LIGHT_CURVE_KINDS = ("mag", "flux", "diffmag", "diffflux")
"""The ObjectViewer's light-curve kinds (``kind=``)."""
SKY_LAYERS = ("objects", "coverage", "skymap", "watchlist", "watchmap")
"""The SkyMap's layers (``layers=``)."""


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in choices:
            raise PageError(f"{name} {value!r} is not one of {', '.join(choices)}")
        return value

    return convert


def _choices(name: str, choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    def convert(value: str) -> list[str]:
        chosen = [item for item in value.split(",") if item]
        if not chosen or any(item not in choices for item in chosen):
            raise PageError(
                f"{name} {value!r} is not a comma-separated list of {', '.join(choices)}"
            )
        return list(dict.fromkeys(chosen))

    return convert


def _switch(name: str) -> Callable[[str], bool]:
    def convert(value: str) -> bool:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise PageError(f"{name} {value!r} is not 1 or 0 (true or false)")

    return convert


def _number(name: str, low: float, high: float, unit: str, *, above: bool = False):
    """A number from ``low`` (excluded when ``above``) up to ``high``."""

    def convert(value: str) -> float:
        number = _float(value)
        inside = math.isfinite(number) and (low < number if above else low <= number)
        if not (inside and number <= high):
            start = "above" if above else "from"
            raise PageError(f"{name} {value!r} is not a number {unit}{start} {low:g} to {high:g}")
        return number

    return convert


def _candid(value: str) -> int:
    if not re.fullmatch(r"\d{1,19}", value) or int(value) >= 2**63:
        raise PageError(f"candid {value!r} is not a ZTF candid (a whole number, 19 digits at most)")
    return int(value)


KINDS: dict[str, Callable[[str], Any]] = {
    "objectId": _object_id,
    "ra": _degrees(0, 360),
    "dec": _degrees(-90, 90),
    "radius": _arcsec,
    "target": _target,
    "name": _name,
    "id": _whole,
    "from": _date,
    "to": _date,
    "band": _band,
    "level": _level,
    # the state of the widgets on the page
    "kind": _choice("kind", LIGHT_CURVE_KINDS),
    "forced": _switch("forced"),
    "fold": _switch("fold"),
    "period": _number("period", 0, 1e4, "of days ", above=True),
    "phase": _number("phase", 0, 1, ""),
    "candid": _candid,
    "fov": _number("fov", 0, 360, "of degrees ", above=True),
    "layers": _choices("layers", SKY_LAYERS),
}
"""Every parameter a dashboard takes, and how it is checked."""


def parameters(
    required: tuple[str, ...] = (),
    optional: Mapping[str, Any] | None = None,
    query: str | None = None,
) -> dict[str, Any]:
    """The page's parameters, checked.

    Parameters
    ----------
    required
        Names that must be given (each one of :data:`KINDS`).
    optional
        Names that may be given, with their defaults (None: absent).
    query
        The query string; default: the page's (under Voila) or ``QUERY_STRING``.

    Raises
    ------
    PageError
        For a missing, repeated, unknown or malformed parameter.
    """
    optional = dict(optional or {})
    raw = parse_qs(_query_string() if query is None else query, keep_blank_values=True)
    accepted = [*required, *optional]
    found: dict[str, Any] = dict(optional)
    for name, values in raw.items():
        if name not in accepted:
            continue  # Voila's own (template, theme...) and strangers are ignored
        if len(values) != 1:
            raise PageError(f"give {name} once, not {len(values)} times")
        found[name] = KINDS[name](values[0].strip())
    missing = [name for name in required if name not in raw]
    if missing:
        shown = "&".join(f"{name}=…" for name in accepted)
        raise PageError(f"missing {', '.join(missing)}: this page takes ?{shown}")
    return found


def link(dashboard: str, **params: Any) -> str:
    """The shareable address of a dashboard with these parameters."""
    query = query_string(params)
    return DASHBOARDS_PATH + dashboard + ("?" + query if query else "")


def query_string(params: Mapping[str, Any]) -> str:
    """Checked parameters as a query string (without ``?``) that :func:`parameters` reads back."""
    return urlencode({key: _as_text(value) for key, value in params.items() if value is not None})


def _links(dashboard: str, params: Mapping[str, Any]) -> str:
    """The HTML of the "Link to this view" and "Open in my notebook" links."""
    query = query_string(params)
    query = "?" + query if query else ""
    here = html.escape(DASHBOARDS_PATH + dashboard + query, quote=True)
    mine = html.escape(OPEN_PATH + dashboard + query, quote=True)
    return (
        f'<a class="lasair-view-link" href="{here}" target="_top">🔗 Link to this view</a>'
        f' · <a class="lasair-open-notebook" href="{mine}" target="_top">'
        "📓 Open in my notebook</a> (log in first if asked)"
    )


OBJECT_VIEW = {
    "objectId": "object_id",
    "kind": "kind",
    "forced": "show_forced",
    "fold": "folded",
    "period": "period",
    "phase": "phase",
    "candid": "selected_candid",
}
"""The ObjectViewer's state an object page's address carries: parameter → trait."""
SKY_VIEW = {"target": "target", "fov": "fov", "layers": "layers"}
"""The SkyMap's view a sky page's address carries: parameter → trait."""


def _as_text(value: Any) -> str:
    """A parameter's value as the URL writes it (what :data:`KINDS` reads back)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def open_in_notebook(dashboard: str, params: Mapping[str, Any]) -> widgets.HTML:
    """The page's links for these parameters: "Link to this view" and "Open in my notebook"."""
    return widgets.HTML(_links(dashboard, params))


def bind(
    dashboard: str, params: Mapping[str, Any], widget: Any, state: Mapping[str, str]
) -> widgets.HTML:
    """Set a widget's state from the page's parameters; links that follow the state.

    Parameters
    ----------
    dashboard
        The dashboard's name (its notebook without ``.ipynb``).
    params
        The page's checked parameters; those named in ``state`` and given set the widget.
    widget
        The widget whose state the page's address carries.
    state
        URL parameter → the widget's trait (``{"forced": "show_forced"}``).

    Returns
    -------
    ipywidgets.HTML
        "Link to this view" and "Open in my notebook", with the parameters and the
        widget's state as it is now: change the view, then share the link. A state
        parameter is left out while it is what the widget chose by itself (the latest
        alert's stamps, say), unless the address gave it.
    """
    # what the widget shows by itself: the link carries only what differs from it
    defaults = {trait: getattr(widget, trait) for trait in state.values()}
    for name, trait in state.items():
        if params.get(name) is not None:
            setattr(widget, trait, params[name])
    links = widgets.HTML()

    def follow(change: Any = None) -> None:
        if change is not None and getattr(widget, "loading", False):
            defaults[change["name"]] = change["new"]  # the widget's own choice
        current = {key: value for key, value in params.items() if key not in state}
        for name, trait in state.items():
            value = getattr(widget, trait)
            if params.get(name) is not None or value != defaults[trait]:
                current[name] = value
        links.value = _links(dashboard, current)

    widget.observe(follow, names=list(state.values()))
    follow()
    return links


def problem(error: BaseException) -> widgets.HTML:
    """A friendly message for what went wrong (never a traceback)."""
    return widgets.HTML(
        '<div class="lasair-page-problem" style="border-left:4px solid #c0392b;'
        'padding:0.5em 1em;background:#fdf2f0">'
        f"<b>This page cannot be shown:</b> {html.escape(str(error))}"
        f'<br><a href="{DASHBOARDS_PATH}">All dashboards</a></div>'
    )


def read(
    required: tuple[str, ...] = (), optional: Mapping[str, Any] | None = None
) -> dict[str, Any] | PageError:
    """The page's parameters (:func:`parameters`), or the :class:`PageError` saying why not.

    The parameters cell of a dashboard (tagged ``parameters``) is ``params = page.read(...)``;
    "Open in my notebook" writes the checked values there instead.
    """
    try:
        return parameters(required, optional)
    except PageError as error:
        return error


def show(draw: Callable[[dict[str, Any]], Any], params: dict[str, Any] | PageError) -> None:
    """Display ``draw(params)``; a bad parameter or any LasairError as a kind message."""
    if isinstance(params, PageError):
        display(problem(params))
        return
    try:
        display(draw(params))
    except ln.LasairError as error:
        display(problem(error))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))


def table(frame: Any, columns: list[str], links: str | None = "objectid") -> widgets.HTML:
    """Rows of a pandas frame as an HTML table, every value escaped.

    The objectIds of the ``links`` column link to their object pages.
    """
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    rows = []
    for record in frame[columns].itertuples(index=False):
        cells = []
        for column, value in zip(columns, record, strict=True):
            text = _cell(value)
            if column == links:
                address = html.escape(link("object", objectId=str(value)), quote=True)
                text = f'<a href="{address}" target="_top">{text}</a>'
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        return widgets.HTML("<p><i>nothing found</i></p>")
    return widgets.HTML(
        f'<table class="lasair-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
