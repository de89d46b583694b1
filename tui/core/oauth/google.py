"""Google sign-in through google-auth-oauthlib: the loopback flow (Google allows neither
the device flow nor copy/paste codes for the Gmail scope).

mailprov listens on 127.0.0.1:PORT; the admin's browser, on a laptop, reaches it through
`ssh -L PORT:127.0.0.1:PORT user@server`, or the admin pastes the address the browser ended
on (an error page without the tunnel) into mailprov. PKCE, `prompt=consent` (so a refresh
token always comes), offline access, `login_hint` = the mailbox.
"""

from __future__ import annotations

import errno
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

from tui.core.domain import SignIn
from tui.core.oauth.apps import GoogleApp
from tui.core.oauth.errors import PortTaken, SignInCancelled, SignInError, explain, unreachable
from tui.core.oauth.http import bounded_answers
from tui.core.oauth.microsoft import MARGIN, SignInResult
from tui.core.oauth.tokens import TokenCache, id_token_claims, signed_in_address
from tui.core.report import utcnow

MAIL_SCOPE = "https://mail.google.com/"
SCOPES = (MAIL_SCOPE, "openid", "https://www.googleapis.com/auth/userinfo.email")
# How long the listener waits for the browser, like Microsoft's device code lifetime.
WAIT_SECONDS = 900.0
DONE_PAGE = b"<!doctype html><title>mailprov</title><p>Signed in. You can close this tab and go back to mailprov."
OTHER_PAGE = b"<!doctype html><title>mailprov</title><p>This is not the sign-in mailprov is waiting for."


