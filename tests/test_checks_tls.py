"""TLS failures against real listeners on 127.0.0.1: a certificate for another name, an
expired certificate, and an IMAP server that does not offer STARTTLS."""

from __future__ import annotations

import socket
import ssl
import threading
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.servers import HOST
from tui.core.checks import Credential, check_provider
from tui.core.domain import ProviderDraft
from tui.core.mail.network import cert_time_seconds
from tui.core.report import FailureKind
from tui.core.rules import to_settings

PASSWORD = "tls-test-password"


class LineServer:
    """A TCP server that answers each connection with `greeting` (after a TLS handshake when
    it has a context), then one canned reply per line received, recording every line."""

    def __init__(self, greeting: bytes, replies=None, context: ssl.SSLContext | None = None):
        self.greeting = greeting
        self.replies = replies or (lambda line: b"")
        self.context = context
        self.received: list[str] = []
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(connection,), daemon=True).start()

    def _talk(self, connection: socket.socket) -> None:
        try:
            if self.context is not None:
                connection = self.context.wrap_socket(connection, server_side=True)
            connection.sendall(self.greeting)
            for raw in connection.makefile("rb"):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.received.append(line)
                connection.sendall(self.replies(line))
        except (OSError, ssl.SSLError):
            pass  # the client gave up, as it should
        finally:
            connection.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def ca():
    import trustme

    return trustme.CA()


@pytest.fixture
def ca_file(ca, tmp_path):
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(leaf) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


def smtp_settings(port: int, **changes):
    draft = ProviderDraft(name="TLS", account="alice@example.test", password=PASSWORD,
                          smtp_host=HOST, smtp_port=str(port), smtp_security="ssl",
                          receive_emails=False)
    return to_settings(draft.updated(**changes))


def check(settings, ca_file):
    return check_provider(settings, Credential("alice@example.test", PASSWORD), timeout=3, ca_file=ca_file)


def test_a_certificate_for_another_name_is_refused_before_any_login(ca, ca_file):
    server = LineServer(b"220 hello\r\n", context=server_context(ca.issue_cert("mail.other.example")))
    try:
        report = check(smtp_settings(server.port), ca_file)
    finally:
        server.close()
    failure = report.failure
    assert failure.kind is FailureKind.CERTIFICATE
    assert "another name" in failure.message or "not valid for" in failure.message
    assert failure.fields[0] == "smtp_host"
    assert "disable" not in failure.remedy.lower()  # never "turn verification off"
    assert server.received == []  # not a single command, let alone AUTH


def test_an_expired_certificate_is_refused_and_said_so(ca, ca_file):
    past = datetime.now(timezone.utc) - timedelta(days=30)
    leaf = ca.issue_cert(HOST, not_before=past - timedelta(days=60), not_after=past)
    server = LineServer(b"220 hello\r\n", context=server_context(leaf))
    try:
        report = check(smtp_settings(server.port), ca_file)
    finally:
        server.close()
    assert report.failure.kind is FailureKind.CERTIFICATE
    assert "expired" in report.failure.message
    assert server.received == []


def imap_without_starttls(line: str) -> bytes:
    tag, _, command = line.partition(" ")
    if command.upper() == "CAPABILITY":
        return b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag.encode() + b" OK done\r\n"
    return tag.encode() + b" BAD not expected\r\n"


def test_imap_starttls_not_offered_is_an_error_and_no_login_is_sent():
    server = LineServer(b"* OK plain IMAP, no STARTTLS here\r\n", imap_without_starttls)
    settings = to_settings(ProviderDraft(
        name="IMAP", account="alice@example.test", password=PASSWORD, smtp_host=HOST,
        inbound_host=HOST, inbound_port=str(server.port), inbound_security="starttls"))
    try:
        report = check_provider(settings, Credential("alice@example.test", PASSWORD), timeout=3)
    finally:
        server.close()
    assert report.inbound.failure.kind is FailureKind.STARTTLS_UNAVAILABLE
    assert report.inbound.failure.fields == ("inbound_security",)
    sent = " ".join(server.received).upper()
    assert "LOGIN" not in sent and "AUTHENTICATE" not in sent
    assert PASSWORD not in " ".join(server.received)


@given(st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
@hypothesis_settings(max_examples=300, deadline=None)
def test_a_certificate_time_reads_as_the_standard_library_reads_it(moment):
    """cert_time_seconds reads getpeercert()'s form itself (no strptime): the same seconds."""
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    text = f"{months[moment.month - 1]} {moment.day:2d} {moment:%H:%M:%S} {moment.year} GMT"
    assert cert_time_seconds(text) == ssl.cert_time_to_seconds(text)


@pytest.mark.parametrize("text", ["Feb 30 00:00:00 2024 GMT", "Jun 30 23:59:60 2015 GMT"])
def test_an_odd_certificate_time_is_read_as_the_standard_library_reads_it(text):
    assert cert_time_seconds(text) == ssl.cert_time_to_seconds(text)


@pytest.mark.parametrize("text", ["Foo  1 00:00:00 2024 GMT", "Jun  1 12:00:00 2025 UTC", "Jun  1 12:00 2025 GMT", ""])
def test_a_certificate_time_of_another_form_is_refused_as_the_standard_library_refuses_it(text):
    with pytest.raises(ValueError) as ours:
        cert_time_seconds(text)
    with pytest.raises(ValueError) as theirs:
        ssl.cert_time_to_seconds(text)
    assert str(ours.value) == str(theirs.value)
