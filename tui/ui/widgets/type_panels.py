"""The part of the form that depends on the provider type, one panel per kind of sign-in.

They sit in a ContentSwitcher: switching type hides a panel without dropping what was typed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Collapsible, Input, Static

from tui.core.domain import INBOUND_PROTOCOLS, PRESETS, Protocol, ProviderDraft, ProviderType
from tui.ui.widgets.form_field import FormField, text_input
from tui.ui.widgets.server_section import ServerSection

SIGN_IN_NOT_YET = (
    "Sign-in with {label} is not available yet (it comes in a later version). "
    "No password is kept for {label}: you can save the provider now, and its check "
    "will say it is not signed in."
)


class TypePanel(Vertical):
    """What the form needs from a panel."""

    def get_values(self) -> dict:
        values: dict = {}
        for section in self.query(ServerSection):
            values.update(section.get_values())
        return values

    def set_values(self, draft: ProviderDraft) -> None:
        values = {k: str(v) for k, v in vars(draft).items()}
        for section in self.query(ServerSection):
            section.set_values(values)

    def clear(self) -> None:
        """As composed (the form is shown again for another provider)."""
        for section in self.query(ServerSection):
            section.clear()

    def set_receive(self, receive: bool) -> None:
        """Receiving off: the inbound server is not needed, so it is hidden."""
        self.query_one("#inbound-section", ServerSection).display = receive

    def control_for(self, field: str) -> Widget | None:
        results = self.query(f"#{field.replace('_', '-')}")
        return results.first() if results else None

    def fields(self) -> list[FormField]:
        """Its fields (composed once: looked up once, not on every keystroke)."""
        if not getattr(self, "_fields", None):
            self._fields = list(self.query(FormField))
        return self._fields


class PasswordPanel(TypePanel):
    """Password sign-in (SMTP-IMAP): a password (kept in keyring) and both servers."""

    def compose(self) -> ComposeResult:
        yield FormField(
            text_input("password", "ctrl+r shows it", password=True),
            required=True,
        )
        yield ServerSection("smtp", (Protocol.SMTP,), id="smtp-section")
        yield ServerSection("inbound", INBOUND_PROTOCOLS, id="inbound-section")

    @property
    def password_input(self) -> Input:
        return self.query_one("#password", Input)

    def get_values(self) -> dict:
        return {**super().get_values(), "password": self.password_input.value}

    def set_values(self, draft: ProviderDraft) -> None:
        super().set_values(draft)
        with self.prevent(Input.Changed):
            self.password_input.value = draft.password
        self.set_password_stored(draft.password_stored)

    def clear(self) -> None:
        super().clear()
        with self.prevent(Input.Changed):
            self.password_input.value = ""
        self.password_input.password = True
        self.set_password_stored(False)

    def set_password_stored(self, stored: bool) -> None:
        self.password_input.placeholder = (
            "stored: leave empty to keep it" if stored else "ctrl+r shows it"
        )
        self.query_one("#password-field", FormField).set_required(not stored)

    def toggle_reveal(self) -> None:
        self.password_input.password = not self.password_input.password


class OAuthPanel(TypePanel):
    """OAuth sign-in (Outlook, Gmail): a sign-in step and the preset servers, overridable
    under Advanced."""

    def __init__(self, provider_type: ProviderType, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.provider_type = provider_type

    def compose(self) -> ComposeResult:
        preset = PRESETS[self.provider_type]
        yield Static(self._sign_in_text(), id="sign-in-note", markup=False)
        with Collapsible(title="Advanced: servers (preset)", collapsed=True, id="advanced"):
            yield ServerSection("smtp", (Protocol.SMTP,), preset=preset, id="smtp-section")
            yield ServerSection("inbound", INBOUND_PROTOCOLS, preset=preset, id="inbound-section")

    def _sign_in_text(self) -> str:
        return SIGN_IN_NOT_YET.format(label=self.provider_type.label)

    def clear(self) -> None:
        super().clear()
        self.query_one("#advanced", Collapsible).collapsed = True

    def set_type(self, provider_type: ProviderType) -> None:
        self.provider_type = provider_type
        self.query_one("#sign-in-note", Static).update(self._sign_in_text())
        for section in self.query(ServerSection):
            section.show_preset(PRESETS[provider_type])

    def control_for(self, field: str) -> Widget | None:
        control = super().control_for(field)
        if control is not None:
            self.query_one("#advanced", Collapsible).collapsed = False
        return control
