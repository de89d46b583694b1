"""Microsoft sign-in through msal: the device code flow (a code typed at
microsoft.com/devicelogin on any device), the authorization code flow with PKCE where the
user pastes the address the browser ended on (for tenants that block the device flow), and
the token refresh.

msal adds `offline_access openid profile` to the scopes itself; the id token it gets names
who signed in. Refresh tokens rotate: the cache is written back whenever it changed.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import requests

from tui.core.domain import ProviderSettings, SignIn
from tui.core.oauth.apps import MicrosoftApp
from tui.core.oauth.errors import SignInCancelled, SignInError, explain, login_again, unreachable
from tui.core.oauth.tokens import TokenCache, id_token_claims, signed_in_address
from tui.core.protocols import Protocol
from tui.core.report import utcnow

OUTLOOK = "https://outlook.office.com/"
IMAP_SCOPE = OUTLOOK + "IMAP.AccessAsUser.All"
SMTP_SCOPE = OUTLOOK + "SMTP.Send"
POP_SCOPE = OUTLOOK + "POP.AccessAsUser.All"
# Refresh this long before the access token expires.
MARGIN = timedelta(minutes=5)


def scopes_for(settings: ProviderSettings) -> list[str]:
    """IMAP and SMTP, and POP when the provider receives over POP3 (no Graph scope mixed in)."""
    scopes = [IMAP_SCOPE, SMTP_SCOPE]
    if settings.inbound is not None and settings.inbound.protocol is Protocol.POP3:
        scopes.append(POP_SCOPE)
    return scopes


@dataclass(frozen=True, repr=False)
class SignInResult:
    """A finished sign-in: who signed in, the token cache to store, the access token."""

    account: str
    cache: TokenCache
    access_token: str
    expires_at: datetime
    claims: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SignInResult(account={self.account!r}, expires_at={self.expires_at!r}, tokens=<hidden>)"


def _client(app: MicrosoftApp, session: requests.Session, name: str, cache=None):
    """msal's PublicClientApplication; its authority's OpenID configuration is fetched here."""
    import msal

    try:
        return msal.PublicClientApplication(
            app.client_id, authority=app.authority, token_cache=cache or msal.SerializableTokenCache(),
            http_client=session, instance_discovery=False,
        )
    except requests.RequestException as exc:
        raise unreachable(SignIn.MICROSOFT, exc, refreshing=False) from None
    except ValueError as exc:  # msal could not read the authority's configuration
        raise SignInError(
            f"Microsoft's sign-in service at {app.authority} did not answer as expected ({str(exc)[:200]}).",
            "Check the tenant and the authority host with `mailprov oauth-app show`.",
        ) from None


def _result(client, result: dict, name: str) -> SignInResult:
    if "access_token" not in result:
        raise explain(SignIn.MICROSOFT, result.get("error", ""), result.get("error_description", ""), name, False)
    claims = result.get("id_token_claims") or id_token_claims(result.get("id_token", ""))
    account = signed_in_address(claims, SignIn.MICROSOFT)
    if not account:
        raise SignInError("Microsoft's answer did not say who signed in (no address in the id token).",
                          "Check that the app registration may read the user's email (openid, email).")
    now = utcnow()
    cache = TokenCache(SignIn.MICROSOFT, account, now, msal_cache=client.token_cache.serialize())
    expires_at = now + timedelta(seconds=int(result.get("expires_in") or 0))
    return SignInResult(account, cache, result["access_token"], expires_at, claims)


class DeviceCodeSignIn:
    """The device code flow. Created started: show `verification_uri` and `user_code`
    until `expires_at`; `wait()` blocks (polling) until someone signs in, the code expires
    or `cancel()` is called from another thread (it then raises SignInCancelled)."""

    def __init__(self, app: MicrosoftApp, scopes: list[str], session: requests.Session, name: str):
        self.name = name
        self._client = _client(app, session, name)
        try:
            flow = self._client.initiate_device_flow(scopes=scopes)
        except requests.RequestException as exc:
            raise unreachable(SignIn.MICROSOFT, exc, refreshing=False) from None
        if "user_code" not in flow:
            raise explain(SignIn.MICROSOFT, flow.get("error", ""), flow.get("error_description", ""), name, False)
        self._flow = flow
        self._cancelled = threading.Event()
        self.verification_uri: str = flow["verification_uri"]
        self.user_code: str = flow["user_code"]
        self.expires_at = datetime.fromtimestamp(flow["expires_at"], timezone.utc)

    def wait(self) -> SignInResult:
        try:
            result = self._client.acquire_token_by_device_flow(self._flow)
        except requests.RequestException as exc:
            raise unreachable(SignIn.MICROSOFT, exc, refreshing=False) from None
        if self._cancelled.is_set():
            raise SignInCancelled()
        if result.get("error") in ("authorization_pending", "slow_down"):
            result = {"error": "expired_token"}  # polling ended at the code's expiry
        return _result(self._client, result, self.name)

    def cancel(self) -> None:
        """Stop `wait()` (within about a second), from any thread."""
        self._cancelled.set()
        self._flow["expires_at"] = 0  # msal's polling loop ends when this is past


class MicrosoftPasteSignIn:
    """The authorization code flow with PKCE, for tenants that block the device flow:
    open `url` in a browser, sign in, then `finish()` with the address the browser ended on
    (a blank page of login.microsoftonline.com/common/oauth2/nativeclient)."""

    def __init__(self, app: MicrosoftApp, scopes: list[str], session: requests.Session, name: str, login_hint: str):
        self.name = name
        self._client = _client(app, session, name)
        self.redirect_uri = f"{app.authority_host.rstrip('/')}/common/oauth2/nativeclient"
        with warnings.catch_warnings():  # msal recommends form_post, which a pasted address cannot carry
            warnings.simplefilter("ignore", UserWarning)
            self._flow = self._client.initiate_auth_code_flow(
                scopes, redirect_uri=self.redirect_uri, login_hint=login_hint, response_mode="query")
        self.url: str = self._flow["auth_uri"]

    def finish(self, pasted_url: str) -> SignInResult:
        answer = dict(parse_qsl(urlsplit(pasted_url.strip()).query))
        if not ("code" in answer or "error" in answer):
            raise SignInError("That is not the address the browser ended on after signing in (it has no code).",
                              "Copy the whole address from the browser's address bar once the blank page shows.")
        try:
            result = self._client.acquire_token_by_auth_code_flow(self._flow, answer)
        except ValueError:  # msal: the state differs, or the flow was used
            raise SignInError("The pasted address belongs to another sign-in attempt.",
                              "Paste the address from the sign-in started just now.") from None
        except requests.RequestException as exc:
            raise unreachable(SignIn.MICROSOFT, exc, refreshing=False) from None
        return _result(self._client, result, self.name)

    def cancel(self) -> None:
        """Nothing to stop: the flow waits for a paste only."""


def fresh_token(
    app: MicrosoftApp, cache: TokenCache, scopes: list[str], session: requests.Session, name: str,
    force_refresh: bool = False,
) -> tuple[str, datetime, TokenCache | None]:
    """(access token, its expiry, the new cache or None when nothing changed). msal
    refreshes when the access token is (nearly) expired; a rotated refresh token is in
    the new cache, which the caller must store. Raises SignInError."""
    import msal

    msal_cache = msal.SerializableTokenCache()
    msal_cache.deserialize(cache.msal_cache)
    client = _client(app, session, name, msal_cache)
    accounts = client.get_accounts(username=cache.account)
    if not accounts:
        raise SignInError(f"The stored Microsoft sign-in has no account for {cache.account}.", login_again(name))
    before = _refresh_tokens(msal_cache)
    try:
        result = client.acquire_token_silent_with_error(scopes, account=accounts[0], force_refresh=force_refresh)
    except requests.RequestException as exc:
        raise unreachable(SignIn.MICROSOFT, exc, refreshing=True) from None
    if not result or "access_token" not in result:
        result = result or {"error": "invalid_grant", "error_description": "no refresh token stored"}
        raise explain(SignIn.MICROSOFT, result.get("error", ""), result.get("error_description", ""), name, True)
    now = utcnow()
    expires_at = now + timedelta(seconds=int(result.get("expires_in") or 0))
    if not msal_cache.has_state_changed:
        return result["access_token"], expires_at, None
    rotated = _refresh_tokens(msal_cache) != before
    new = cache.updated(msal_cache=msal_cache.serialize(), refresh_token_at=now if rotated else cache.refresh_token_at)
    return result["access_token"], expires_at, new


def _refresh_tokens(cache) -> set[str]:
    return {entry.get("secret", "") for entry in cache.search(cache.CredentialType.REFRESH_TOKEN)}
