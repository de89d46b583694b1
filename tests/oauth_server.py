"""A local OAuth 2 / OpenID Connect identity provider for the tests, over https with the
tests' CA: enough of Microsoft's and Google's endpoints for msal and google-auth-oauthlib
to run their real flows against it, and for Dovecot and aiosmtpd to check the tokens.

- Microsoft shape, under any tenant path (`/organizations`, `/common`, a tenant id):
  `{tenant}/v2.0/.well-known/openid-configuration`, `{tenant}/oauth2/v2.0/devicecode`
  (device authorization grant, RFC 8628), `{tenant}/oauth2/v2.0/authorize` and
  `{tenant}/oauth2/v2.0/token`, answering with an id token and `client_info` as msal needs.
- Google shape: `/o/oauth2/auth` and `/token` (client secret by HTTP Basic or in the body).
- Grants: device code (pending until the test "user" approves or denies it), authorization
  code with PKCE S256 (required; the id token echoes the nonce), refresh token with
  rotation (a refresh token works once).
- `/introspect` (RFC 7662) for Dovecot's oauth2 passdb; `token_user()` for aiosmtpd.
- Test controls: `approve()` / `deny()` a device code, `browser_user` (who the
  auto-approving "browser" signs in as), `revoke(user)`, `expire_access_tokens()`,
  `fail_next_token(error, description)` to make the token endpoint answer an error.

Written for the tests on the standard library alone (no authlib): every rule it enforces
is spelled out below, so a test that passes here passes for a reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

HOST = "127.0.0.1"
MICROSOFT_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
GOOGLE_CLIENT_ID = "test-client.apps.googleusercontent.test"
GOOGLE_CLIENT_SECRET = "GOCSPX-test-client-secret"
TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
SIGNING_KEY = b"test signing key"  # msal and our code read the id token without checking it


@dataclass
class DeviceGrant:
    client_id: str
    scope: str
    user_code: str
    expires_at: float
    approved_by: str | None = None
    denied: bool = False
    used: bool = False


@dataclass
class CodeGrant:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    user: str
    nonce: str | None
    expires_at: float


@dataclass
class Token:
    user: str
    client_id: str
    scope: str
    expires_at: float = 0.0


@dataclass
class OAuthServer:
    """Call .start(server_context) (a TestCertificates' context), then .stop()."""

    access_token_lifetime: int = 3600
    device_code_lifetime: int = 900
    clients: dict[str, str | None] = field(
        default_factory=lambda: {MICROSOFT_CLIENT_ID: None, GOOGLE_CLIENT_ID: GOOGLE_CLIENT_SECRET}
    )
    browser_user: str = "alice@example.test"  # who signs in when the "browser" opens a consent URL
    browser_denies: bool = False
    # Mailbox permissions (a shared mailbox): a person's tokens open the mailbox named here
    # instead of their own, at the mail servers (token_user, introspection).
    mailbox_of: dict[str, str] = field(default_factory=dict)
    device_grants: dict[str, DeviceGrant] = field(default_factory=dict)  # by device code
    code_grants: dict[str, CodeGrant] = field(default_factory=dict)
    access_tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: dict[str, Token] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    refreshes: int = 0  # refresh grants answered with new tokens
    _failures: list[tuple[str, str]] = field(default_factory=list)
    _paddings: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # --- running ------------------------------------------------------------------------

    def start(self, server_context: ssl.SSLContext) -> OAuthServer:
        self._server = _TlsServer((HOST, 0), _handler_for(self), server_context)
        threading.Thread(target=self._server.serve_forever, name="test oauth server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"https://{HOST}:{self._server.server_address[1]}"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    @property
    def google_auth_uri(self) -> str:
        return f"{self.base_url}/o/oauth2/auth"

    @property
    def google_token_uri(self) -> str:
        return f"{self.base_url}/token"

    # --- test controls ------------------------------------------------------------------

    def approve(self, user_code: str, user: str) -> None:
        """The person at the browser enters `user_code` and signs in as `user`."""
        with self._lock:
            grant = next(g for g in self.device_grants.values() if g.user_code == user_code)
            grant.approved_by = user

    def deny(self, user_code: str) -> None:
        with self._lock:
            next(g for g in self.device_grants.values() if g.user_code == user_code).denied = True

    def pending_user_codes(self) -> list[str]:
        with self._lock:
            return [g.user_code for g in self.device_grants.values() if not (g.approved_by or g.denied or g.used)]

    def revoke(self, user: str) -> None:
        """Every token of `user` stops working (consent withdrawn, password reset...)."""
        with self._lock:
            for tokens in (self.access_tokens, self.refresh_tokens):
                for key in [k for k, t in tokens.items() if t.user.casefold() == user.casefold()]:
                    del tokens[key]

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self.access_tokens.values():
                token.expires_at = 0.0

    def fail_next_token(self, error: str, description: str = "") -> None:
        """The next token request is answered with this OAuth error (HTTP 400)."""
        with self._lock:
            self._failures.append((error, description))

    def pad_next_token(self, size: int) -> None:
        """The next token answer carries `size` bytes more (a hostile or broken provider)."""
        with self._lock:
            self._paddings.append(size)

    def token_user(self, access_token: str) -> str | None:
        """Whose mailbox an access token opens, while it is valid (None otherwise): its
        owner's, or the one `mailbox_of` gives the owner access to."""
        with self._lock:
            token = self.access_tokens.get(access_token)
            if not token or token.expires_at <= time.time():
                return None
            return self.mailbox_of.get(token.user, token.user)

    # --- endpoints ----------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, form: dict, headers) -> tuple[int, dict, bytes]:
        self.requests.append((method, path))
        parts = [p for p in path.split("/") if p]
        if method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return _json(200, self._openid_configuration(parts[0]))
        if method == "POST" and parts[1:] == ["oauth2", "v2.0", "devicecode"]:
            return self._device_authorization(form)
        if method == "GET" and (parts[1:] == ["oauth2", "v2.0", "authorize"] or parts == ["o", "oauth2", "auth"]):
            return self._authorize(query)
        if method == "POST" and (parts[1:] == ["oauth2", "v2.0", "token"] or parts == ["token"]):
            with self._lock:
                return self._token(form, headers)
        if method == "POST" and parts == ["introspect"]:
            return self._introspect(form)
        return _json(404, {"error": "not_found"})

    def _openid_configuration(self, tenant: str) -> dict:
        base = f"{self.base_url}/{tenant}"
        return {
            "issuer": f"{self.base_url}/{TENANT_ID}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "introspection_endpoint": self.introspection_url,
        }

    def _device_authorization(self, form: dict) -> tuple[int, dict, bytes]:
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return _json(400, {"error": "unauthorized_client", "error_description": "AADSTS700016: unknown app"})
        device_code = secrets.token_urlsafe(24)
        user_code = secrets.token_hex(4).upper()
        with self._lock:
            self.device_grants[device_code] = DeviceGrant(
                client_id, form.get("scope", ""), user_code, time.time() + self.device_code_lifetime
            )
        return _json(200, {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": f"{self.base_url}/devicelogin",
            "expires_in": self.device_code_lifetime,
            "interval": 1,
            "message": "Microsoft's own sentence (mailprov must not rely on it)",
        })

    def _authorize(self, query: dict) -> tuple[int, dict, bytes]:
        """The consent page, answered at once for `browser_user`: a redirect with a code."""
        redirect_uri = query.get("redirect_uri", "")
        state = query.get("state")
        back = {"state": state} if state else {}
        if query.get("client_id") not in self.clients or not redirect_uri:
            return _json(400, {"error": "invalid_request"})
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            back.update(error="invalid_request", error_description="PKCE is required")
        elif self.browser_denies:
            back.update(error="access_denied", error_description="the user declined")
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self.code_grants[code] = CodeGrant(
                    query["client_id"], redirect_uri, query["code_challenge"], query.get("scope", ""),
                    self.browser_user, query.get("nonce"), time.time() + 600,
                )
            back["code"] = code
        separator = "&" if "?" in redirect_uri else "?"
        return 302, {"Location": redirect_uri + separator + urlencode(back)}, b""

    def _token(self, form: dict, headers) -> tuple[int, dict, bytes]:
        status, headers_out, payload = self._token_answer(form, headers)
        if self._paddings:
            payload = payload[:-1] + b', "padding": "' + b"x" * self._paddings.pop(0) + b'"}'
        return status, headers_out, payload

    def _token_answer(self, form: dict, headers) -> tuple[int, dict, bytes]:
        if self._failures:
            error, description = self._failures.pop(0)
            return _json(400, {"error": error, "error_description": description})
        client_id, problem = self._client(form, headers)
        if problem:
            return _json(401, {"error": "invalid_client", "error_description": problem})
        grant_type = form.get("grant_type")
        if grant_type == "urn:ietf:params:oauth:grant-type:device_code":
            return self._device_token(client_id, form)
        if grant_type == "authorization_code":
            return self._code_token(client_id, form)
        if grant_type == "refresh_token":
            return self._refresh_token(client_id, form)
        return _json(400, {"error": "unsupported_grant_type"})

    def _client(self, form: dict, headers) -> tuple[str, str | None]:
        """The client, authenticated by HTTP Basic or in the body when it has a secret."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            from urllib.parse import unquote

            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        if client_id not in self.clients:
            return "", "unknown client"
        expected = self.clients[client_id]
        if expected is not None and secret != expected:
            return "", "wrong client secret"
        return client_id, None

    def _device_token(self, client_id: str, form: dict) -> tuple[int, dict, bytes]:
        grant = self.device_grants.get(form.get("device_code", ""))
        if grant is None or grant.client_id != client_id or grant.used:
            return _json(400, {"error": "invalid_grant"})
        if grant.expires_at < time.time():
            return _json(400, {"error": "expired_token"})
        if grant.denied:
            return _json(400, {"error": "access_denied", "error_description": "the user declined"})
        if grant.approved_by is None:
            return _json(400, {"error": "authorization_pending"})
        grant.used = True
        return _json(200, self._issue(grant.approved_by, client_id, grant.scope, nonce=None))

    def _code_token(self, client_id: str, form: dict) -> tuple[int, dict, bytes]:
        grant = self.code_grants.pop(form.get("code", ""), None)
        if grant is None or grant.client_id != client_id or grant.expires_at < time.time():
            return _json(400, {"error": "invalid_grant", "error_description": "unknown or used code"})
        if form.get("redirect_uri") != grant.redirect_uri:
            return _json(400, {"error": "invalid_grant", "error_description": "redirect_uri differs"})
        verifier = form.get("code_verifier", "")
        if not verifier or _s256(verifier) != grant.challenge:
            return _json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
        return _json(200, self._issue(grant.user, client_id, grant.scope, nonce=grant.nonce))

    def _refresh_token(self, client_id: str, form: dict) -> tuple[int, dict, bytes]:
        token = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # used once: rotation
        if token is None or token.client_id != client_id:
            return _json(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        self.refreshes += 1
        return _json(200, self._issue(token.user, client_id, form.get("scope") or token.scope, nonce=None))

    def _issue(self, user: str, client_id: str, scope: str, nonce: str | None) -> dict:
        """Access and refresh tokens (the refresh token new each time), an id token and
        msal's client_info. Called with the lock held."""
        now = time.time()
        access, refresh = "at-" + secrets.token_urlsafe(24), "rt-" + secrets.token_urlsafe(24)
        scope = " ".join(s for s in scope.split() if s != "offline_access")
        self.access_tokens[access] = Token(user, client_id, scope, now + self.access_token_lifetime)
        self.refresh_tokens[refresh] = Token(user, client_id, scope)
        oid = hashlib.sha256(user.casefold().encode()).hexdigest()[:32]
        claims = {
            "iss": f"{self.base_url}/{TENANT_ID}/v2.0", "sub": oid, "aud": client_id, "iat": int(now),
            "exp": int(now) + 3600, "preferred_username": user, "email": user, "email_verified": True,
            "oid": oid, "tid": TENANT_ID, "name": user.split("@")[0],
        }
        if nonce:
            claims["nonce"] = nonce
        client_info = _b64url(json.dumps({"uid": oid, "utid": TENANT_ID}).encode())
        return {
            "token_type": "Bearer", "access_token": access, "refresh_token": refresh,
            "expires_in": self.access_token_lifetime, "ext_expires_in": self.access_token_lifetime,
            "scope": scope, "id_token": _jwt(claims), "client_info": client_info,
        }

    def _introspect(self, form: dict) -> tuple[int, dict, bytes]:
        user = self.token_user(form.get("token", ""))
        return _json(200, {"active": True, "username": user} if user else {"active": False})


def _json(status: int, data: dict) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(data).encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def _jwt(claims: dict) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signature = hmac.new(SIGNING_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


class _TlsServer(ThreadingHTTPServer):
    """HTTPS with the TLS handshake in each request's thread (not in the accept loop)."""

    daemon_threads = True

    def __init__(self, address, handler, context: ssl.SSLContext):
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:
        request.settimeout(10)
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)


def _handler_for(server: OAuthServer):
    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def do_GET(self) -> None:
            self._answer("GET", b"")

        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length", 0) or 0), 1 << 20)
            self._answer("POST", self.rfile.read(length))

        def _answer(self, method: str, body: bytes) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            status, headers, payload = server.handle(method, url.path, query, form, self.headers)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:  # quiet in test output
            pass

    return Handler


def browser_redirect(consent_url: str, ca_file) -> str:
    """What a browser would end on after the consent page: the redirect's target URL (the
    test server approves at once), without following it."""
    import requests

    response = requests.get(consent_url, allow_redirects=False, verify=str(ca_file), timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]
