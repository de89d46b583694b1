"""The inbound ladder: resolve, connect, TLS, greeting, CAPABILITY, (STARTTLS, CAPABILITY),
LOGIN (or XOAUTH2), EXAMINE INBOX (read-only: counts messages, changes nothing), LOGOUT."""

from __future__ import annotations

import ast
import imaplib
import socket
import ssl

import imapclient
from imapclient.exceptions import LoginError

from tui.core.checks.bounds import MAX_IMAP_REPLY_LINES, Deadline, LineReader
from tui.core.checks.credential import REDACTED
from tui.core.checks.failures import (
    CheckFailed,
    Cleaner,
    auth_rejected,
    login_cannot_carry,
    mailbox_unavailable,
    no_common_mechanism,
    no_login_offered,
    not_signed_in,
    preauthenticated,
    shorten,
    starttls_unavailable,
)
from tui.core.checks.ladder import ProtocolCheck, Transcript
from tui.core.checks.network import Target, tls_detail
from tui.core.domain import Security


class RecordingIMAP4(imaplib.IMAP4):
    """imaplib over a socket we opened ourselves, keeping a transcript in which LOGIN shows
    the user but not the password, and AUTHENTICATE data is <redacted>.

    Everything is read through a LineReader (imaplib's readline/read hooks): every wait
    within the check's deadline, lines and literals bounded, and at most
    MAX_IMAP_REPLY_LINES lines answering one command."""

    def __init__(self, sock: socket.socket, host: str, port: int, transcript: Transcript, deadline: Deadline):
        self._adopted_sock = sock
        self.transcript = transcript
        self.deadline = deadline
        self.reader = LineReader(sock, deadline, max_lines=MAX_IMAP_REPLY_LINES)
        self.last_line = ""  # the server's last line, for messages quoting its answer
        self._in_auth_exchange = False
        super().__init__(host, port)  # calls open(), then reads the greeting

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
    """IMAPClient over the socket the ladder opened (and, for SSL, already wrapped)."""

    def __init__(self, sock: socket.socket, target: Target, transcript: Transcript, deadline: Deadline):
        self._adopted = (sock, transcript, deadline)
        self.recording: RecordingIMAP4 | None = None
        super().__init__(
            target.wire_host,
            target.port,
            ssl=target.security is Security.SSL,
            timeout=target.timeout,
        )

    def _create_IMAP4(self):
        # IMAPClient's factory for its imaplib connection: ours adopts the open socket.
        sock, transcript, deadline = self._adopted
        self.recording = RecordingIMAP4(sock, self.host, self.port, transcript, deadline)
        return self.recording


def _server_text(exc: Exception, clean: Cleaner) -> str:
    """imapclient puts the server's reply in the message, sometimes as a bytes repr: read
    it back to text (a repr writes non-ASCII as \\x escapes, which would hide a password
    from the cleaner), then clean and shorten it."""
    text = str(exc)
    for prefix in ("login failed: ", "authenticate failed: "):
        text = text.removeprefix(prefix)
    if text.startswith(("b'", 'b"')) and text[-1:] in ("'", '"'):
        try:
            text = ast.literal_eval(text).decode("utf-8", "replace")
        except (ValueError, SyntaxError):
            text = text[2:-1]
    return shorten(text, clean)


class ImapCheck(ProtocolCheck):
    protocol = "imap"
    client: AdoptingIMAPClient | None = None
    logged_out = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.capabilities: list[str] = []

    def _climb(self) -> None:
        self._open()
        self._capability()
        if self.target.security is Security.STARTTLS:
            self._starttls()
            self._capability()
        self._login()
        self._examine()
        self._logout()

    def _open(self) -> None:
        sock = self._open_socket()
        with self.ladder.step("greeting") as step:
            self.client = AdoptingIMAPClient(sock, self.target, self.transcript, self.deadline)
            step.detail = self.client.welcome.decode("utf-8", "replace")

    def _capability(self) -> None:
        with self.ladder.step("capability") as step:
            self.capabilities = [c.decode("ascii", "replace") for c in self.client.capabilities()]
            if self.target.security is Security.NONE and "STARTTLS" in self.capabilities:
                self.result.starttls_offered = True
            step.detail = " ".join(self.capabilities)

    def _starttls(self) -> None:
        with self.ladder.step("starttls") as step:
            if self.client.welcome.upper().startswith(b"* PREAUTH"):
                raise CheckFailed(preauthenticated(self.target))
            if "STARTTLS" not in self.capabilities:
                raise CheckFailed(starttls_unavailable(self.target))
            try:
                self.client.starttls(self.tls_context())
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error:  # NO or BAD: the connection stays unencrypted
                if isinstance(self.client.socket(), ssl.SSLSocket):
                    raise  # the upgrade worked; what failed came after it
                answer = self.client.recording.last_line.partition(" ")[2]  # without the tag
                raise CheckFailed(starttls_unavailable(self.target, answer)) from None
            step.detail = tls_detail(self.client.socket())

    def _login(self) -> None:
        target, credential = self.target, self.credential
        with self.ladder.step("login") as step:
            if credential is None or not credential.secrets:
                raise CheckFailed(not_signed_in(target, self.provider_type))
            capabilities = self.capabilities
            uses_token = bool(credential.oauth_token)
            try:
                if uses_token:
                    if "AUTH=XOAUTH2" not in capabilities:
                        offered = [c.removeprefix("AUTH=") for c in capabilities if c.startswith("AUTH=")]
                        raise CheckFailed(no_common_mechanism(target, offered, ["XOAUTH2"]))
                    self.client.oauth2_login(credential.username, credential.oauth_token)
                    step.detail = f"XOAUTH2 as {credential.username}"
                else:
                    if "LOGINDISABLED" in capabilities:
                        raise CheckFailed(no_login_offered(target))
                    ascii_only = (credential.username + credential.password).isascii()
                    if not ascii_only and "AUTH=PLAIN" in capabilities:
                        # imaplib sends LOGIN's arguments as ASCII only; PLAIN carries UTF-8.
                        self.client.plain_login(credential.username, credential.password)
                        step.detail = f"AUTHENTICATE PLAIN as {credential.username}"
                    elif not ascii_only:
                        raise CheckFailed(login_cannot_carry(target))
                    else:
                        self.client.login(credential.username, credential.password)
                        step.detail = f"LOGIN as {credential.username}"
            except LoginError as exc:
                raise CheckFailed(auth_rejected(target, uses_token, _server_text(exc, self.clean))) from None

    def _examine(self) -> None:
        with self.ladder.step("examine") as step:
            try:
                info = self.client.select_folder("INBOX", readonly=True)
            except imaplib.IMAP4.error as exc:
                if isinstance(exc, imaplib.IMAP4.abort):
                    raise
                raise CheckFailed(mailbox_unavailable(self.target, _server_text(exc, self.clean))) from None
            messages = int(info.get(b"EXISTS", 0))
            unseen = len(self.client.search("UNSEEN")) if messages else 0
            step.detail = f"{messages} messages, {unseen} unseen (opened read-only)"
            self.result.summary = f"INBOX: {messages} messages, {unseen} unseen"

    def _logout(self) -> None:
        with self.ladder.step("logout") as step:
            self.logged_out = True  # logout() closes the connection whatever it answers
            step.detail = self.client.logout().decode("utf-8", "replace")

    def _close(self) -> None:
        if self.logged_out:
            return
        try:
            if self.client is not None:
                self.client.shutdown()
            elif self.sock is not None:
                self.sock.close()
        except OSError:
            pass
