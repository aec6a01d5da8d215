"""``QueryBuilder``: browse the schema, build or write a SELECT, run it, page through the rows.

The widget has four parts, top to bottom:

* a **schema browser**: every table and view a user can query, its columns, their types
  and the column comments, filtered by a search over names and comments;
* a **query**: Lasair's builder (``SELECT`` columns, ``FROM`` tables with pickers for
  ``objects``, ``sherlock_classifications``, ``crossmatch_tns``, ``watchlist:N`` and
  ``area:N``, ``WHERE`` conditions) and the SQL box, always visible. While ``mode`` is
  ``"builder"`` the SQL box shows the SELECT the builder makes
  (:meth:`~lasair_nb.client.archive.Archive.lasair_sql`); typing in the SQL box switches
  ``mode`` to ``"sql"`` and the SQL is run as written, while the builder shows the typed
  SELECT's columns, tables and conditions when it is as plain as the builder makes
  (:meth:`~lasair_nb.client.archive.Archive.split_select`; joins, aliases and WITH it
  cannot hold, and says so); editing the builder again (or setting ``mode = "builder"``)
  rebuilds the SQL from it;
* **Run** and **Cancel** with a progress bar (seconds used of the statement timeout);
  Cancel stops the statement in PostgreSQL (:class:`~lasair_nb.client.cancellation.Cancellation`);
* the **result**, a paged table whose objectId cells open the ``ObjectViewer`` below it;
  **save** the SQL as a private or public query, **load** one of yours, a public or a
  system query.

Errors are shown inline in plain words (:class:`~lasair_nb.widgets.common.Notice`),
never as a traceback. The state is in traits (``selected``, ``tables``, ``conditions``,
``sql``, ``mode``, ``limit``, ``page``, ``page_size``, ``schema_search``,
``selected_object``, ``status``), so a dashboard can set it from URL parameters; the
rows are ``.result`` (a DataFrame) and ``.result_table`` (an astropy Table with units).

Demo (a notebook cell)::

    import lasair_nb as ln
    from lasair_nb.widgets.query_builder import QueryBuilder

    archive = connect()
    builder = QueryBuilder(archive)
    builder.selected = "objectId, ncand, sherlock_classifications.classification"
    builder.tables = "objects, sherlock_classifications"
    builder.conditions = "ncand > 5 ORDER BY ncand DESC"
    builder.run()
    builder          # the widget; then builder.wait(); builder.result.head()
"""

from __future__ import annotations

import html
import math
import threading
import time
from typing import Any

import ipywidgets as widgets
import pandas as pd
import traitlets

from lasair_nb.client.archive import Archive, connect
from lasair_nb.client.cancellation import Cancellation
from lasair_nb.client.results import to_table
from lasair_nb.errors import NotFoundError, QueryCancelledError, QueryError
from lasair_nb.widgets.common import Notice, describe_error, in_background

LASAIR_TABLES = ("objects", "sherlock_classifications", "crossmatch_tns")
"""Lasair's own tables, first in the table picker (then ``watchlist:N``, ``area:N``)."""
MODES = ("builder", "sql")
SCOPES = ("mine", "public", "system")
STATUSES = ("idle", "running", "done", "cancelled", "error")
SCHEMA_ROWS_SHOWN = 200
"""At most this many schema rows are drawn (the search narrows them)."""
TICK_SECONDS = 0.25
"""How often the progress bar moves while a query runs."""
ALL_TABLES = "(all tables)"


def _as_frame(value: Any) -> pd.DataFrame:
    """A client answer as a DataFrame, whatever ``archive.output`` is."""
    return value if isinstance(value, pd.DataFrame) else value.to_pandas()


