"""The part of the form that depends on the provider type, one panel per kind of sign-in.

They sit in a ContentSwitcher: switching type hides a panel without dropping what was typed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual import on
from textual.widgets import Button, Collapsible, Input, Select, Static

from tui.core.domain import INBOUND_PROTOCOLS, PRESETS, Protocol, ProviderDraft, ProviderType, SmtpSignIn
from tui.ui.widgets.form_field import FormField, text_input
from tui.ui.widgets.server_section import ServerSection

SMTP_SIGN_IN_OPTIONS = [("Login (password)", SmtpSignIn.LOGIN.value), ("None (trusted relay)", SmtpSignIn.NONE.value)]
NO_SMTP_LOGIN_NOTE = (
    "Sending uses no login: the SMTP server must take mail from this machine as a trusted relay "
    "(a local Postfix). The password is needed only to receive."
)
SIGN_IN_NOTE = (
    "{label} signs in with the organisation's {company} account: no password is kept. "
    "Save the provider, then sign in (ctrl+o; from the list: s; or `mailprov login NAME`)."
)
COMPANIES = {ProviderType.OUTLOOK: ("Microsoft", "microsoft"), ProviderType.GMAIL: ("Google", "google")}


class TypePanel(Vertical):
    """What the form needs from a panel."""

    def get_values(self) -> dict:
        values: dict = {}
        for section in self.sections():
            values.update(section.get_values())
        return values

    def sections(self) -> list[ServerSection]:
        """Its server sections, SMTP and inbound (composed once: kept once both are there,
        not looked up on every keystroke; the OAuth panel's mount later, in a Collapsible)."""
        sections = getattr(self, "_sections", None)
        if sections is None:
            sections = list(self.query(ServerSection))
            if len(sections) == 2:
                self._sections = sections
        return sections

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
        yield FormField(Select(SMTP_SIGN_IN_OPTIONS, value=SmtpSignIn.LOGIN.value, allow_blank=False, compact=True,
                               id="smtp-sign-in"))
        yield Static(NO_SMTP_LOGIN_NOTE, id="smtp-sign-in-note", markup=False)
        yield ServerSection("inbound", INBOUND_PROTOCOLS, id="inbound-section")

    def on_mount(self) -> None:
        self.show_sign_in_note()

    @property
    def password_input(self) -> Input:
        return self.query_one("#password", Input)

    @property
    def smtp_sign_in(self) -> str:
        value = self.query_one("#smtp-sign-in", Select).value
        return SmtpSignIn.LOGIN.value if value == Select.NULL else str(value)

    @on(Select.Changed, "#smtp-sign-in")
    def show_sign_in_note(self) -> None:
        no_login = self.smtp_sign_in == SmtpSignIn.NONE.value
        self.query_one("#smtp-sign-in-note", Static).display = no_login
        self.query_one("#smtp-section", ServerSection).set_logs_in(not no_login)

    def get_values(self) -> dict:
        return {**super().get_values(), "password": self.password_input.value, "smtp_sign_in": self.smtp_sign_in}

    def set_values(self, draft: ProviderDraft) -> None:
        super().set_values(draft)
        with self.prevent(Input.Changed, Select.Changed):
            self.password_input.value = draft.password
            self.query_one("#smtp-sign-in", Select).value = draft.smtp_sign_in or SmtpSignIn.LOGIN.value
        self.show_sign_in_note()
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
        self.app_problem: str | None = None  # the app setting to fill before anyone can sign in

    def compose(self) -> ComposeResult:
        preset = PRESETS[self.provider_type]
        yield Static(self._sign_in_text(), id="sign-in-note", markup=False)
        yield Button("Sign in (ctrl+o)", id="sign_in", compact=True)
        with Collapsible(title="Advanced: servers (preset)", collapsed=True, id="advanced"):
            yield ServerSection("smtp", (Protocol.SMTP,), preset=preset, id="smtp-section")
            yield ServerSection("inbound", INBOUND_PROTOCOLS, preset=preset, id="inbound-section")

    def _sign_in_text(self) -> str:
        if self.app_problem:
            return self.app_problem
        company, method = COMPANIES[self.provider_type]
        return SIGN_IN_NOTE.format(label=self.provider_type.label, company=company, method=method)

    def set_app_problem(self, problem: str | None) -> None:
        """The app setting that is missing for this type's sign-in (None: it is set)."""
        self.app_problem = problem
        self.query_one("#sign-in-note", Static).update(self._sign_in_text())

    def set_can_sign_in(self, can: bool) -> None:
        """The Sign in button works once the provider is saved and its app is set."""
        self.query_one("#sign_in", Button).disabled = not can

    def clear(self) -> None:
        super().clear()
        self.query_one("#advanced", Collapsible).collapsed = True

    def set_type(self, provider_type: ProviderType) -> None:
        self.provider_type = provider_type
        self.app_problem = None  # asked again for the new type's app
        self.query_one("#sign-in-note", Static).update(self._sign_in_text())
        for section in self.query(ServerSection):
            section.show_preset(PRESETS[provider_type])

    def control_for(self, field: str) -> Widget | None:
        control = super().control_for(field)
        if control is not None:
            self.query_one("#advanced", Collapsible).collapsed = False
        return control
