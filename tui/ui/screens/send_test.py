"""Asks where to send a test message: dismissed with the address, or None (cancelled)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.core.rules import normalise_address
from tui.core.text import NO_CONTROL_CHARS, visible


class SendTestScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="send-test-cancel")]

    def __init__(self, provider: str, suggested: str = "") -> None:
        super().__init__()
        self.provider = provider
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical(id="send-test-dialog"):
            yield Label(f"Send a test message through '{visible(self.provider)}' to:", markup=False,
                        id="send-test-question")
            # No control character can be typed (a line break would be refused anyway).
            yield Input(self.suggested, placeholder="e.g. someone@example.com", restrict=NO_CONTROL_CHARS,
                        id="send-test-to")
            yield Static("", id="send-test-error", markup=False)
            with Horizontal(id="send-test-buttons"):
                yield Button("Send (enter)", variant="primary", id="send-test-send")
                yield Button("Cancel (esc)", id="send-test-cancel")

    def on_mount(self) -> None:
        self.query_one("#send-test-to", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#send-test-send")
    def send(self) -> None:
        address, error = normalise_address(self.query_one("#send-test-to", Input).value)
        if error:
            self.query_one("#send-test-error", Static).update(visible(error))
            return
        self.dismiss(address)

    @on(Button.Pressed, "#send-test-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
