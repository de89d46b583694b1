"""The activation check against real servers: Dovecot and aiosmtpd on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from types import SimpleNamespace

import pytest

from tests.servers import (
    GOOD_TOKEN,
    INBOX_SEEN,
    INBOX_UNSEEN,
    UNICODE_PASSWORD,
    UNICODE_USER,
    SmtpRecorder,
    free_port,
    smtp_controller,
)
from tui.core.checks import Credential, check_many, check_provider
from tui.core.checks.failures import classify
from tui.core.checks.target import Target
from tui.core.domain import ServerSettings, SignIn, Status
from tui.core.hosts import ascii_host
from tui.core.protocols import Protocol, Security
from tui.core.report import FailureKind

TIMEOUT = 5.0
INBOX_SUMMARY = f"INBOX: {INBOX_SEEN + INBOX_UNSEEN} messages, {INBOX_UNSEEN} unseen"
WRONG_PASSWORD = "Wr0ng-Pa55word!"


def good(servers) -> Credential:
    return Credential(servers.user, servers.password)


def run(servers, credential=None, **overrides):
    settings = servers.settings(**overrides)
    credential = credential if credential is not None else good(servers)
    return check_provider(settings, credential, timeout=TIMEOUT, ca_file=servers.ca_file)


def names(result) -> list[str]:
    return [step.name for step in result.steps]


# --- green -------------------------------------------------------------------------------


def test_good_password_is_green_and_nothing_is_sent(mail_servers):
    delivered_before = len(mail_servers.recorder.messages)
    mark = mail_servers.recorder.mark()

    report = run(mail_servers)

    assert report.ok and report.status is Status.GREEN
    assert report.failure is None
    assert all(step.ok for result in report.results for step in result.steps)
    assert names(report.outbound) == [
        "resolve", "connect", "greeting", "ehlo", "starttls", "ehlo",
        "auth", "mail-from", "rcpt-to", "rset", "quit",
    ]
    assert names(report.inbound) == [
        "resolve", "connect", "tls", "greeting", "capability", "login", "examine", "logout",
    ]
    assert report.inbound.summary == INBOX_SUMMARY
    assert "nothing sent" in report.outbound.summary
    assert len(mail_servers.recorder.messages) == delivered_before  # dry run: no DATA
    received = mail_servers.recorder.commands("starttls", since=mark)
    assert received == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "RSET", "QUIT"]


def test_step_details_show_tls_certificate_and_capabilities(mail_servers):
    report = run(mail_servers)

    steps = {step.name: step for step in report.outbound.steps}
    assert steps["starttls"].detail.startswith("TLSv1.")
    assert "certificate for 127.0.0.1" in steps["starttls"].detail
    assert "issued by" in steps["starttls"].detail and "expires in" in steps["starttls"].detail
    assert "AUTH: LOGIN PLAIN" in report.outbound.steps[5].detail  # the EHLO after STARTTLS
    assert "AUTH: none" in report.outbound.steps[3].detail  # before it: no login offered
    assert "IMAP4REV1" in {s.name: s for s in report.inbound.steps}["capability"].detail
    assert all(step.duration_ms >= 0 for step in report.outbound.steps)


@pytest.mark.parametrize(
    ("security", "port_attr", "tls_step"),
    [
        ("starttls", "smtp_starttls_port", "starttls"),
        ("ssl", "smtp_ssl_port", "tls"),
        ("none", "smtp_plain_port", None),
    ],
)
def test_smtp_each_security(mail_servers, security, port_attr, tls_step):
    port = getattr(mail_servers, port_attr)
    report = run(mail_servers, smtp_security=security, smtp_port=str(port), receive_emails=False)

    assert report.outbound.ok, report.outbound.failure
    assert report.outbound.port == port
    step_names = names(report.outbound)
    assert "auth" in step_names and "rset" in step_names
    for name in ("tls", "starttls"):
        assert (name in step_names) == (name == tls_step)


@pytest.mark.parametrize(
    ("security", "port_attr", "tls_step"),
    [("ssl", "imap_ssl_port", "tls"), ("starttls", "imap_starttls_port", "starttls")],
)
def test_imap_each_security(mail_servers, security, port_attr, tls_step):
    report = run(mail_servers, inbound_security=security, inbound_port=str(getattr(mail_servers, port_attr)))

    assert report.inbound.ok, report.inbound.failure
    assert tls_step in names(report.inbound)
    assert report.inbound.summary == INBOX_SUMMARY


def test_non_ascii_password_works_on_both_protocols(mail_servers):
    credential = Credential(UNICODE_USER, UNICODE_PASSWORD)
    report = run(mail_servers, credential=credential, account=UNICODE_USER)

    assert report.ok, report.failure
    assert report.inbound.summary == "INBOX: 0 messages, 0 unseen"
    assert UNICODE_PASSWORD not in json.dumps(report.to_dict(), ensure_ascii=False)


def test_receive_off_gives_no_inbound_result(mail_servers):
    report = run(mail_servers, receive_emails=False)

    assert report.inbound is None
    assert report.results == [report.outbound]
    assert report.ok


def test_trust_through_ssl_cert_file(mail_servers, monkeypatch):
    # No ca_file: OpenSSL's defaults read SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(mail_servers.ca_file))
    report = check_provider(mail_servers.settings(), good(mail_servers), timeout=TIMEOUT)

    assert report.ok, report.failure


# --- red: the failure kinds ------------------------------------------------------------


def test_wrong_password_is_red_with_auth_failure_naming_the_account(mail_servers):
    report = run(mail_servers, credential=Credential(mail_servers.user, WRONG_PASSWORD))

    assert report.status is Status.RED
    for result in report.results:
        assert result.failure.kind is FailureKind.AUTH
        assert result.failure.fields[0] == "password"
        assert "username" in result.failure.fields
        assert mail_servers.user in result.failure.message
        assert not result.failure.transient
        assert result.steps[-1].name in ("auth", "login") and not result.steps[-1].ok
        assert all(step.ok for step in result.steps[:-1])
    assert "535" in report.outbound.failure.message  # the server's own words are kept


def test_nothing_listening_is_refused(mail_servers, closed_port):
    report = run(mail_servers, smtp_port=str(closed_port), receive_emails=False)

    failure = report.failure
    assert failure.kind is FailureKind.REFUSED
    assert not failure.transient  # a port no mail service uses will not start accepting by itself
    assert failure.fields == ("smtp_host", "smtp_port")
    assert str(closed_port) in failure.message
    assert names(report.outbound) == ["resolve", "connect"]


def test_ipv6_literal_host_without_brackets(mail_servers):
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
            port = sock.getsockname()[1]
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    report = run(mail_servers, smtp_host="::1", smtp_port=str(port), receive_emails=False)

    assert report.outbound.host == "::1"
    assert report.outbound.steps[0].detail == "[::1]"
    assert report.failure.kind is FailureKind.REFUSED


@pytest.mark.parametrize(
    ("overrides", "failed_step"),
    [
        ({"smtp_security": "starttls"}, "greeting"),
        ({"smtp_security": "ssl"}, "tls"),
    ],
)
def test_silent_smtp_server_times_out_within_the_bound(mail_servers, silent_port, overrides, failed_step):
    settings = mail_servers.settings(smtp_port=str(silent_port), receive_emails=False, **overrides)

    started = time.monotonic()
    report = check_provider(settings, good(mail_servers), timeout=1, ca_file=mail_servers.ca_file)
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    assert report.failure.kind is FailureKind.TIMEOUT
    assert report.failure.transient
    assert report.failure.fields == ("smtp_host", "smtp_port")
    assert report.outbound.steps[-1].name == failed_step


def test_silent_imap_server_times_out_within_the_bound(mail_servers, silent_port):
    settings = mail_servers.settings(inbound_port=str(silent_port))

    started = time.monotonic()
    report = check_provider(settings, good(mail_servers), timeout=1, ca_file=mail_servers.ca_file)

    assert time.monotonic() - started < 2.5
    assert report.outbound.ok
    assert report.inbound.failure.kind is FailureKind.TIMEOUT
    assert report.inbound.failure.fields == ("inbound_host", "inbound_port")


def test_plain_connection_to_an_ssl_port_hints_at_ssl(mail_servers):
    settings = mail_servers.settings(
        smtp_security="starttls", smtp_port=str(mail_servers.smtp_ssl_port), receive_emails=False
    )
    report = check_provider(settings, good(mail_servers), timeout=0.5, ca_file=mail_servers.ca_file)

    # Silent at the greeting, and answering a TLS ClientHello: the security is to blame.
    assert report.failure.kind is FailureKind.TLS
    assert "Pick SSL" in report.failure.remedy and report.failure.fields == ("smtp_security",)


def test_ssl_to_a_plain_port_is_a_tls_failure(mail_servers):
    report = run(
        mail_servers, smtp_security="ssl", smtp_port=str(mail_servers.smtp_plain_port), receive_emails=False
    )

    assert report.failure.kind is FailureKind.TLS
    assert report.failure.remedy == "This port does not speak SSL: pick TLS (STARTTLS) or the SSL port."
    assert report.failure.fields[0] == "smtp_security"


@pytest.mark.parametrize("protocol", ["smtp", "imap"])
def test_untrusted_certificate(mail_servers, monkeypatch, protocol):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    settings = mail_servers.settings(receive_emails=protocol == "imap")
    if protocol == "imap":  # get past SMTP without TLS, so the IMAP certificate is what fails
        settings = mail_servers.settings(smtp_security="none", smtp_port=str(mail_servers.smtp_plain_port))

    report = check_provider(settings, good(mail_servers), timeout=TIMEOUT, ca_file=None)

    result = report.outbound if protocol == "smtp" else report.inbound
    failure = result.failure
    assert failure.kind is FailureKind.CERTIFICATE
    assert failure.fields == (("smtp_host",) if protocol == "smtp" else ("inbound_host",))
    assert "does not trust" in failure.message and "127.0.0.1" in failure.message
    assert "MAILPROV_CA_FILE" in failure.remedy
    assert "verif" not in failure.remedy.lower()  # never suggests switching verification off
    assert not any(step.name in ("auth", "login") for step in result.steps)


def test_unreadable_ca_file_is_explained(mail_servers, tmp_path):
    missing = tmp_path / "no-such-ca.pem"
    report = check_provider(
        mail_servers.settings(receive_emails=False), good(mail_servers), timeout=TIMEOUT, ca_file=missing
    )

    assert report.failure.kind is FailureKind.CERTIFICATE
    assert str(missing) in report.failure.message
    assert report.outbound.steps[-1].name == "starttls"


def test_starttls_missing_is_an_error_and_no_login_is_sent(mail_servers):
    recorder = mail_servers.recorder
    mark = recorder.mark()
    report = run(
        mail_servers,
        smtp_security="starttls",
        smtp_port=str(mail_servers.smtp_no_starttls_port),
        receive_emails=False,
    )

    assert report.failure.kind is FailureKind.STARTTLS_UNAVAILABLE
    assert report.failure.fields == ("smtp_security",)
    received = recorder.commands("no-starttls", since=mark)
    assert "EHLO" in received
    assert "AUTH" not in received and "MAIL" not in received
    assert not any(line.startswith("C: AUTH") for line in report.outbound.transcript)


def test_no_login_offered_without_tls_points_to_tls(mail_servers):
    # The submission listener offers AUTH only after STARTTLS.
    report = run(
        mail_servers, smtp_security="none", smtp_port=str(mail_servers.smtp_starttls_port), receive_emails=False
    )

    assert report.failure.kind is FailureKind.MECHANISM
    assert "TLS" in report.failure.remedy
    assert report.failure.fields[0] == "smtp_security"


def test_unknown_host_is_dns(mail_servers):
    report = run(mail_servers, smtp_host="no-such-host.invalid", receive_emails=False)

    assert report.failure.kind is FailureKind.DNS
    assert report.failure.fields == ("smtp_host",)
    assert "no-such-host.invalid" in report.failure.message
    assert names(report.outbound) == ["resolve"]


def test_idna_host_is_encoded_before_lookup(mail_servers):
    report = run(mail_servers, smtp_host="bücher.invalid", receive_emails=False)

    assert ascii_host("bücher.invalid") == "xn--bcher-kva.invalid"
    assert report.failure.kind is FailureKind.DNS
    assert "bücher.invalid" in report.failure.message


# --- OAuth ---------------------------------------------------------------------------------


def outlook_settings(servers, **overrides):
    return servers.settings(type="outlook", password="", **overrides)


def test_not_signed_in_fails_at_auth_honestly(mail_servers):
    report = check_provider(
        outlook_settings(mail_servers, receive_emails=False), None, timeout=TIMEOUT, ca_file=mail_servers.ca_file
    )

    failure = report.failure
    assert report.status is Status.RED
    assert failure.kind is FailureKind.AUTH
    assert failure.message.startswith("Not signed in: this provider logs in with a Microsoft account")
    assert "mailprov login" in failure.remedy
    assert report.outbound.steps[-1].name == "auth"
    assert all(step.ok for step in report.outbound.steps[:-1])
    assert "AUTH" not in [line[3:7] for line in report.outbound.transcript]


def test_xoauth2_token_on_smtp(mail_servers):
    settings = outlook_settings(mail_servers, receive_emails=False)

    accepted = check_provider(
        settings, Credential(mail_servers.user, oauth_token=GOOD_TOKEN), timeout=TIMEOUT, ca_file=mail_servers.ca_file
    )
    refused = check_provider(
        settings, Credential(mail_servers.user, oauth_token="stale-token"), timeout=TIMEOUT, ca_file=mail_servers.ca_file
    )

    assert accepted.ok, accepted.failure
    assert {s.name: s for s in accepted.outbound.steps}["auth"].detail.startswith("XOAUTH2")
    assert refused.failure.kind is FailureKind.AUTH
    assert "token" in refused.failure.message
    for report in (accepted, refused):
        assert GOOD_TOKEN not in json.dumps(report.to_dict())
        assert "stale-token" not in json.dumps(report.to_dict())


def test_xoauth2_on_an_imap_server_without_it_is_a_mechanism_failure(mail_servers):
    report = check_provider(
        outlook_settings(mail_servers),
        Credential(mail_servers.user, oauth_token=GOOD_TOKEN),
        timeout=TIMEOUT,
        ca_file=mail_servers.ca_file,
    )

    assert report.outbound.ok
    assert report.inbound.failure.kind is FailureKind.MECHANISM
    assert "XOAUTH2" in report.inbound.failure.message


# --- transcript, callbacks ----------------------------------------------------------------


def secret_forms(username: str, password: str) -> list[str]:
    """The password as typed and as it travels in PLAIN and LOGIN."""
    plain = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
    return [password, plain, base64.b64encode(password.encode()).decode()]


def test_transcript_is_kept_with_credentials_redacted(mail_servers):
    credential = Credential(mail_servers.user, WRONG_PASSWORD)
    report = run(mail_servers, credential=credential)

    smtp_lines, imap_lines = report.outbound.transcript, report.inbound.transcript
    assert smtp_lines[0].startswith("S: 220")
    assert any(line.startswith("C: ehlo") or line.startswith("C: EHLO") for line in smtp_lines)
    assert "C: AUTH PLAIN <redacted>" in smtp_lines
    assert any(line.endswith(f"LOGIN {mail_servers.user} <redacted>") for line in imap_lines)
    dumped = json.dumps(report.to_dict())
    for form in secret_forms(credential.username, WRONG_PASSWORD):
        assert form not in dumped


def test_good_login_leaves_no_password_in_the_report(mail_servers):
    password = "Corr3ct-Horse-Battery"
    users = {mail_servers.user: password}
    recorder = SmtpRecorder(users)
    controller = smtp_controller(recorder, "login-only", free_port(), auth_require_tls=False,
                                 auth_exclude_mechanism=["PLAIN"])
    controller.start()
    try:
        report = run(
            mail_servers,
            credential=Credential(mail_servers.user, password),
            smtp_security="none",
            smtp_port=str(controller.port),
            receive_emails=False,
        )
    finally:
        controller.stop()

    assert report.ok, report.failure
    assert "C: AUTH LOGIN <redacted>" in report.outbound.transcript
    assert "C: <redacted>" in report.outbound.transcript  # the continuation line
    dumped = json.dumps(report.to_dict())
    for form in secret_forms(mail_servers.user, password):
        assert form not in dumped


def test_on_step_is_called_for_each_step_in_order(mail_servers):
    seen: list[tuple[str, str, bool]] = []

    report = check_provider(
        mail_servers.settings(),
        good(mail_servers),
        timeout=TIMEOUT,
        ca_file=mail_servers.ca_file,
        on_step=lambda protocol, step: seen.append((protocol, step.name, step.ok)),
    )

    expected = [(r.protocol, s.name, s.ok) for r in report.results for s in r.steps]
    assert seen == expected
    assert seen[0] == ("smtp", "resolve", True) and seen[-1] == ("imap", "logout", True)


def test_a_failing_on_step_callback_does_not_fail_the_check(mail_servers):
    def broken(protocol, step):
        raise RuntimeError("display went away")

    report = check_provider(
        mail_servers.settings(receive_emails=False), good(mail_servers), timeout=TIMEOUT,
        ca_file=mail_servers.ca_file, on_step=broken,
    )

    assert report.ok


def test_credential_repr_hides_secrets():
    text = repr(Credential("alice@example.test", "pa55word", oauth_token="tok3n"))

    assert "alice@example.test" in text
    assert "pa55word" not in text and "tok3n" not in text


# --- check_many --------------------------------------------------------------------------


def test_check_many_keeps_order_and_isolates_failures(mail_servers):
    jobs = []
    for number in range(10):
        settings = mail_servers.settings(name=f"Provider {number}", receive_emails=number % 2 == 0)
        password = WRONG_PASSWORD if number == 3 else mail_servers.password
        jobs.append((settings, Credential(mail_servers.user, password)))
    # A provider whose settings make the check itself blow up.
    jobs.insert(6, (SimpleNamespace(name="Broken", outbound=ServerSettings("x", 1, Security.NONE)), None))
    finished: list[str] = []

    reports = check_many(
        jobs, timeout=TIMEOUT, ca_file=mail_servers.ca_file, max_workers=4,
        on_report=lambda report: finished.append(report.provider),
    )

    assert [r.provider for r in reports] == [settings.name for settings, _ in jobs]
    assert sorted(finished) == sorted(r.provider for r in reports)
    red = {r.provider for r in reports if not r.ok}
    assert red == {"Provider 3", "Broken"}
    assert reports[3].failure.kind is FailureKind.AUTH
    assert reports[6].failure.kind is FailureKind.PROTOCOL
    assert all(r.inbound.summary == INBOX_SUMMARY for r in reports if r.inbound and r.ok)


def test_check_many_runs_concurrently(mail_servers, silent_port):
    # Five hung servers with a 1 s timeout: together about 1 s, not 5.
    settings = mail_servers.settings(smtp_port=str(silent_port), receive_emails=False)
    jobs = [(settings, good(mail_servers))] * 5

    started = time.monotonic()
    reports = check_many(jobs, timeout=1, ca_file=mail_servers.ca_file, max_workers=5, per_account=5)

    assert time.monotonic() - started < 2.9  # at most 2 at once would take 3 rounds: 3 s
    assert all(r.failure.kind is FailureKind.TIMEOUT for r in reports)


def test_check_many_limits_connections_per_server_account(mail_servers, silent_port):
    # The same five hung checks, all one account on one server, at most 2 at once: 3 rounds,
    # each at least one 0.5 s timeout long (at once, they would all end after one).
    settings = mail_servers.settings(smtp_port=str(silent_port), receive_emails=False)
    jobs = [(settings, good(mail_servers))] * 5

    started = time.monotonic()
    reports = check_many(jobs, timeout=0.5, ca_file=mail_servers.ca_file, max_workers=5, per_account=2)

    assert time.monotonic() - started >= 3 * 0.5 - 0.05
    assert all(r.failure.kind is FailureKind.TIMEOUT for r in reports)


def test_check_many_with_no_jobs():
    assert check_many([], timeout=1) == []


# --- certificate explanations (OpenSSL's verify codes we cannot easily stage) ---------------


def certificate_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    error.verify_code, error.verify_message = code, message
    return error


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (10, "certificate has expired", "has expired"),
        (18, "self-signed certificate", "self-signed"),
        (62, "Hostname mismatch, certificate is not valid for 'mail.example.com'.", "another name"),
        (20, "unable to get local issuer certificate", "does not trust"),
    ],
)
def test_certificate_failures_in_plain_words(code, message, expected):
    server = ServerSettings("mail.example.com", 993, Security.SSL)
    target = Target(Protocol.IMAP, server, "a@example.com", "a@example.com", SignIn.PASSWORD, 5)

    failure = classify(certificate_error(code, message), target, "tls")

    assert failure.kind is FailureKind.CERTIFICATE
    assert expected in failure.message and "mail.example.com" in failure.message
    assert failure.fields == ("inbound_host",)
    assert "verif" not in failure.remedy.lower()


@pytest.mark.parametrize(("port", "transient"), [(587, True), (25, True), (4587, False)])
def test_refused_is_transient_only_on_the_usual_ports(port, transient):
    server = ServerSettings("mail.example.com", port, Security.STARTTLS)
    target = Target(Protocol.SMTP, server, "a@example.com", "a@example.com", SignIn.PASSWORD, 5)
    failure = classify(ConnectionRefusedError(111, "Connection refused"), target, "connect")
    assert failure.kind is FailureKind.REFUSED and failure.transient is transient


@pytest.mark.parametrize(("host", "typed"), [("imap.gmail.com", False), ("OUTLOOK.office365.com", False),
                                             ("imap.gmial.com", True)])
def test_a_dns_failure_on_a_preset_host_blames_the_dns_not_the_spelling(host, typed):
    import socket

    server = ServerSettings(host, 993, Security.SSL)
    target = Target(Protocol.IMAP, server, "a@example.com", "a@example.com", SignIn.GOOGLE, 5)
    failure = classify(socket.gaierror(socket.EAI_NONAME, "Name or service not known"), target, "resolve")
    assert failure.kind is FailureKind.DNS
    assert ("spelling" in failure.remedy) is typed
    assert ("cannot resolve" in failure.remedy) is not typed


def test_messages_use_the_article_each_protocol_is_said_with():
    from tui.core.checks.failures import with_article

    assert [with_article(label) for label in ("SMTP", "IMAP", "POP3")] == ["an SMTP", "an IMAP", "a POP3"]