def _is_object_column(name: Any) -> bool:
    return str(name).lower().rsplit(".", 1)[-1] == "objectid"


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class QueryBuilder(widgets.VBox):
    """Schema browser, Lasair query builder, SQL box, runner and paged results.

    Parameters
    ----------
    archive
        The archive to query (:func:`lasair_nb.connect`); every SQL runs through it.
    **kwargs
        Initial values of the traits (``selected``, ``tables``, ``conditions``, ``sql``,
        ``mode``, ``limit``, ``page_size``...).

    Attributes
    ----------
    result : pandas.DataFrame or None
        The rows of the last query that finished.
    result_table : astropy.table.Table or None
        The same rows as an astropy Table, with units (:func:`lasair_nb.to_table`).
    schema_rows : pandas.DataFrame
        The schema rows the browser shows (``table``, ``column``, ``type``,
        ``description``), after the table choice and the search.
    sql_in_builder : bool
        Whether the builder shows the typed SQL's parts (a plain SELECT).
    object_buttons : list of ipywidgets.Button
        The objectId cells of the page shown; a click opens the ObjectViewer.
    viewer : ipywidgets.Widget or None
        The ObjectViewer last opened.
    """

    selected = traitlets.Unicode(
        "objectId, ramean, decmean, ncand", help="Builder: the SELECT column list."
    )
    tables = traitlets.Unicode(
        "objects", help="Builder: comma-separated tables, e.g. 'objects, watchlist:3'."
    )
    conditions = traitlets.Unicode(
        "", help="Builder: the WHERE condition, optionally with GROUP BY/ORDER BY/LIMIT."
    )
    dialect = traitlets.Enum(
        ("mysql", "postgresql"), "mysql", help="Builder text: Lasair-ZTF's MySQL or PostgreSQL."
    )
    sql = traitlets.Unicode("", help="The SQL that Run runs (the builder's, or typed).")
    mode = traitlets.Enum(
        MODES, "builder", help="'builder': the SQL comes from the builder; 'sql': as typed."
    )
    limit = traitlets.Int(1000, help="Rows fetched at most (up to the archive's row cap).")
    timeout = traitlets.Float(
        None, allow_none=True, help="Statement timeout in seconds (None: the archive's)."
    )
    page = traitlets.Int(0, help="Page of the result shown, from 0.")
    page_size = traitlets.Int(25, help="Rows per page of the result.")
    schema_search = traitlets.Unicode("", help="Schema browser: text in a column name or comment.")
    schema_table = traitlets.Unicode(
        ALL_TABLES, help="Schema browser: the table shown, or all tables."
    )
    selected_object = traitlets.Unicode("", help="The objectId opened in the ObjectViewer.")
    status = traitlets.Enum(STATUSES, "idle", help="What the last query did.")
    error = traitlets.Unicode("", help="The last error, in plain words ('' if none).")

    def __init__(self, archive: Archive, **kwargs: Any) -> None:
        super().__init__()
        self.archive = archive
        self.result: pd.DataFrame | None = None
        self.result_table: Any = None
        self.schema_rows = pd.DataFrame(columns=["table", "column", "type", "description"])
        self.object_buttons: list[widgets.Button] = []
        self.viewer: widgets.Widget | None = None
        self._schema = self.schema_rows
        self._building = False
        self._handle: Cancellation | None = None
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        self._finished.set()
        self.builder_error = ""
        self.sql_in_builder = False
        self._foreign_sql: str | None = None  # another user's loaded query, unedited
        self._queries = pd.DataFrame(columns=["owner", "name", "description", "sql"])
        self._cells: list[widgets.Widget] = []

        self.notice = Notice()
        self._build_schema_browser()
        self._build_query_editor()
        self._build_runner()
        self._build_results()
        self._build_store()
        self.children = (
            widgets.HTML("<b>Schema</b>"),
            self._schema_box,
            widgets.HTML("<b>Query</b>"),
            self._query_box,
            self._run_box,
            self.notice,
            self._results_box,
            self._store_box,
            self.viewer_area,
        )
        self.add_class("lasair-query-builder")

        self._load_schema()
        self._load_table_choices()
        self._load_queries()
        for name in kwargs:
            if not self.has_trait(name):
                raise TypeError(f"QueryBuilder has no setting {name!r}")
        # The builder's parts first, then typed SQL (which switches to "sql"), then the mode.
        last = ("sql", "mode")
        for name, value in [*kwargs.items()]:
            if name not in last:
                setattr(self, name, value)
        for name in last:
            if name in kwargs:
                setattr(self, name, kwargs[name])
        if self.mode == "builder":
            self.rebuild()
        self._show_mode()

    # --- parts ----------------------------------------------------------------------------

    def _build_schema_browser(self) -> None:
        self._schema_table_box = widgets.Dropdown(
            options=[ALL_TABLES], description="Table", layout=widgets.Layout(width="360px")
        )
        widgets.link((self, "schema_table"), (self._schema_table_box, "value"))
        self._search_box = widgets.Text(
            placeholder="search column names and comments", description="Search",
            continuous_update=True, layout=widgets.Layout(width="360px"),
        )  # fmt: skip
        widgets.link((self, "schema_search"), (self._search_box, "value"))
        self._schema_count = Notice()
        self._schema_html = widgets.HTML(
            layout=widgets.Layout(max_height="260px", overflow="auto", border="1px solid #ddd")
        )
        self._schema_html.add_class("lasair-schema")
        self._schema_box = widgets.VBox(
            [widgets.HBox([self._schema_table_box, self._search_box]), self._schema_count,
             self._schema_html]
        )  # fmt: skip

    def _build_query_editor(self) -> None:
        wide = widgets.Layout(width="98%")
        self._selected_box = widgets.Text(
            description="SELECT", continuous_update=False, layout=wide
        )
        self._tables_box = widgets.Text(
            description="FROM", continuous_update=False, layout=widgets.Layout(width="60%")
        )
        self._table_picker = widgets.Dropdown(
            options=list(LASAIR_TABLES), layout=widgets.Layout(width="260px")
        )
        self._add_table = widgets.Button(description="add table", tooltip="add to FROM")
        self._add_table.on_click(lambda _: self.add_table(self._table_picker.value))
        self._conditions_box = widgets.Textarea(
            description="WHERE", continuous_update=False,
            placeholder="e.g. ncand > 5 ORDER BY ncand DESC",
            layout=widgets.Layout(width="98%", height="60px"),
        )  # fmt: skip
        self._sql_box = widgets.Textarea(
            description="SQL", continuous_update=False,
            layout=widgets.Layout(width="98%", height="90px"),
        )  # fmt: skip
        self._sql_box.add_class("lasair-sql")
        self._mode_label = widgets.HTML()
        self._use_builder = widgets.Button(
            description="use builder", tooltip="make the SQL from SELECT/FROM/WHERE again"
        )
        self._use_builder.on_click(lambda _: setattr(self, "mode", "builder"))
        self._builder_notice = Notice()
        for box, name in (
            (self._selected_box, "selected"),
            (self._tables_box, "tables"),
            (self._conditions_box, "conditions"),
            (self._sql_box, "sql"),
        ):
            widgets.link((self, name), (box, "value"))  # the trait's value first
        self._query_box = widgets.VBox([
            self._selected_box,
            widgets.HBox([self._tables_box, self._table_picker, self._add_table]),
            self._conditions_box,
            self._builder_notice,
            self._sql_box,
            widgets.HBox([self._mode_label, self._use_builder]),
        ])  # fmt: skip

    def _build_runner(self) -> None:
        self._run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self._run_button.add_class("lasair-run")
        self._run_button.on_click(lambda _: self.run())
        self._cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True)
        self._cancel_button.add_class("lasair-cancel")
        self._cancel_button.on_click(lambda _: self.cancel())
        self.progress = widgets.FloatProgress(
            value=0, min=0, max=1, description="", layout=widgets.Layout(width="220px")
        )
        self._elapsed = widgets.HTML()
        self._run_box = widgets.HBox(
            [self._run_button, self._cancel_button, self.progress, self._elapsed]
        )

    def _build_results(self) -> None:
        self._summary = widgets.HTML()
        self._summary.add_class("lasair-result-summary")
        self._previous = widgets.Button(description="previous", icon="arrow-left", disabled=True)
        self._previous.on_click(lambda _: setattr(self, "page", self.page - 1))
        self._next = widgets.Button(description="next", icon="arrow-right", disabled=True)
        self._next.on_click(lambda _: setattr(self, "page", self.page + 1))
        self._grid = widgets.GridBox(layout=widgets.Layout(overflow="auto", max_height="520px"))
        self._grid.add_class("lasair-result")
        self._results_box = widgets.VBox(
            [widgets.HBox([self._previous, self._next, self._summary]), self._grid]
        )
        self.viewer_area = widgets.VBox()
        self._viewer_notice = Notice()

    def _build_store(self) -> None:
        self._save_name = widgets.Text(description="Name", placeholder="my_query")
        self._save_description = widgets.Text(description="About", placeholder="what it finds")
        self._save_public = widgets.Checkbox(description="public", value=False, indent=False)
        self._save_button = widgets.Button(description="Save", icon="save")
        self._save_button.on_click(lambda _: self._save_clicked())
        self._scope = widgets.ToggleButtons(options=list(SCOPES), value="mine")
        self._scope.observe(lambda _: self._load_queries(), "value")
        self._saved = widgets.Dropdown(options=[], layout=widgets.Layout(width="420px"))
        self._load_button = widgets.Button(description="Load", icon="folder-open")
        self._load_button.on_click(lambda _: self._load_clicked())
        self._store_notice = Notice()
        self._store_box = widgets.VBox([
            widgets.HBox([self._save_name, self._save_description, self._save_public,
                          self._save_button]),
            widgets.HBox([self._scope, self._saved, self._load_button]),
            self._store_notice,
        ])  # fmt: skip

    # --- schema ---------------------------------------------------------------------------

    def _load_schema(self) -> None:
        try:
            schema = _as_frame(self.archive.schema())
        except Exception as error:  # noqa: BLE001 - shown inline, never a traceback
            self._schema_html.value = ""
            self._schema_count.error(error)
            return
        self._schema = schema.reset_index(drop=True)
        names = list(dict.fromkeys(self._schema["table"].astype(str)))
        self._schema_table_box.options = [ALL_TABLES, *names]
        self._show_schema()

    @traitlets.observe("schema_search", "schema_table")
    def _schema_changed(self, _change: dict[str, Any]) -> None:
        self._show_schema()

    def _show_schema(self) -> None:
        rows = self._schema
        if self.schema_table != ALL_TABLES:
            rows = rows[rows["table"] == self.schema_table]
        words = self.schema_search.strip().lower().split()
        for word in words:
            found = rows["column"].astype(str).str.lower().str.contains(word, regex=False) | rows[
                "description"
            ].fillna("").astype(str).str.lower().str.contains(word, regex=False)
            rows = rows[found]
        self.schema_rows = rows[["table", "column", "type", "description"]].reset_index(drop=True)
        shown = self.schema_rows.head(SCHEMA_ROWS_SHOWN)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(_cell_text(value))}</td>"
                for value in (row.table, row.column, row.type, row.description)
            )
            + "</tr>"
            for row in shown.itertuples(index=False)
        )
        self._schema_html.value = (
            '<table style="border-collapse:collapse;font-size:12px" cellpadding="3">'
            "<tr><th align=left>table</th><th align=left>column</th><th align=left>type</th>"
            f"<th align=left>description</th></tr>{body}</table>"
        )
        more = len(self.schema_rows) - len(shown)
        self._schema_count.value = html.escape(
            f"{len(self.schema_rows)} column(s)"
            + (f"; the first {len(shown)} shown, search to narrow" if more > 0 else "")
        )

    # --- builder and SQL ------------------------------------------------------------------

    def _load_table_choices(self) -> None:
        """Fill the table picker: Lasair's tables, the user's watchlists and watchmaps."""
        choices: list[tuple[str, str]] = [(name, name) for name in LASAIR_TABLES]
        try:
            for prefix, store in (("watchlist", self.archive.watchlists),
                                  ("area", self.archive.watchmaps)):  # fmt: skip
                for row in _as_frame(store.list()).itertuples(index=False):
                    value = f"{prefix}:{row.id}"
                    choices.append((f"{value} ({row.owner}/{row.name})", value))
        except Exception as error:  # noqa: BLE001 - shown inline, never a traceback
            self._builder_notice.error(error)
        known = set(LASAIR_TABLES)
        others = [
            name for name in dict.fromkeys(self._schema["table"].astype(str)) if name not in known
        ]
        choices.extend((name, name) for name in others)
        self._table_picker.options = choices
        if choices:
            self._table_picker.value = choices[0][1]

    def table_choices(self) -> list[str]:
        """The tables the picker offers (``objects``..., ``watchlist:N``, ``area:N``, others)."""
        return [value for _, value in self._table_picker.options]

    def add_table(self, name: str) -> None:
        """Add a table (``objects``, ``watchlist:N``, ``area:N``...) to ``tables``."""
        listed = [part.strip() for part in self.tables.split(",") if part.strip()]
        if name not in listed:
            self.tables = ", ".join([*listed, name])

    @traitlets.observe("selected", "tables", "conditions", "dialect")
    def _builder_edited(self, _change: dict[str, Any]) -> None:
        if self._building:
            return  # filled from the SQL box
        if self.mode == "builder":
            self.rebuild()
        else:
            self.mode = "builder"  # its observer rebuilds

    @traitlets.observe("mode")
    def _mode_changed(self, change: dict[str, Any]) -> None:
        if change["new"] == "builder":
            self.rebuild()
        self._show_mode()

    @traitlets.observe("sql")
    def _sql_edited(self, change: dict[str, Any]) -> None:
        if self._building:
            return
        if self._foreign_sql is not None and change["new"] != self._foreign_sql:
            self._foreign_sql = None  # edited: the user's own SQL now
        self.mode = "sql"
        self._builder_follows_sql(change["new"])

    def _builder_follows_sql(self, sql: str) -> None:
        """Show a plain typed SELECT's parts in the builder (it still runs as typed)."""
        parts = self.archive.split_select(sql)
        if parts is None:
            self.sql_in_builder = False
            self._builder_notice.info(
                "the builder cannot hold this SQL (joins, aliases, subqueries or WITH): "
                "it runs as typed"
            )
            return
        self._building = True  # the builder's fields change without rebuilding the SQL
        try:
            self.dialect = "postgresql"  # what the SQL box takes
            self.selected, self.tables, self.conditions = parts
        finally:
            self._building = False
        self.sql_in_builder = True
        self._builder_notice.clear()

    def _show_mode(self) -> None:
        if self.mode == "builder":
            self._mode_label.value = "<i>the SQL is made by the builder above</i>"
            self._use_builder.layout.display = "none"
        else:
            self._mode_label.value = "<i>raw SQL: runs as typed (the builder is not used)</i>"
            self._use_builder.layout.display = None
            self._builder_notice.clear()

    def rebuild(self) -> bool:
        """Make ``sql`` from ``selected``, ``tables`` and ``conditions`` (Lasair's builder).

        Returns
        -------
        bool
            False (and the problem shown under the builder) if they do not make a query.
        """
        try:
            text = self.archive.lasair_sql(
                self.selected, self.tables, self.conditions, dialect=self.dialect
            )
        except Exception as error:  # noqa: BLE001 - shown inline, never a traceback
            self.builder_error = describe_error(error)
            self._builder_notice.error(self.builder_error)
            return False
        self.builder_error = ""
        self._builder_notice.clear()
        self._building = True
        try:
            self._foreign_sql = None
            self.sql = text
        finally:
            self._building = False
        return True

    # --- running --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a query is running now."""
        return not self._finished.is_set()

    def run(self) -> threading.Thread | None:
        """Run ``sql`` in the background; the rows land in ``result`` and the table.

        Returns
        -------
        threading.Thread or None
            The thread running it; None if nothing was started (the reason is shown).
        """
        if self.running:
            self.notice.info("a query is running: wait for it or cancel it")
            return None
        if self.mode == "builder" and not self.rebuild():
            self._fail(f"the builder does not make a query: {self.builder_error}")
            return None
        text, limit, timeout = self.sql, self.limit, self.timeout
        if not text.strip():
            self._fail("there is no SQL to run: build a query or type a SELECT")
            return None
        as_reader = self._foreign_sql is not None and text == self._foreign_sql
        handle = Cancellation()
        self._handle = handle
        self._finished.clear()
        self.status, self.error = "running", ""
        self.notice.info("running…")
        self._set_running(True)
        started = time.monotonic()
        seconds = timeout if timeout is not None else float(self.archive.settings.sql_timeout)
        self.progress.max = max(seconds, 1.0)
        self._start_ticker(started)

        def work() -> Any:
            return self.archive.sql(
                text, limit=limit, timeout=timeout, as_reader=as_reader, cancellation=handle
            )

        def done(rows: Any) -> None:
            try:
                self._show_result(rows, time.monotonic() - started)
            finally:
                self._over()

        def failed(error: BaseException) -> None:
            try:
                if isinstance(error, QueryCancelledError):
                    self.status = "cancelled"
                    self.notice.info("cancelled: the query was stopped in PostgreSQL")
                else:
                    self._fail(error)
            finally:
                self._over()

        self._thread = in_background(work, done, failed)
        return self._thread

    def cancel(self) -> None:
        """Cancel the running query: PostgreSQL stops the statement."""
        handle = self._handle
        if handle is not None and self.running:
            self.notice.info("cancelling…")
            handle.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the running query (if any) is over; True if it is.

        Parameters
        ----------
        timeout
            Seconds to wait at most (None: as long as it takes).
        """
        return self._finished.wait(timeout)

    def _start_ticker(self, started: float) -> None:
        def tick() -> None:
            while not self._finished.wait(TICK_SECONDS):
                elapsed = time.monotonic() - started
                self.progress.value = min(elapsed, self.progress.max)
                self._elapsed.value = html.escape(f"{elapsed:.1f} s")

        threading.Thread(target=tick, daemon=True).start()

    def _set_running(self, running: bool) -> None:
        self._run_button.disabled = running
        self._cancel_button.disabled = not running
        self.progress.bar_style = "info" if running else ""
        if running:
            self.progress.value = 0
            self._elapsed.value = ""

    def _over(self) -> None:
        self._handle = None
        self._set_running(False)
        self._finished.set()

    def _fail(self, error: BaseException | str) -> None:
        text = error if isinstance(error, str) else describe_error(error)
        self.status, self.error = "error", text
        self.notice.error(text)

    def _show_result(self, rows: Any, seconds: float) -> None:
        frame = _as_frame(rows)
        self.result = frame
        self.result_table = rows if not isinstance(rows, pd.DataFrame) else to_table(frame)
        more = bool(frame.attrs.get("truncated", False))
        self.status = "done"
        self.notice.info(
            f"{len(frame)} row(s) in {seconds:.2f} s"
            + (f"; more rows follow: raise limit (now {self.limit}) to fetch them" if more else "")
        )
        self.progress.value = self.progress.max
        self._elapsed.value = html.escape(f"{seconds:.1f} s")
        if self.page != 0:
            self.page = 0  # its observer draws the page
        else:
            self._show_page()

    # --- result table ---------------------------------------------------------------------

    @property
    def pages(self) -> int:
        """Number of pages of the result (0 without one)."""
        if self.result is None:
            return 0
        return max(1, math.ceil(len(self.result) / max(self.page_size, 1)))

    @traitlets.validate("page")
    def _valid_page(self, proposal: dict[str, Any]) -> int:
        return min(max(int(proposal["value"]), 0), max(self.pages - 1, 0))

    @traitlets.validate("page_size")
    def _valid_page_size(self, proposal: dict[str, Any]) -> int:
        return min(max(int(proposal["value"]), 1), 500)

    @traitlets.observe("page", "page_size")
    def _page_changed(self, change: dict[str, Any]) -> None:
        if change["name"] == "page_size" and self.page >= self.pages:
            self.page = max(self.pages - 1, 0)
            return
        self._show_page()

    def page_rows(self) -> pd.DataFrame:
        """The rows of the page shown (empty without a result)."""
        if self.result is None:
            return pd.DataFrame()
        start = self.page * self.page_size
        return self.result.iloc[start : start + self.page_size]

    def _show_page(self) -> None:
        for cell in self._cells:
            cell.close()
        self._cells, self.object_buttons = [], []
        frame = self.page_rows()
        if self.result is None:
            self._grid.children = ()
            return
        columns = [str(column) for column in self.result.columns]
        cells: list[widgets.Widget] = [
            widgets.HTML(f"<b>{html.escape(column)}</b>") for column in columns
        ]
        for row in frame.itertuples(index=False):
            for column, value in zip(columns, row, strict=True):
                if _is_object_column(column) and isinstance(value, str) and value:
                    button = widgets.Button(
                        description=value, tooltip=f"open {value} in the object viewer",
                        layout=widgets.Layout(width="auto", height="24px"),
                        style={"button_color": "transparent", "text_color": "#0645ad",
                               "text_decoration": "underline"},
                    )  # fmt: skip
                    button.add_class("lasair-object-link")
                    button.on_click(self._object_clicked)
                    self.object_buttons.append(button)
                    cells.append(button)
                else:
                    cells.append(widgets.HTML(html.escape(_cell_text(value))))
        self._cells = cells
        self._grid.layout.grid_template_columns = f"repeat({max(len(columns), 1)}, max-content)"
        self._grid.layout.grid_gap = "2px 12px"
        self._grid.children = tuple(cells)
        total = len(self.result)
        first = self.page * self.page_size + 1 if total else 0
        last = self.page * self.page_size + len(frame)
        self._summary.value = html.escape(
            f"rows {first}–{last} of {total} (page {self.page + 1} of {self.pages})"
        )
        self._previous.disabled = self.page <= 0
        self._next.disabled = self.page >= self.pages - 1

    # --- objects --------------------------------------------------------------------------

    def _object_clicked(self, button: widgets.Button) -> None:
        if self.selected_object == button.description:
            self._open_viewer(button.description)  # open it again
        self.selected_object = button.description

    @traitlets.observe("selected_object")
    def _selected_object_changed(self, change: dict[str, Any]) -> None:
        self._open_viewer(change["new"])

    def _open_viewer(self, object_id: str) -> None:
        if self.viewer is not None:
            self.viewer.close()
            self.viewer = None
        self.viewer_area.children = ()
        if not object_id:
            return
        object_ids = None
        if self.result is not None:
            found = [column for column in self.result.columns if _is_object_column(column)]
            if found:
                object_ids = [str(value) for value in self.result[found[0]].dropna()]
        try:
            from lasair_nb.widgets.object_viewer import ObjectViewer  # noqa: PLC0415 - optional

            self.viewer = ObjectViewer(self.archive, object_id, object_ids=object_ids)
        except ImportError as error:
            self._viewer_notice.error(f"the object viewer is not available here ({error})")
            self.viewer_area.children = (self._viewer_notice,)
            return
        except Exception as error:  # noqa: BLE001 - shown inline, never a traceback
            self._viewer_notice.error(error)
            self.viewer_area.children = (self._viewer_notice,)
            return
        self.viewer_area.children = (self.viewer,)

    # --- saved queries --------------------------------------------------------------------

    def save(self, name: str, description: str = "", public: bool = False) -> int:
        """Save ``sql`` as a query of yours; returns its id.

        Raises
        ------
        lasair_nb.LasairError
            If the name or SQL is refused (the message says why).
        """
        if self.mode == "builder" and not self.rebuild():
            raise QueryError(f"the builder does not make a query: {self.builder_error}")
        query_id = self.archive.queries.save(name, self.sql, description, public)
        self._load_queries()
        return query_id

    def _save_clicked(self) -> None:
        public = self._save_public.value
        try:
            self.save(self._save_name.value, self._save_description.value, public)
        except Exception as error:  # noqa: BLE001 - shown inline, never a traceback
            self._store_notice.error(error)
            return
        self._store_notice.info(
            f"saved {self._save_name.value!r} ({'public' if public else 'private'})"
        )

    def saved_queries(self, scope: str = "mine") -> pd.DataFrame:
        """Saved queries in ``scope`` (``"mine"``, ``"public"`` or ``"system"``)."""
        return _as_frame(self.archive.queries.list(scope=scope))

    def _load_queries(self) -> None:
        try:
            self._queries = self.saved_queries(self._scope.value)
        except Exception as error:  # noqa: BLE001 - shown inline, never a traceback
            self._store_notice.error(error)
            self._saved.options = []
            return
        self._saved.options = [
            (f"{row.owner}/{row.name}" + (f" — {row.description}" if row.description else ""),
             f"{row.owner}/{row.name}")
            for row in self._queries.itertuples(index=False)
        ]  # fmt: skip

    def load(self, name: str, scope: str = "mine") -> None:
        """Put a saved query's SQL in the SQL box (``mode`` becomes ``"sql"``).

        Parameters
        ----------
        name
            ``owner/name``, or a bare name (one of ``scope``'s queries by that name).
        scope
            ``"mine"``, ``"public"`` or ``"system"``.

        Raises
        ------
        lasair_nb.NotFoundError
            If ``scope`` has no such query.
        """
        queries = self.saved_queries(scope)
        owner, _, bare = name.rpartition("/")
        chosen = queries[(queries["name"] == bare) & ((queries["owner"] == owner) | (owner == ""))]
        if chosen.empty:
            raise NotFoundError(f"no {scope} query named {name!r}")
        row = chosen.iloc[0]
        if self._scope.value != scope:
            self._scope.value = scope
        self._save_name.value = str(row["name"])
        self._save_description.value = str(row["description"] or "")
        self.sql = str(row["sql"])
        self.mode = "sql"
        # SQL another user wrote runs as the read-only role until it is edited.
        self._foreign_sql = None if row["owner"] == self.archive.user else self.sql

    def _load_clicked(self) -> None:
        if not self._saved.value:
            self._store_notice.error("choose a saved query to load")
            return
        try:
            self.load(self._saved.value, self._scope.value)
        except Exception as error:  # noqa: BLE001 - shown inline, never a traceback
            self._store_notice.error(error)
            return
        self._store_notice.info(f"loaded {self._saved.value!r}")


def demo(archive: Archive | None = None) -> QueryBuilder:
    """A QueryBuilder on ``archive`` (default :func:`lasair_nb.connect`), for a notebook cell."""
    return QueryBuilder(archive if archive is not None else connect())
