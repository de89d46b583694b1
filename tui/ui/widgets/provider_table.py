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
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.core.text import visible
from tui.ui.format import ago
from tui.ui.view import ProviderView

# (header, key, maximum width): each column is as wide as its longest value (up to the
# maximum) when the screen has room.
COLUMNS = (
    ("Status", "status", 21),  # "● active, unencrypted" is the longest
    ("Name", "name", 40),
    ("Type", "type", 12),
    ("Account", "account", 60),
    ("Receive", "receive", 7),
    ("Queued", "queued", 6),  # messages received into its queue: "12", "98765", "1.2M"
    ("Last check", "checked", 10),  # "5 days ago", "2025-03-14"
)
# When a row is wider than the screen, these give up width, in this order, each down to
# the width given: the name first (a long name is rare and its start tells it apart), then
# the account, whose domain is kept (see shorten_account), then the queued count goes (0:
# the column is left out, the status pane still says it) before the account is cut to a
# letter and its domain. Status and the others never shrink.
SHRINK_ORDER = (("name", 12), ("account", 16), ("queued", 0), ("account", 12), ("name", 8))
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
        Binding("enter", "select", "Edit", tooltip="Edit the selected provider", id="edit"),
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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: list[ProviderView] = []
        self._rows_by_name: dict[str, int] | None = None  # built when first asked (see row_of)
        self._checking: set[str] = set()
        self._now: datetime | None = None
        self._natural_widths = {key: cell_len(label) for label, key, _ in COLUMNS}
        self.gap = WIDE_GAP
        self.columns = [Column(label, key, cell_len(label)) for label, key, _ in COLUMNS]
        self.complete = True  # False: the first rows of the list only, the rest being read
        self.waiting_moves: list[tuple[str, int]] = []  # (action, argument) past those rows
        self._pass_styles: dict[str, Style] | None = None  # during a repaint (render_lines)

    # What the screen calls -----------------------------------------------------------

    def fit_columns(self, natural: dict[str, int]) -> None:
        """Size the columns for every provider (`natural_widths` of all of them, computed in
        the loading thread), not just the filtered ones: widths stay put while the user
        types a filter."""
        self._natural_widths = natural
        self._arrange_columns()

    def show_views(
        self,
        views: list[ProviderView],
        now: datetime,
        checking: set[str] = frozenset(),
        keep_row: bool = False,
        complete: bool = True,
    ) -> None:
        """Replace the rows, keeping the cursor on the same provider when it is still shown;
        when it is gone, on the same row (`keep_row`: the list was reloaded) or the first
        (the filter changed). `checking`: the providers being checked right now. Not
        `complete`: the first rows only; a move past them waits for the rest."""
        selected = self.selected_name
        row = self.cursor_row if keep_row else 0
        self.views = views
        self._checking = set(checking)
        self._rows_by_name = None
        self._now = now
        self.virtual_size = Size(self._line_width(), len(views) + HEADER_LINES)
        self.cursor_row = self._new_row_of(selected, row)
        self.complete = complete
        self.refresh()
        self.refresh_bindings()
        if complete:
            waiting, self.waiting_moves = self.waiting_moves, []
            for action, argument in waiting:
                getattr(self, f"action_{action}")(argument)

    def select_name(self, name: str) -> None:
        """Put the cursor on this provider, when it is shown."""
        row = self.row_of(name)
        if row is not None:
            self.cursor_row = row

    def set_checking(self, names: set[str]) -> None:
        if names != self._checking:
            self._checking = set(names)
            self.refresh()

    def set_now(self, now: datetime) -> None:
        """Relative times ("2 min ago") are drawn against this moment."""
        self._now = now
        self.refresh()

    def update_view(self, view: ProviderView, now: datetime) -> None:
        row = self.row_of(view.name)
        self._checking.discard(view.name)
        if row is not None:
            self.views[row] = view
            self._now = now
            self.refresh_row(row)

    def shown_cells(self, row: int) -> list[str]:
        """The texts of a row as drawn: fitted to the columns' widths, cut with "…" ("" for
        a column left out)."""
        return [
            _fit_cell(text, column.width, column.key).strip() if column.width else ""
            for column, (text, _) in zip(self.columns, self._cells(self.views[row]))
        ]

    def mark_checking(self, name: str) -> None:
        self._checking.add(name)
        row = self.row_of(name)
        if row is not None:
            self.refresh_row(row)

    def row_of(self, name: str) -> int | None:
        """The row showing this provider, None when it is not shown. The index by name is
        built on the first question after the rows changed, not at every filter keystroke."""
        if self._rows_by_name is None:
            self._rows_by_name = {view.name: row for row, view in enumerate(self.views)}
        return self._rows_by_name.get(name)

    def _new_row_of(self, selected: str | None, fallback: int) -> int:
        """Where the cursor goes once the rows changed: the selected provider's row when it is
        still shown (looked for where it was first: a reload or a filter that kept every row
        leaves it there), else `fallback`."""
        if selected is None:
            return fallback
        old = self.cursor_row
        if old < len(self.views) and self.views[old].name == selected:
            return old
        return next((row for row, view in enumerate(self.views) if view.name == selected), fallback)

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
        if not self._waits("move", delta, self.cursor_row + delta):
            self.cursor_row += delta

    def action_page(self, direction: int) -> None:
        rows = direction * max(1, self.scrollable_content_region.height - HEADER_LINES)
        if not self._waits("page", direction, self.cursor_row + rows):
            self.cursor_row += rows

    def action_move_to(self, row: int) -> None:
        if not self._waits("move_to", row, row if row >= 0 else len(self.views)):
            self.cursor_row = row if row >= 0 else len(self.views) - 1

    def _waits(self, action: str, argument: int, target: int) -> bool:
        """While the list is not complete, a move past the rows read waits for the rest (and
        so do the moves after it, to keep their order); `show_views` makes them."""
        if self.complete or (not self.waiting_moves and target < len(self.views)):
            return False
        self.waiting_moves.append((action, argument))
        return True

    async def action_select(self) -> None:
        # The screen's edit runs now, not through a message: keys typed right after enter
        # are handed out once this key is dealt with (tui.ui.keys), and must find the form.
        if self.selected_name is not None:
            await self.run_action("screen.edit")

    def on_click(self, event) -> None:
        row = round(self.scroll_y) + event.y - HEADER_LINES
        if event.y >= HEADER_LINES and 0 <= row < len(self.views):
            self.cursor_row = row

    # Drawing -------------------------------------------------------------------------

    def refresh_row(self, row: int) -> None:
        line = row - round(self.scroll_y) + HEADER_LINES
        if HEADER_LINES <= line < self.size.height:
            self.refresh_line(line)

    def render_lines(self, crop: Region) -> list[Strip]:
        # The styles every line asks for are worked out once per repaint, not once per line:
        # each `rich_style` walks the widget's ancestors.
        self._pass_styles = {}
        try:
            return super().render_lines(crop)
        finally:
            self._pass_styles = None

    def _style(self, name: str) -> Style:
        """The widget's style ("") or a component's ("provider-table--cursor"); during a
        repaint, computed once."""
        styles = self._pass_styles
        if styles is not None and name in styles:
            return styles[name]
        style = self.get_component_rich_style(name) if name else self.rich_style
        if styles is not None:
            styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y < HEADER_LINES:
            style = self._style("provider-table--header")
            return self._strip([(c.label, None) for c in self.columns], style, width)
        row = round(self.scroll_y) + y - HEADER_LINES
        base = self._style("")
        if row >= len(self.views):
            return Strip.blank(width, base)
        if row == self.cursor_row:
            base = base + self._style("provider-table--cursor")
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
            (short_count(view.queued), None),
            (ago(view.last_checked_at, self._now) if self._now else "", None),
        ]

    def _strip(self, cells: list[tuple[str, str | None]], base: Style, width: int) -> Strip:
        gap = self.gap
        segments = []
        for column, (text, component) in zip(self.columns, cells):
            if not column.width:
                continue  # left out for lack of room (SHRINK_ORDER)
            cell = _fit_cell(text, column.width, column.key)
            style = base + self._colour(component) if component else base
            segments.append(Segment(" " * gap, base))
            segments.append(Segment(cell, style))
        strip = Strip(segments)
        scroll_x = round(self.scroll_x)
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base)

    def _colour(self, component: str) -> Style:
        """Only the colour of a status class: the cursor's background stays visible."""
        return Style(color=self._style(component).color)

    def _arrange_columns(self) -> None:
        widths, self.gap = arrange_columns(self._natural_widths, self.scrollable_content_region.width)
        self.columns = [Column(label, key, widths[key]) for label, key, _ in COLUMNS]
        self.virtual_size = Size(self._line_width(), len(self.views) + HEADER_LINES)
        self.refresh()

    def _line_width(self) -> int:
        return _table_width({column.key: column.width for column in self.columns}, self.gap)

    def on_resize(self) -> None:
        self._arrange_columns()


