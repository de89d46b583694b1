"""The selected provider's status: last check, the failure and its remedy, the step ladder.

Names and everything a server said are data: they go in as plain Content (never markup)
and through `visible()`, so a greeting cannot drive the terminal."""

from __future__ import annotations

import textwrap
from datetime import datetime

from textual.content import Content
from textual.widgets import Static

from tui.core.domain import Status
from tui.core.protocols import SPECS
from tui.core.report import CheckReport, FailureKind, Step
from tui.core.text import visible
from tui.ui.format import STATUS_THEME_VARIABLE, ago
from tui.ui.view import ProviderView

# "SMTP (sending)", "IMAP (receiving)", "POP3 (receiving)"
PROTOCOL_LABELS = {
    protocol.value: f"{spec.label} ({'receiving' if spec.inbound else 'sending'})" for protocol, spec in SPECS.items()
}
TIME_TICK_SECONDS = 10.0  # "just now" becomes "1 min ago" without waiting for a key
SIGN_IN_KEY = "s"  # the list's key that signs an Outlook or Gmail provider in


class StatusPane(Static, can_focus=False):
    """Shows one provider; during a check, the steps as they arrive."""

    def __init__(self, *, id: str | None = None, classes: str | None = None, transcript_key: str = "l") -> None:
        super().__init__("", id=id, classes=classes)
        self.transcript_key = transcript_key  # named in "Press … to show the transcript"
        self.view: ProviderView | None = None
        self.now: datetime | None = None
        self.live_steps: list[tuple[str, Step]] | None = None  # None when no check runs
        self.sent = None  # a test message's SendResult, shown until the next view or check
        self.show_transcript = False

    def show(self, view: ProviderView | None, now: datetime) -> None:
        self.view, self.now = view, now
        self.live_steps = None
        self.sent = None
        self._render_view()

    def show_send(self, result) -> None:
        """What became of a test message (a tui.core.send.SendResult): sent and its queue
        id, or why not; its SMTP steps; the transcript on request."""
        self.sent = result
        self.live_steps = None
        self._render_view()

    def clear(self) -> None:
        """Empty, as built (the form is shown again for another provider)."""
        self.view = self.now = self.live_steps = None
        self.show_transcript = False
        if str(self.content):  # an update lays the screen out again: only when needed
            self.update("")

    def start_check(self, view: ProviderView | None, now: datetime) -> None:
        self.show_progress(view, now, [])

    def show_progress(self, view: ProviderView | None, now: datetime, steps: list[tuple[str, Step]]) -> None:
        """A check running: its steps so far (more come with `add_step`)."""
        self.view, self.now = view, now
        self.live_steps = list(steps)
        self.sent = None
        self._render_view()

    def on_mount(self) -> None:
        self.set_interval(TIME_TICK_SECONDS, self._tick)

    def _tick(self) -> None:
        now = getattr(self.app, "now", None)
        if now is not None and self.view is not None and self.live_steps is None:
            self.now = now()
            self._render_view()

    def on_resize(self) -> None:
        """Long lines are wrapped to the width (with a hanging indent): a new width, new lines."""
        if self.view is not None or self.live_steps is not None:
            self._render_view()

    def add_step(self, protocol: str, step: Step) -> None:
        if self.live_steps is None:
            self.live_steps = []
        self.live_steps.append((protocol, step))
        self._render_view()

    def toggle_transcript(self) -> None:
        self.show_transcript = not self.show_transcript
        self._render_view()

    def _render_view(self) -> None:
        if self.sent is not None:
            self._show_content(Content("\n").join(self._send_lines(self.sent)))
            return
        if self.view is None and self.live_steps is None:
            self._show_content(Content.from_markup("[$text-muted]No provider selected."))
            return
        parts = [self._heading()]
        if self.live_steps is not None:
            parts.append(Content.from_markup("[$accent]Checking…"))
            parts.extend(_live_ladder(self.live_steps))
        elif self.view is not None:
            parts.extend(self._times())
            parts.extend(_failure_lines(self.view, self.size.width))
            if self.view.report is not None:
                parts.extend(_report_ladder(self.view.report))
                parts.extend(self._transcript(self.view.report))
        self._show_content(Content("\n").join(parts))

    def _show_content(self, content: Content) -> None:
        """An update lays the whole screen out again and re-wraps the text: skipped when the
        pane would show the same (a filter keystroke that keeps the selected provider)."""
        shown = self.content
        if isinstance(shown, Content) and shown.is_same(content):
            return
        self.update(content)

    def _send_lines(self, result) -> list[Content]:
        to = visible(", ".join(result.recipients))
        lines = [Content.styled(f"Test message to {to}", "bold")]
        if result.sent:
            queued = f"queued as {visible(result.queue_id)}" if result.queue_id else "the server gave no queue id"
            lines.append(Content.assemble(("✓ Sent: ", "bold $success"), queued))
            lines.append(Content.styled(f"  Message-ID {visible(result.message_id)}", "$text-muted"))
        elif result.failure is not None:
            failure = result.failure
            lines.append(Content.assemble(("✖ Not sent: ", "bold $error"), (failure.kind.value, "$error")))
            lines.extend(_hanging(Content("  "), visible(failure.message), self.size.width))
            lines.extend(_hanging(Content.styled("  Fix: ", "bold"), visible(failure.remedy), self.size.width))
        smtp = result.result
        lines.append(Content.styled(f"{PROTOCOL_LABELS['smtp']}  {visible(smtp.host)}:{smtp.port}", "bold"))
        lines.extend(_step_line(step) for step in smtp.steps)
        if not self.show_transcript:
            lines.append(Content.styled(f"Press {self.transcript_key} to show the transcript.", "$text-muted"))
            return lines
        lines.append(Content.from_markup("[b]Transcript[/b] [$text-muted](secrets removed, body left out)"))
        lines.extend(Content.styled(visible(line), "$text-muted") for line in smtp.transcript)
        return lines

    def _heading(self) -> Content:
        if self.view is None:
            return Content.from_markup("[b]Unsaved settings")
        status = self.view.status
        return Content.assemble(
            (self.view.status_text, f"bold ${STATUS_THEME_VARIABLE[status]}"), "  ", (visible(self.view.name), "bold")
        )

    def _times(self) -> list[Content]:
        view, now = self.view, self.now
        line = Content.assemble(
            ("Last check: ", "$text-muted"),
            ago(view.last_checked_at, now),
            ("   Last success: ", "$text-muted"),
            ago(view.last_ok_at, now),
        )
        lines = [line]
        queued = _queued_text(view)
        if queued is not None:  # on the same line when it fits: the pane has ~7 lines at 80x24
            part = Content.assemble(("Queued: ", "$text-muted"), queued)
            if line.cell_length + 3 + part.cell_length <= self.size.width:
                lines[0] = Content.assemble(line, "   ", part)
            else:
                lines.append(part)
        return [*lines, *_sign_in_lines(view, now, self.size.width)]

    def _transcript(self, report: CheckReport) -> list[Content]:
        if not self.show_transcript:
            return [Content.styled(f"Press {self.transcript_key} to show the transcript.", "$text-muted")]
        lines = [Content.from_markup("[b]Transcript[/b] [$text-muted](secrets removed)")]
        for result in report.results:
            lines.append(Content.styled(f"{result.protocol.upper()} {visible(result.host)}:{result.port}", "bold"))
            lines.extend(Content.styled(visible(line), "$text-muted") for line in result.transcript)
        return lines


