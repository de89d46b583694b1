"""An authenticated IMAP session: resolve, connect, TLS, greeting, CAPABILITY, (STARTTLS,
CAPABILITY), LOGIN / AUTHENTICATE PLAIN / AUTHENTICATE XOAUTH2.

    session = open_imap(settings.inbound.server, credential, deadline=Deadline(30, 10))
    try:
        session.client.select_folder("INBOX")          # imapclient, bounded and timed
    finally:
        session.logout()
"""

from __future__ import annotations

import imaplib
import socket
import ssl
from pathlib import Path

from tui.core.domain import ServerSettings
from tui.core.mail.bounds import MAX_IMAP_REPLY_LINES, Deadline, LineReader
from tui.core.mail.credential import REDACTED, Credential
from tui.core.mail.errors import (
    Cleaner,
    LoginCannotCarry,
    LoginRefused,
    MailboxUnavailable,
    NoCommonMechanism,
    StartTlsUnavailable,
    exception_text,
    shorten,
)
from tui.core.mail.imapclient_import import import_imapclient
from tui.core.mail.login import choose_mechanism, responder
from tui.core.mail.network import TlsSource, tls_detail
from tui.core.mail.session import ClosingSession, Phases, Wire
from tui.core.mail.transcript import Transcript
from tui.core.protocols import Protocol, Security

imapclient = import_imapclient()  # without importlib.metadata's scan: see imapclient_import
LoginError = imapclient.exceptions.LoginError

# "LOGIN" here is IMAP's LOGIN command (ASCII only); AUTHENTICATE PLAIN carries UTF-8.
ASCII_PASSWORD_MECHANISMS = ("LOGIN", "PLAIN")
UTF8_PASSWORD_MECHANISMS = ("PLAIN",)


