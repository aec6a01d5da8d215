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
    given = {key: value for key, value in params.items() if value is not None}
    return DASHBOARDS_PATH + dashboard + ("?" + urlencode(given) if given else "")


def open_in_notebook(dashboard: str, params: Mapping[str, Any]) -> widgets.HTML:
    """The "Open in my notebook" link: the same view, as a notebook in your own lab."""
    given = {key: value for key, value in params.items() if value is not None}
    address = OPEN_PATH + dashboard + ("?" + urlencode(given) if given else "")
    return widgets.HTML(
        f'<a class="lasair-open-notebook" href="{html.escape(address, quote=True)}" '
        'target="_top">📓 Open in my notebook</a> (log in first if asked)'
    )


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
