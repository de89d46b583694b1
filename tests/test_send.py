"""Sending through a provider (tui/core/mail/compose.py, tui/core/send.py) against aiosmtpd on
127.0.0.1: the message the server receives, its headers, the queue id reported, and header
injection refused through every field."""

from __future__ import annotations

import email
import email.policy
import json
import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from tests.servers import GOOD_TOKEN, SmtpRecorder, free_port, smtp_controller
from tests.test_cli import Cli, add_real
from tui.core.domain import ServerSettings
from tui.core.mail.compose import UnsafeMessage, compose, compose_test_message, new_message_id
from tui.core.mail.credential import Credential
from tui.core.protocols import Security
from tui.core.report import FailureKind
from tui.core.send import queue_id_of, send_message

TIMEOUT = 5.0


def good(servers) -> Credential:
    return Credential(servers.user, servers.password)


def settings_of(servers, **overrides):
    defaults = {"receive_emails": False, "from_name": "Support Desk", "reply_to": "help@example.com; desk@example.org"}
    return servers.settings(**{**defaults, **overrides})


def received(servers, queue_id: str) -> dict:
    """The message the server queued under `queue_id`, its bytes parsed."""
    [found] = [m for m in servers.recorder.messages if m["queue_id"] == queue_id]
    return {**found, "message": email.message_from_bytes(found["data"], policy=email.policy.default)}


def send(servers, message, settings=None, credential=None):
    settings = settings or settings_of(servers)
    return send_message(settings, credential or good(servers), message, timeout=TIMEOUT, ca_file=servers.ca_file)


# --- a message that arrives ------------------------------------------------------------


def test_a_message_arrives_with_its_headers_and_the_queue_id_is_reported(mail_servers):
    settings = settings_of(mail_servers, from_name="Støtte «Desk», \"Team\"")
    message = compose(settings, to=["bob@example.net"], cc=["carol@example.net"], subject="Ça va? [b]x[/b]",
                      body="Hello,\n.a line starting with a dot\n\nBye\n")
    result = send(mail_servers, message, settings)

    assert result.sent and result.failure is None
    assert result.queue_id and re.fullmatch(r"Q[0-9A-F]{10}", result.queue_id)
    assert result.reply == f"250 2.0.0 Ok: queued as {result.queue_id}"
    assert result.message_id == message.message_id
    got = received(mail_servers, result.queue_id)
    headers = got["message"]
    assert got["from"] == mail_servers.user
    assert got["to"] == ["bob@example.net", "carol@example.net"]
    assert got["logged_in"] is True
    assert headers["From"].addresses[0].display_name == "Støtte «Desk», \"Team\""
    assert headers["From"].addresses[0].addr_spec == mail_servers.user
    assert [a.addr_spec for a in headers["Reply-To"].addresses] == ["help@example.com", "desk@example.org"]
    assert [a.addr_spec for a in headers["To"].addresses] == ["bob@example.net"]
    assert [a.addr_spec for a in headers["Cc"].addresses] == ["carol@example.net"]
    assert headers["Subject"] == "Ça va? [b]x[/b]"
    assert headers["Message-ID"] == message.message_id
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.test>", message.message_id)
    assert headers["Date"].datetime.tzinfo is not None
    # Dot-stuffed on the wire, undone by the server: the body arrives as written.
    assert headers.get_content().replace("\r\n", "\n") == "Hello,\n.a line starting with a dot\n\nBye\n"
    assert "In-Reply-To" not in headers and "References" not in headers
    assert [step.name for step in result.result.steps][-5:] == ["mail-from", "rcpt-to", "rcpt-to", "data", "quit"]
    assert f"queued it as {result.queue_id}" in result.summary


def test_the_transcript_has_the_headers_not_the_body_nor_the_password(mail_servers):
    message = compose(settings_of(mail_servers), to=["bob@example.net"], subject="Private",
                      body="the body stays out of the transcript\n")
    result = send(mail_servers, message)

    transcript = "\n".join(result.result.transcript)
    assert result.sent
    assert "C: AUTH PLAIN <redacted>" in transcript
    assert mail_servers.password not in transcript
    assert f"C: Message-ID: {message.message_id}" in transcript
    assert "C: <body: 1 lines," in transcript
    assert "stays out" not in transcript
    assert f"S: 250 2.0.0 Ok: queued as {result.queue_id}" in transcript


