"""Pilot tests: names and server replies are data in the UI, never Textual markup and never
terminal control. Providers named like markup are listed, checked, edited and deleted; a
server that answers with markup and escapes is shown as it spoke."""

import re

import pytest
from textual import events
from textual.widgets import Input
from textual.widgets._toast import Toast

from tests.scripted_smtp import MARKUP_AUTH_REPLY, ScriptedSmtp
from tests.ui_helpers import fill, make_app, make_settings, notifications, settle, visible_text
from tui.core.domain import ProviderDraft, Status
from tui.core.report import FailureKind
from tui.ui.app import MailprovApp
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.form import ProviderFormScreen
from tui.ui.widgets.form_field import FormField
from tui.ui.widgets.provider_table import ProviderTable
from tui.ui.widgets.status_pane import StatusPane

MARKUP_NAMES = ["Sales [/]", "[b]x", "[@click=app.quit]x"]
# What must never reach the terminal from a name or a server: C0 but tab (the screen's own
# line breaks are added by the test's text export), DEL and C1.
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def assert_no_terminal_control(text: str) -> None:
    found = TERMINAL_CONTROL.search(text)
    assert found is None, f"raw {found.group()!r} on screen"


def scripted_draft(port: int, name: str = "Scripted") -> ProviderDraft:
    """A provider for the scripted server: plain SMTP, no IMAP."""
    return ProviderDraft(name=name, type="smtp-imap", account="user@example.com", password="pw",
                         smtp_host="127.0.0.1", smtp_port=str(port), smtp_security="none",
                         receive_emails=False)


def toast_text(app) -> str:
    return "\n".join(str(toast.render()) for toast in app.screen.query(Toast))


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_a_provider_named_like_markup_is_listed_checked_edited_and_deleted(tmp_path, mail_servers, name):
    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    app.service.create(mail_servers.draft(name=name))
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ProviderTable)
        assert table.row_cells(0)[1] == name
        assert name in visible_text(app)

        await pilot.press("t")
        await settle(pilot)
        assert app.return_code is None  # still running: no MarkupError
        assert app.service.get(name).status is Status.GREEN
        assert f"'{name}' is active." in notifications(app)
        assert f"'{name}' is active." in toast_text(app)
        assert f"'{name}' is active." in visible_text(app)

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProviderFormScreen)
        assert f"Edit '{name}'" in visible_text(app)
        await fill(pilot, "#from-name", "Desk [i]team")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.service.get(name).settings.from_name == "Desk [i]team"
        assert "Saved and active." in notifications(app)
        assert name in toast_text(app)  # the toast's title
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"Delete the provider '{name}'" in visible_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert app.service.list() == []
        assert f"Deleted '{name}'." in notifications(app)
        assert app.return_code is None


async def test_a_failed_check_of_a_markup_name_is_told_literally(tmp_path, closed_port):
    app = make_app(tmp_path, timeout=3)
    app.service.create(scripted_draft(closed_port, name="Sales [/]"))
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert app.return_code is None
        assert app.service.get("Sales [/]").failure.kind is FailureKind.REFUSED
        assert any(n.startswith("'Sales [/]': ") for n in notifications(app))
        assert "'Sales [/]': " in toast_text(app)


async def test_clicking_the_toast_of_a_click_markup_name_does_not_quit(tmp_path, mail_servers):
    name = "[@click=app.quit]x"
    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    app.service.create(mail_servers.draft(name=name))
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        # Click the "x" that the markup would have made a link to app.quit.
        lines = visible_text(app).split("\n")
        row = next(i for i, line in enumerate(lines) if "x' is active." in line)
        column = lines[row].index("x' is active.")
        await pilot.click(offset=(column, row))
        await pilot.pause()
        await settle(pilot)
        assert app.return_code is None, "the toast's text was a link to app.quit"
        assert app.is_running


async def test_a_server_reply_with_markup_and_escapes_is_shown_as_it_spoke(tmp_path):
    with ScriptedSmtp() as server:
        app = make_app(tmp_path, timeout=5)
        app.service.create(scripted_draft(server.port))
        async with app.run_test(size=(160, 40), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)
            assert app.return_code is None
            failure = app.service.get("Scripted").failure
            assert failure.kind is FailureKind.AUTH and MARKUP_AUTH_REPLY in failure.message
            assert any(MARKUP_AUTH_REPLY in n for n in notifications(app))
            assert MARKUP_AUTH_REPLY in toast_text(app)
            text = visible_text(app)
            assert MARKUP_AUTH_REPLY in text  # the status pane's error line
            assert "\\x1b]0;TITLE\\x07\\x1b[31m" in text  # the greeting step, escapes visible
            assert "[b]bold[/b]" in text
            assert_no_terminal_control(text)

            await pilot.press("l")  # the transcript holds the server's every word
            await pilot.pause()
            pane_text = str(app.screen.query_one(StatusPane).render())
            assert f"S: {MARKUP_AUTH_REPLY}" in pane_text
            assert_no_terminal_control(pane_text)

            await pilot.press("enter")  # the form: test the stored settings with ctrl+t
            await settle(pilot)
            assert isinstance(app.screen, ProviderFormScreen)
            await pilot.press("ctrl+t")
            await settle(pilot)
            assert app.return_code is None
            assert any(n.startswith("Test failed: ") and MARKUP_AUTH_REPLY in n for n in notifications(app))
            form_pane = str(app.screen.query_one("#form-status", StatusPane).render())
            assert MARKUP_AUTH_REPLY in form_pane and "\\x1b]0;TITLE" in form_pane
            assert_no_terminal_control(visible_text(app))


async def test_validation_messages_quoting_markup_are_shown_literally(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await fill(pilot, "#account", "a[/]@example.com")
        await fill(pilot, "#smtp-host", "mail[b]x.example.com")
        await fill(pilot, "#name", "x")  # leaving a field shows its message
        host_error = app.screen.query_one("#smtp-host-field", FormField).shown_error
        assert host_error == "'mail[b]x.example.com' is not a valid host name."
        account_error = app.screen.query_one("#account-field", FormField).shown_error
        assert account_error.startswith("'a[/]@example.com' is not a valid address")
        text = visible_text(app)
        assert host_error in text and "'a[/]@example.com'" in text


@pytest.mark.parametrize("field", ["name", "account", "smtp-host", "password", "filter"])
async def test_a_text_field_refuses_pasted_control_characters(tmp_path, field):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        if field != "filter":
            await pilot.press("n")
            await settle(pilot)
        control = app.screen.query_one(f"#{field}", Input)
        control.focus()
        control.post_message(events.Paste("ok"))
        control.post_message(events.Paste("Sales\x1b]0;TITLE\x07\x9b"))
        await pilot.pause()
        assert control.value == "ok"
        if field == "password":
            await pilot.press("ctrl+r")  # revealed: still nothing raw on screen
        assert_no_terminal_control(visible_text(app))


async def test_a_database_error_with_markup_is_shown_literally(tmp_path):
    def broken_service():
        raise RuntimeError("cannot open sqlite:///[/]\x1b[31m.db")

    app = MailprovApp(make_settings(tmp_path), service_factory=broken_service)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(pilot)
        assert app.return_code is None
        text = visible_text(app)
        assert "Could not open the database: RuntimeError: cannot open sqlite:///[/]\\x1b[31m.db" in text
        assert_no_terminal_control(text)