class LoopbackListener:
    """A tiny HTTP server on 127.0.0.1:`port` that waits for the browser's redirect with the
    expected `state` (anything else gets a short page and is ignored). `close()` stops it and
    frees the port, from any thread. Raises PortTaken when the port is in use."""

    def __init__(self, port: int, state: str):
        self.port = port
        self.url: str | None = None
        self._arrived = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                query = parse_qs(urlsplit(self.path).query)
                ours = query.get("state", [""])[0] == state and ("code" in query or "error" in query)
                self.send_response(200 if ours else 400)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(DONE_PAGE if ours else OTHER_PAGE)
                if ours and listener.url is None:
                    listener.url = f"http://127.0.0.1:{port}{self.path}"
                    listener._arrived.set()

            def log_message(self, *args) -> None:  # never to the terminal (the UI owns it)
                pass

        try:
            self._server = _Server(("127.0.0.1", port), Handler)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortTaken(exc.errno, f"port {port} on 127.0.0.1 is in use; pick another with --port") from None
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), name="oauth loopback",
                                        daemon=True)
        self._thread.start()
        self._closed = False

    def wait(self, timeout: float | None = None) -> str | None:
        """The redirect's URL, or None when closed or `timeout` passed. Waits in short
        slices, so Ctrl+C reaches the main thread at once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._arrived.wait(0.2):
            if deadline is not None and time.monotonic() > deadline:
                return None
        return self.url

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._arrived.set()


def _user_at_host() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    return f"{user}@{socket.gethostname()}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class GoogleSignIn:
    """One Google sign-in: `url` to open, then either `wait()` for the redirect on the
    loopback listener (when `listen`), or `finish(pasted_url)`. `cancel()` (any thread)
    closes the listener and makes `wait()` raise SignInCancelled."""

    def __init__(self, app: GoogleApp, account: str, port: int, session: requests.Session, name: str,
                 listen: bool = True):
        from google_auth_oauthlib.flow import Flow

        self.name = name
        self.port = port
        self.redirect_uri = f"http://127.0.0.1:{port}/"
        self._app = app
        self._session = session
        config = {"installed": {
            "client_id": app.client_id, "client_secret": app.client_secret or "",
            "auth_uri": app.auth_uri, "token_uri": app.token_uri, "redirect_uris": [self.redirect_uri],
        }}
        self._flow = Flow.from_client_config(config, scopes=list(SCOPES), redirect_uri=self.redirect_uri)
        # The code exchange goes through the flow's own session: bound its answers too.
        self._flow.oauth2session.hooks["response"].append(bounded_answers(self._session_timeout))
        self.url, self._state = self._flow.authorization_url(
            prompt="consent", login_hint=account, access_type="offline"
        )
        self._cancelled = threading.Event()
        self._finishing = False  # finish() was called: a wait() still running stops quietly
        self._listener = LoopbackListener(port, self._state) if listen else None

    def ssh_command(self, where: str | None = None) -> str:
        """What to run on the laptop whose browser signs in (`where`: user@host to reach
        this machine; by default this user at this machine's host name)."""
        return f"ssh -L {self.port}:127.0.0.1:{self.port} {where or _user_at_host()}"

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener._closed

    def wait(self, timeout: float | None = WAIT_SECONDS) -> SignInResult:
        """Block until the browser's redirect reaches the listener (then exchange its code),
        `cancel()` is called (SignInCancelled) or `timeout` seconds pass (SignInError)."""
        if self._listener is None:
            raise RuntimeError("this sign-in does not listen: use finish(pasted_url)")
        try:
            url = self._listener.wait(timeout)
        finally:
            self._listener.close()
        if self._cancelled.is_set() or (url is None and self._finishing):
            raise SignInCancelled()
        if url is None:
            raise SignInError("Nobody signed in within the time allowed.", "Start the sign-in again.")
        return self.finish(url)

    def finish(self, pasted_url: str) -> SignInResult:
        """Exchange the code in the address the browser ended on for tokens."""
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error

        pasted = pasted_url.strip()
        query = parse_qs(urlsplit(pasted).query)
        if not ("code" in query or "error" in query):
            raise SignInError("That is not the address the browser ended on after signing in (it has no code).",
                              f"Copy the whole address (it starts with {self.redirect_uri}) from the browser.")
        # oauthlib insists on https for the authorization response, even on the loopback.
        if pasted.startswith("http://"):
            pasted = "https://" + pasted[len("http://"):]
        self._finishing = True
        self.close()
        try:
            token = self._flow.fetch_token(
                authorization_response=pasted, verify=self._session.verify, timeout=self._session_timeout
            )
        except OAuth2Error as exc:
            if type(exc).__name__ == "MismatchingStateError":
                raise SignInError("The pasted address belongs to another sign-in attempt.",
                                  "Paste the address from the sign-in started just now.") from None
            raise explain(SignIn.GOOGLE, exc.error or "", exc.description or "", self.name, False) from None
        except requests.RequestException as exc:
            raise unreachable(SignIn.GOOGLE, exc, refreshing=False) from None
        except Warning as exc:  # oauthlib: "Scope has changed"
            raise SignInError(f"Google granted other permissions than asked for ({exc}).",
                              "Sign in again and allow every permission asked for (full mail access).") from None
        return _result(token, self.name)

    @property
    def _session_timeout(self) -> float:
        return getattr(self._session, "_timeout", 10.0)

    def cancel(self) -> None:
        self._cancelled.set()
        self.close()

    def close(self) -> None:
        """Stop listening (the port is free again)."""
        if self._listener is not None:
            self._listener.close()


def _result(token: dict, name: str) -> SignInResult:
    if not token.get("refresh_token"):
        raise SignInError("Google sent no refresh token, so the sign-in would stop working within the hour.",
                          "Remove mailprov's access at myaccount.google.com/permissions and sign in again.")
    claims = id_token_claims(token.get("id_token", ""))
    account = signed_in_address(claims, SignIn.GOOGLE)
    if not account:
        raise SignInError("Google's answer did not say who signed in (no email in the id token).",
                          "Sign in again and allow mailprov to see the account's email address.")
    now = utcnow()
    expires_at = now + timedelta(seconds=int(token.get("expires_in") or 0))
    scopes = tuple(token.get("scope") or SCOPES) if isinstance(token.get("scope"), list) else \
        tuple(str(token.get("scope") or " ".join(SCOPES)).split())
    cache = TokenCache(SignIn.GOOGLE, account, now, refresh_token=token["refresh_token"],
                       access_token=token["access_token"], expires_at=expires_at, scopes=scopes)
    return SignInResult(account, cache, token["access_token"], expires_at, claims)


def fresh_token(
    app: GoogleApp, cache: TokenCache, session: requests.Session, name: str, force_refresh: bool = False
) -> tuple[str, datetime, TokenCache | None]:
    """(access token, its expiry, the new cache or None when the stored token is still
    good). A refresh token Google rotates is kept in the new cache. Raises SignInError."""
    now = utcnow()
    if not force_refresh and cache.access_token and cache.expires_at and cache.expires_at - now > MARGIN:
        return cache.access_token, cache.expires_at, None
    from google.auth.exceptions import RefreshError, TransportError
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials

    # Built by hand: from_authorized_user_info() would replace a configured token_uri with Google's.
    credentials = Credentials(
        None, refresh_token=cache.refresh_token, token_uri=app.token_uri, client_id=app.client_id,
        client_secret=app.client_secret, scopes=list(cache.scopes) or None,
    )
    try:
        credentials.refresh(Request(session))
    except RefreshError as exc:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error = data.get("error") or "invalid_grant"
        raise explain(SignIn.GOOGLE, error, data.get("error_description") or str(exc.args[0] if exc.args else ""),
                      name, True) from None
    except TransportError as exc:
        raise unreachable(SignIn.GOOGLE, exc, refreshing=True) from None
    expiry = credentials.expiry.replace(tzinfo=timezone.utc) if credentials.expiry else now + timedelta(hours=1)
    rotated = bool(credentials.refresh_token) and credentials.refresh_token != cache.refresh_token
    new = cache.updated(
        access_token=credentials.token, expires_at=expiry,
        refresh_token=credentials.refresh_token if rotated else cache.refresh_token,
        refresh_token_at=now if rotated else cache.refresh_token_at,
    )
    return credentials.token, expiry, new


