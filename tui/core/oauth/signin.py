"""`OAuth`: the sign-in API both faces call (the CLI's `mailprov login`, the UI's screens),
over a ProviderService. Every method blocks (network, database, secret store): the UI calls
them from workers, and `cancel()` of a running sign-in works from any thread.

    oauth = OAuth(service)
    problem = oauth.app_missing(SignIn.MICROSOFT)        # None, or the setting to fill
    flow = oauth.start("Sales")                          # DeviceCodeSignIn / GoogleSignIn / ...
    result = flow.wait()                                 # or flow.finish(pasted_url)
    record = oauth.complete("Sales", result)             # account check, tokens saved
    report = service.check("Sales")                      # XOAUTH2 activation
"""

from __future__ import annotations


from tui.core.domain import SignIn
from tui.core.mail.credential import Credential
import tui.core.oauth as oauth_package
from tui.core.oauth import google, microsoft
from tui.core.oauth.apps import (
    AppNotSet,
    AppSettingsError,
    GoogleApp,
    MicrosoftApp,
    OAuthApps,
    app_missing_message,
    client_secret_problem,
    from_record,
    google_app,
    microsoft_app,
    to_record,
)
from tui.core.oauth.errors import AccountMismatch, SignInError, quote
from tui.core.oauth.http import https_session
from tui.core.oauth.microsoft import SignInResult
from tui.core.oauth.tokens import TokenCache, TokenStatus
from tui.core.report import Failure, FailureKind
from tui.core.records import ProviderRecord, SignInState

DEFAULT_PORT = oauth_package.DEFAULT_PORT  # defined once, in the package (light for the CLI's parser)
SignInFlow = microsoft.DeviceCodeSignIn | microsoft.MicrosoftPasteSignIn | google.GoogleSignIn


class NotOAuth(ValueError):
    """The provider signs in with a password."""