def test_a_reply_carries_in_reply_to_and_references_when_active_reference_is_on(mail_servers):
    settings = settings_of(mail_servers, active_reference=True)
    message = compose(settings, to=["bob@example.net"], subject="Re: hi", body="ok\n",
                      in_reply_to="<parent@example.net>", references=["<root@example.net>"])
    result = send(mail_servers, message, settings)

    headers = received(mail_servers, result.queue_id)["message"]
    assert headers["In-Reply-To"] == "<parent@example.net>"
    assert headers["References"] == "<root@example.net> <parent@example.net>"

    off = compose(settings_of(mail_servers, active_reference=False), to=["bob@example.net"], subject="Re: hi",
                  body="ok\n", in_reply_to="<parent@example.net>", references=["<root@example.net>"])
    assert b"In-Reply-To" not in off.data and b"References" not in off.data


def test_the_test_message_is_short_and_says_where_it_came_from(mail_servers):
    settings = settings_of(mail_servers)
    message = compose_test_message(settings, "bob@example.net", date=datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc))
    result = send(mail_servers, message, settings)

    headers = received(mail_servers, result.queue_id)["message"]
    assert headers["Subject"] == "mailprov test message"
    assert "Test mailbox" in headers.get_content() and "2026-11-27 10:00:00 UTC" in headers.get_content()
    assert len(message.data) < 2000


def test_xoauth2_credential_sends_too(mail_servers):
    token = Credential(mail_servers.user, oauth_token=GOOD_TOKEN)
    message = compose(settings_of(mail_servers), to=["bob@example.net"], subject="t", body="t\n")
    result = send(mail_servers, message, credential=token)
    assert result.sent, result.failure
    assert "C: AUTH XOAUTH2 <redacted>" in result.result.transcript
    assert GOOD_TOKEN not in "\n".join(result.result.transcript)


# --- failures come back on the result ----------------------------------------------------


def test_a_wrong_password_sends_nothing_and_says_why(mail_servers):
    before = len(mail_servers.recorder.messages)
    message = compose(settings_of(mail_servers), to=["bob@example.net"], subject="t", body="t\n")
    result = send(mail_servers, message, credential=Credential(mail_servers.user, "Wr0ng-Pa55word!"))

    assert not result.sent and result.queue_id is None
    assert result.failure.kind is FailureKind.AUTH
    assert "password" in result.failure.fields
    assert len(mail_servers.recorder.messages) == before


def test_a_refused_data_is_a_failure_naming_the_reply(test_certificates):
    class Refusing(SmtpRecorder):
        async def handle_DATA(self, server, session, envelope):
            return "554 5.7.1 rejected: spam"

    controller = smtp_controller(Refusing({"u@example.test": "pw"}), "refusing", free_port(),
                                 auth_required=False, auth_require_tls=False)
    controller.start()
    try:
        settings = _plain_settings(controller.port)
        message = compose(settings, to=["bob@example.net"], subject="t", body="t\n")
        result = send_message(settings, Credential("u@example.test", "pw"), message, timeout=TIMEOUT)
    finally:
        controller.stop()
    assert not result.sent
    assert result.failure.kind is FailureKind.PROTOCOL
    assert "554 5.7.1 rejected: spam" in result.failure.message
    assert result.result.steps[-1].name == "data" and not result.result.steps[-1].ok


def test_queue_ids_are_read_from_the_usual_wordings():
    assert queue_id_of("250 2.0.0 Ok: queued as 4XyZ12AbC") == "4XyZ12AbC"
    assert queue_id_of("250 OK id=1rAbCd-0001xY-2Q") == "1rAbCd-0001xY-2Q"
    assert queue_id_of("250 2.0.0 4ABCD123 Message accepted for delivery") == "4ABCD123"
    assert queue_id_of("250 OK") is None
    assert queue_id_of("250 Message received") is None


# --- header injection --------------------------------------------------------------------


