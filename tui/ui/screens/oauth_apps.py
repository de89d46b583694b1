"""The organisation's OAuth app registrations (Microsoft for Outlook, Google for Gmail), as
`mailprov oauth-app set` writes them. The Google client secret goes to the secret store
and is never shown: the field stays empty, and empty keeps the stored one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from tui.core.oauth.apps import GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI, MICROSOFT_AUTHORITY_HOST
from tui.core.text import NO_CONTROL_CHARS, visible
from tui.ui.format import notify_text

# Each input, the option of `mailprov oauth-app set` it stands for, and its label.
FIELDS = {
    "ms-client-id": ("--client-id", "Client ID"),
    "ms-tenant": ("--tenant", "Tenant"),
    "ms-authority-host": ("--authority-host", "Authority host"),
    "google-client-id": ("--client-id", "Client ID"),
    "google-client-secret": ("--client-secret-stdin", "Client secret"),
    "google-auth-uri": ("--auth-uri", "Auth URI"),
    "google-token-uri": ("--token-uri", "Token URI"),
}
SECRET_STORED = "stored: leave empty to keep it"


@dataclass
class AppsLoaded(Message):
    apps: Any  # OAuthApps


@dataclass
class AppsSaved(Message):
    pass


@dataclass
class AppsRefused(Message):
    section: str  # "Microsoft" or "Google"
    errors: dict[str, str]  # option -> message


class OAuthAppsScreen(Screen[None]):
    DEFAULT_CSS = """
    OAuthAppsScreen #apps-body { padding: 0 2; }
    OAuthAppsScreen .apps-heading { text-style: bold; margin-top: 1; }
    OAuthAppsScreen .apps-label { color: $text-muted; }
    OAuthAppsScreen #apps-problem { color: $error; margin-top: 1; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Save the app settings", id="save-apps"),
        Binding("escape", "back", "Back", tooltip="Back to the list", id="back-apps"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="apps-body"):
            yield Static("Microsoft (Outlook): an Entra ID app registration with public client flows allowed",
                         classes="apps-heading")
            yield from self._field("ms-client-id", "e.g. 11111111-2222-3333-4444-555555555555")
            yield from self._field("ms-tenant", "organizations (default), common, consumers or the tenant id")
            yield from self._field("ms-authority-host", MICROSOFT_AUTHORITY_HOST)
            yield Static("Google (Gmail): an OAuth client of type Desktop app", classes="apps-heading")
            yield from self._field("google-client-id", "e.g. 1234-abc.apps.googleusercontent.com")
            yield from self._field("google-client-secret", "kept in the secret store", password=True)
            yield from self._field("google-auth-uri", GOOGLE_AUTH_URI)
            yield from self._field("google-token-uri", GOOGLE_TOKEN_URI)
            yield Static("", id="apps-problem", markup=False)
        yield Footer()

    def _field(self, id: str, placeholder: str, password: bool = False) -> ComposeResult:
        yield Static(FIELDS[id][1], classes="apps-label")
        yield Input(placeholder=placeholder, id=id, password=password, restrict=NO_CONTROL_CHARS, compact=True)

    def on_mount(self) -> None:
        self.sub_title = "OAuth apps"
        self.query_one("#apps-problem").display = False
        self.load_apps()

    @work(thread=True, exit_on_error=False, group="oauth-apps")
    def load_apps(self) -> None:
        try:
            self.post_message(AppsLoaded(self.app.service.oauth.apps()))
        except Exception as error:
            self.post_message(AppsRefused("Loading", {"": str(error)}))

    def on_apps_loaded(self, message: AppsLoaded) -> None:
        microsoft, google = message.apps.microsoft, message.apps.google
        values = {}
        if microsoft is not None:
            values.update({"ms-client-id": microsoft.client_id, "ms-tenant": microsoft.tenant,
                           "ms-authority-host": microsoft.authority_host})
        if google is not None:
            values.update({"google-client-id": google.client_id, "google-auth-uri": google.auth_uri,
                           "google-token-uri": google.token_uri})
            if google.has_secret:
                self.query_one("#google-client-secret", Input).placeholder = SECRET_STORED
        for id, value in values.items():
            self.query_one(f"#{id}", Input).value = value
        self.query_one("#ms-client-id", Input).focus()

    def value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value.strip()

    def action_save(self) -> None:
        self.query_one("#apps-problem").display = False
        self.save_apps({id: self.value(id) for id in FIELDS})

    @work(thread=True, exit_on_error=False, group="oauth-apps")
    def save_apps(self, values: dict[str, str]) -> None:
        """Each section whose client ID is filled in is saved (validated first)."""
        from tui.core.oauth import AppSettingsError

        oauth = self.app.service.oauth
        section = "Microsoft"
        try:
            if values["ms-client-id"]:
                oauth.set_microsoft_app(values["ms-client-id"], values["ms-tenant"] or None,
                                        values["ms-authority-host"] or None)
            section = "Google"
            if values["google-client-id"]:
                oauth.set_google_app(values["google-client-id"], values["google-client-secret"] or None,
                                     values["google-auth-uri"] or None, values["google-token-uri"] or None)
        except AppSettingsError as error:
            self.post_message(AppsRefused(section, error.errors))
        except Exception as error:  # the database or the secret store
            self.post_message(AppsRefused(section, {"": str(error)}))
        else:
            self.post_message(AppsSaved())

    def on_apps_refused(self, message: AppsRefused) -> None:
        prefix = "ms-" if message.section == "Microsoft" else "google-"
        labels = {option: label for id, (option, label) in FIELDS.items() if id.startswith(prefix)}
        lines = [f"{labels[option]}: {text}" if option in labels else text for option, text in message.errors.items()]
        problem = self.query_one("#apps-problem", Static)
        problem.update(visible(f"{message.section} app not saved. " + " ".join(lines)))
        problem.display = True

    def on_apps_saved(self, message: AppsSaved) -> None:
        notify_text(self.app, "OAuth app settings saved.", title="OAuth apps")
        self.dismiss(None)

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_save()

    def action_back(self) -> None:
        self.dismiss(None)
