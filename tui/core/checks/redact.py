"""Cleaning what a server said before a check keeps it: no secret in any form, no control
character (they become visible escapes, see tui.core.text.visible).

A server may echo the password back: raw, spaced out ("s e c r e t"), base64-encoded, or
inside the base64 of what the client sent (the AUTH PLAIN string, a LOGIN response).
Every text a check produces - transcript lines, step details, summaries, failure
messages - goes through one `Redactor` made from the check's credential.

    clean = Redactor(credential)
    clean("535 5.7.8 wrong password s e c r e t")  # -> "535 5.7.8 wrong password <redacted>"
"""

from __future__ import annotations

import base64
import binascii
import re

from tui.core.checks.credential import REDACTED, Credential
from tui.core.text import visible

# Secrets shorter than this are not searched for in free text (it would mangle words).
MIN_SCRUB_LENGTH = 4
# Between the characters of a spaced-out secret: up to three blanks or punctuation marks.
_SPACING = r"[\W_]{0,3}"
# A word that may be base64 (standard or URL-safe alphabet), long enough to hide a secret.
_BASE64_WORD = re.compile(r"[A-Za-z0-9+/_-]{6,}={0,2}")


class Redactor:
    def __init__(self, credential: Credential | None):
        secrets = [s for s in (credential.secrets if credential else ()) if len(s) >= MIN_SCRUB_LENGTH]
        self._secrets = [s.encode("utf-8") for s in secrets]
        forms: set[str] = set()
        for secret in secrets:
            forms.update(_encoded_forms(credential.username, secret))
        literal = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
        spaced = "|".join(_SPACING.join(re.escape(ch) for ch in secret) for secret in secrets)
        pattern = "|".join(part for part in (literal, spaced) if part)
        self._pattern = re.compile(pattern) if pattern else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
            text = _BASE64_WORD.sub(self._redact_base64_word, text)
        return visible(text)

    def _redact_base64_word(self, match: re.Match[str]) -> str:
        """A base64 word whose decoded bytes contain a secret (e.g. a server quoting the
        AUTH PLAIN string it got, with the authorization identity it prefers)."""
        decoded = _b64decode(match.group())
        if decoded and any(secret in decoded for secret in self._secrets):
            return REDACTED
        return match.group()


def _encoded_forms(username: str, secret: str) -> set[str]:
    """The secret as typed, as shown escaped, and base64-encoded the ways a login sends it."""
    raw = secret.encode("utf-8")
    user = username.encode("utf-8")
    sent = [
        raw,  # AUTH LOGIN's password response
        b"\0" + user + b"\0" + raw,  # AUTH PLAIN
        user + b"\0" + user + b"\0" + raw,  # AUTH PLAIN with the user as authorization id
        f"user={username}\x01auth=Bearer {secret}\x01\x01".encode(),  # XOAUTH2
    ]
    forms = {secret, visible(secret)}
    for data in sent:
        encoded = base64.b64encode(data).decode("ascii")
        forms.update((encoded, encoded.rstrip("=")))
    return {form for form in forms if len(form) >= MIN_SCRUB_LENGTH}


def _b64decode(word: str) -> bytes:
    word = word.rstrip("=")
    padded = word + "=" * (-len(word) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decode(padded)
        except (binascii.Error, ValueError):
            continue
    return b""