def _queued_text(view: ProviderView) -> str | None:
    """"12 messages" received into its queue; None when not read (a record read alone, the
    form) or when it has none and does not receive."""
    if view.queued is None or (not view.queued and not view.receive_emails):
        return None
    return "1 message" if view.queued == 1 else f"{view.queued:,} messages"


def _sign_in_lines(view: ProviderView, now: datetime | None, width: int) -> list[Content]:
    """Outlook and Gmail: who is signed in, the access token's expiry, the refresh token's
    age; and the key that signs in (again) when that is what is needed."""
    if view.sign_in is None:
        return []
    needs_sign_in = not view.sign_in.signed_in or (
        view.status is Status.RED and view.failure is not None and view.failure.kind is FailureKind.OAUTH)
    text = view.sign_in.describe(now) + (f". Press {SIGN_IN_KEY} to sign in{' again' if view.sign_in.signed_in else ''}."
                                         if needs_sign_in else "")
    return _hanging(Content.styled("Sign-in: ", "$text-muted"), visible(text), width)


def _failure_lines(view: ProviderView, width: int) -> list[Content]:
    failure = view.failure
    if view.status is not Status.RED or failure is None:
        return []
    transient = " (may pass by itself: check again)" if failure.transient else ""
    return [
        Content.assemble(("Error: ", "bold $error"), (failure.kind.value, "$error"), transient),
        *_hanging(Content("  "), visible(failure.message), width),
        *_hanging(Content.styled("  Fix: ", "bold"), visible(failure.remedy), width),
    ]


def _hanging(head: Content, text: str, width: int) -> list[Content]:
    """`head` then `text`, wrapped to `width` with the lines after the first starting under
    the text, not at column 1 (width 0: not laid out yet, one line)."""
    indent = head.cell_length
    if width <= indent + 10:
        return [Content.assemble(head, text)]
    lines = textwrap.wrap(text, width - indent, break_long_words=True, break_on_hyphens=False) or [""]
    return [Content.assemble(head, lines[0]), *(Content(" " * indent + line) for line in lines[1:])]


def _step_line(step: Step) -> Content:
    mark = ("✓", "$success") if step.ok else ("✖", "bold $error")
    duration = f"{step.duration_ms:6.0f} ms"
    return Content.assemble(
        "  ", mark, f" {visible(step.name):<10} ", (duration, "$text-muted"), "  ", visible(step.detail)
    )


def _report_ladder(report: CheckReport) -> list[Content]:
    lines: list[Content] = []
    for result in report.results:
        label = PROTOCOL_LABELS.get(result.protocol, result.protocol)
        lines.append(Content.styled(f"{label}  {visible(result.host)}:{result.port}", "bold"))
        lines.extend(_step_line(step) for step in result.steps)
        if result.summary:
            lines.append(Content.styled(f"  {visible(result.summary)}", "$text-muted"))
    return lines


def _live_ladder(steps: list[tuple[str, Step]]) -> list[Content]:
    lines: list[Content] = []
    current = None
    for protocol, step in steps:
        if protocol != current:
            current = protocol
            lines.append(Content.styled(PROTOCOL_LABELS.get(protocol, protocol), "bold"))
        lines.append(_step_line(step))
    return lines