INJECTIONS = ["x\r\nBcc: victim@example.org", "x\nBcc: victim@example.org", "x\rBcc: v@example.org", "x\0y"]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_header_injection_through_any_field_is_refused(mail_servers, evil):
    settings = settings_of(mail_servers)
    base = {"to": ["bob@example.net"], "subject": "s", "body": "b\n"}
    attempts = {
        "subject": {"subject": evil},
        "to": {"to": [f"bob@example.net{evil}"]},
        "cc": {"cc": [f"{evil}@example.net"]},
        "in_reply_to": {"in_reply_to": f"<a@b>{evil}"},
        "references": {"references": [f"<a@b>{evil}"]},
    }
    for field, change in attempts.items():
        with pytest.raises(UnsafeMessage) as caught:
            compose(settings, **{**base, **change})
        assert caught.value.field == field
    # A From Name that got past the rules (an old row, a direct call) is refused too.
    with pytest.raises(UnsafeMessage) as caught:
        compose(replace(settings, from_name=f"Desk{evil}"), **base)
    assert caught.value.field == "from_name"


def test_references_given_as_one_string_cannot_inject_either(mail_servers):
    with pytest.raises(UnsafeMessage) as caught:
        compose(settings_of(mail_servers), to=["b@example.net"], subject="s", body="b",
                references="<a@b>\r\nBcc: v@example.org")
    assert caught.value.field == "references"


def test_addresses_and_message_ids_are_validated(mail_servers):
    settings = settings_of(mail_servers)
    with pytest.raises(UnsafeMessage, match="to: .*not a valid address"):
        compose(settings, to=["bob@example.net>, evil@example.org"], subject="s", body="b")
    with pytest.raises(UnsafeMessage, match="to: give at least one address"):
        compose(settings, to=[" "], subject="s", body="b")
    with pytest.raises(UnsafeMessage, match="in_reply_to: .*not a Message-ID"):
        compose(settings, to=["b@example.net"], subject="s", body="b", in_reply_to="<a b@c>")
    assert compose(settings, to=["b@example.net"], subject="s", body="b", in_reply_to="a@c").data.count(
        b"In-Reply-To: <a@c>\r\n") == 1


def test_a_body_with_lines_like_headers_stays_in_the_body(mail_servers):
    settings = settings_of(mail_servers)
    message = compose(settings, to=["bob@example.net"], subject="s", body="\r\nBcc: victim@example.org\n")
    result = send(mail_servers, message, settings)
    got = received(mail_servers, result.queue_id)
    assert got["to"] == ["bob@example.net"]
    assert got["message"]["Bcc"] is None


def test_message_ids_are_unique_on_the_accounts_domain():
    ids = {new_message_id("a@bücher.example") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.endswith("@xn--bcher-kva.example>") for i in ids)


# --- helpers ------------------------------------------------------------------------------


def _plain_settings(port: int):
    from tui.core.domain import ProviderDraft
    from tui.core.rules import to_settings

    draft = ProviderDraft(name="Relay", account="u@example.test", password="pw", smtp_host="127.0.0.1",
                          smtp_port=str(port), smtp_security="none", receive_emails=False)
    settings = to_settings(draft)
    return replace(settings, outbound=ServerSettings("127.0.0.1", port, Security.NONE))


# --- `mailprov send-test` ----------------------------------------------------------------

@pytest.fixture
def cli(tmp_path, monkeypatch, capsys, mail_servers):
    runner = Cli(tmp_path, monkeypatch, capsys)
    monkeypatch.setenv("MAILPROV_CA_FILE", str(mail_servers.ca_file))  # after Cli, which clears it
    return runner


def test_send_test_sends_and_reports_the_queue_id(cli, mail_servers):
    draft = mail_servers.draft()
    assert add_real(cli, "Real", draft, draft.password)[0] == 0
    code, out, err = cli("send-test", "real", "--to", "bob@example.net")

    assert code == 0, out + err
    queue_id = re.search(r"queued as (Q[0-9A-F]{10})", out).group(1)
    headers = received(mail_servers, queue_id)["message"]
    assert headers["Subject"] == "mailprov test message"
    assert f"Message-ID {headers['Message-ID']}" in out
    assert out.startswith("Real: test message sent to bob@example.net")
    assert draft.password not in out + err

    code, out, _ = cli("send-test", "Real", "--to", "bob@example.net", "--json")
    data = json.loads(out)
    assert code == 0 and data["sent"] is True and data["recipients"] == ["bob@example.net"]
    assert received(mail_servers, data["queue_id"])["message"]["Message-ID"] == data["message_id"]