class RecordingIMAP4(imaplib.IMAP4):
    """imaplib over a socket we opened ourselves, keeping a transcript in which LOGIN shows
    the user but not the password, and AUTHENTICATE data is <redacted>.

    Everything is read through a LineReader (imaplib's readline/read hooks): every wait
    within the session's deadline, lines and literals bounded, and at most
    MAX_IMAP_REPLY_LINES lines answering one command."""

    def __init__(self, sock: socket.socket, wire: Wire):
        self._adopted_sock = sock
        self.transcript = wire.transcript
        self.deadline = wire.deadline
        self.reader = LineReader(sock, wire.deadline, max_lines=MAX_IMAP_REPLY_LINES)
        self.last_line = ""  # the server's last line, for messages quoting its answer
        self._in_auth_exchange = False
        super().__init__(wire.host, wire.server.port)  # calls open(), then reads the greeting

    def open(self, host: str = "", port: int = imaplib.IMAP4_PORT, timeout: float | None = None):
        # imaplib documents open() as the method to override for another transport.
        self.host = host
        self.port = port
        self.sock = self._adopted_sock
        self.file = self.sock.makefile("rb")  # unused for reading; imaplib closes it

    def send(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace").rstrip("\r\n")
        if text:  # imapclient writes some line ends on their own
            self.transcript.add(f"C: {self._redacted(text)}")
        self._reader().new_reply()
        self.deadline.arm(self.sock)
        super().send(data)

    def readline(self) -> bytes:
        line = self._reader().readline()
        self.last_line = line.decode("utf-8", "replace").rstrip()
        self.transcript.add(f"S: {self.last_line}")
        if not line.startswith(b"+"):  # anything but a continuation ends an auth exchange
            self._in_auth_exchange = False
        return line

    def read(self, size: int) -> bytes:
        return self._reader().read(size)

    def _reader(self) -> LineReader:
        """The reader of the current socket: after STARTTLS, a new one over TLS (what came
        in the clear after the OK is dropped, not taken as said over TLS)."""
        if self.reader.sock is not self.sock:
            self.reader = LineReader(self.sock, self.deadline, max_lines=MAX_IMAP_REPLY_LINES)
        return self.reader

    def _redacted(self, line: str) -> str:
        if self._in_auth_exchange:
            return REDACTED
        parts = line.split(" ", 3)
        command = parts[1].upper() if len(parts) > 1 else ""
        if command == "LOGIN":
            self._in_auth_exchange = True
            user = parts[2] if len(parts) > 2 else ""
            return f"{parts[0]} LOGIN {user} {REDACTED}"
        if command == "AUTHENTICATE":
            self._in_auth_exchange = True
            shown = " ".join(parts[:3])
            return f"{shown} {REDACTED}" if len(parts) > 3 else shown
        return line


class AdoptingIMAPClient(imapclient.IMAPClient):
    """IMAPClient over the socket the session opened (and, for SSL, already wrapped)."""

    def __init__(self, sock: socket.socket, wire: Wire):
        self._adopted = (sock, wire)
        self.recording: RecordingIMAP4 | None = None
        super().__init__(
            wire.host,
            wire.server.port,
            ssl=wire.server.security is Security.SSL,
            timeout=wire.deadline.per_operation,
        )

    def _create_IMAP4(self):
        # IMAPClient's factory for its imaplib connection: ours adopts the open socket.
        self.recording = RecordingIMAP4(*self._adopted)
        return self.recording


def server_text(exc: Exception, clean: Cleaner) -> str:
    """imapclient puts the server's reply in the message, sometimes as a bytes repr: read
    it back to text (a repr writes non-ASCII as \\x escapes, which would hide a password
    from the cleaner), then clean and shorten it."""
    text = exception_text(exc)
    for prefix in ("login failed: ", "authenticate failed: "):
        text = text.removeprefix(prefix)
    return shorten(text, clean)


class ImapSession(ClosingSession):
    """A logged-in IMAP session. `client` is the IMAPClient underneath, every read bounded
    and within `deadline`."""

    def __init__(self, client: AdoptingIMAPClient, wire: Wire, capabilities: list[str], mechanism: str):
        self.client = client
        self.wire = wire
        self.capabilities = capabilities
        self.mechanism = mechanism
        self._closed = False

    @property
    def deadline(self) -> Deadline:
        return self.wire.deadline

    def examine_inbox(self) -> tuple[int, int]:
        """(messages, unseen) of INBOX, opened read-only: nothing changes in the mailbox."""
        try:
            info = self.client.select_folder("INBOX", readonly=True)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            raise MailboxUnavailable(server_text(exc, self.wire.clean)) from None
        messages = int(info.get(b"EXISTS", 0))
        # STATUS answers with a count; SEARCH would list every unseen UID on one line, past
        # the reader's line bound in a mailbox with a few thousand unread messages.
        unseen = int(self.client.folder_status("INBOX", ["UNSEEN"]).get(b"UNSEEN", 0)) if messages else 0
        return messages, unseen

    @property
    def reader(self) -> LineReader:
        """The bounded reader every reply goes through (for `bounds.raised_bounds`)."""
        return self.client.recording._reader()

    def logout(self) -> str:
        """LOGOUT, which closes the connection whatever it answers; what the server said."""
        self._closed = True
        return self.client.logout().decode("utf-8", "replace")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.client.shutdown()
        except OSError:
            pass


def open_imap(
    server: ServerSettings,
    credential: Credential | None,
    *,
    deadline: Deadline,
    ca_file: Path | None = None,
    tls_context: TlsSource | None = None,
    transcript: Transcript | None = None,
    phases: Phases | None = None,
) -> ImapSession:
    """An IMAP session logged in as `credential`, or an exception (see mail.errors).

    A token logs in with AUTHENTICATE XOAUTH2; a password with LOGIN, or AUTHENTICATE
    PLAIN when it is not ASCII. With security starttls a server that does not offer
    STARTTLS, refuses it, or greets with PREAUTH raises StartTlsUnavailable: nothing is
    sent in the clear. Every wait is within `deadline`."""
    wire = Wire.make(
        Protocol.IMAP, server, credential, deadline=deadline, ca_file=ca_file,
        tls_context=tls_context, transcript=transcript, phases=phases,
    )
    sock = wire.open_socket()
    client: AdoptingIMAPClient | None = None
    try:
        with wire.phases.step("greeting") as note:
            client = AdoptingIMAPClient(sock, wire)
            note.detail = client.welcome.decode("utf-8", "replace")
        capabilities = _capability(client, wire)
        if server.security is Security.STARTTLS:
            _starttls(client, wire, capabilities)
            capabilities = _capability(client, wire)
        mechanism = _log_in(client, wire, credential, capabilities)
    except BaseException:
        _shut(client, sock)
        raise
    return ImapSession(client, wire, capabilities, mechanism)


def _shut(client: AdoptingIMAPClient | None, sock: socket.socket) -> None:
    try:
        if client is not None:
            client.shutdown()
        else:
            sock.close()
    except OSError:
        pass


def _capability(client: AdoptingIMAPClient, wire: Wire) -> list[str]:
    with wire.phases.step("capability") as note:
        capabilities = [c.decode("ascii", "replace") for c in client.capabilities()]
        note.detail = " ".join(capabilities)
        if wire.server.security is Security.NONE and "STARTTLS" in capabilities:
            wire.phases.starttls_offered()
        return capabilities


def _starttls(client: AdoptingIMAPClient, wire: Wire, capabilities: list[str]) -> None:
    with wire.phases.step("starttls") as note:
        if client.welcome.upper().startswith(b"* PREAUTH"):
            # Logged in before any TLS: STARTTLS may no longer be asked for (RFC 9051).
            raise StartTlsUnavailable(preauth=True)
        if "STARTTLS" not in capabilities:
            raise StartTlsUnavailable()
        try:
            client.starttls(wire.tls_context())
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:  # NO or BAD: the connection stays unencrypted
            if isinstance(client.socket(), ssl.SSLSocket):
                raise  # the upgrade worked; what failed came after it
            answer = client.recording.last_line.partition(" ")[2]  # without the tag
            raise StartTlsUnavailable(shorten(answer, wire.clean)) from None
        note.detail = tls_detail(client.socket())


def _log_in(client: AdoptingIMAPClient, wire: Wire, credential: Credential | None, capabilities: list[str]) -> str:
    with wire.phases.step("login") as note:
        # The LOGIN command unless LOGINDISABLED; SASL LOGIN is never needed beside it.
        offered = [] if "LOGINDISABLED" in capabilities else ["LOGIN"]
        offered += [c.removeprefix("AUTH=") for c in capabilities if c.startswith("AUTH=") and c != "AUTH=LOGIN"]
        ascii_only = credential is None or (credential.username + (credential.password or "")).isascii()
        try:
            mechanism = choose_mechanism(
                credential, offered, ASCII_PASSWORD_MECHANISMS if ascii_only else UTF8_PASSWORD_MECHANISMS
            )
        except NoCommonMechanism:
            if not ascii_only and not credential.oauth_token and "LOGIN" in offered:
                raise LoginCannotCarry() from None
            raise
        try:
            if mechanism == "LOGIN":
                client.login(credential.username, credential.password)
                note.detail = f"LOGIN as {credential.username}"
            else:
                respond = responder(mechanism, credential)
                # imaplib asks with the server's challenge, b"" for the first (empty) one.
                client.sasl_login(mechanism, lambda challenge: respond(challenge or None))
                note.detail = f"AUTHENTICATE {mechanism} as {credential.username}"
        except LoginError as exc:
            raise LoginRefused(server_text(exc, wire.clean), uses_token=bool(credential.oauth_token)) from None
        return mechanism
