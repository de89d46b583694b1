"""Security none is allowed, but always said: in the report and its JSON, the status text,
the CLI (add, edit, check) and the form. When the server offered STARTTLS, the warning
says to pick it."""

from __future__ import annotations

import json
from datetime import timedelta

from textual.widgets import Button, Select, Static, Switch

from tests.hostile import HostileServer
from tests.test_checks_hostile import draft_for, run_check, smtp_check
from tests.test_cli import add_real, cli  # noqa: F401 - `cli` is the fixture
from tests.ui_helpers import DEMO_NOW, example_draft, make_app, passed_report, settle, visible_text
from tui.core import rules
from tui.core.domain import Status, status_text
from tui.core.report import FailureKind
from tui.ui.screens.form import ProviderFormScreen

STARTTLS_ADVICE = "The server offers STARTTLS: pick TLS to encrypt them."


# --- core ---------------------------------------------------------------------------------


def test_a_report_says_whether_the_password_was_encrypted():
    with HostileServer("smtp-starttls-454") as offering, HostileServer("smtp-no-starttls") as silent:
        offered, _ = smtp_check(offering)
        not_offered, _ = smtp_check(silent)

    for report in (offered, not_offered):
        assert report.failure.kind is FailureKind.AUTH  # got as far as the login
        assert not report.outbound.encrypted and not report.encrypted
        assert report.to_dict()["encrypted"] is False
        assert report.to_dict()["outbound"]["encrypted"] is False
    assert offered.outbound.starttls_offered and not not_offered.outbound.starttls_offered
    assert rules.report_warnings(offered) == [
        "SMTP security is none: the password and the mail travel unencrypted. " + STARTTLS_ADVICE
    ]
    assert "Pick TLS or SSL if the server offers it." in rules.report_warnings(not_offered)[0]


def test_an_encrypted_check_says_so():
    with HostileServer("smtp-starttls-454") as server:
        report, _ = run_check(draft_for(server.port, smtp_security="starttls"))

    assert report.outbound.encrypted and report.to_dict()["encrypted"] is True
    assert rules.report_warnings(report) == []


def test_warnings_name_each_unencrypted_protocol_in_use():
    both = rules.to_settings(example_draft("Plain", smtp_security="none", inbound_security="none"))
    sending_only = rules.to_settings(example_draft("Plain", inbound_security="none", receive_emails=False))
    encrypted = rules.to_settings(example_draft("Safe"))

    assert [line.split(" ")[0] for line in rules.warnings(both)] == ["SMTP", "IMAP"]
    assert rules.warnings(sending_only) == []  # IMAP is not used
    assert rules.warnings(encrypted) == [] and encrypted.encrypted
    assert not both.encrypted


def test_status_text_says_unencrypted_only_for_a_working_provider():
    assert status_text(Status.GREEN, encrypted=False) == "● active, unencrypted"
    assert status_text(Status.GREEN) == "● active"
    assert status_text(Status.RED, encrypted=False) == "✖ error"
    assert status_text(Status.GREY, encrypted=False) == "○ not checked"


# --- CLI ----------------------------------------------------------------------------------


def test_cli_warns_on_add_edit_and_check_and_json_says_unencrypted(cli, mail_servers):  # noqa: F811
    draft = mail_servers.draft(
        smtp_security="none", smtp_port=str(mail_servers.smtp_plain_port),
        inbound_security="none", inbound_port=str(mail_servers.imap_starttls_port),
    )
    code, _, err = add_real(cli, "Plain", draft, draft.password)
    assert code == 0
    assert "mailprov: warning: SMTP security is none" in err
    assert "mailprov: warning: IMAP security is none" in err

    code, out, err = cli("check", "Plain", "--json")
    assert code == 0
    (result,) = json.loads(out)  # stdout stays pure JSON: the warnings go to stderr
    assert result["status"] == "green" and result["encrypted"] is False
    smtp_warning, imap_warning = result["warnings"]
    assert "offers STARTTLS" not in smtp_warning  # the plain test listener does not offer it
    assert imap_warning.endswith(STARTTLS_ADVICE)  # Dovecot does
    assert "mailprov: warning: Plain: IMAP security is none" in err

    code, out, _ = cli("provider", "list")
    assert "● active, unencrypted" in out
    shown = json.loads(cli("provider", "show", "Plain", "--json")[1])
    assert shown["encrypted"] is False and shown["status_text"] == "● active, unencrypted"
    assert shown["last_report"]["encrypted"] is False

    code, _, err = cli("provider", "edit", "Plain", "--smtp-security", "starttls",
                       "--smtp-port", str(mail_servers.smtp_starttls_port))
    assert code == 0
    assert "SMTP security" not in err and "IMAP security is none" in err


def test_cli_says_nothing_for_an_encrypted_provider(cli):  # noqa: F811
    code, _, err = cli("provider", "add", "--name", "Safe", "--type", "smtp-imap",
                       "--account", "safe@example.com", "--smtp-host", "smtp.example.com",
                       "--imap-host", "imap.example.com", "--password-stdin", stdin="pw-123456\n")
    assert code == 0 and "warning" not in err


# --- UI -----------------------------------------------------------------------------------


def security_warning(app, protocol: str) -> Static:
    return app.screen.query_one(f"#{protocol}-section .security-warning", Static)


async def test_the_form_warns_under_security_none_and_save_stays_enabled(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ProviderFormScreen)
        await form.set_draft(example_draft("Plain"))
        form.revalidate()
        assert not security_warning(app, "smtp").display

        form.query_one("#smtp-security", Select).value = "none"
        await pilot.pause()

        warning = security_warning(app, "smtp")
        assert warning.display and not security_warning(app, "inbound").display
        assert "SMTP security is none: the password and the mail travel unencrypted" in visible_text(app)
        assert form.errors == {} and not form.query_one("#save", Button).disabled
        form.query_one("#smtp-security", Select).value = "starttls"
        await pilot.pause()
        assert not warning.display


async def test_after_a_test_check_the_form_says_the_server_offers_starttls(tmp_path):
    with HostileServer("smtp-starttls-454") as server:
        app = make_app(tmp_path, timeout=1)
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            form = app.screen
            await form.set_draft(example_draft("Plain", smtp_host="127.0.0.1", smtp_port=str(server.port),
                                         smtp_security="none", receive_emails=False))
            form.query_one("#receive-emails", Switch).value = False
            await pilot.pause()
            await pilot.press("ctrl+t")
            await settle(pilot)
            assert str(security_warning(app, "smtp").render()).endswith(STARTTLS_ADVICE)


async def test_the_list_and_the_status_pane_say_active_unencrypted(tmp_path):
    app = make_app(tmp_path)
    app.service.create(example_draft("Plain", smtp_security="none"))
    app.service.store.save_report("Plain", passed_report("Plain", DEMO_NOW - timedelta(minutes=3)))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        text = visible_text(app)
        assert text.count("● active, unencrypted") == 2  # the row and the pane's heading
