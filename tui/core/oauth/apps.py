"""The organisation's OAuth app registrations: one for Microsoft, one for Google.

Kept in the database (table `oauth_app`, written through ProviderService.save_oauth_app);
the Google client secret lives in the secret store, named by the row's `secret_key`.
Endpoints can be overridden for national clouds (Microsoft) and for the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tui.core.domain import SignIn
from tui.core.report import utcnow
from tui.core.records import OAuthAppRecord

MICROSOFT_AUTHORITY_HOST = "https://login.microsoftonline.com"
MICROSOFT_TENANTS = ("organizations", "common", "consumers")
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DOMAIN = re.compile(r"(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_TOKEN = re.compile(r"[!-~]{1,300}")  # printable ASCII, no space: client ids and secrets


class AppSettingsError(ValueError):
    """Bad app settings: {option: message}, the option as the CLI spells it (`--client-id`)."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{option}: {message}" for option, message in errors.items()))


class AppNotSet(LookupError):
    """A sign-in cannot start: the app registration it needs is not set (the message says how)."""


@dataclass(frozen=True)
class MicrosoftApp:
    client_id: str
    tenant: str = "organizations"
    authority_host: str = MICROSOFT_AUTHORITY_HOST

    @property
    def authority(self) -> str:
        """msal's authority: the host and the tenant."""
        return f"{self.authority_host.rstrip('/')}/{self.tenant}"


@dataclass(frozen=True)
class GoogleApp:
    client_id: str
    auth_uri: str = GOOGLE_AUTH_URI
    token_uri: str = GOOGLE_TOKEN_URI
    client_secret: str | None = field(default=None, repr=False)  # from the secret store, when asked for
    has_secret: bool = False


@dataclass(frozen=True)
class OAuthApps:
    microsoft: MicrosoftApp | None
    google: GoogleApp | None

    def to_json(self) -> dict:
        """For `oauth-app show --json`: never the client secret, only whether one is stored."""
        microsoft, google = self.microsoft, self.google
        return {
            "microsoft": None if microsoft is None else {
                "client_id": microsoft.client_id, "tenant": microsoft.tenant,
                "authority_host": microsoft.authority_host, "authority": microsoft.authority,
            },
            "google": None if google is None else {
                "client_id": google.client_id, "auth_uri": google.auth_uri, "token_uri": google.token_uri,
                "client_secret_stored": google.has_secret,
            },
        }


def microsoft_app(client_id: str, tenant: str | None = None, authority_host: str | None = None) -> MicrosoftApp:
    """Validated Microsoft settings; raises AppSettingsError naming each bad option."""
    client_id, tenant = client_id.strip(), (tenant or "organizations").strip()
    authority_host = (authority_host or MICROSOFT_AUTHORITY_HOST).strip().rstrip("/")
    errors = {}
    if not _GUID.fullmatch(client_id):
        errors["--client-id"] = "the Application (client) ID of the app registration, like 11111111-2222-3333-4444-555555555555."
    if not (tenant.lower() in MICROSOFT_TENANTS or _GUID.fullmatch(tenant) or _DOMAIN.fullmatch(tenant)):
        errors["--tenant"] = "organizations, common, consumers, or the tenant id (a GUID) or domain."
    if problem := url_problem(authority_host, path_allowed=False):
        errors["--authority-host"] = problem
    if errors:
        raise AppSettingsError(errors)
    if tenant.lower() in MICROSOFT_TENANTS:
        tenant = tenant.lower()
    return MicrosoftApp(client_id, tenant, authority_host)


def google_app(client_id: str, auth_uri: str | None = None, token_uri: str | None = None) -> GoogleApp:
    client_id = client_id.strip()
    auth_uri, token_uri = (auth_uri or GOOGLE_AUTH_URI).strip(), (token_uri or GOOGLE_TOKEN_URI).strip()
    errors = {}
    if not _TOKEN.fullmatch(client_id):
        errors["--client-id"] = "the OAuth client ID of a Desktop app (…apps.googleusercontent.com)."
    for option, url in (("--auth-uri", auth_uri), ("--token-uri", token_uri)):
        if problem := url_problem(url):
            errors[option] = problem
    if errors:
        raise AppSettingsError(errors)
    return GoogleApp(client_id, auth_uri, token_uri)


def client_secret_problem(secret: str) -> str | None:
    if not secret:
        return "the client secret is empty (give it on standard input)."
    if not _TOKEN.fullmatch(secret):
        return "a client secret is printable ASCII without spaces, at most 300 characters."
    return None


def url_problem(url: str, path_allowed: bool = True) -> str | None:
    """Why `url` cannot be an identity provider's endpoint (None: it can): https only."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"not a URL: {url[:80]!r}."
    if parts.scheme != "https" or not parts.hostname:
        return "an https:// URL (tokens never travel unencrypted)."
    if parts.username or parts.password or parts.query or parts.fragment:
        return "a plain https URL, without user, query or fragment."
    if not path_allowed and parts.path not in ("", "/"):
        return "the host alone (like https://login.microsoftonline.us); the tenant is set by --tenant."
    return None


def to_record(method: SignIn, app: MicrosoftApp | GoogleApp) -> OAuthAppRecord:
    if isinstance(app, MicrosoftApp):
        return OAuthAppRecord(method.value, app.client_id, app.tenant, app.authority_host, None, None, None, utcnow())
    return OAuthAppRecord(method.value, app.client_id, None, None, app.auth_uri, app.token_uri, None, utcnow())


def from_record(record: OAuthAppRecord | None, client_secret: str | None = None) -> MicrosoftApp | GoogleApp | None:
    if record is None:
        return None
    if record.method == SignIn.MICROSOFT.value:
        return MicrosoftApp(record.client_id, record.tenant or "organizations",
                            record.authority_host or MICROSOFT_AUTHORITY_HOST)
    return GoogleApp(record.client_id, record.auth_uri or GOOGLE_AUTH_URI, record.token_uri or GOOGLE_TOKEN_URI,
                     client_secret=client_secret, has_secret=record.secret_key is not None)


def app_missing_message(sign_in: SignIn) -> str:
    """What to set before a provider of this sign-in method can sign in."""
    if sign_in is SignIn.MICROSOFT:
        return ("The Microsoft app is not set: run `mailprov oauth-app set microsoft --client-id ID "
                "[--tenant TENANT]` (or key o, OAuth apps, in the app's list) with your app registration's client ID.")
    return ("The Google app is not set: run `mailprov oauth-app set google --client-id ID "
            "--client-secret-stdin` (or key o, OAuth apps, in the app's list) with your Desktop OAuth client.")
