"""What a session raises when a server answers, but not as a working session needs.

Network and TLS problems come as the standard exceptions (socket.gaierror, TimeoutError,
ssl.SSLCertVerificationError, ...) and bounds as `bounds.ReplyTooLong`; these are the rest.
Whoever opened the session decides what to make of them: the check turns each into a
Failure with a remedy and the fields to blame (checks/failures.py).

Every message here is already clean: a server's words are quoted only through the
session's Redactor (no secret, no control character) and cut to MAX_REASON characters.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence

Cleaner = Callable[[str], str]

# A server's words quoted in an error, at most.
MAX_REASON = 200


def _as_is(text: str) -> str:
    return text


def shorten(text: str, clean: Cleaner = _as_is) -> str:
    """A server's words, fit for a message: on one line and at most MAX_REASON characters.
    Cleaned (see mail.redact) before they are cut, so that a cut never leaves half a
    password where the whole one would have been found."""
    return clean(" ".join(text.split()))[:MAX_REASON]


# A Python bytes literal inside an exception's text: libraries format what a server said with
# %r (imaplib: "unexpected response: b'220 localhost ...'"), which people should not read.
_BYTES_LITERAL = re.compile(r"(?<!\w)b'(?:[^'\\]|\\.)*'" + r'|(?<!\w)b"(?:[^"\\]|\\.)*"')


def exception_text(exc: BaseException) -> str:
    """`str(exc)`, with each bytes literal in it read back to the text the server sent
    (a repr writes non-ASCII as \\x escapes, which would also hide a password from the cleaner)."""
    return _BYTES_LITERAL.sub(_decoded_literal, str(exc))


def _decoded_literal(match: re.Match[str]) -> str:
    try:
        value = ast.literal_eval(match.group())
    except (ValueError, SyntaxError):
        return match.group()[2:-1]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else match.group()


def reply_text(code: int, message: bytes | str, clean: Cleaner = _as_is) -> str:
    """An SMTP reply ("535 5.7.8 ...") as `shorten` makes it."""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return shorten(f"{code} {message}".strip(), clean)


class MailError(Exception):
    """The server answered, but not as a working session needs."""


class ServerClosed(MailError, ConnectionError):
    """The server closed the connection in the middle of a conversation."""

    def __init__(self) -> None:
        super().__init__("the server closed the connection")


class UnexpectedReply(MailError):
    """A reply that fits no step of the protocol (a bad greeting, an error where none
    should be): `said` is the server's answer."""

    def __init__(self, said: str):
        super().__init__(said)
        self.said = said


class StartTlsUnavailable(MailError):
    """The connection was to be upgraded with STARTTLS (STLS for POP3) and the server does
    not offer it, refused it (`answer`), or greeted as already logged in (`preauth`).
    Nothing else was sent: never a login in the clear."""

    def __init__(self, answer: str = "", *, preauth: bool = False):
        super().__init__(answer or ("PREAUTH greeting" if preauth else "STARTTLS not offered"))
        self.answer = answer
        self.preauth = preauth


class NotSignedIn(MailError):
    """The credential has neither a password nor a token: nothing to log in with."""

    def __init__(self) -> None:
        super().__init__("no password or sign-in token to log in with")


class NoLoginOffered(MailError):
    """The server offers no way to log in on this connection (no AUTH, LOGINDISABLED, or
    "encryption required")."""

    def __init__(self) -> None:
        super().__init__("the server offers no login on this connection")


class NoCommonMechanism(MailError):
    """The server offers logins, none of which this credential can use."""

    def __init__(self, offered: Sequence[str], wanted: Sequence[str]):
        super().__init__(f"offered {', '.join(offered) or 'nothing'}; wanted {', '.join(wanted)}")
        self.offered = list(offered)
        self.wanted = list(wanted)


class PasswordUnsendable(MailError):
    """The password holds a line break or NUL (stored before the rules refused them): sent in
    a LOGIN or PASS line it would end the command and start another, so nothing is sent."""

    def __init__(self) -> None:
        super().__init__("the stored password contains a line break or NUL, which no login can carry")


class LoginCannotCarry(MailError):
    """A non-ASCII password (or login name) and an IMAP server offering only LOGIN, which
    carries ASCII. Nothing was sent, and no character of it is quoted."""

    def __init__(self) -> None:
        super().__init__("the login name or password has characters the server's only login cannot carry")


class LoginRefused(MailError):
    """The server said no to the password (or to the token, `uses_token`); `reply` is its
    answer."""

    def __init__(self, reply: str, *, uses_token: bool):
        super().__init__(reply or "login refused")
        self.reply = reply
        self.uses_token = uses_token


class MailboxUnavailable(MailError):
    """Logged in, but the mailbox cannot be opened or counted; `reply` is the answer."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply
