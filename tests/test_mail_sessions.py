"""The mail connection layer on its own: open_smtp, open_imap and open_pop3 return logged-in
sessions against the real servers (aiosmtpd, Dovecot), usable for more than a check
(sending, fetching), and raise plain errors when something is wrong."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import replace

import pytest

from tests.hostile import HostileServer
from tests.servers import (
    GOOD_TOKEN,
    HOST,
    INBOX_SEEN,
    INBOX_UNSEEN,
    USER,
    OAuthIntrospection,
    ServerUnavailable,
    start_dovecot,
)
from tui.core.checks import check_provider
from tui.core.domain import InboundSettings, ServerSettings, SignIn
from tui.core.mail import Credential, Deadline, Phases, Transcript, open_imap, open_pop3, open_smtp
from tui.core.mail.errors import LoginRefused, StartTlsUnavailable
from tui.core.mail.redact import Redactor
from tui.core.protocols import Protocol, Security

TIMEOUT = 5.0
MESSAGE = b"From: alice@example.test\r\nTo: alice@example.test\r\nSubject: through a session\r\n\r\nHello.\r\n"


def deadline() -> Deadline:
    return Deadline.for_timeout(TIMEOUT)


def good(servers) -> Credential:
    return Credential(servers.user, servers.password)


class RecordingPhases(Phases):
    """A listener keeping each phase's name and detail, as the check's ladder does."""

    def __init__(self):
        self.phases: list[tuple[str, str]] = []
        self.offered = False

    @contextmanager
    def step(self, name):
        with super().step(name) as note:
            yield note
        self.phases.append((name, note.detail))

    def starttls_offered(self) -> None:
        self.offered = True


# --- logged-in sessions -------------------------------------------------------------------


@pytest.mark.parametrize("listener", ["starttls", "ssl", "plain"])
def test_open_smtp_returns_a_session_that_can_send(mail_servers, listener):
    security = {"starttls": Security.STARTTLS, "ssl": Security.SSL, "plain": Security.NONE}[listener]
    server = ServerSettings(mail_servers.host, mail_servers.smtp.port(listener), security)
    delivered = len(mail_servers.recorder.messages)

    session = open_smtp(server, good(mail_servers), deadline=deadline(), ca_file=mail_servers.ca_file)
    try:
        assert session.mechanism == "PLAIN"
        refused = session.smtp.sendmail(USER, [USER], MESSAGE)
    finally:
        said = session.quit()

    assert refused == {}
    assert said.startswith("221")
    assert mail_servers.recorder.messages[delivered]["data"].replace(b"\r\n", b"\n") == MESSAGE.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_open_imap_returns_a_session_that_can_fetch(mail_servers, security):
    port = mail_servers.imap_ssl_port if security == "ssl" else mail_servers.imap_starttls_port
    server = ServerSettings(mail_servers.host, port, Security(security))

    with open_imap(server, good(mail_servers), deadline=deadline(), ca_file=mail_servers.ca_file) as session:
        assert session.mechanism == "LOGIN"
        info = session.client.select_folder("INBOX", readonly=True)
        fetched = session.client.fetch([1], ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        said = session.logout()

    assert info[b"EXISTS"] == INBOX_SEEN + INBOX_UNSEEN
    assert b"Subject: Test message" in next(iter(fetched.values()))[b"BODY[HEADER.FIELDS (SUBJECT)]"]
    assert "Logging out" in said


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_open_pop3_returns_a_session_that_can_list(mail_servers, security):
    with open_pop3(mail_servers.pop3_server(security), good(mail_servers), deadline=deadline(),
                   ca_file=mail_servers.ca_file) as session:
        assert session.mechanism == "PLAIN"
        count, size = session.stat()
        uidl = session.connection.command("UIDL")
        unique_ids = session.connection.read_lines()
        said = session.quit()

    assert (count, size) == (INBOX_SEEN + INBOX_UNSEEN, mail_servers.dovecot.inbox_size(USER))
    assert uidl.ok and [line.split()[0] for line in unique_ids] == [str(n) for n in range(1, count + 1)]
    assert said.startswith("+OK")
    assert session.connection.sock.fileno() == -1  # closed


def test_each_phase_is_reported_in_order_with_its_detail(mail_servers):
    phases = RecordingPhases()
    session = open_pop3(mail_servers.pop3_server("starttls"), good(mail_servers), deadline=deadline(),
                        ca_file=mail_servers.ca_file, phases=phases)
    session.quit()

    assert [name for name, _ in phases.phases] == [
        "resolve", "connect", "greeting", "capa", "starttls", "capa", "login",
    ]
    details = dict(phases.phases)
    assert details["connect"] == f"127.0.0.1 port {mail_servers.pop3_starttls_port}"
    assert details["starttls"].startswith("TLSv1.")
    assert "STLS" not in details["capa"].split(", ")  # the second CAPA, over TLS
    assert not phases.offered


def test_the_transcript_is_redacted(mail_servers):
    credential = good(mail_servers)
    lines: list[str] = []
    session = open_pop3(mail_servers.pop3_server("ssl"), credential, deadline=deadline(),
                        ca_file=mail_servers.ca_file, transcript=Transcript(lines, Redactor(credential)))
    session.quit()

    assert lines[0].startswith("S: +OK")
    assert "C: AUTH PLAIN <redacted>" in lines and lines[-1].startswith("S: +OK")
    assert not [line for line in lines if mail_servers.password in line]


# --- errors come out as they are -----------------------------------------------------------


def test_a_wrong_password_raises_login_refused_on_every_protocol(mail_servers):
    wrong = Credential(mail_servers.user, "Wr0ng-Pa55word!")
    servers = {
        open_smtp: ServerSettings(mail_servers.host, mail_servers.smtp_ssl_port, Security.SSL),
        open_imap: ServerSettings(mail_servers.host, mail_servers.imap_ssl_port, Security.SSL),
        open_pop3: mail_servers.pop3_server("ssl"),
    }
    for opener, server in servers.items():
        with pytest.raises(LoginRefused) as refused:
            opener(server, wrong, deadline=deadline(), ca_file=mail_servers.ca_file)
        assert not refused.value.uses_token
        assert refused.value.reply, opener.__name__  # the server's words, for the message
        assert "Wr0ng" not in str(refused.value)


def test_starttls_missing_raises_and_nothing_is_sent_in_clear(mail_servers):
    mark = mail_servers.recorder.mark()
    server = ServerSettings(mail_servers.host, mail_servers.smtp_no_starttls_port, Security.STARTTLS)

    with pytest.raises(StartTlsUnavailable):
        open_smtp(server, good(mail_servers), deadline=deadline(), ca_file=mail_servers.ca_file)

    assert mail_servers.recorder.commands("no-starttls", since=mark) == ["EHLO"]


def test_the_deadline_bounds_opening_a_session():
    with HostileServer("pop3-trickle-bytes") as server:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            open_pop3(ServerSettings(HOST, server.port, Security.NONE), Credential(USER, "secret-pw"),
                      deadline=Deadline(1.0, per_operation=1.0))
        elapsed = time.monotonic() - started

    assert 0.8 <= elapsed < 2.0


# --- OAuth: XOAUTH2 against a Dovecot that checks tokens ------------------------------------


@pytest.fixture(scope="module")
def oauth_dovecot(test_certificates):
    introspection = OAuthIntrospection()
    try:
        server = start_dovecot(test_certificates, oauth_url=introspection.url)
    except ServerUnavailable as exc:
        introspection.stop()
        pytest.skip(str(exc))
    yield server, introspection
    server.stop()  # removes its directory too
    introspection.stop()


@pytest.mark.parametrize("protocol", [Protocol.IMAP, Protocol.POP3])
def test_a_token_logs_in_with_xoauth2(oauth_dovecot, test_certificates, protocol):
    dovecot, introspection = oauth_dovecot
    opener, port = (open_imap, dovecot.imaps_port) if protocol is Protocol.IMAP else (open_pop3, dovecot.pop3s_port)
    if port is None:
        pytest.skip("dovecot-pop3d is not installed")
    server = ServerSettings(HOST, port, Security.SSL)

    session = opener(server, Credential(USER, oauth_token=GOOD_TOKEN), deadline=deadline(),
                     ca_file=test_certificates.ca_file)
    session.close()
    with pytest.raises(LoginRefused) as refused:
        opener(server, Credential(USER, oauth_token="stale-token"), deadline=deadline(),
               ca_file=test_certificates.ca_file)

    assert session.mechanism == "XOAUTH2"
    assert refused.value.uses_token
    assert USER in introspection.asked  # Dovecot really asked about the token


@pytest.mark.parametrize("protocol", [Protocol.IMAP, Protocol.POP3])
def test_an_outlook_provider_with_a_token_checks_green(mail_servers, oauth_dovecot, protocol):
    dovecot, _ = oauth_dovecot
    port = dovecot.imaps_port if protocol is Protocol.IMAP else dovecot.pop3s_port
    if port is None:
        pytest.skip("dovecot-pop3d is not installed")
    settings = replace(
        mail_servers.settings(type="outlook", password=""),
        inbound=InboundSettings(protocol, ServerSettings(HOST, port, Security.SSL)),
    )
    assert settings.sign_in is SignIn.MICROSOFT

    report = check_provider(settings, Credential(USER, oauth_token=GOOD_TOKEN), timeout=TIMEOUT,
                            ca_file=mail_servers.ca_file)

    assert report.ok, report.failure
    login = {step.name: step for step in report.inbound.steps}["login"]
    assert "XOAUTH2" in login.detail
    assert GOOD_TOKEN not in json.dumps(report.to_dict())


def test_a_kept_session_gets_its_allowance_again_with_restart(mail_servers):
    session = open_pop3(mail_servers.pop3_server("ssl"), good(mail_servers), deadline=Deadline(1.0, per_operation=1.0),
                        ca_file=mail_servers.ca_file)
    try:
        time.sleep(1.05)
        with pytest.raises(TimeoutError):  # the session's deadline has run out
            session.stat()
        session.deadline.restart()
        assert session.stat()[0] == INBOX_SEEN + INBOX_UNSEEN
    finally:
        session.quit()
