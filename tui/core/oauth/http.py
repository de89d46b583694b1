"""HTTPS to the identity providers (msal, google-auth and requests-oauthlib all use
requests): certificates verified with mailprov's CA setting, a timeout on every request,
an overall deadline and a size bound on every answer.

requests takes its CA from REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (or certifi) and ignores
SSL_CERT_FILE, and a session's own `verify` loses to those variables: so the CA file is
given with every request here, where nothing overrides it.
"""

from __future__ import annotations

import time

import requests

from tui.core.settings import Settings

# An identity provider's answers are small JSON documents.
MAX_RESPONSE_BYTES = 1 << 20
# Each request as a whole, in multiples of the per-operation timeout.
DEADLINE_FACTOR = 3


class ResponseTooLarge(requests.RequestException):
    """The identity provider sent more than MAX_RESPONSE_BYTES, or trickled past the deadline."""


def ca_bundle(settings: Settings) -> str | bool:
    """The CA file for the identity provider's HTTPS: MAILPROV_CA_FILE, else SSL_CERT_FILE,
    else requests' own default (True)."""
    if settings.ca_file:
        return str(settings.ca_file)
    return settings.env.get("SSL_CERT_FILE") or True


def bounded_answers(timeout: float):
    """A requests response hook that reads the answer's body at once, at most
    MAX_RESPONSE_BYTES and within DEADLINE_FACTOR x `timeout`. requests runs response hooks
    before it reads a body, so this hook is what reads it. For sessions mailprov does not
    build itself (google-auth-oauthlib's), append it to `session.hooks["response"]`."""

    def read_bounded(response: requests.Response, *args, **kwargs) -> requests.Response:
        deadline = time.monotonic() + DEADLINE_FACTOR * timeout
        body = bytearray()
        try:
            for chunk in response.iter_content(16384):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise ResponseTooLarge(f"{response.url}: the answer is larger than {MAX_RESPONSE_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise ResponseTooLarge(f"{response.url}: the answer took longer than {DEADLINE_FACTOR * timeout:g} s")
        finally:
            response.close()
        response._content = bytes(body)
        return response

    return read_bounded


class VerifiedSession(requests.Session):
    """A requests session whose every request verifies with `verify`, times out after
    `timeout` per operation and `DEADLINE_FACTOR` x that in all, and reads at most
    MAX_RESPONSE_BYTES. Redirects are not followed (token endpoints do not redirect)."""

    def __init__(self, verify: str | bool, timeout: float):
        super().__init__()
        self.verify = verify
        self._verify = verify
        self._timeout = timeout
        self.hooks["response"].append(bounded_answers(timeout))

    def request(self, method, url, **kwargs):  # noqa: D401 - requests' signature
        kwargs["verify"] = self._verify
        kwargs["timeout"] = self._timeout
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True  # the body is read by the bounded_answers hook
        return super().request(method, url, **kwargs)


def https_session(settings: Settings) -> VerifiedSession:
    return VerifiedSession(ca_bundle(settings), settings.timeout)
