"""What a provider's token slot holds: one JSON text, kept in the secret store.

- Microsoft: msal's serialized token cache (access, refresh and id tokens, accounts).
- Google: the refresh token, the current access token and its expiry.
Both: who signed in (the id token's address) and when the refresh token was issued.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tui.core.domain import SignIn
from tui.core.report import utcnow

FORMAT = 1


@dataclass(frozen=True, repr=False)
class TokenCache:
    sign_in: SignIn
    account: str  # who signed in
    refresh_token_at: datetime  # when the refresh token in use was issued
    msal_cache: str = ""  # Microsoft
    refresh_token: str = ""  # Google
    access_token: str = ""  # Google
    expires_at: datetime | None = None  # Google: the access token's expiry
    scopes: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        return f"TokenCache(sign_in={self.sign_in.value!r}, account={self.account!r}, tokens=<hidden>)"

    def dumps(self) -> str:
        return json.dumps({
            "format": FORMAT, "sign_in": self.sign_in.value, "account": self.account,
            "refresh_token_at": self.refresh_token_at.isoformat(), "msal_cache": self.msal_cache,
            "refresh_token": self.refresh_token, "access_token": self.access_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None, "scopes": list(self.scopes),
        })

    @classmethod
    def loads(cls, text: str) -> TokenCache:
        """Raises ValueError when the text is not a token cache of this format."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError("unknown token cache format")
            return cls(
                sign_in=SignIn(data["sign_in"]), account=data["account"],
                refresh_token_at=datetime.fromisoformat(data["refresh_token_at"]),
                msal_cache=data.get("msal_cache") or "", refresh_token=data.get("refresh_token") or "",
                access_token=data.get("access_token") or "",
                expires_at=datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None,
                scopes=tuple(data.get("scopes") or ()),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a token cache: {type(exc).__name__}") from None

    def updated(self, **changes) -> TokenCache:
        return replace(self, **changes)


def id_token_claims(id_token: str) -> dict:
    """The claims of an id token received straight from the token endpoint over verified
    TLS (OpenID Connect Core 3.1.3.7: no signature check needed then)."""
    try:
        payload = id_token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def signed_in_address(claims: dict, sign_in: SignIn) -> str:
    """The address someone signed in with: Microsoft's `preferred_username` or `email`,
    Google's `email`."""
    keys = ("preferred_username", "email") if sign_in is SignIn.MICROSOFT else ("email",)
    return next((str(claims[key]) for key in keys if claims.get(key)), "")


@dataclass(frozen=True)
class TokenStatus:
    """What the status pane and `doctor` show about a provider's sign-in."""

    signed_in: bool
    account: str | None  # who signed in
    expires_at: datetime | None  # the access token's expiry
    refresh_token_at: datetime | None  # when the refresh token was issued
    shared_mailbox: bool

    def expires_in(self, now: datetime | None = None) -> timedelta | None:
        return None if self.expires_at is None else self.expires_at - (now or utcnow())

    def refresh_token_age(self, now: datetime | None = None) -> timedelta | None:
        return None if self.refresh_token_at is None else (now or utcnow()) - self.refresh_token_at

    def describe(self, now: datetime | None = None) -> str:
        """One line: who is signed in, when the access token expires, the refresh token's age."""
        if not self.signed_in:
            return "not signed in"
        now = now or utcnow()
        expires = self.expires_in(now)
        token = "access token expiry unknown" if expires is None else (
            f"access token expires in {_span(expires)}" if expires.total_seconds() > 0
            else f"access token expired {_span(-expires)} ago (refreshed before next use)")
        age = self.refresh_token_age(now)
        refresh = "" if age is None else f"; refresh token {_span(age)} old"
        shared = " (shared mailbox)" if self.shared_mailbox else ""
        return f"signed in as {self.account}{shared}; {token}{refresh}"


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
