"""``WatchlistEditor``: make, edit and crossmatch watchlists from a notebook or a dashboard.

The editor lists your watchlists and the public ones; reads sources pasted as CSV text
or uploaded as a CSV file (``name, ra, dec[, radius]``; RA and Dec in decimal degrees or
sexagesimal, RA in hours) and checks every row before anything is stored; shows the rows
as an editable table; sets the radius, public and active flags; runs the crossmatch in
the background with a progress bar; lists the matches with objectIds that open the
object viewer; and shows the watchlist on a sky map.

Rows with problems block saving: nothing is stored until every row reads, so a watchlist
never silently loses sources. Each problem is listed as ``row N: ...`` where ``N`` counts
data rows from 1 (the header and blank lines are not counted).

Every piece of state is a trait, so a dashboard can drive the editor::

    editor = WatchlistEditor(archive)
    editor.name = "my nearby galaxies"
    editor.text = pasted_csv  # "name, ra, dec" then a line per source
    editor.save()
    editor.run_crossmatch().join()
    editor.matches
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
import threading
import warnings
from collections.abc import Callable
from importlib import import_module
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets
from astropy import units as u
from astropy.coordinates import Angle
from astropy.table import Table
from astropy.utils.exceptions import AstropyWarning

from lasair_nb.errors import LasairError
from lasair_nb.widgets.common import Notice, describe_error, in_background

if TYPE_CHECKING:
    from lasair_nb.client.archive import Archive

__all__ = ["MAX_RADIUS_ARCSEC", "WatchlistEditor", "read_source_rows"]

MAX_RADIUS_ARCSEC = 3600.0
"""Largest radius of a watchlist source, as the archive takes it: watchlists are small cones."""

MAX_TABLE_ROWS = 100
"""Rows shown in the editable table; the text holds the rest."""

MAX_RESULT_ROWS = 200
"""Matches shown as rows with buttons; ``.matches`` holds them all."""

COLUMNS = ("name", "ra", "dec", "radius")
"""The columns of a watchlist in the editor's text, in order."""

_ALIASES = {
    "name": ("name", "source", "source_name", "source name", "objectid", "id"),
    "ra": ("ra", "r.a.", "raj2000", "ra_deg", "ra (deg)", "_raj2000"),
    "dec": ("dec", "dec.", "decl", "dej2000", "decj2000", "dec_deg", "dec (deg)", "_dej2000"),
    "radius": ("radius", "radius_arcsec", "radius (arcsec)"),
}
"""Header names read as each column (case-insensitive), as the client's reader takes them."""

_ACCEPTED_RA = "accepted: degrees 0 to 360, or hh:mm:ss"
_ACCEPTED_DEC = "accepted: degrees -90 to +90, or ±dd:mm:ss"
_ANGLE_CHARACTERS = re.compile(r"[+\-−]?[\d\s:.hmsdHMSD°'′″\"ʰᵐˢ]+")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


# --- reading rows ---------------------------------------------------------------------------


class _RowProblemError(ValueError):
    """One row cannot be read; the message says why and what is accepted."""


def _read_angle(text: str, *, right_ascension: bool) -> float:
    """Degrees from decimal degrees or sexagesimal text (RA in hours, Dec in degrees).

    Raises
    ------
    _RowProblemError
        If the text is not an angle, or is out of range.
    """
    what = "RA" if right_ascension else "Dec"
    accepted = _ACCEPTED_RA if right_ascension else _ACCEPTED_DEC
    stripped = text.strip().strip('"').strip()
    if not stripped:
        raise _RowProblemError(f"{what} is missing ({accepted})")
    try:
        degrees = float(stripped.replace("−", "-"))
    except ValueError:
        degrees = _sexagesimal(stripped, what, accepted, right_ascension=right_ascension)
    else:
        if not math.isfinite(degrees):
            raise _RowProblemError(f"{what} {text.strip()!r} is not a finite angle ({accepted})")
    low, high = (0.0, 360.0) if right_ascension else (-90.0, 90.0)
    if not low <= degrees <= high:
        raise _RowProblemError(
            f"{what} {text.strip()!r} is {degrees:g}°, outside {low:g} to {high:g}° ({accepted})"
        )
    return degrees


