"""The outbound ladder: resolve, connect, TLS, greeting, EHLO, (STARTTLS, EHLO), AUTH,
then a dry run (MAIL FROM, RCPT TO, RSET: nothing is sent) and QUIT."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from collections.abc import Callable

from tui.core.checks.bounds import MAX_SMTP_REPLY_LINES, Deadline, LineReader
from tui.core.checks.credential import REDACTED
from tui.core.checks.failures import (
    CheckFailed,
    address_refused,
    auth_rejected,
    no_common_mechanism,
    no_login_offered,
    not_signed_in,
    protocol_failure,
    reply_text,
    starttls_unavailable,
)
from tui.core.checks.ladder import ProtocolCheck, Transcript
from tui.core.checks.network import (
    ascii_host,
    ehlo_name,
    tls_detail,
)
from tui.core.domain import Security

PASSWORD_MECHANISMS = ("PLAIN", "LOGIN")
TOKEN_MECHANISMS = ("XOAUTH2",)
# A server that keeps challenging is broken; stop answering after this many rounds.
MAX_AUTH_ROUNDS = 4


class RecordingSMTP(smtplib.SMTP):
    """smtplib over a socket we opened ourselves, keeping a transcript with every
    credential (the AUTH line and its continuation lines) replaced by <redacted>.

    Replies are read through a LineReader: every wait within the check's deadline, and a
    reply of more than MAX_SMTP_REPLY_LINES lines (or over-long lines) is refused."""

    def __init__(self, sock: socket.socket, local_hostname: str, transcript: Transcript, deadline: Deadline):
        super().__init__(local_hostname=local_hostname)  # no host given: connects nowhere
        self.sock = sock
        self.transcript = transcript
        self.deadline = deadline
        self.reader = LineReader(sock, deadline, max_lines=MAX_SMTP_REPLY_LINES)
        self._in_auth_exchange = False

    def send(self, s):  # noqa: D102 - smtplib's public hook for everything written
        text = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
        self.transcript.add(f"C: {self._redacted(text.rstrip())}")
        if self.sock:
            self.deadline.arm(self.sock)
        super().send(s)

    def getreply(self):  # noqa: D102 - smtplib's public hook for everything read
        """(code, message) like smtplib's, but bounded; -1 when a line has no valid code."""
        self.reader.new_reply()
        lines: list[bytes] = []
        while True:
            try:
                line = self.reader.readline()
            except OSError as exc:  # as smtplib does; the cause (a timeout, say) stays chained
                self.close()
                raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from exc
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            self.transcript.add(f"S: {line.decode('utf-8', 'replace').rstrip()}")
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                code = -1
                break
            if line[3:4] != b"-":  # the last line of a multi-line reply has a space here
                break
        if code != 334:  # anything but a challenge ends an AUTH exchange
            self._in_auth_exchange = False
        return code, b"\n".join(lines)

    def _redacted(self, line: str) -> str:
        if self._in_auth_exchange:
            return REDACTED
        verb, _, rest = line.partition(" ")
        if verb.upper() != "AUTH":
            return line
        self._in_auth_exchange = True
        mechanism, _, initial_response = rest.partition(" ")
        return f"AUTH {mechanism} {REDACTED}" if initial_response else line

    def upgrade_to_tls(self, context: ssl.SSLContext, server_hostname: str) -> tuple[int, bytes]:
        """STARTTLS; the caller has checked that the server offers it. After it, everything
        learnt before the handshake is forgotten (RFC 3207): EHLO must be sent again."""
        code, reply = self.docmd("STARTTLS")
        if code != 220:
            return code, reply
        self.deadline.arm(self.sock)
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        # A new reader: whatever came in the clear after the 220 is dropped, not taken as
        # said over TLS.
        self.reader = LineReader(self.sock, self.deadline, max_lines=MAX_SMTP_REPLY_LINES)
        self.file = None
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        return code, reply

    def authenticate(self, mechanism: str, respond: Callable[[bytes | None], bytes]) -> tuple[int, bytes]:
        """AUTH (RFC 4954) with an initial response. Unlike smtplib.auth() this does not take
        503 for success, and sends UTF-8 credentials (smtplib only sends ASCII)."""
        code, reply = self.docmd("AUTH", f"{mechanism} {_b64(respond(None))}")
        rounds = 0
        while code == 334 and rounds < MAX_AUTH_ROUNDS:
            rounds += 1
            code, reply = self.docmd(_b64(respond(_unb64(reply))))
        return code, reply

    def auth_mechanisms(self) -> list[str]:
        return self.esmtp_features.get("auth", "").upper().split()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(data: bytes) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except ValueError:
        return data


def plain_responder(username: str, password: str) -> Callable[[bytes | None], bytes]:
    def respond(challenge: bytes | None) -> bytes:
        return b"\0" + username.encode() + b"\0" + password.encode()

    return respond


def login_responder(username: str, password: str) -> Callable[[bytes | None], bytes]:
    """LOGIN: the username as initial response, then the password for the next challenge."""

    def respond(challenge: bytes | None) -> bytes:
        if challenge is None or b"user" in challenge.lower():
            return username.encode()
        return password.encode()

    return respond


def xoauth2_string(username: str, token: str) -> bytes:
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


def xoauth2_responder(username: str, token: str) -> Callable[[bytes | None], bytes]:
    # On a challenge (the server's error JSON) answer empty, so the server ends with 535.
    def respond(challenge: bytes | None) -> bytes:
        return xoauth2_string(username, token) if challenge is None else b""

    return respond