def test_send_test_says_when_the_server_gave_no_queue_id(cli, mail_servers, test_certificates):
    class NoId(SmtpRecorder):
        async def handle_DATA(self, server, session, envelope):
            return "250 Message received"

    controller = smtp_controller(NoId({mail_servers.user: mail_servers.password}), "no-id", free_port(),
                                 auth_required=False, auth_require_tls=False)
    controller.start()
    try:
        draft = mail_servers.draft(smtp_port=str(controller.port), smtp_security="none", receive_emails=False)
        assert add_real(cli, "NoId", draft, draft.password)[0] == 0
        code, out, err = cli("send-test", "NoId", "--to", "bob@example.net")
    finally:
        controller.stop()
    assert code == 0, out + err
    assert "the server gave no queue id (it answered: 250 Message received)" in out


def test_send_test_failures_exit_1_and_bad_addresses_exit_2(cli, mail_servers):
    draft = mail_servers.draft()
    add_real(cli, "Real", draft, "not-the-password")
    before = len(mail_servers.recorder.messages)

    code, out, _ = cli("send-test", "Real", "--to", "bob@example.net")
    assert code == 1
    assert "NOT sent" in out and "✖ auth" in out and "fix:" in out

    code, _, err = cli("send-test", "Real", "--to", "bob@example.net\r\nBcc: victim@example.org")
    assert code == 2 and "--to" in err and "\r" not in err
    code, _, err = cli("send-test", "Nobody", "--to", "bob@example.net")
    assert code == 2
    with pytest.raises(SystemExit) as missing:  # argparse's usage error, as for every command
        cli("send-test", "Real")
    assert missing.value.code == 2
    assert len(mail_servers.recorder.messages) == before


def test_the_plain_check_still_sends_nothing(cli, mail_servers):
    draft = mail_servers.draft()
    add_real(cli, "Real", draft, draft.password)
    before = len(mail_servers.recorder.messages)
    assert cli("check", "Real")[0] == 0
    assert len(mail_servers.recorder.messages) == before


def test_a_provider_whose_password_is_gone_sends_nothing_and_says_so(tmp_path, mail_servers):
    from tests.test_service import make_service

    service = make_service(tmp_path, MAILPROV_CA_FILE=str(mail_servers.ca_file))
    record = service.create(mail_servers.draft(name="Gone", receive_emails=False))
    service.secrets.delete_password(record.secret_key)
    before = len(mail_servers.recorder.messages)

    result = service.send_test("gone", "bob@example.net")

    assert not result.sent and result.failure.kind is FailureKind.SECRET
    assert result.recipients == ("bob@example.net",) and result.message_id.endswith("@example.test>")
    assert len(mail_servers.recorder.messages) == before
    with pytest.raises(UnsafeMessage):
        service.send_test("Gone", "not an address")


def test_what_a_hostile_server_says_while_sending_stays_data():
    """Terminal escapes in the greeting, an AUTH accepted, DATA refused: every text of the
    result is cleaned (escapes visible, never raw) and nothing is sent."""
    from tests.scripted_smtp import ScriptedSmtp

    with ScriptedSmtp(auth_reply="235 ok") as server:
        settings = _plain_settings(server.port)
        message = compose(settings, to=["bob@example.net"], subject="t", body="t\n")
        result = send_message(settings, Credential("u@example.test", "pw"), message, timeout=TIMEOUT)
    assert not result.sent and result.failure.kind is FailureKind.PROTOCOL
    assert "502 not here" in result.failure.message
    texts = [*result.result.transcript, *(step.detail for step in result.result.steps), result.failure.message]
    assert any("\\x1b" in text for text in texts)  # the escape is shown, as a visible escape
    assert not any("\x1b" in text or "\x9b" in text for text in texts)
