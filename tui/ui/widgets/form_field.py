"""One form field: its label, the control, and the rule's message under it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Input, Label, Static, Switch

from tui.core.fields import field_label
from tui.core.protocols import Protocol
from tui.core.text import NO_CONTROL_CHARS


def field_name_of(widget: Widget) -> str | None:
    """Controls carry the field's name as their id, in kebab-case ('smtp-host')."""
    return widget.id.replace("-", "_") if widget.id else None


class FormInput(Input):
    """An Input whose keystrokes do not lay the whole screen out again. Textual's Input sets
    its virtual (scrollable) width at every keystroke through a reactive that asks for a new
    layout of the screen: in the form (~130 widgets) that was most of a keystroke's cost.
    A form's input has a fixed size (one line, as wide as its row), so a new virtual width
    changes only how it scrolls, which it reads from this value: a repaint is enough."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)


def text_input(id: str, placeholder: str = "", **options) -> Input:
    """A form's text field. It takes no control character, typed or pasted: an Input shows
    its value as it is, so an escape pasted into it would reach the terminal. Focusing it
    does not select its value: a key typed next would replace a loaded name."""
    return FormInput(id=id, placeholder=placeholder, compact=True, restrict=NO_CONTROL_CHARS,
                     select_on_focus=False, **options)


class FormField(Vertical):
    """Shows a message under the control; `-invalid` and `-blamed` classes style it."""

    def __init__(self, control: Widget, *, required: bool = False) -> None:
        self.field = field_name_of(control) or ""
        super().__init__(classes="form-field", id=f"{control.id}-field")
        self.control = control
        self.required = required
        self.label = field_label(self.field)
        self.shown_error: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(self._label_text(), classes="field-label")
            yield self.control
            if isinstance(self.control, Switch):
                # The switch's slider is drawn with colour only: say it in words too.
                yield Label(_on_off(self.control.value), classes="switch-state")
        yield Static("", classes="field-error", markup=False)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        self.sync_switch_state()

    def sync_switch_state(self) -> None:
        """Also called after loading a draft, which changes switches without messages."""
        if isinstance(self.control, Switch):
            update_text(self.query_one(".switch-state", Label), _on_off(self.control.value))

    def _label_text(self) -> str:
        """Required fields are marked with '*' (the form says what '*' means)."""
        return f"{self.label} *" if self.required else self.label

    def set_required(self, required: bool) -> None:
        self.required = required
        self._show_label()

    def relabel(self, inbound: Protocol) -> None:
        """An inbound field names the protocol in use: "IMAP host" becomes "POP3 host"."""
        self.label = field_label(self.field, inbound)
        self._show_label()

    def _show_label(self) -> None:
        if self.is_mounted:
            update_text(self.query_one(".field-label", Label), self._label_text())

    def set_error(self, message: str | None) -> None:
        # Called for every field on every keystroke: restyle only what changed.
        if message == self.shown_error:
            return
        self.shown_error = message
        error = self.query_one(".field-error", Static)
        error.update(message or "")
        error.display = bool(message)
        self.set_class(bool(message), "-invalid")
        self.control.set_class(bool(message), "-invalid")

    def set_blamed(self, blamed: bool) -> None:
        if blamed != self.has_class("-blamed"):
            self.set_class(blamed, "-blamed")


def update_text(static: Static, text: str) -> None:
    """Update a plain-text Static only when its text changes: each update lays the whole
    screen out again, and the form re-sets every label when it is shown again."""
    if str(static.content) != text:
        static.update(text)


def _on_off(value: bool) -> str:
    return "on" if value else "off"