def envelope_address(account: str) -> str:
    local, _, domain = account.rpartition("@")
    return f"{local}@{ascii_host(domain)}"


class SmtpCheck(ProtocolCheck):
    protocol = "smtp"
    smtp: RecordingSMTP | None = None

    def _climb(self) -> None:
        self._open()
        self._greeting()
        self._ehlo()
        if self.target.security is Security.STARTTLS:
            self._starttls()
            self._ehlo()
        self._authenticate()
        self._dry_run()
        self._quit()

    def _open(self) -> None:
        sock = self._open_socket()
        self.smtp = RecordingSMTP(sock, ehlo_name(sock), self.transcript, self.deadline)

    def _greeting(self) -> None:
        with self.ladder.step("greeting") as step:
            code, reply = self.smtp.getreply()
            if code != 220:
                raise CheckFailed(protocol_failure(self.target, "greeting", self._said(code, reply)))
            step.detail = self._said(code, reply)

    def _ehlo(self) -> None:
        with self.ladder.step("ehlo") as step:
            code, reply = self.smtp.ehlo()
            if code != 250:
                raise CheckFailed(protocol_failure(self.target, "ehlo", self._said(code, reply)))
            if self.target.security is Security.NONE and self.smtp.has_extn("starttls"):
                self.result.starttls_offered = True
            step.detail = self._capabilities_text()

    def _capabilities_text(self) -> str:
        features = [f"{name.upper()} {value.strip()}".strip() for name, value in self.smtp.esmtp_features.items()]
        text = f"capabilities: {', '.join(features) or 'none'}; AUTH: {' '.join(self.smtp.auth_mechanisms()) or 'none'}"
        if self.result.starttls_offered:
            text += " (the server offers STARTTLS: pick TLS to encrypt)"
        return text

    def _starttls(self) -> None:
        with self.ladder.step("starttls") as step:
            if not self.smtp.has_extn("starttls"):
                raise CheckFailed(starttls_unavailable(self.target))
            code, reply = self.smtp.upgrade_to_tls(self.tls_context(), self.target.wire_host)
            if code != 220:
                raise CheckFailed(starttls_unavailable(self.target, self._said(code, reply)))
            step.detail = tls_detail(self.smtp.sock)

    def _authenticate(self) -> None:
        target, credential = self.target, self.credential
        with self.ladder.step("auth") as step:
            if credential is None or not credential.secrets:
                raise CheckFailed(not_signed_in(target, self.provider_type))
            offered = self.smtp.auth_mechanisms()
            if not offered:
                raise CheckFailed(no_login_offered(target))
            uses_token = bool(credential.oauth_token)
            wanted = TOKEN_MECHANISMS if uses_token else PASSWORD_MECHANISMS
            mechanism = next((m for m in wanted if m in offered), None)
            if mechanism is None:
                raise CheckFailed(no_common_mechanism(target, offered, list(wanted)))
            code, reply = self.smtp.authenticate(mechanism, self._responder(mechanism))
            if code == 538:  # "encryption required": the server wants TLS first
                raise CheckFailed(no_login_offered(target))
            if code != 235:
                raise CheckFailed(auth_rejected(target, uses_token, self._said(code, reply)))
            step.detail = f"{mechanism} as {credential.username}: {self._said(code, reply)}"

    def _responder(self, mechanism: str) -> Callable[[bytes | None], bytes]:
        credential = self.credential
        if mechanism == "XOAUTH2":
            return xoauth2_responder(credential.username, credential.oauth_token)
        if mechanism == "PLAIN":
            return plain_responder(credential.username, credential.password)
        return login_responder(credential.username, credential.password)

    def _dry_run(self) -> None:
        """Ask the server to accept a message to and from the account, then take it back."""
        address = envelope_address(self.target.account)
        options = ["SMTPUTF8"] if not address.isascii() and self.smtp.has_extn("smtputf8") else []
        with self.ladder.step("mail-from") as step:
            code, reply = self.smtp.mail(address, options)
            if code != 250:
                raise CheckFailed(address_refused(self.target, "sender", address, self._said(code, reply)))
            step.detail = self._said(code, reply)
        with self.ladder.step("rcpt-to") as step:
            code, reply = self.smtp.rcpt(address)
            if code not in (250, 251):
                raise CheckFailed(address_refused(self.target, "recipient", address, self._said(code, reply)))
            step.detail = self._said(code, reply)
        with self.ladder.step("rset") as step:
            code, reply = self.smtp.rset()
            if code != 250:
                raise CheckFailed(protocol_failure(self.target, "rset", self._said(code, reply)))
            step.detail = f"{self._said(code, reply)} (nothing was sent)"
        self.result.summary = (
            f"Login accepted for {self.target.username}; {address} accepted as sender "
            "and recipient (nothing sent)"
        )

    def _quit(self) -> None:
        with self.ladder.step("quit") as step:
            try:
                code, reply = self.smtp.docmd("QUIT")
            except smtplib.SMTPServerDisconnected:
                # Everything that matters has passed; a server hanging up on QUIT is fine.
                step.detail = "the server closed the connection"
                return
            step.detail = self._said(code, reply)

    def _said(self, code: int, reply: bytes) -> str:
        """The server's reply for a step detail or a message: cleaned, then cut to length."""
        return reply_text(code, reply, self.clean)

    def _close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        elif self.sock is not None:
            self.sock.close()
