"""SMTP sign-in none: an SMTP-IMAP provider that sends through a trusted relay (a local
Postfix) without AUTH. Against an aiosmtpd listener on 127.0.0.1 that takes mail without login."""

from __future__ import annotations

import json

import pytest

from tests.test_cli import Cli
from tui.core.checks import check_provider
from tui.core.domain import ProviderDraft, SmtpSignIn, Status, status_text
from tui.core.mail.compose import compose
from tui.core.rules import to_settings, validate
from tui.core.send import send_message

TIMEOUT = 5.0


def relay_draft(servers, **changes) -> ProviderDraft:
    """Sending through the relay listener without login; not receiving; no password."""
    return servers.draft(smtp_port=str(servers.smtp_relay_port), smtp_security="none", smtp_sign_in="none",
                         receive_emails=False, password="").updated(**changes)


# --- rules -----------------------------------------------------------------------------


def test_without_smtp_login_the_password_is_needed_only_to_receive():
    base = ProviderDraft(name="Relay", account="a@example.com", smtp_host="localhost", inbound_host="imap.example.com")
    assert "password" in validate(base)  # login: the password is needed
    assert "password" not in validate(base.updated(smtp_sign_in="none", receive_emails=False))
    assert "password" in validate(base.updated(smtp_sign_in="none", receive_emails=True))  # IMAP logs in
    settings = to_settings(base.updated(smtp_sign_in="none", receive_emails=False))
    assert settings.smtp_sign_in is SmtpSignIn.NONE and not settings.smtp_logs_in and not settings.needs_password


def test_only_smtp_imap_providers_can_send_without_login_and_the_value_is_checked():
    gmail = ProviderDraft(name="G", type="gmail", account="a@example.com", smtp_sign_in="none")
    assert "only SMTP-IMAP" in validate(gmail)["smtp_sign_in"]
    odd = ProviderDraft(name="R", account="a@example.com", smtp_host="h.example.com", password="p",
                        smtp_sign_in="anonymous")
    assert validate(odd)["smtp_sign_in"] == "Pick login or none, not 'anonymous'."


def test_a_change_of_smtp_sign_in_makes_the_status_grey_again():
    base = to_settings(ProviderDraft(name="R", account="a@example.com", smtp_host="h.example.com", password="p",
                                     receive_emails=False))
    relay = to_settings(base.to_draft().updated(smtp_sign_in="none"))
    assert base.connection_key() != relay.connection_key()


def test_the_status_says_no_smtp_login():
    assert status_text(Status.GREEN, smtp_login=False) == "● active, no SMTP login"
    assert status_text(Status.GREEN, encrypted=False, smtp_login=False) == "● active, unencrypted, no SMTP login"
    assert status_text(Status.RED, smtp_login=False) == "✖ error"


# --- the check and sending against a relay ---------------------------------------------


def test_the_check_sends_no_auth_stops_after_rcpt_and_says_no_login_was_used(mail_servers):
    mark = mail_servers.recorder.mark()
    before = len(mail_servers.recorder.messages)
    report = check_provider(to_settings(relay_draft(mail_servers)), None, timeout=TIMEOUT)

    assert report.ok, report.failure
    assert mail_servers.recorder.commands("relay", since=mark) == ["EHLO", "MAIL", "RCPT", "RSET", "QUIT"]
    steps = {step.name: step for step in report.outbound.steps}
    assert "no login used" in steps["auth"].detail
    assert report.outbound.summary.startswith("No login used (SMTP sign-in: none)")
    assert report.status_text == "● active, unencrypted, no SMTP login"
    assert len(mail_servers.recorder.messages) == before  # nothing sent by the check


def test_the_same_relay_refuses_a_provider_that_wants_to_log_in_without_password(mail_servers):
    """Login on: the check needs a password (here none), so it stops at its auth step."""
    report = check_provider(to_settings(relay_draft(mail_servers, smtp_sign_in="login", password="x")),
                            None, timeout=TIMEOUT)
    assert not report.ok and report.failure.kind.value == "auth"


