"""What a provider is, and the keys: one screen at 80x24, made from the bindings themselves
(a key added to a screen shows up here without editing this file)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# One line at 80 columns: the keys need the rest of an 80x24 screen.
INTRO = "A provider: a mailbox to send from (SMTP) and read from (IMAP, POP3)."
# Keys that are not bindings of ours.
LIST_EXTRA = [("tab", "Go to the status pane (↑↓ scroll it)")]
FORM_EXTRA = [("tab", "Next field (shift+tab: back)")]
ANYWHERE_EXTRA = [("ctrl+p", "Command palette: all actions")]
# Bindings listed under "Anywhere" rather than with their screen.
ANYWHERE_IDS = {"help", "quit", "quit-app"}
KEY_NAMES = {"escape": "esc"}


def key_lines(*binding_lists: list[Binding], anywhere: bool = False) -> list[tuple[str, str]]:
    """(key, what it does) for every binding with an id, once per description; those of
    ANYWHERE_IDS only (`anywhere`), or all but those."""
    lines: dict[tuple[str, str], tuple[str, str]] = {}
    for bindings in binding_lists:
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.id:
                continue
            if (binding.id in ANYWHERE_IDS) != anywhere or (binding.description, binding.key) in lines:
                continue
            keys = binding.key_display or ",".join(KEY_NAMES.get(k, k) for k in binding.key.split(","))
            lines[binding.description, binding.key] = (keys, binding.tooltip or binding.description)
    return list(lines.values())


def list_keys() -> list[tuple[str, str]]:
    from tui.ui.screens.providers import ProvidersScreen
    from tui.ui.widgets.provider_table import ProviderTable

    return key_lines(ProviderTable.BINDINGS, ProvidersScreen.BINDINGS) + LIST_EXTRA


def form_keys() -> list[tuple[str, str]]:
    from tui.ui.screens.form import ProviderFormScreen

    return FORM_EXTRA + key_lines(ProviderFormScreen.BINDINGS)


def anywhere_keys() -> list[tuple[str, str]]:
    from tui.ui.app import MailprovApp
    from tui.ui.screens.providers import ProvidersScreen

    return key_lines(ProvidersScreen.BINDINGS, MailprovApp.BINDINGS, anywhere=True) + ANYWHERE_EXTRA


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(INTRO, id="help-intro", markup=False)
            with Horizontal(id="help-columns"):
                yield _key_column(("Provider list", list_keys()))
                yield _key_column(("Provider form", form_keys()), ("Anywhere", anywhere_keys()))
            yield Static("esc closes this help.", id="help-close-hint", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


def _key_column(*sections: tuple[str, list[tuple[str, str]]]) -> Vertical:
    rows = []
    for title, lines in sections:
        classes = "help-title -next" if rows else "help-title"
        rows.append(Static(title, classes=classes, markup=False))
        for key, text in lines:
            rows.append(
                Horizontal(
                    Static(key, classes="help-key", markup=False),
                    Static(text, classes="help-text", markup=False),
                    classes="help-line",
                )
            )
    return Vertical(*rows, classes="help-column")
