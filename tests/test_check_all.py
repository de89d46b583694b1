"""Checking every provider at once, at scale: shared TLS contexts, one read of the secret store,
reports saved in batches, and servers that limit connections per account (real Dovecot)."""

import imaplib
import ssl

import pytest

from tests.servers import HOST, PASSWORD, USER, ServerUnavailable, start_dovecot
from tests.test_service import make_service
from tui.core.domain import Status
from tui.core.mail import network
from tui.core.report import FailureKind
from tui.core.secret_file import EncryptedFileKeyring

PROVIDERS = 6


def counting(monkeypatch, owner, name: str) -> list:
    """Calls of owner.name (the real one still runs), one entry per call."""
    calls = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args[1:] if isinstance(owner, type) else args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_check_all_makes_one_tls_context_per_ca_setting_and_reads_the_secrets_once(
    tmp_path, mail_servers, monkeypatch
):
    backend = EncryptedFileKeyring(tmp_path / "secrets.enc", "a master key", "test")
    service = make_service(tmp_path, backend, MAILPROV_CA_FILE=str(mail_servers.ca_file),
                           MAILPROV_ACCOUNT_CONCURRENCY=str(PROVIDERS))
    for number in range(PROVIDERS):
        service.create(mail_servers.draft(name=f"Provider {number}"))
    monkeypatch.setattr(network, "_contexts", {})
    contexts = counting(monkeypatch, ssl, "create_default_context")
    reads = counting(monkeypatch, EncryptedFileKeyring, "_read")
    commits = []
    from sqlalchemy import event

    event.listen(service.store.engine, "commit", lambda connection: commits.append(1))

    reports = service.check_all()

    assert [r.ok for r in reports] == [True] * PROVIDERS, [r.failure for r in reports if not r.ok]
    assert len(contexts) == 1  # SMTP STARTTLS and IMAPS of six providers: one context
    assert len(reads) == 1  # every password from one read of the secrets file
    assert 1 <= len(commits) < PROVIDERS  # reports saved in batches, not one commit each
    assert {s.status for s in service.summaries()} == {Status.GREEN}

    service.check_all()
    assert len(contexts) == 1  # the same CA setting: the same context
    mail_servers.ca_file.touch()  # the CA file changed: read again, once
    service.check_all()
    assert len(contexts) == 2


@pytest.fixture(scope="module")
def strict_dovecot(test_certificates):
    """Dovecot allowing one IMAP (and one POP3) session per user and address, like a
    provider with a tight connection limit."""
    try:
        server = start_dovecot(test_certificates, max_userip_connections=1)
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


def test_a_connection_limit_is_its_own_transient_kind_not_a_wrong_password(
    tmp_path, mail_servers, strict_dovecot, test_certificates
):
    service = make_service(tmp_path, MAILPROV_CA_FILE=str(test_certificates.ca_file))
    service.create(mail_servers.draft(name="Desk", inbound_port=str(strict_dovecot.imaps_port)))
    context = ssl.create_default_context(cafile=str(test_certificates.ca_file))
    with imaplib.IMAP4_SSL(HOST, strict_dovecot.imaps_port, ssl_context=context) as held:
        held.login(USER, PASSWORD)  # the one session the server allows this account
        report = service.check("Desk")
    failure = report.failure
    assert failure.kind is FailureKind.LIMIT and failure.transient
    assert "Maximum number of connections" in failure.message and USER in failure.message
    assert "MAILPROV_CONCURRENCY" in failure.remedy and "Wait" in failure.remedy
    assert failure.fields == ()  # nothing in the settings to fix
    assert service.summaries()[0].failure_kind is FailureKind.LIMIT


def test_check_all_takes_turns_on_an_account_with_a_connection_limit(tmp_path, mail_servers, strict_dovecot,
                                                                     test_certificates):
    """Six providers on one mailbox of a server allowing one session at a time: with one
    connection per account at once, every check passes."""
    service = make_service(tmp_path, MAILPROV_CA_FILE=str(test_certificates.ca_file), MAILPROV_ACCOUNT_CONCURRENCY="1")
    for number in range(PROVIDERS):
        service.create(mail_servers.draft(name=f"Shared {number}", inbound_port=str(strict_dovecot.imaps_port)))
    reports = service.check_all()
    assert [r.failure for r in reports if not r.ok] == []