def test_a_message_goes_through_the_relay_without_login(mail_servers):
    settings = to_settings(relay_draft(mail_servers))
    message = compose(settings, to=["bob@example.net"], subject="via relay", body="hi\n")
    result = send_message(settings, None, message, timeout=TIMEOUT)

    assert result.sent and result.queue_id, result.failure
    [got] = [m for m in mail_servers.recorder.messages if m["queue_id"] == result.queue_id]
    assert got["listener"] == "relay" and got["logged_in"] is False
    assert "no login used" in result.summary
    assert not any(line.startswith("C: AUTH") for line in result.result.transcript)


# --- every face: CLI (flag, JSON, export), status -----------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    return Cli(tmp_path, monkeypatch, capsys)


def test_the_cli_adds_checks_and_shows_a_relay_provider(cli, mail_servers):
    draft = relay_draft(mail_servers)
    code, _, err = cli("provider", "add", "--name", "Relay", "--type", "smtp-imap", "--account", draft.account,
                       "--no-receive",
                       "--smtp-host", draft.smtp_host, "--smtp-port", draft.smtp_port, "--smtp-security", "none",
                       "--smtp-sign-in", "none")
    assert code == 0, err  # no password asked for
    code, out, err = cli("check", "Relay")
    assert code == 0, out + err
    assert "Relay: ● active, unencrypted, no SMTP login" in out
    shown = json.loads(cli("provider", "show", "Relay", "--json")[1])
    assert shown["outbound"]["sign_in"] == "none" and shown["status_text"].endswith("no SMTP login")
    assert 'sign_in = "none"' in cli("export")[1]
    code, out, _ = cli("provider", "list")
    assert "● active, unencrypted, no SMTP login" in out

    code, _, err = cli("provider", "edit", "Relay", "--smtp-sign-in", "login")
    assert code == 2 and "--password-stdin (Password)" in err  # logging in needs the password
    code, _, err = cli("provider", "edit", "Relay", "--type", "gmail")
    assert code == 2 and "--smtp-sign-in" in err
    code, out, err = cli("send-test", "Relay", "--to", "bob@example.net")
    assert code == 0 and "queued as" in out, out + err


# --- the form -----------------------------------------------------------------------------


async def test_the_form_offers_smtp_sign_in_none_and_then_asks_no_password(tmp_path, mail_servers):
    from textual.widgets import Select, Switch

    from tests.ui_helpers import fill, make_app, settle, type_into, visible_text

    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    draft = relay_draft(mail_servers, name="Relay")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert not form.query_one("#smtp-sign-in-note").display
        await type_into(pilot, "#name", "Relay")
        await fill(pilot, "#account", draft.account)
        await fill(pilot, "#smtp-host", draft.smtp_host)
        form.query_one("#smtp-security", Select).value = "none"
        await pilot.pause()
        assert "the password and the mail travel" in str(form.query_one("#smtp-section .security-warning").render())
        await fill(pilot, "#smtp-port", draft.smtp_port)
        form.query_one("#receive-emails", Switch).value = False
        await pilot.pause()
        assert "password" in form.errors
        assert form.query_one("#password-field").required
        form.query_one("#smtp-sign-in", Select).value = "none"
        await pilot.pause()
        assert form.query_one("#smtp-sign-in-note").display
        assert not form.query_one("#password-field").required  # no '*': nothing needs it
        warning = str(form.query_one("#smtp-section .security-warning").render())
        assert "the mail travels unencrypted" in warning and "password" not in warning
        assert "password" not in form.errors and form.errors == {}
        await pilot.press("ctrl+s")
        await settle(pilot)
        record = app.service.get("Relay")
        assert record.settings.smtp_sign_in is SmtpSignIn.NONE
        assert record.status is Status.GREEN
        assert "● active, unencrypted, no SMTP login" in visible_text(app)


def test_the_unencrypted_warning_of_a_relay_does_not_speak_of_a_password():
    from tui.core.rules import warnings

    relay = to_settings(ProviderDraft(name="R", account="a@example.com", smtp_host="localhost",
                                      smtp_security="none", smtp_sign_in="none", receive_emails=False))
    assert warnings(relay) == ["SMTP security is none: the mail travels unencrypted. "
                               "Pick TLS or SSL if the server offers it."]
    logging_in = to_settings(relay.to_draft().updated(smtp_sign_in="login", password="p"))
    assert "the password and the mail travel unencrypted" in warnings(logging_in)[0]
