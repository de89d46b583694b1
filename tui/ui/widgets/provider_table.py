"""The provider list: one row per provider, refilled in one batch when the filter changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row, RowKey

from tui.ui.format import ago, status_text
from tui.ui.view import ProviderView

COLUMNS = (
    ("Status", "status"),
    ("Name", "name"),
    ("Type", "type"),
    ("Account", "account"),
    ("Receive", "receive"),
    ("Last check", "checked"),
)
# Widths grow with the data up to these caps, so one long name cannot push the rest away.
MAX_WIDTHS = {"name": 24, "account": 30}
MIN_WIDTHS = {"status": 13, "type": 9, "receive": 7, "checked": 10}
COLUMN_LABELS = {key: label for label, key in COLUMNS}
CHECKING = "◌ checking…"


class ProviderTable(DataTable):
    """Row keys are the providers' names.

    With 10,000 providers, DataTable's own add_row path costs over a second per refill
    (per-row bookkeeping, then measuring every cell on idle). Our columns have fixed widths
    and rows are one line high, so a refill swaps the row tables in one go and measures
    nothing: a filter keystroke stays in milliseconds. This touches DataTable internals,
    which is why textual is pinned to one exact version (tests cover the behaviour).
    """

    BINDINGS = [Binding("enter", "select_cursor", "Edit", id="edit")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        self._row_cache: dict[str, CachedRow] = {}
        self._column_keys = [
            self.add_column(label, key=key, width=MIN_WIDTHS.get(key, len(label)))
            for label, key in COLUMNS
        ]

    def show_views(self, views: list[ProviderView], now: datetime) -> None:
        """Replace every row in one batch, keeping the cursor on the same provider."""
        selected = self.selected_name
        now = now.replace(second=0, microsecond=0)  # times are shown to the minute: rows stay cached
        self._fit_columns(views)
        self._replace_rows([self._row_of(view, now) for view in views])
        row = self._row_locations.get(RowKey(selected)) if selected is not None else None
        self.move_cursor(row=row or 0, animate=False)

    def _row_of(self, view: ProviderView, now: datetime) -> CachedRow:
        """A view's row, reused while the view (and the clock reading) is the same."""
        cached = self._row_cache.get(view.name)
        if cached is not None and cached.view is view and cached.now == now:
            return cached
        key = RowKey(view.name)
        cells = dict(zip(self._column_keys, _cells(view, now, self.app.theme_variables)))
        cached = self._row_cache[view.name] = CachedRow(view, now, key, Row(key, 1), cells)
        return cached

    def _replace_rows(self, rows: list[CachedRow]) -> None:
        self._clear_caches()
        self._data = {row.key: row.cells for row in rows}
        self.rows = {row.key: row.row for row in rows}
        self._row_locations = TwoWayDict({row.key: index for index, row in enumerate(rows)})
        keys = self.rows
        self._new_rows.clear()  # fixed column widths: nothing to measure
        self._update_count += 1
        self.cursor_coordinate = Coordinate(0, 0)
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width + self._row_label_column_width, len(keys) + header)
        self.refresh(layout=True)

    def update_view(self, view: ProviderView, now: datetime) -> None:
        if view.name not in self._row_locations:
            return
        theme = self.app.theme_variables
        self._row_cache.pop(view.name, None)
        self.update_cell(view.name, "status", status_text(view.status, theme))
        self.update_cell(view.name, "checked", ago(view.last_checked_at, now))

    def mark_checking(self, name: str) -> None:
        if name in self._row_locations:
            self._row_cache.pop(name, None)
            colour = self.app.theme_variables.get("accent", "")
            self.update_cell(name, "status", Text(CHECKING, style=colour))

    @property
    def selected_name(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def _fit_columns(self, views: list[ProviderView]) -> None:
        for key, cap in MAX_WIDTHS.items():
            label = COLUMN_LABELS[key]
            longest = max((len(getattr(v, key)) for v in views), default=0)
            self.columns[key].width = max(len(label), min(cap, longest))  # type: ignore[index]


@dataclass
class CachedRow:
    view: ProviderView
    now: datetime
    key: RowKey
    row: Row
    cells: dict[ColumnKey, object]


def _cells(view: ProviderView, now: datetime, theme: dict[str, str]) -> list:
    return [
        status_text(view.status, theme),
        Text(view.name),  # Text, not str: a name is never read as markup
        view.type.label,
        Text(view.account),
        "yes" if view.receive_emails else "no",
        ago(view.last_checked_at, now),
    ]
