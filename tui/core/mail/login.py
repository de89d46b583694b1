"""How a session logs in: which mechanism, and what it sends. Decided here once for SMTP,
IMAP and POP3.

- A credential with an OAuth token logs in with XOAUTH2, nothing else.
- A password uses what the protocol's session prefers among what the server offers:
  SMTP AUTH PLAIN, then LOGIN; IMAP the LOGIN command (AUTHENTICATE PLAIN for non-ASCII
  text, which LOGIN cannot carry); POP3 AUTH PLAIN when CAPA lists it, else USER + PASS.
  APOP is never used (it needs the password stored in clear on the server, and MD5).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence

from tui.core.mail.credential import Credential
from tui.core.mail.errors import NoCommonMechanism, NoLoginOffered, NotSignedIn, PasswordUnsendable

TOKEN_MECHANISMS = ("XOAUTH2",)
# A server that keeps challenging is broken; stop answering after this many rounds.
MAX_AUTH_ROUNDS = 4

# A password with these would end a LOGIN or PASS line and start a command of its own.
UNSENDABLE = ("\r", "\n", "\0")

# Answers the server's challenge (None for the initial response) with the bytes to send.
Responder = Callable[[bytes | None], bytes]


def choose_mechanism(credential: Credential | None, offered: Sequence[str], for_password: Sequence[str]) -> str:
    """The mechanism to log in with: XOAUTH2 for a token, else the first of `for_password`
    that the server offers. Raises NotSignedIn, NoLoginOffered or NoCommonMechanism."""
    if credential is None or not credential.secrets:
        raise NotSignedIn()
    if credential.password and any(char in credential.password for char in UNSENDABLE):
        raise PasswordUnsendable()
    if not offered:
        raise NoLoginOffered()
    wanted = TOKEN_MECHANISMS if credential.oauth_token else tuple(for_password)
    mechanism = next((m for m in wanted if m in offered), None)
    if mechanism is None:
        raise NoCommonMechanism(offered, wanted)
    return mechanism


def responder(mechanism: str, credential: Credential) -> Responder:
    """The SASL responses (RFC 4954, RFC 5034) of PLAIN, LOGIN or XOAUTH2, in UTF-8."""
    username = credential.username
    if mechanism == "XOAUTH2":
        initial = xoauth2_string(username, credential.oauth_token or "")
        # On a challenge (the server's error JSON) answer empty, so the server ends with an error.
        return lambda challenge: initial if challenge is None else b""
    password = (credential.password or "").encode()
    if mechanism == "PLAIN":
        return lambda challenge: b"\0" + username.encode() + b"\0" + password

    def login(challenge: bytes | None) -> bytes:
        """LOGIN: the username as initial response, then the password for the next challenge."""
        if challenge is None or b"user" in challenge.lower():
            return username.encode()
        return password

    return login


def xoauth2_string(username: str, token: str) -> bytes:
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(data: bytes | str) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except ValueError:
        return data.encode() if isinstance(data, str) else data