def natural_widths(views: list[ProviderView]) -> dict[str, int]:
    """Each column's width for its longest value (and its header), within its maximum."""
    values = {
        "status": [view.widest_status for view in views],
        "name": [view.name for view in views],
        "type": [view.type.label for view in views],
        "account": [view.account for view in views],
        "receive": ["yes"],
        "queued": [short_count(view.queued) for view in views if view.queued],
        "checked": ["5 days ago"],
    }
    return {
        key: min(high, max([cell_len(label), *(_shown_width(value) for value in values[key])]))
        for label, key, high in COLUMNS
    }


def _shown_width(text: str) -> int:
    """Cells `text` takes once shown (through `visible`); printable ASCII, the usual case
    and a hundred thousand of them, is shown as it is."""
    if text.isascii() and text.isprintable():
        return len(text)
    return cell_len(visible(text))


def arrange_columns(natural: dict[str, int], width: int) -> tuple[dict[str, int], int]:
    """The columns' widths and the gap for a table `width` cells wide: as wide as their
    values when that fits, else the name and the account give up width (SHRINK_ORDER).
    Beyond that the table scrolls sideways, Status first."""
    widths = dict(natural)
    for gap in (WIDE_GAP, NARROW_GAP):
        if _table_width(widths, gap) <= width:
            return widths, gap
    excess = _table_width(widths, NARROW_GAP) - width
    for key, floor in SHRINK_ORDER:
        if excess <= 0:
            break
        if floor == 0:  # a column that cannot be narrowed: all of it (and its gap) or nothing
            excess -= widths[key] + NARROW_GAP
            widths[key] = 0
            continue
        given = max(0, min(excess, widths[key] - floor))
        widths[key] -= given
        excess -= given
    for key in ("account", "name"):  # cells a left-out column freed beyond the excess go back
        back = max(0, min(-excess, natural[key] - widths[key]))
        widths[key] += back
        excess += back
    return widths, NARROW_GAP


