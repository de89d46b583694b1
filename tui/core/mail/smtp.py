"""An authenticated SMTP session: resolve, connect, TLS, greeting, EHLO, (STARTTLS, EHLO),
AUTH. What is sent afterwards (a dry run, a message) is the caller's.

    session = open_smtp(settings.outbound, credential, deadline=Deadline(30, 10), ca_file=ca)
    try:
        session.smtp.sendmail(sender, [recipient], message_bytes)
    finally:
        session.quit()
"""

from __future__ import annotations

import re
import smtplib
import socket
from pathlib import Path

from tui.core.domain import ServerSettings
from tui.core.mail.bounds import MAX_SMTP_REPLY_LINES, Deadline, LineReader
from tui.core.mail.credential import REDACTED, Credential
from tui.core.mail.errors import (
    LoginRefused,
    NoLoginOffered,
    StartTlsUnavailable,
    UnexpectedReply,
    reply_text,
)
from tui.core.mail.login import MAX_AUTH_ROUNDS, Responder, b64, choose_mechanism, responder, unb64
from tui.core.mail.network import TlsSource, ehlo_name, tls_detail
from tui.core.mail.session import ClosingSession, Phases, Wire
from tui.core.mail.transcript import Transcript
from tui.core.protocols import Protocol, Security

# What a password logs in with, in order of preference (a token always uses XOAUTH2).
PASSWORD_MECHANISMS = ("PLAIN", "LOGIN")
# A line of message data starting with "." gets another one (RFC 5321 4.5.2).
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


class RecordingSMTP(smtplib.SMTP):
    """smtplib over a socket we opened ourselves, keeping a transcript with every
    credential (the AUTH line and its continuation lines) replaced by <redacted>.

    Replies are read through a LineReader: every wait within the session's deadline, and a
    reply of more than MAX_SMTP_REPLY_LINES lines (or over-long lines) is refused."""

    def __init__(self, sock: socket.socket, local_hostname: str, wire: Wire):
        super().__init__(local_hostname=local_hostname)  # no host given: connects nowhere
        self.sock = sock
        self.wire = wire
        self.transcript = wire.transcript
        self.deadline = wire.deadline
        self.reader = LineReader(sock, wire.deadline, max_lines=MAX_SMTP_REPLY_LINES)
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

    def upgrade_to_tls(self) -> tuple[int, bytes]:
        """STARTTLS; the caller has checked that the server offers it. After it, everything
        learnt before the handshake is forgotten (RFC 3207): EHLO must be sent again."""
        code, reply = self.docmd("STARTTLS")
        if code != 220:
            return code, reply
        self.sock = self.wire.wrap(self.sock)
        # A new reader: whatever came in the clear after the 220 is dropped, not taken as
        # said over TLS.
        self.reader = LineReader(self.sock, self.deadline, max_lines=MAX_SMTP_REPLY_LINES)
        self.file = None
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        return code, reply

    def authenticate(self, mechanism: str, respond: Responder) -> tuple[int, bytes]:
        """AUTH (RFC 4954) with an initial response. Unlike smtplib.auth() this does not take
        503 for success, and sends UTF-8 credentials (smtplib only sends ASCII)."""
        code, reply = self.docmd("AUTH", f"{mechanism} {b64(respond(None))}")
        rounds = 0
        while code == 334 and rounds < MAX_AUTH_ROUNDS:
            rounds += 1
            code, reply = self.docmd(b64(respond(unb64(reply))))
        return code, reply

    def send_content(self, content: bytes) -> tuple[int, bytes]:
        """After DATA's 354: the message (dot-stuffed, ended by CRLF . CRLF), then the
        server's final reply. The transcript keeps the headers and the size of the body,
        not the body itself (a transcript is for the conversation, not the mail)."""
        data = _DOT_AT_LINE_START.sub(b"..", content)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        header, _, body = content.partition(b"\r\n\r\n")
        for line in header.split(b"\r\n"):
            self.transcript.add(f"C: {line.decode('utf-8', 'replace')}")
        self.transcript.add(f"C: <body: {len(body.splitlines())} lines, {len(body)} bytes>")
        self.transcript.add("C: .")
        self.deadline.arm(self.sock)
        smtplib.SMTP.send(self, data + b".\r\n")  # not self.send: that would log the body
        return self.getreply()

    def auth_mechanisms(self) -> list[str]:
        return self.esmtp_features.get("auth", "").upper().split()