def _sexagesimal(text: str, what: str, accepted: str, *, right_ascension: bool) -> float:
    """Degrees from ``hh:mm:ss`` / ``dd:mm:ss`` with colons, spaces or letters."""
    not_an_angle = f"{what} {text!r} is not an angle ({accepted})"
    if not _ANGLE_CHARACTERS.fullmatch(text):
        raise _RowProblemError(not_an_angle)
    fields = _NUMBER.findall(text)
    if not 2 <= len(fields) <= 3:
        raise _RowProblemError(not_an_angle)
    in_degrees = not right_ascension or "d" in text.lower() or "°" in text
    if right_ascension is False and "h" in text.lower():
        raise _RowProblemError(f"{what} {text!r} is written in hours; a Dec is in degrees")
    for value, field in zip(fields[1:], ("minutes", "seconds"), strict=False):
        if float(value) >= 60:
            raise _RowProblemError(
                f"{what} {text!r} is not an angle: {field} {value} must be below 60 ({accepted})"
            )
    if not in_degrees and float(fields[0]) >= 24:
        raise _RowProblemError(
            f"{what} {text!r} is not an angle: {fields[0]} hours must be below 24 ({accepted})"
        )
    sign = "-" if text.lstrip().startswith(("-", "−")) else "+"
    with warnings.catch_warnings():
        # astropy only warns about odd fields; here an odd field is a refused row.
        warnings.simplefilter("error", AstropyWarning)
        try:
            angle = Angle(sign + ":".join(fields), unit=u.deg if in_degrees else u.hourangle)
        except (ValueError, AstropyWarning) as error:
            raise _RowProblemError(not_an_angle) from error
    return float(angle.deg)


def _read_radius(text: str) -> float:
    """Arcseconds from a radius cell; NaN when the cell is empty (the watchlist's radius)."""
    stripped = text.strip().strip('"').strip()
    if not stripped:
        return math.nan
    try:
        arcsec = float(stripped)
    except ValueError as error:
        raise _RowProblemError(
            f"radius {stripped!r} is not a number (accepted: arcsec above 0, at most 3600)"
        ) from error
    if not (math.isfinite(arcsec) and 0 < arcsec <= MAX_RADIUS_ARCSEC):
        raise _RowProblemError(
            f"radius {stripped!r} is outside the accepted range (arcsec above 0, at most 3600)"
        )
    return arcsec


def _header_columns(cells: list[str]) -> dict[str, int] | None:
    """Column positions if ``cells`` is a header naming RA and Dec, else None."""
    keys = [cell.strip().strip('"').strip().lower() for cell in cells]
    found: dict[str, int] = {}
    for column, aliases in _ALIASES.items():
        for position, key in enumerate(keys):
            if key in aliases:
                found[column] = position
                break
    if "ra" not in found or "dec" not in found:
        return None
    if "name" not in found:  # catalogues say "3HSP Source name", "Object Name", ...
        named = [position for position, key in enumerate(keys) if key.endswith("name")]
        if named:
            found["name"] = named[0]
    return found


def _split(text: str) -> list[list[str]]:
    """CSV rows of ``text``: commas (tabs when a line has no comma); blank and # lines skipped."""
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return []
    delimiter = "\t" if "," not in lines[0] and "\t" in lines[0] else ","
    return [row for row in csv.reader(lines, delimiter=delimiter, skipinitialspace=True)]