class OAuth:
    def __init__(self, service):
        self.service = service

    # App registrations ----------------------------------------------------------------

    def apps(self) -> OAuthApps:
        return OAuthApps(self.microsoft_app(), self.google_app())

    def microsoft_app(self) -> MicrosoftApp | None:
        return from_record(self.service.store.oauth_app(SignIn.MICROSOFT.value))

    def google_app(self, with_secret: bool = False) -> GoogleApp | None:
        record = self.service.store.oauth_app(SignIn.GOOGLE.value)
        secret = None
        if with_secret and record is not None and record.secret_key:
            secret = self.service.secrets.get_password(record.secret_key)
        return from_record(record, secret)

    def set_microsoft_app(self, client_id: str, tenant: str | None = None,
                          authority_host: str | None = None) -> MicrosoftApp:
        """Validate and save; raises AppSettingsError naming each bad option."""
        app = microsoft_app(client_id, tenant, authority_host)
        self.service.save_oauth_app(to_record(SignIn.MICROSOFT, app))
        return app

    def set_google_app(self, client_id: str, client_secret: str | None = None, auth_uri: str | None = None,
                       token_uri: str | None = None) -> GoogleApp:
        """Validate and save; the client secret goes to the secret store. Without a secret,
        the stored one is kept (one is needed the first time)."""
        errors = {}
        try:
            app = google_app(client_id, auth_uri, token_uri)
        except AppSettingsError as exc:
            errors, app = exc.errors, None
        stored = self.service.store.oauth_app(SignIn.GOOGLE.value)
        if client_secret is not None or stored is None or stored.secret_key is None:
            if problem := client_secret_problem(client_secret or ""):
                errors["--client-secret-stdin"] = problem
        if errors:
            raise AppSettingsError(errors)
        saved = self.service.save_oauth_app(to_record(SignIn.GOOGLE, app), client_secret or None)
        return from_record(saved)

    def app_missing(self, sign_in: SignIn) -> str | None:
        """None when the app a sign-in method needs is set; else what to set, in one sentence."""
        if sign_in is SignIn.MICROSOFT:
            return None if self.microsoft_app() else app_missing_message(sign_in)
        if sign_in is SignIn.GOOGLE:
            app = self.google_app()
            return None if app and app.has_secret else app_missing_message(sign_in)
        return None

    # Sign-in --------------------------------------------------------------------------

    def oauth_provider(self, name: str) -> ProviderRecord:
        """The provider, which must sign in with OAuth (NotOAuth otherwise; NotFoundError)."""
        record = self.service.require(name)
        if not record.settings.sign_in.uses_oauth:
            raise NotOAuth(f"'{record.name}' ({record.settings.type.label}) signs in with a password, not OAuth.")
        return record

    def start(self, name: str, port: int = DEFAULT_PORT, paste: bool = False) -> SignInFlow:
        """Start the provider's sign-in: Microsoft's device code flow (`paste`: the auth
        code flow whose final address is pasted), or Google's loopback flow (`paste`: no
        listener, the address is pasted). Raises NotOAuth, AppNotSet, PortTaken, SignInError."""
        record = self.oauth_provider(name)
        if record.settings.sign_in is SignIn.MICROSOFT:
            return self.start_microsoft_paste(name) if paste else self.start_device_code(name)
        return self.start_google(name, port=port, listen=not paste)

    def start_device_code(self, name: str) -> microsoft.DeviceCodeSignIn:
        record, app = self._with_app(name, SignIn.MICROSOFT)
        session = https_session(self.service.settings)
        return microsoft.DeviceCodeSignIn(app, microsoft.scopes_for(record.settings), session, record.name)

    def start_microsoft_paste(self, name: str) -> microsoft.MicrosoftPasteSignIn:
        record, app = self._with_app(name, SignIn.MICROSOFT)
        session = https_session(self.service.settings)
        return microsoft.MicrosoftPasteSignIn(app, microsoft.scopes_for(record.settings), session, record.name,
                                              login_hint=record.settings.account)

    def start_google(self, name: str, port: int = DEFAULT_PORT, listen: bool = True) -> google.GoogleSignIn:
        record, app = self._with_app(name, SignIn.GOOGLE)
        session = https_session(self.service.settings)
        return google.GoogleSignIn(app, record.settings.account, port, session, record.name, listen=listen)

    def _with_app(self, name: str, sign_in: SignIn):
        record = self.oauth_provider(name)
        if record.settings.sign_in is not sign_in:
            raise NotOAuth(f"'{record.name}' signs in with {record.settings.sign_in.label}.")
        app = self.microsoft_app() if sign_in is SignIn.MICROSOFT else self.google_app(with_secret=True)
        if app is None or (isinstance(app, GoogleApp) and not app.client_secret):
            raise AppNotSet(app_missing_message(sign_in))
        return record, app

    def complete(self, name: str, result: SignInResult) -> ProviderRecord:
        """Check who signed in against the provider's account (case-insensitive; any
        account for a shared mailbox) and store the tokens: the provider is signed in,
        status grey until its check. A mismatch raises AccountMismatch naming both
        addresses, and the provider turns red with it (kind `oauth`); nothing is stored."""
        record = self.oauth_provider(name)
        settings = record.settings
        if result.cache.sign_in is not settings.sign_in:
            raise SignInError(f"This sign-in is with {result.cache.sign_in.label}, but '{record.name}' uses "
                              f"{settings.sign_in.label}.", "Start the sign-in again from this provider.")
        shared = record.sign_in_state.shared_mailbox
        if not shared and result.account.casefold() != settings.account.casefold():
            error = AccountMismatch(
                f"Signed in as {result.account}, but this provider's mailbox is {settings.account}.",
                f"Sign in again with {settings.account}; or, if {result.account} may use that mailbox "
                f"(a shared mailbox), run `mailprov login {quote(record.name)} --shared-mailbox`.",
            )
            self._mark_red(record, error)
            raise error
        state = SignInState(result.account, result.expires_at, result.cache.refresh_token_at, shared)
        return self.service.save_token_cache(record.name, result.cache.dumps(), state)

    def set_shared_mailbox(self, name: str, shared: bool) -> ProviderRecord:
        """Allow (or not) signing in with another account than the mailbox (shared mailboxes)."""
        return self.service.set_shared_mailbox(self.oauth_provider(name).name, shared)

    def _mark_red(self, record: ProviderRecord, error: SignInError) -> None:
        failure = failure_of(error, fields=("account",) if isinstance(error, AccountMismatch) else ())
        self.service.save_failure(record.name, failure)

    # Tokens -----------------------------------------------------------------------------

    def credential(self, record: ProviderRecord, force_refresh: bool = False) -> Credential:
        """The XOAUTH2 credential of a signed-in provider: its mailbox and a fresh access
        token (refreshed before use when it expires within minutes; a rotated refresh token
        is stored). Not signed in: a credential without a token (the check says so). Raises
        SignInError when the refresh fails (see `failure_of`)."""
        settings = record.settings
        if not record.token_key:
            return Credential(settings.username)
        sign_in = settings.sign_in
        app = self.microsoft_app() if sign_in is SignIn.MICROSOFT else self.google_app(with_secret=True)
        if app is None or (isinstance(app, GoogleApp) and not app.client_secret):
            raise SignInError(app_missing_message(sign_in).rstrip("."), "Set the app, then check again.")
        session = https_session(self.service.settings)
        fresh: dict[str, str] = {}

        def refresh(current: ProviderRecord, text: str):
            from tui.core.service import TokenUpdate

            try:
                cache = TokenCache.loads(text)
            except ValueError:
                raise SignInError(f"The stored sign-in of '{current.name}' cannot be read.",
                                  f"Sign in again: `mailprov login {quote(current.name)}`.") from None
            if sign_in is SignIn.MICROSOFT:
                scopes = microsoft.scopes_for(current.settings)
                token, expires_at, new = microsoft.fresh_token(app, cache, scopes, session, current.name, force_refresh)
            else:
                token, expires_at, new = google.fresh_token(app, cache, session, current.name, force_refresh)
            fresh["token"] = token
            if new is None:
                return TokenUpdate(None)
            rotated = new.refresh_token_at != cache.refresh_token_at
            return TokenUpdate(new.dumps(), expires_at, new.refresh_token_at if rotated else None)

        try:
            self.service.with_token_cache(record.name, refresh)
        except LookupError:  # signed out meanwhile
            return Credential(settings.username)
        return Credential(settings.username, oauth_token=fresh["token"])

    @staticmethod
    def token_status(record: ProviderRecord) -> TokenStatus:
        """From the database alone (no secret store, no network)."""
        state = record.sign_in_state
        return TokenStatus(record.token_key is not None, state.account, state.token_expires_at,
                           state.refresh_token_at, state.shared_mailbox)


def failure_of(error: SignInError, fields: tuple[str, ...] = ()) -> Failure:
    """A sign-in or refresh error as a check failure: kind `oauth`, its remedy."""
    return Failure(FailureKind.OAUTH, error.message, error.remedy, fields, transient=error.transient)
