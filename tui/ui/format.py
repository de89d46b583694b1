"""Small text helpers shared by the screens: relative times, the status colours, and
notifications that show names and server replies as they are."""

from __future__ import annotations

from datetime import datetime

from tui.core.domain import Status
from tui.core.report import as_utc
from tui.core.text import visible

# The theme variable each status is painted with; the glyph and word carry the meaning.
STATUS_THEME_VARIABLE = {
    Status.GREEN: "success",
    Status.RED: "error",
    Status.GREY: "text-muted",
}


def ago(moment: datetime | None, now: datetime) -> str:
    """'never', 'just now', '3 min ago', '2 h ago', '5 days ago', or the date."""
    if moment is None:
        return "never"
    seconds = (as_utc(now) - as_utc(moment)).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    if days < 30:
        return f"{days} day ago" if days == 1 else f"{days} days ago"
    return as_utc(moment).strftime("%Y-%m-%d")


def notify_text(widget, message: str, *, title: str = "", severity: str = "information",
                timeout: float | None = None) -> None:
    """A toast whose text is data, never markup: a provider named "Sales [/]" or a server
    reply "535 [/x]" is shown as written (not a MarkupError), "[@click=app.quit]" is not a
    link, and control characters are written as visible escapes."""
    widget.notify(visible(message), title=visible(title), severity=severity, timeout=timeout, markup=False)