def read_source_rows(text: str) -> tuple[list[list[str]], pd.DataFrame, list[tuple[int, str]]]:
    """Read watchlist sources from CSV text, checking every row.

    Parameters
    ----------
    text
        CSV text: a header naming the columns (``name``, ``ra``, ``dec`` and optionally
        ``radius`` in arcsec; other columns are ignored) or, without a header, rows of
        ``name, ra, dec[, radius]``. RA and Dec are decimal degrees or sexagesimal
        (``hh:mm:ss`` / ``±dd:mm:ss`` with colons, spaces or letters; RA in hours).

    Returns
    -------
    rows
        Each data row as ``[name, ra, dec, radius]`` text cells, in order.
    sources
        The rows that read: ``row`` (from 1), ``name``, ``ra`` and ``dec`` [deg] and
        ``radius_arcsec`` (NaN where the row gives none: the watchlist's radius applies).
    problems
        ``(row, message)`` for each row that does not read; row 0 is the header.
    """
    table = _split(text)
    problems: list[tuple[int, str]] = []
    if table and (columns := _header_columns(table[0])) is not None:
        body = table[1:]
        if "name" not in columns:
            problems.append((0, "the header has no name column (name, source or id)"))
    else:
        columns = {column: position for position, column in enumerate(COLUMNS)}
        body = table
    rows: list[list[str]] = []
    good: list[dict[str, Any]] = []
    for number, cells in enumerate(body, start=1):

        def cell(column: str, cells: list[str] = cells) -> str:
            position = columns.get(column)
            return cells[position] if position is not None and position < len(cells) else ""

        rows.append([cell(column).strip() for column in COLUMNS])
        reasons = []
        if max(columns["ra"], columns["dec"]) >= len(cells):
            reasons.append(
                f"has {len(cells)} field{'s' if len(cells) != 1 else ''}; "
                "expected name, ra, dec and optionally radius"
            )
        else:
            name = cell("name").strip()
            if not name and "name" in columns:
                reasons.append("the name is missing")
            values: dict[str, Any] = {"row": number, "name": name}
            for column, read in (
                ("ra", lambda value: _read_angle(value, right_ascension=True)),
                ("dec", lambda value: _read_angle(value, right_ascension=False)),
                ("radius_arcsec", _read_radius),
            ):
                try:
                    values[column] = read(cell("radius" if column == "radius_arcsec" else column))
                except _RowProblemError as problem:
                    reasons.append(str(problem))
            if not reasons:
                good.append(values)
        problems.extend((number, f"row {number}: {reason}") for reason in reasons)
    sources = pd.DataFrame(good, columns=["row", "name", "ra", "dec", "radius_arcsec"])
    return (
        rows,
        sources.astype({"row": int, "ra": float, "dec": float, "radius_arcsec": float}),
        problems,
    )