class SmtpSession(ClosingSession):
    """A logged-in SMTP session. `smtp` is the smtplib.SMTP underneath (mail, rcpt, rset,
    sendmail), reading through the bounded reader within `deadline`."""

    def __init__(self, smtp: RecordingSMTP, wire: Wire, mechanism: str):
        self.smtp = smtp
        self.wire = wire
        self.mechanism = mechanism

    @property
    def deadline(self) -> Deadline:
        return self.wire.deadline

    def said(self, code: int, reply: bytes) -> str:
        """A reply of the server, cleaned and cut, fit for a message."""
        return reply_text(code, reply, self.wire.clean)

    def quit(self) -> str:
        """QUIT, then close whatever it answers; what the server said."""
        try:
            code, reply = self.smtp.docmd("QUIT")
        except smtplib.SMTPServerDisconnected:
            return "the server closed the connection"  # after QUIT, that is fine
        finally:
            self.close()
        return self.said(code, reply)

    def close(self) -> None:
        self.smtp.close()


def open_smtp(
    server: ServerSettings,
    credential: Credential | None,
    *,
    deadline: Deadline,
    ca_file: Path | None = None,
    tls_context: TlsSource | None = None,
    transcript: Transcript | None = None,
    phases: Phases | None = None,
    local_hostname: str | None = None,
    log_in: bool = True,
) -> SmtpSession:
    """An SMTP session logged in as `credential`, or an exception (see mail.errors).
    With `log_in` False (a trusted relay: "SMTP sign-in: none") no AUTH is sent, and the
    "auth" phase says that no login was used; `credential` may then be None.

    Certificates are verified with `tls_context` (a context, or a factory called at the
    TLS phase) or else with `ca_file` / the system store. With security starttls a server
    that does not offer or refuses STARTTLS raises StartTlsUnavailable: nothing is sent in
    the clear. Every wait is within `deadline`."""
    wire = Wire.make(
        Protocol.SMTP, server, credential, deadline=deadline, ca_file=ca_file,
        tls_context=tls_context, transcript=transcript, phases=phases,
    )
    sock = wire.open_socket()
    smtp = RecordingSMTP(sock, local_hostname or ehlo_name(sock), wire)
    session = SmtpSession(smtp, wire, mechanism="")
    try:
        _greeting(session)
        _ehlo(session)
        if server.security is Security.STARTTLS:
            _starttls(session)
            _ehlo(session)
        session.mechanism = _log_in(session, credential) if log_in else _no_login(session)
    except BaseException:
        session.close()
        raise
    return session


def _greeting(session: SmtpSession) -> None:
    with session.wire.phases.step("greeting") as note:
        code, reply = session.smtp.getreply()
        if code != 220:
            raise UnexpectedReply(session.said(code, reply))
        note.detail = session.said(code, reply)


def _ehlo(session: SmtpSession) -> None:
    smtp, wire = session.smtp, session.wire
    with wire.phases.step("ehlo") as note:
        code, reply = smtp.ehlo()
        if code != 250:
            raise UnexpectedReply(session.said(code, reply))
        features = [f"{name.upper()} {value.strip()}".strip() for name, value in smtp.esmtp_features.items()]
        note.detail = f"capabilities: {', '.join(features) or 'none'}; AUTH: {' '.join(smtp.auth_mechanisms()) or 'none'}"
        if wire.server.security is Security.NONE and smtp.has_extn("starttls"):
            wire.phases.starttls_offered()
            note.detail += " (the server offers STARTTLS: pick TLS to encrypt)"


def _starttls(session: SmtpSession) -> None:
    smtp = session.smtp
    with session.wire.phases.step("starttls") as note:
        if not smtp.has_extn("starttls"):
            raise StartTlsUnavailable()
        code, reply = smtp.upgrade_to_tls()
        if code != 220:
            raise StartTlsUnavailable(session.said(code, reply))
        note.detail = tls_detail(smtp.sock)


def _log_in(session: SmtpSession, credential: Credential | None) -> str:
    with session.wire.phases.step("auth") as note:
        mechanism = choose_mechanism(credential, session.smtp.auth_mechanisms(), PASSWORD_MECHANISMS)
        code, reply = session.smtp.authenticate(mechanism, responder(mechanism, credential))
        if code == 538:  # "encryption required": the server wants TLS first
            raise NoLoginOffered()
        if code != 235:
            raise LoginRefused(session.said(code, reply), uses_token=bool(credential.oauth_token))
        note.detail = f"{mechanism} as {credential.username}: {session.said(code, reply)}"
        return mechanism



# What a session opened without a login (a trusted relay) reports as its mechanism.
NO_LOGIN = "none"


def _no_login(session: SmtpSession) -> str:
    with session.wire.phases.step("auth") as note:
        note.detail = "no login used (SMTP sign-in: none, a trusted relay)"
    return NO_LOGIN
