"""An authenticated POP3 session: resolve, connect, TLS (POP3S, or STLS), greeting, CAPA,
(STLS, CAPA), then AUTH PLAIN (RFC 5034) when CAPA lists it, else USER and PASS; a token
logs in with AUTH XOAUTH2. Never APOP.

Our own small client rather than poplib: every line goes through the bounded LineReader
within the deadline, and the transcript never shows PASS or AUTH data.

    session = open_pop3(settings.inbound.server, credential, deadline=Deadline(30, 10))
    try:
        count, size = session.stat()
    finally:
        session.quit()
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from tui.core.domain import ServerSettings
from tui.core.mail.bounds import MAX_POP3_REPLY_LINES, Deadline, LineReader
from tui.core.mail.credential import REDACTED, Credential
from tui.core.mail.errors import (
    LoginRefused,
    MailboxUnavailable,
    ServerClosed,
    StartTlsUnavailable,
    UnexpectedReply,
    shorten,
)
from tui.core.mail.login import MAX_AUTH_ROUNDS, b64, choose_mechanism, responder, unb64
from tui.core.mail.network import TlsSource, tls_detail
from tui.core.mail.session import ClosingSession, Phases, Wire
from tui.core.mail.transcript import Transcript
from tui.core.protocols import Protocol, Security

# What a password logs in with, in order of preference ("USER" is USER + PASS).
PASSWORD_MECHANISMS = ("PLAIN", "USER")
# CAPA's answer: {"SASL": "PLAIN LOGIN", "STLS": "", ...}; None when CAPA is not supported.
Capabilities = dict[str, str]


@dataclass(frozen=True)
class Reply:
    """One status line: "+OK ...", "-ERR ..." or, inside AUTH, a "+ challenge"."""

    line: str

    @property
    def ok(self) -> bool:
        return self.line.startswith("+OK")

    @property
    def challenge(self) -> bool:
        return not self.ok and (self.line == "+" or self.line.startswith("+ "))

    @property
    def text(self) -> str:
        """What follows the status word."""
        return self.line.partition(" ")[2]


class Pop3Connection:
    """POP3 lines over a socket the session opened. Every read goes through a LineReader
    (lines, replies and bytes bounded, every wait within the deadline); every line is kept
    in the transcript, credentials replaced by <redacted>."""

    def __init__(self, sock: socket.socket, wire: Wire):
        self.sock = sock
        self.wire = wire
        self.reader = LineReader(sock, wire.deadline, max_lines=MAX_POP3_REPLY_LINES)

    def command(self, line: str, shown: str | None = None) -> Reply:
        """Send `line` (shown in the transcript as `shown` when given) and read the status."""
        if "\r" in line or "\n" in line or "\0" in line:
            raise ValueError("a POP3 command cannot contain a line break or NUL")
        self.wire.transcript.add(f"C: {line if shown is None else shown}")
        self.reader.new_reply()
        self.wire.deadline.arm(self.sock)
        self.sock.sendall(line.encode("utf-8") + b"\r\n")
        return self.reply()

    def reply(self) -> Reply:
        line = self.read_line()
        if not line.startswith(("+", "-ERR")):
            raise UnexpectedReply(shorten(line, self.wire.clean))
        return Reply(line)

    def read_line(self) -> str:
        raw = self.reader.readline()
        if not raw:
            raise ServerClosed()
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        self.wire.transcript.add(f"S: {line}")
        return line

    def read_lines(self) -> list[str]:
        """The body of a multi-line reply, up to the "." line, dot-stuffing undone. Counted
        in the same reply as its status line: at most MAX_POP3_REPLY_LINES in all."""
        lines = []
        while (line := self.read_line()) != ".":
            lines.append(line[1:] if line.startswith("..") else line)
        return lines

    def start_tls(self) -> None:
        self.sock = self.wire.wrap(self.sock)
        # A new reader: whatever came in the clear after the +OK is dropped, not taken as
        # said over TLS.
        self.reader = LineReader(self.sock, self.wire.deadline, max_lines=MAX_POP3_REPLY_LINES)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Pop3Session(ClosingSession):
    """A logged-in POP3 session (the TRANSACTION state). `connection.command()` sends any
    other command (UIDL, RETR, ...) within the same bounds and deadline."""

    def __init__(self, connection: Pop3Connection, capabilities: Capabilities | None, mechanism: str):
        self.connection = connection
        self.capabilities = capabilities
        self.mechanism = mechanism

    @property
    def wire(self) -> Wire:
        return self.connection.wire

    @property
    def deadline(self) -> Deadline:
        return self.wire.deadline

    def stat(self) -> tuple[int, int]:
        """(messages, total size in bytes) of the mailbox."""
        reply = self.connection.command("STAT")
        if not reply.ok:
            raise MailboxUnavailable(shorten(reply.line, self.wire.clean))
        numbers = reply.text.split()[:2]
        if len(numbers) < 2 or not all(n.isdigit() for n in numbers):
            raise UnexpectedReply(shorten(reply.line, self.wire.clean))
        return int(numbers[0]), int(numbers[1])

    def quit(self) -> str:
        """QUIT (which changes nothing, no message was marked deleted), then close; what
        the server said."""
        try:
            reply = self.connection.command("QUIT")
        except (ServerClosed, OSError):
            return "the server closed the connection"  # after QUIT, that is fine
        finally:
            self.close()
        return shorten(reply.line, self.wire.clean)

    def close(self) -> None:
        self.connection.close()


def open_pop3(
    server: ServerSettings,
    credential: Credential | None,
    *,
    deadline: Deadline,
    ca_file: Path | None = None,
    tls_context: TlsSource | None = None,
    transcript: Transcript | None = None,
    phases: Phases | None = None,
) -> Pop3Session:
    """A POP3 session logged in as `credential`, or an exception (see mail.errors).

    With security starttls a server whose CAPA does not list STLS (or that has no CAPA),
    or that answers STLS with -ERR, raises StartTlsUnavailable: nothing else was sent, and
    never USER or PASS in the clear. Every wait is within `deadline`."""
    wire = Wire.make(
        Protocol.POP3, server, credential, deadline=deadline, ca_file=ca_file,
        tls_context=tls_context, transcript=transcript, phases=phases,
    )
    connection = Pop3Connection(wire.open_socket(), wire)
    try:
        _greeting(connection)
        capabilities = _capa(connection)
        if server.security is Security.STARTTLS:
            _stls(connection, capabilities)
            capabilities = _capa(connection)  # what was said in the clear no longer counts
        mechanism = _log_in(connection, credential, capabilities)
    except BaseException:
        connection.close()
        raise
    return Pop3Session(connection, capabilities, mechanism)


def _greeting(connection: Pop3Connection) -> None:
    wire = connection.wire
    with wire.phases.step("greeting") as note:
        reply = connection.reply()
        if not reply.ok:
            raise UnexpectedReply(shorten(reply.line, wire.clean))
        note.detail = reply.line


def _capa(connection: Pop3Connection) -> Capabilities | None:
    wire = connection.wire
    with wire.phases.step("capa") as note:
        reply = connection.command("CAPA")
        if not reply.ok:
            note.detail = f"no capability list ({reply.line})"
            return None
        lines = connection.read_lines()
        capabilities = {}
        for line in lines:
            name, _, arguments = line.strip().partition(" ")
            capabilities[name.upper()] = arguments.strip()
        note.detail = ", ".join(line.strip() for line in lines) or "none"
        if wire.server.security is Security.NONE and "STLS" in capabilities:
            wire.phases.starttls_offered()
            note.detail += " (the server offers STLS: pick TLS to encrypt)"
        return capabilities


def _stls(connection: Pop3Connection, capabilities: Capabilities | None) -> None:
    wire = connection.wire
    with wire.phases.step("starttls") as note:
        if capabilities is None or "STLS" not in capabilities:
            raise StartTlsUnavailable()
        reply = connection.command("STLS")
        if not reply.ok:
            raise StartTlsUnavailable(shorten(reply.line, wire.clean))
        connection.start_tls()
        note.detail = tls_detail(connection.sock)


def _log_in(connection: Pop3Connection, credential: Credential | None, capabilities: Capabilities | None) -> str:
    wire = connection.wire
    with wire.phases.step("login") as note:
        if capabilities is None:  # no CAPA: RFC 1939's USER and PASS are all there is
            offered = ["USER"]
        else:
            offered = (["USER"] if "USER" in capabilities else []) + capabilities.get("SASL", "").upper().split()
        mechanism = choose_mechanism(credential, offered, PASSWORD_MECHANISMS)
        if mechanism == "USER":
            how = "USER and PASS"
            reply = connection.command(f"USER {credential.username}")
            if reply.ok:
                reply = connection.command(f"PASS {credential.password}", shown=f"PASS {REDACTED}")
        else:
            how = f"AUTH {mechanism}"
            reply = _authenticate(connection, mechanism, credential)
        if not reply.ok:
            raise LoginRefused(shorten(reply.line, wire.clean), uses_token=bool(credential.oauth_token))
        note.detail = f"{how} as {credential.username}: {reply.line}"
        return mechanism


def _authenticate(connection: Pop3Connection, mechanism: str, credential: Credential) -> Reply:
    """AUTH with an initial response (RFC 5034), answering at most MAX_AUTH_ROUNDS challenges."""
    respond = responder(mechanism, credential)
    reply = connection.command(f"AUTH {mechanism} {b64(respond(None))}", shown=f"AUTH {mechanism} {REDACTED}")
    rounds = 0
    while reply.challenge and rounds < MAX_AUTH_ROUNDS:
        rounds += 1
        reply = connection.command(b64(respond(unb64(reply.text))), shown=REDACTED)
    return reply