def _table_width(widths: dict[str, int], gap: int) -> int:
    """Cells a row takes: each column shown, with its gap before it."""
    return sum(width + gap for width in widths.values() if width)


def short_count(count: int | None) -> str:
    """A queued count in at most 6 cells ("Queued" is as wide): "12", "987654", "1.2M";
    "" when it was not read."""
    if count is None:
        return ""
    if count < 1_000_000:
        return str(count)
    if count < 10_000_000:
        return f"{count / 1_000_000:.1f}M".replace(".0M", "M")
    return f"{count // 1_000_000}M"


def _fit_cell(text: str, width: int, key: str = "") -> str:
    """Exactly `width` terminal cells: padded, or shortened with "…" (an account in the
    middle, so the domain stays; anything else at the end)."""
    if cell_len(text) <= width:
        return text.rjust(width) if key == "queued" else set_cell_size(text, width)
    if key == "account":
        return set_cell_size(shorten_account(text, width), width)
    return set_cell_size(text, width - 1) + "…"


def shorten_account(account: str, width: int) -> str:
    """`support.team.emea@example.com` in 20 cells: `support…@example.com`. The domain is
    kept whole when it fits with one character before it; else both ends are kept."""
    if cell_len(account) <= width:
        return account
    if width <= 1:
        return "…"[:width]
    local, at, domain = account.rpartition("@")
    tail = at + domain
    if local and cell_len(tail) + 2 <= width:
        return _first_cells(local, width - 1 - cell_len(tail)) + "…" + tail
    head = min(3, (width - 1) // 2)  # a few first characters, then as much of the end as fits
    return _first_cells(account, head) + "…" + _last_cells(account, width - 1 - head)


def _first_cells(text: str, cells: int) -> str:
    used = 0
    for index, char in enumerate(text):
        used += cell_len(char)
        if used > cells:
            return text[:index]
    return text


def _last_cells(text: str, cells: int) -> str:
    return _first_cells(text[::-1], cells)[::-1]

