"""The provider list: one line per provider, drawn on demand.

With 10,000 providers a table that builds a widget row per provider spends most of a filter
keystroke rebuilding rows nobody sees. This one keeps the filtered list of views and renders
only the lines on screen (Textual's line API), so a keystroke costs a list comprehension
and a screenful of lines, whatever the number of providers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.core.text import visible
from tui.ui.format import ago
from tui.ui.view import ProviderView

# (header, key, minimum width, maximum width): widths follow the data within these bounds,
# so one long name cannot push the other columns off the screen.
COLUMNS = (
    ("Status", "widest_status", 13, 21),  # "● active, unencrypted" is the longest
    ("Name", "name", 4, 24),
    ("Type", "type", 9, 9),
    ("Account", "account", 7, 30),
    ("Receive", "receive", 7, 7),
    ("Last check", "checked", 11, 11),
)
# Spaces before each column: two where they fit, one on narrow terminals (80 columns).
WIDE_GAP, NARROW_GAP = 2, 1
CHECKING = "◌ checking…"
HEADER_LINES = 1


@dataclass(frozen=True)
class Column:
    label: str
    key: str
    width: int


class ProviderTable(ScrollView, can_focus=True):
    """Rows are ProviderViews; the cursor is a row index into the filtered list."""

    # Status colours come from the stylesheet (theme variables); glyph and word carry the meaning.
    COMPONENT_CLASSES = {
        "provider-table--header",
        "provider-table--cursor",
        "provider-table--green",
        "provider-table--red",
        "provider-table--grey",
        "provider-table--checking",
    }
    BINDINGS = [
        Binding("enter", "select", "Edit", id="edit"),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move_to(0)", "First", show=False),
        Binding("end", "move_to(-1)", "Last", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        """The cursor moved to another provider (or the list changed under it)."""

    class Selected(Message):
        """Enter on a provider."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: list[ProviderView] = []
        self._index: dict[str, int] = {}
        self._checking: set[str] = set()
        self._now: datetime | None = None
        self.columns = [Column(label, key, low) for label, key, low, _ in COLUMNS]

    # What the screen calls -----------------------------------------------------------

    def fit_columns(self, views: list[ProviderView]) -> None:
        """Size the columns for every provider, not just the filtered ones: widths stay put
        while the user types a filter."""
        widths = {key: (low, high) for _, key, low, high in COLUMNS}
        self.columns = [
            Column(c.label, c.key, _fit(c.key, views, *widths[c.key])) for c in self.columns
        ]

    def show_views(self, views: list[ProviderView], now: datetime, checking: set[str] = frozenset()) -> None:
        """Replace the rows, keeping the cursor on the same provider when it is still shown.
        `checking`: the providers being checked right now."""
        selected = self.selected_name
        self.views = views
        self._checking = set(checking)
        self._index = {view.name: row for row, view in enumerate(views)}
        self._now = now
        self.virtual_size = Size(self._line_width(), len(views) + HEADER_LINES)
        self.cursor_row = self._index.get(selected, 0) if selected is not None else 0
        self.refresh()
        self.refresh_bindings()

    def update_view(self, view: ProviderView, now: datetime) -> None:
        row = self._index.get(view.name)
        self._checking.discard(view.name)
        if row is not None:
            self.views[row] = view
            self._now = now
            self.refresh_row(row)

    def mark_checking(self, name: str) -> None:
        self._checking.add(name)
        if name in self._index:
            self.refresh_row(self._index[name])

    @property
    def row_count(self) -> int:
        return len(self.views)

    @property
    def selected_name(self) -> str | None:
        if not self.views:
            return None
        return self.views[min(self.cursor_row, len(self.views) - 1)].name

    def row_cells(self, row: int) -> list[str]:
        """The texts of a row as shown (for tests and screen readers of the code)."""
        return [text for text, _ in self._cells(self.views[row])]

    # Cursor --------------------------------------------------------------------------

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self.views) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_row(old)
        self.refresh_row(new)
        self._scroll_to_cursor()
        self.post_message(self.Highlighted())

    def _scroll_to_cursor(self) -> None:
        body_height = max(1, self.scrollable_content_region.height - HEADER_LINES)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + body_height:
            self.scroll_to(y=self.cursor_row - body_height + 1, animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Nothing to edit in an empty list: keep "Edit" out of the footer.
        return bool(self.views) if action == "select" else True

    def action_move(self, delta: int) -> None:
        self.cursor_row += delta

    def action_page(self, direction: int) -> None:
        self.cursor_row += direction * max(1, self.scrollable_content_region.height - HEADER_LINES)

    def action_move_to(self, row: int) -> None:
        self.cursor_row = row if row >= 0 else len(self.views) - 1

    def action_select(self) -> None:
        if self.selected_name is not None:
            self.post_message(self.Selected(self.selected_name))

    def on_click(self, event) -> None:
        row = round(self.scroll_y) + event.y - HEADER_LINES
        if event.y >= HEADER_LINES and 0 <= row < len(self.views):
            self.cursor_row = row

    # Drawing -------------------------------------------------------------------------

    def refresh_row(self, row: int) -> None:
        line = row - round(self.scroll_y) + HEADER_LINES
        if HEADER_LINES <= line < self.size.height:
            self.refresh_line(line)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y < HEADER_LINES:
            style = self.get_component_rich_style("provider-table--header")
            return self._strip([(c.label, None) for c in self.columns], style, width)
        row = round(self.scroll_y) + y - HEADER_LINES
        base = self.rich_style
        if row >= len(self.views):
            return Strip.blank(width, base)
        if row == self.cursor_row:
            base = base + self.get_component_rich_style("provider-table--cursor")
        return self._strip(self._cells(self.views[row]), base, width)

    def _cells(self, view: ProviderView) -> list[tuple[str, str | None]]:
        """(text, component class for its colour) per column."""
        if view.name in self._checking:
            status = (CHECKING, "provider-table--checking")
        else:
            status = (view.status_text, f"provider-table--{view.status.value}")
        return [
            status,
            (visible(view.name), None),
            (view.type.label, None),
            (visible(view.account), None),
            ("yes" if view.receive_emails else "no", None),
            (ago(view.last_checked_at, self._now) if self._now else "", None),
        ]

    def _strip(self, cells: list[tuple[str, str | None]], base: Style, width: int) -> Strip:
        gap = self._gap()
        segments = []
        for column, (text, component) in zip(self.columns, cells):
            cell = _fit_cell(text, column.width)
            style = base + self._colour(component) if component else base
            segments.append(Segment(" " * gap, base))
            segments.append(Segment(cell, style))
        strip = Strip(segments)
        scroll_x = round(self.scroll_x)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base)

    def _colour(self, component: str) -> Style:
        """Only the colour of a status class: the cursor's background stays visible."""
        return Style(color=self.get_component_rich_style(component).color)

    def _gap(self) -> int:
        widths = sum(column.width for column in self.columns)
        fits_wide = widths + WIDE_GAP * len(self.columns) <= self.scrollable_content_region.width
        return WIDE_GAP if fits_wide else NARROW_GAP

    def _line_width(self) -> int:
        return sum(column.width for column in self.columns) + self._gap() * len(self.columns)

    def on_resize(self) -> None:
        self.virtual_size = Size(self._line_width(), len(self.views) + HEADER_LINES)


def _fit(key: str, views: list[ProviderView], low: int, high: int) -> int:
    if low == high:
        return low
    longest = max((cell_len(visible(getattr(view, key))) for view in views), default=0)
    return max(low, min(high, longest))


def _fit_cell(text: str, width: int) -> str:
    """Exactly `width` terminal cells: padded, or cut with an ellipsis."""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"

