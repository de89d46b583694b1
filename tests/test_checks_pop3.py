"""The POP3 inbound ladder against a real Dovecot POP3 server on 127.0.0.1 (POP3S and STLS).

Settings are built directly with InboundSettings(Protocol.POP3, ...) (servers.pop3_settings)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from tests.servers import INBOX_SEEN, INBOX_UNSEEN, OTHER_PASSWORD, OTHER_USER, UNICODE_PASSWORD, UNICODE_USER
from tui.core.checks import Credential, check_many, check_provider
from tui.core.checks.failures import no_login_offered, starttls_unavailable
from tui.core.checks.target import Target
from tui.core.domain import InboundSettings, ServerSettings, SignIn, Status
from tui.core.protocols import Protocol, Security
from tui.core.report import FailureKind

TIMEOUT = 5.0
INBOX_MESSAGES = INBOX_SEEN + INBOX_UNSEEN
WRONG_PASSWORD = "Wr0ng-Pa55word!"


def check(servers, settings, credential=None, **options):
    credential = credential or Credential(servers.user, servers.password)
    return check_provider(settings, credential, timeout=TIMEOUT, ca_file=servers.ca_file, **options)


def names(result) -> list[str]:
    return [step.name for step in result.steps]


@pytest.mark.parametrize(
    ("security", "expected_steps"),
    [
        ("ssl", ["resolve", "connect", "tls", "greeting", "capa", "login", "stat", "quit"]),
        ("starttls", ["resolve", "connect", "greeting", "capa", "starttls", "capa", "login", "stat", "quit"]),
    ],
)
def test_pop3_is_green_with_the_message_count_and_size(mail_servers, security, expected_steps):
    size = mail_servers.dovecot.inbox_size(mail_servers.user)

    report = check(mail_servers, mail_servers.pop3_settings(security))

    assert report.ok and report.status is Status.GREEN, report.failure
    inbound = report.inbound
    assert inbound.protocol == "pop3" and inbound.port == mail_servers.pop3_server(security).port
    assert names(inbound) == expected_steps
    steps = {step.name: step for step in inbound.steps}
    assert steps["stat"].detail == f"{INBOX_MESSAGES} messages, {size} bytes (nothing read or deleted)"
    assert inbound.summary == f"Mailbox: {INBOX_MESSAGES} messages, {size} bytes"
    assert steps["login"].detail.startswith(f"AUTH PLAIN as {mail_servers.user}: +OK")
    tls_step = "tls" if security == "ssl" else "starttls"
    assert steps[tls_step].detail.startswith("TLSv1.") and "certificate for 127.0.0.1" in steps[tls_step].detail
    assert "SASL PLAIN" in steps["capa"].detail
    assert inbound.encrypted and not inbound.starttls_offered


def test_a_message_dropped_into_the_mailbox_is_counted(mail_servers):
    settings = mail_servers.pop3_settings(account=OTHER_USER)
    credential = Credential(OTHER_USER, OTHER_PASSWORD)
    mail_servers.dovecot.deliver(OTHER_USER, 100)
    before = check(mail_servers, settings, credential).inbound.summary

    mail_servers.dovecot.deliver(OTHER_USER, 101)
    after = check(mail_servers, settings, credential).inbound.summary

    count_before = int(before.split()[1])
    assert after == f"Mailbox: {count_before + 1} messages, {mail_servers.dovecot.inbox_size(OTHER_USER)} bytes"


def test_checking_changes_nothing_in_the_mailbox(mail_servers):
    settings = mail_servers.pop3_settings()
    first = check(mail_servers, settings)
    second = check(mail_servers, settings)

    assert first.inbound.summary == second.inbound.summary
    imap = check(mail_servers, mail_servers.settings())  # no message was marked read either
    assert imap.inbound.summary == f"INBOX: {INBOX_MESSAGES} messages, {INBOX_UNSEEN} unseen"


def test_wrong_password_is_red_auth_blaming_the_password(mail_servers):
    report = check(mail_servers, mail_servers.pop3_settings(), Credential(mail_servers.user, WRONG_PASSWORD))

    failure = report.inbound.failure
    assert report.status is Status.RED
    assert failure.kind is FailureKind.AUTH and not failure.transient
    assert failure.fields[0] == "password" and "username" in failure.fields
    assert failure.message.startswith(f"The POP3 server rejected the password for {mail_servers.user}")
    assert "-ERR" in failure.message  # the server's own words are kept
    assert report.inbound.steps[-1].name == "login" and not report.inbound.steps[-1].ok
    assert "C: AUTH PLAIN <redacted>" in report.inbound.transcript
    dumped = json.dumps(report.to_dict())
    plain = base64.b64encode(f"\0{mail_servers.user}\0{WRONG_PASSWORD}".encode()).decode()
    assert WRONG_PASSWORD not in dumped and plain not in dumped


def test_non_ascii_password_logs_in_with_auth_plain(mail_servers):
    settings = mail_servers.pop3_settings(account=UNICODE_USER)

    report = check(mail_servers, settings, Credential(UNICODE_USER, UNICODE_PASSWORD))

    assert report.ok, report.failure
    assert report.inbound.summary == "Mailbox: 0 messages, 0 bytes"
    assert UNICODE_PASSWORD not in json.dumps(report.to_dict(), ensure_ascii=False)


def test_security_none_works_and_says_the_server_offers_stls(mail_servers):
    settings = replace(
        mail_servers.pop3_settings(),
        inbound=InboundSettings(Protocol.POP3, ServerSettings(mail_servers.host, mail_servers.pop3_starttls_port, Security.NONE)),
    )

    report = check(mail_servers, settings)

    assert report.ok, report.failure
    assert not report.inbound.encrypted and not report.encrypted
    assert report.inbound.starttls_offered
    assert "starttls" not in names(report.inbound)
    assert "offers STLS" in {s.name: s for s in report.inbound.steps}["capa"].detail


def test_untrusted_certificate_stops_before_any_login(mail_servers, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    settings = replace(mail_servers.pop3_settings(), outbound=ServerSettings(
        mail_servers.host, mail_servers.smtp_plain_port, Security.NONE))

    report = check_provider(settings, Credential(mail_servers.user, mail_servers.password), timeout=TIMEOUT)

    failure = report.inbound.failure
    assert failure.kind is FailureKind.CERTIFICATE
    assert failure.fields == ("inbound_host",)
    assert "POP3 server 127.0.0.1" in failure.message
    assert names(report.inbound) == ["resolve", "connect", "tls"]


def test_ssl_on_the_stls_port_is_a_tls_failure(mail_servers):
    settings = replace(mail_servers.pop3_settings(), inbound=InboundSettings(
        Protocol.POP3, ServerSettings(mail_servers.host, mail_servers.pop3_starttls_port, Security.SSL)))

    report = check(mail_servers, settings)

    assert report.inbound.failure.kind is FailureKind.TLS
    assert report.inbound.failure.fields == ("inbound_security", "inbound_port")


def test_nothing_listening_names_the_usual_pop3_ports(mail_servers, closed_port):
    settings = replace(mail_servers.pop3_settings(), inbound=InboundSettings(
        Protocol.POP3, ServerSettings(mail_servers.host, closed_port, Security.SSL)))

    report = check(mail_servers, settings)

    failure = report.inbound.failure
    assert failure.kind is FailureKind.REFUSED and not failure.transient  # not a usual port
    assert failure.fields == ("inbound_host", "inbound_port")
    assert "Nothing accepts POP3 connections" in failure.message
    assert "usually 995 for SSL, 110 for TLS" in failure.remedy


def test_on_step_hears_the_pop3_steps_in_order(mail_servers):
    seen: list[tuple[str, str]] = []

    report = check(mail_servers, mail_servers.pop3_settings(), on_step=lambda p, step: seen.append((p, step.name)))

    assert seen == [(r.protocol, s.name) for r in report.results for s in r.steps]
    assert seen[-3:] == [("pop3", "login"), ("pop3", "stat"), ("pop3", "quit")]


def test_check_many_mixes_imap_and_pop3_providers(mail_servers):
    jobs = []
    for number in range(6):
        settings = mail_servers.pop3_settings() if number % 2 else mail_servers.settings()
        password = WRONG_PASSWORD if number == 3 else mail_servers.password
        jobs.append((replace(settings, name=f"P{number}"), Credential(mail_servers.user, password)))

    reports = check_many(jobs, timeout=TIMEOUT, ca_file=mail_servers.ca_file, max_workers=6)

    assert [r.inbound.protocol for r in reports] == ["imap", "pop3"] * 3
    assert [r.ok for r in reports] == [True, True, True, False, True, True]
    assert reports[3].inbound.failure.kind is FailureKind.AUTH


# --- every protocol has its facts: no "pop3" KeyError anywhere --------------------------


@pytest.mark.parametrize("protocol", list(Protocol))
def test_failure_texts_exist_for_every_protocol(protocol):
    spec = protocol.spec
    server = ServerSettings("mail.example.com", spec.ssl_port, Security.STARTTLS)
    target = Target(protocol, server, "a@example.com", "a@example.com", SignIn.PASSWORD, 5)

    refused = starttls_unavailable(target)
    no_login = no_login_offered(target)

    assert f"{spec.label} server mail.example.com" in refused.message
    assert str(spec.ssl_port) in refused.remedy
    assert spec.usual_ports in no_login.remedy
    prefix = "inbound" if spec.inbound else "smtp"
    assert refused.fields == (f"{prefix}_security",)
    assert no_login.fields == (f"{prefix}_security", f"{prefix}_port")