def _to_csv(rows: list[list[str]]) -> str:
    """CSV text of ``[name, ra, dec, radius]`` rows with a header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def _frame(result: Any) -> pd.DataFrame:
    """A client result as a DataFrame, whichever output the archive was opened with."""
    return result.to_pandas() if isinstance(result, Table) else result


# --- the widget -------------------------------------------------------------------------------


class WatchlistEditor(widgets.VBox):
    """Make, edit and crossmatch watchlists: yours and the public ones.

    Parameters
    ----------
    archive
        The archive, as the user whose watchlists these are.
    **kwargs
        Initial trait values (``watchlist``, ``name``, ``text``, ``radius``...).

    Attributes
    ----------
    watchlists : pandas.DataFrame
        The watchlists you can see (``owner``, ``name``, ``public``, ``active``,
        ``radius_arcsec``, ``sources``...), as last listed.
    sources : pandas.DataFrame
        The rows of ``text`` that read: ``row``, ``name``, ``ra``, ``dec`` [deg],
        ``radius_arcsec`` (NaN: the watchlist's radius).
    errors : list of (int, str)
        One ``(row, message)`` per problem in ``text``; saving is refused while any remain.
    matches : pandas.DataFrame or astropy.table.Table or None
        The last crossmatch, as ``archive.watchlists.crossmatch`` returns it.
    viewer, sky_map : ipywidgets.Widget or None
        The object viewer and sky map opened from the editor, when those widgets exist.
    """

    watchlist = traitlets.Unicode(
        "", help="The watchlist shown: a name of yours or 'owner/name'; '' for a new one."
    )
    name = traitlets.Unicode("", help="Name under which Save stores the sources.")
    description = traitlets.Unicode("", help="What the watchlist is for.")
    text = traitlets.Unicode("", help="The sources as CSV text: name, ra, dec[, radius].")
    radius = traitlets.Float(
        2.0, help="Match radius in arcsec for sources without their own (above 0, ≤ 3600)."
    )
    public = traitlets.Bool(False, help="Everyone can see and crossmatch the watchlist.")
    active = traitlets.Bool(False, help="The watchlist is matched against every new batch.")
    owned = traitlets.Bool(False, read_only=True, help="The shown watchlist is yours (read-only).")
    busy = traitlets.Bool(False, help="A crossmatch is running (read-only).")
    selected_object = traitlets.Unicode("", help="The objectId last clicked in the matches.")

    def __init__(self, archive: Archive, **kwargs: Any) -> None:
        self.archive = archive
        self.watchlists = pd.DataFrame()
        self.sources, self.errors = read_source_rows("")[1:]
        self.matches: Any = None
        self.viewer: widgets.Widget | None = None
        self.sky_map: widgets.Widget | None = None
        self._rows: list[list[str]] = []
        self._loading = False
        self._refreshing = False
        self._thread: threading.Thread | None = None

        self.notice = Notice()
        self._chooser = widgets.Dropdown(description="Watchlist", options=[("(new)", "")])
        self._refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self._delete_button = widgets.Button(description="Delete", icon="trash")
        self._name_box = widgets.Text(description="Name", placeholder="name of the watchlist")
        self._description_box = widgets.Text(description="Description", continuous_update=False)
        self._radius_box = widgets.BoundedFloatText(
            description="Radius ″", min=0.01, max=MAX_RADIUS_ARCSEC, step=0.5
        )
        self._public_box = widgets.Checkbox(description="public", indent=False)
        self._active_box = widgets.Checkbox(description="active", indent=False)
        self._text_box = widgets.Textarea(
            placeholder="name, ra, dec, radius\nSN 2021abc, 00:03:15.43, +16:08:44.5, 3",
            continuous_update=False,
            layout=widgets.Layout(width="100%", height="8em"),
        )
        self._upload = widgets.FileUpload(accept=".csv,.txt,text/csv", description="CSV")
        self._problems = widgets.HTML()
        self._table = widgets.VBox()
        self._add_row_button = widgets.Button(description="Add a row", icon="plus")
        self._save_button = widgets.Button(description="Save", icon="save", button_style="primary")
        self._crossmatch_button = widgets.Button(description="Crossmatch", icon="search")
        self._progress = widgets.IntProgress(value=0, min=0, max=3, description="")
        self._results = widgets.VBox()
        self._sky_map_button = widgets.Button(
            description="Show on a sky map", icon="globe", layout={"width": "auto"}
        )
        self._sky_map_box = widgets.VBox()
        self._viewer_box = widgets.VBox()
        for button in (self._save_button, self._crossmatch_button):
            button.add_class(f"lasair-watchlist-{button.description.lower()}")
        self._upload.add_class("lasair-watchlist-upload")
        self._results.add_class("lasair-watchlist-matches")

        super().__init__(
            children=[
                widgets.HBox([self._chooser, self._refresh_button, self._delete_button]),
                widgets.HBox([self._name_box, self._description_box]),
                widgets.HBox([self._radius_box, self._public_box, self._active_box]),
                widgets.HTML("<b>Sources</b>: paste CSV (name, ra, dec[, radius ″]) or upload"),
                self._text_box,
                widgets.HBox([self._upload, self._add_row_button, self._save_button]),
                self._problems,
                self._table,
                widgets.HBox([self._crossmatch_button, self._progress, self._sky_map_button]),
                self.notice,
                self._results,
                self._sky_map_box,
                self._viewer_box,
            ],
        )
        for trait, box in (
            ("name", self._name_box),
            ("description", self._description_box),
            ("radius", self._radius_box),
            ("public", self._public_box),
            ("active", self._active_box),
            ("text", self._text_box),
        ):
            widgets.link((self, trait), (box, "value"))
        self._chooser.observe(self._chosen, "value")
        self._upload.observe(self._uploaded, "value")
        self._refresh_button.on_click(lambda _: self.refresh())
        self._delete_button.on_click(lambda _: self.delete())
        self._add_row_button.on_click(lambda _: self._edit_rows([*self._rows, ["", "", "", ""]]))
        self._save_button.on_click(lambda _: self.save())
        self._crossmatch_button.on_click(lambda _: self.run_crossmatch())
        self._sky_map_button.on_click(lambda _: self.show_on_sky_map())

        self.refresh()
        # The watchlist first: loading it sets the other traits, which kwargs may then override.
        for key in sorted(kwargs, key=lambda key: key != "watchlist"):
            setattr(self, key, kwargs[key])
        self._text_changed({"new": self.text})
        self._buttons()

    # --- listing and loading ------------------------------------------------------------

    def refresh(self) -> None:
        """List the watchlists you can see again (yours first, then the public ones)."""
        try:
            listed = _frame(self.archive.watchlists.list())
        except LasairError as error:
            self.notice.error(error)
            return
        mine = listed["owner"] == self.archive.user
        self.watchlists = pd.concat([listed[mine], listed[~mine]]).reset_index(drop=True)
        options = [("(new)", "")]
        for row in self.watchlists.itertuples():
            count = f"{row.sources} source{'s' if row.sources != 1 else ''}"
            if row.owner == self.archive.user:
                flags = [f for f, on in (("public", row.public), ("active", row.active)) if on]
                options.append((f"{row.name} ({', '.join([count, *flags])})", row.name))
            else:
                whose = f"{row.owner}/{row.name}"
                options.append((f"{whose} (public, {count})", whose))
        values = [value for _, value in options]
        self._refreshing = True  # new options reset the value; that is not a choice
        try:
            self._chooser.options = options
            self._chooser.value = self.watchlist if self.watchlist in values else ""
        finally:
            self._refreshing = False

    def _row_of(self, watchlist: str) -> Any:
        """The listing row of ``watchlist`` ('name' of yours or 'owner/name'), or None."""
        if not watchlist or self.watchlists.empty:
            return None
        owner, _, name = watchlist.rpartition("/")
        owner = owner or self.archive.user
        found = self.watchlists[
            (self.watchlists["owner"] == owner) & (self.watchlists["name"] == name)
        ]
        return None if found.empty else found.iloc[0]

    def _chosen(self, change: dict[str, Any]) -> None:
        if not self._refreshing:
            self.watchlist = change["new"]

    @traitlets.validate("radius")
    def _valid_radius(self, proposal: dict[str, Any]) -> float:
        radius = float(proposal["value"])
        if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_ARCSEC):
            raise traitlets.TraitError(
                f"a watchlist radius is above 0 and at most 3600 arcsec, not {radius:g}"
            )
        return radius

    @traitlets.observe("watchlist")
    def _watchlist_changed(self, change: dict[str, Any]) -> None:
        chosen = change["new"]
        if self._refreshing:  # put back after a name that is not there
            return
        row = self._row_of(chosen)
        if chosen and row is None:
            self.refresh()
            row = self._row_of(chosen)
        if chosen and row is None:
            self._refreshing = True
            try:
                self.watchlist = change["old"]
            finally:
                self._refreshing = False
            self.notice.error(f"there is no watchlist {chosen!r} that you can see")
            return
        self._refreshing = True
        try:
            self._chooser.value = chosen
        finally:
            self._refreshing = False
        self.matches = None
        self._results.children = ()
        self._loading = True
        try:
            if row is None:
                self.set_trait("owned", False)
                self.name = self.description = self.text = ""
                self.public = self.active = False
                self.notice.clear()
                return
            sources = _frame(self.archive.watchlists.get(chosen))
            self.set_trait("owned", bool(row["owner"] == self.archive.user))
            self.name = str(row["name"])
            self.description = str(row["description"] or "")
            self.radius = float(row["radius_arcsec"])
            self.public, self.active = bool(row["public"]), bool(row["active"])
            self.text = _to_csv(
                [
                    [
                        str(s.name),
                        f"{float(s.ra):.8f}",
                        f"{float(s.dec):.8f}",
                        f"{float(s.radius_arcsec):g}",
                    ]
                    for s in sources.itertuples()
                ]
            )
            whose = "yours" if self.owned else f"{row['owner']}'s, read-only: Save makes a copy"
            self.notice.info(f"watchlist {chosen!r} ({whose}): {len(sources)} sources")
        except LasairError as error:
            self.notice.error(error)
        finally:
            self._loading = False
            self._buttons()

    # --- sources: text, upload, table ---------------------------------------------------------

    @traitlets.observe("text")
    def _text_changed(self, change: dict[str, Any]) -> None:
        self._rows, self.sources, self.errors = read_source_rows(change["new"])
        if self.errors:
            items = "".join(f"<li>{html.escape(message)}</li>" for _, message in self.errors)
            self._problems.value = (
                f'<div style="color:#b00020">&#9888; {len(self.errors)} '
                f"problem{'s' if len(self.errors) != 1 else ''}; nothing is saved until they are "
                f"fixed:<ul>{items}</ul></div>"
            )
        elif len(self.sources):
            self._problems.value = (
                f'<span style="color:#2e7d32">{len(self.sources)} '
                f"source{'s' if len(self.sources) != 1 else ''} read</span>"
            )
        else:
            self._problems.value = ""
        self._draw_table()
        self._buttons()

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        upload = files[0]
        try:
            text = bytes(upload["content"]).decode("utf-8-sig")
        except UnicodeDecodeError:
            self.notice.error(f"{upload['name']!r} is not UTF-8 text; upload a CSV file")
            return
        if not self.name:
            self.name = PurePath(str(upload["name"])).stem
        self.text = text
        self.notice.info(f"read {upload['name']!r}: {len(self._rows)} rows")

    def _draw_table(self) -> None:
        bad = {row for row, _ in self.errors}
        header = [widgets.HTML(f"<b>{title}</b>") for title in ("#", *COLUMNS, "")]
        cells: list[widgets.Widget] = []
        for index, row in enumerate(self._rows[:MAX_TABLE_ROWS]):
            marker = "&#9888;" if index + 1 in bad else ""
            cells.append(widgets.HTML(f'{index + 1} <span style="color:#b00020">{marker}</span>'))
            for column, value in enumerate(row):
                box = widgets.Text(value=value, continuous_update=False, layout={"width": "auto"})
                box.observe(self._cell_editor(index, column), "value")
                cells.append(box)
            remove = widgets.Button(
                icon="times", tooltip="remove this row", layout={"width": "3em"}
            )
            remove.on_click(self._row_remover(index))
            cells.append(remove)
        more = len(self._rows) - MAX_TABLE_ROWS
        self._table.children = (
            [
                widgets.GridBox(
                    header + cells,
                    layout=widgets.Layout(
                        grid_template_columns="4em 2fr 1.5fr 1.5fr 1fr 3em", width="100%"
                    ),
                )
            ]
            if self._rows
            else []
        ) + ([widgets.HTML(f"… and {more} more rows (edit them in the text)")] if more > 0 else [])

    def _cell_editor(self, index: int, column: int) -> Callable[[dict[str, Any]], None]:
        def edit(change: dict[str, Any]) -> None:
            rows = [list(row) for row in self._rows]
            rows[index][column] = change["new"]
            self._edit_rows(rows)

        return edit

    def _row_remover(self, index: int) -> Callable[[widgets.Button], None]:
        return lambda _: self._edit_rows(self._rows[:index] + self._rows[index + 1 :])

    def _edit_rows(self, rows: list[list[str]]) -> None:
        self.text = _to_csv(rows)

    # --- saving and settings ------------------------------------------------------------------

    def save(self) -> bool:
        """Store the sources under ``name``: a new watchlist, or one of yours replaced.

        Returns
        -------
        bool
            True if stored; False (with the reasons shown) if any row has a problem, there
            are no sources, no name, or the archive refused.
        """
        self._rows, self.sources, self.errors = read_source_rows(self.text)
        name = self.name.strip()
        if self.errors:
            self.notice.error(
                f"{len(self.errors)} row problem{'s' if len(self.errors) != 1 else ''} "
                "(listed above); fix them or remove those rows: nothing was saved"
            )
            return False
        if self.sources.empty:
            self.notice.error(
                "there are no sources: paste CSV rows (name, ra, dec) or upload a CSV"
            )
            return False
        if not name:
            self.notice.error("give the watchlist a name first")
            return False
        frame = self.sources.rename(columns={"radius_arcsec": "radius"})[list(COLUMNS)]
        settings = {
            "radius": self.radius,
            "public": self.public,
            "active": self.active,
            "description": self.description,
        }
        store = self.archive.watchlists
        existing = self.watchlists.empty is False and bool(
            (
                (self.watchlists["owner"] == self.archive.user) & (self.watchlists["name"] == name)
            ).any()
        )
        try:
            if existing:
                store.update(name, sources=frame, **settings)
            else:
                store.create(name, frame, **settings)
        except LasairError as error:
            self.notice.error(error)
            return False
        self.refresh()
        self.watchlist = name
        self.notice.info(
            f"{'replaced the sources of' if existing else 'saved'} watchlist {name!r}: "
            f"{len(frame)} sources"
        )
        return True

    @traitlets.observe("radius", "public", "active", "description")
    def _setting_changed(self, change: dict[str, Any]) -> None:
        if self._loading or not self.watchlist:
            return
        if not self.owned:
            self.notice.error(
                f"{self.watchlist!r} is not yours: its settings stay as they are "
                "(Save stores a copy of your own under the name given)"
            )
            return
        store = self.archive.watchlists
        try:
            if change["name"] == "radius":
                self._change_radius(float(change["old"]), float(change["new"]))
            else:
                store.update(self.watchlist, **{change["name"]: change["new"]})
        except LasairError as error:
            self.notice.error(error)
            return
        self.notice.info(f"{change['name']} of {self.watchlist!r} is now {change['new']}")
        self.refresh()

    def _change_radius(self, old: float, new: float) -> None:
        """Store a new default radius; sources that had the old default follow it."""
        sources = _frame(self.archive.watchlists.get(self.watchlist))
        radii = sources["radius_arcsec"].to_numpy(float)
        followed = np.isclose(radii, old)
        frame = pd.DataFrame(
            {
                "name": sources["name"],
                "ra": sources["ra"].to_numpy(float),
                "dec": sources["dec"].to_numpy(float),
                "radius": np.where(followed, new, radii),
            }
        )
        self.archive.watchlists.update(self.watchlist, radius=new, sources=frame)
        self._loading = True
        try:
            self.text = _to_csv(
                [
                    [str(n), f"{r:.8f}", f"{d:.8f}", f"{a:g}"]
                    for n, r, d, a in frame.itertuples(index=False)
                ]
            )
        finally:
            self._loading = False

    def delete(self) -> None:
        """Delete the shown watchlist (yours only)."""
        if not self.watchlist:
            self.notice.error("choose a watchlist of yours to delete")
            return
        name = self.watchlist
        try:
            self.archive.watchlists.delete(name)
        except LasairError as error:
            self.notice.error(error)
            return
        self.refresh()
        self.watchlist = ""
        self.notice.info(f"deleted watchlist {name!r}")

    def _buttons(self) -> None:
        self._delete_button.disabled = not (self.watchlist and self.owned)
        self._crossmatch_button.disabled = self.busy or not self.watchlist
        self._sky_map_button.disabled = self.sources.empty
        self._save_button.disabled = bool(self.errors) or self.sources.empty

    # --- crossmatch ---------------------------------------------------------------------------

    def run_crossmatch(self) -> threading.Thread | None:
        """Crossmatch the shown watchlist with the archive's objects, in the background.

        Returns
        -------
        threading.Thread or None
            The thread doing it (``join()`` it to wait), or None if there is no saved
            watchlist to match or a crossmatch is already running.
        """
        if not self.watchlist:
            self.notice.error("save the watchlist (or choose one) before crossmatching")
            return None
        if self.busy:
            self.notice.info("a crossmatch is already running")
            return None
        name = self.watchlist
        self.busy = True
        self._progress.value, self._progress.bar_style = 1, "info"
        self._progress.description = "matching"
        self.notice.info(f"crossmatching {name!r} with the archive…")

        def work() -> Any:
            found = self.archive.watchlists.crossmatch(name)
            self._progress.value = 2
            return found

        self._thread = in_background(work, self._matched, self._crossmatch_failed)
        return self._thread

    def _matched(self, found: Any) -> None:
        self.matches = found
        matches = _frame(found)
        self._draw_matches(matches)
        self._progress.value, self._progress.bar_style = 3, "success"
        self._progress.description = "done"
        sources = matches["source"].nunique() if len(matches) else 0
        self.notice.info(
            f"{len(matches)} match{'es' if len(matches) != 1 else ''} "
            f"for {sources} source{'s' if sources != 1 else ''} of {self.watchlist!r}"
        )
        self.busy = False

    def _crossmatch_failed(self, error: BaseException) -> None:
        self._progress.bar_style, self._progress.description = "danger", "failed"
        self.notice.error(error)
        self.busy = False

    @traitlets.observe("busy")
    def _busy_changed(self, _: dict[str, Any]) -> None:
        self._buttons()

    def _draw_matches(self, matches: pd.DataFrame) -> None:
        titles = ("source", "objectId", "separation ″", "detections", "context")
        cells: list[widgets.Widget] = [widgets.HTML(f"<b>{title}</b>") for title in titles]
        for row in matches.head(MAX_RESULT_ROWS).itertuples():
            button = widgets.Button(description=str(row.objectid), tooltip="open this object")
            button.add_class("lasair-object-link")
            button.on_click(self._opener(str(row.objectid)))
            cells += [
                widgets.HTML(html.escape(str(row.source))),
                button,
                widgets.HTML(f"{float(row.separation):.2f}"),
                widgets.HTML(str(row.ncand)),
                widgets.HTML(html.escape(str(row.context or ""))),
            ]
        more = len(matches) - MAX_RESULT_ROWS
        self._results.children = [
            widgets.GridBox(
                cells,
                layout=widgets.Layout(grid_template_columns="2fr 1.5fr 1fr 1fr 2fr", width="100%"),
            )
        ] + ([widgets.HTML(f"… and {more} more in .matches")] if more > 0 else [])

    def _opener(self, object_id: str) -> Callable[[widgets.Button], None]:
        def open_object(_: widgets.Button) -> None:
            self.selected_object = object_id

        return open_object

    # --- other widgets, imported when used ----------------------------------------------------

    @traitlets.observe("selected_object")
    def _object_selected(self, change: dict[str, Any]) -> None:
        object_id = change["new"]
        if not object_id:
            return
        try:
            viewer_class = _optional_widget("lasair_nb.widgets.object_viewer", "ObjectViewer")
            if viewer_class is None:
                self.notice.info(f"selected {object_id} (the object viewer is not available here)")
                return
            if self.viewer is None:
                # The matches are the list its previous/next buttons walk through.
                walk = [] if self.matches is None else _frame(self.matches)["objectid"].tolist()
                walk = list(dict.fromkeys(walk)) if object_id in walk else None
                self.viewer = viewer_class(self.archive, object_id, object_ids=walk)
                self._viewer_box.children = [self.viewer]
            else:
                _point_at(self.viewer, ("object_id",), object_id)
        except Exception as error:  # noqa: BLE001 - another widget's failure is shown, not raised
            self.notice.error(f"cannot open {object_id}: {describe_error(error)}")

    def show_on_sky_map(self) -> None:
        """Show the sources on a :class:`~lasair_nb.widgets.sky_map.SkyMap`, if there is one."""
        try:
            sky_map_class = _optional_widget("lasair_nb.widgets.sky_map", "SkyMap")
            if sky_map_class is None:
                self.notice.error("the sky map widget is not available in this installation yet")
                return
            if self.sky_map is None:
                self.sky_map = sky_map_class(self.archive)
                self._sky_map_box.children = [self.sky_map]
            if self.watchlist and _point_at(self.sky_map, ("watchlist",), self.watchlist):
                return
            show = getattr(self.sky_map, "show_watchlist", None) or getattr(
                self.sky_map, "add_sources", None
            )
            if show is None:
                self.notice.error("this sky map cannot show watchlists")
                return
            show(self.watchlist or self.sources)
        except Exception as error:  # noqa: BLE001 - another widget's failure is shown, not raised
            self.notice.error(f"cannot show the sky map: {describe_error(error)}")


def _optional_widget(module: str, name: str) -> type | None:
    """A widget class from a module that may not be installed yet, or None."""
    try:
        return getattr(import_module(module), name)
    except ModuleNotFoundError:
        return None


def _point_at(widget: Any, traits: tuple[str, ...], value: str) -> bool:
    """Set the first of ``traits`` that ``widget`` has to ``value``; False if none."""
    for trait in traits:
        if widget.has_trait(trait):
            setattr(widget, trait, value)
            return True
    return False
