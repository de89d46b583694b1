"""Cleaning what a server said before a session or a check keeps it: no secret in any form, no control
character (they become visible escapes, see tui.core.text.visible).

A server may echo the password back: raw, spaced out ("s e c r e t"), base64-encoded, or
inside the base64 of what the client sent (the AUTH PLAIN string, a LOGIN response). Each
form is a literal or a pattern of one regular expression, so cleaning a line is one pass.
Every text a session produces - transcript lines, phase details, error messages quoting
the server - and every text a check keeps goes through one `Redactor` made from the
session's credential.

    clean = Redactor(credential)
    clean("535 5.7.8 wrong password s e c r e t")  # -> "535 5.7.8 wrong password <redacted>"
"""

from __future__ import annotations

import base64
import re

from tui.core.mail.credential import REDACTED, Credential
from tui.core.text import visible

# Secrets shorter than this are not searched for in free text (it would mangle words).
MIN_SCRUB_LENGTH = 4
# Between the characters of a spaced-out secret: up to three blanks or punctuation marks.
_SPACING = r"[\W_]{0,3}"


class Redactor:
    def __init__(self, credential: Credential | None):
        secrets = [s for s in (credential.secrets if credential else ()) if len(s) >= MIN_SCRUB_LENGTH]
        forms: set[str] = set()
        for secret in secrets:
            forms.update((secret, visible(secret)))
            forms.update(_base64_cores(secret.encode("utf-8")))
        forms = {form for form in forms if len(form) >= MIN_SCRUB_LENGTH}
        literal = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
        spaced = "|".join(_SPACING.join(re.escape(ch) for ch in secret) for secret in secrets)
        pattern = "|".join(part for part in (literal, spaced) if part)
        self._pattern = re.compile(pattern) if pattern else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return visible(text)


def _base64_cores(secret: bytes) -> set[str]:
    """What the base64 of any data holding `secret` contains, wherever the secret sits in it
    (the password alone, an AUTH PLAIN string, a LOGIN response, a server quoting them):
    for each of the three alignments, the characters made of the secret's bits only.
    Standard and URL-safe alphabets."""
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + secret).decode("ascii")
        first = -(-8 * shift // 6)  # the first character without bits of the bytes before
        end = 8 * (shift + len(secret)) // 6  # the characters after need the bytes after
        core = encoded[first:end]
        cores.update((core, core.translate(_URL_SAFE)))
    return cores


_URL_SAFE = str.maketrans("+/", "-_")
