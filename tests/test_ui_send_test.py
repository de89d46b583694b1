"""Pilot test of the form's "Send test message" (ctrl+n) against aiosmtpd on 127.0.0.1."""

import re

from textual.widgets import Input

from tests.ui_helpers import example_draft, make_app, notifications, settle, type_into, visible_text
from tui.ui.screens.form import SEND_TEST_KEY, ProviderFormScreen
from tui.ui.screens.send_test import SendTestScreen


async def open_edit_form(pilot, name: str) -> None:
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ProviderFormScreen)
    assert pilot.app.screen.editing == name


async def test_send_test_message_from_the_form_reports_the_queue_id(tmp_path, mail_servers):
    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    app.service.create(mail_servers.draft(name="Support", receive_emails=False))
    before = len(mail_servers.recorder.messages)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_edit_form(pilot, "Support")
        await pilot.press(SEND_TEST_KEY)
        await settle(pilot)
        assert isinstance(app.screen, SendTestScreen)
        to = app.screen.query_one("#send-test-to", Input)
        assert to.value == mail_servers.user  # the provider's own account is suggested
        await type_into(pilot, "#send-test-to", "bob@")
        await pilot.press("enter")  # not an address: said in the dialog, which stays
        await pilot.pause()
        assert isinstance(app.screen, SendTestScreen)
        assert "not a valid address" in visible_text(app)
        await pilot.press(*"example.net")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProviderFormScreen)
        sent = [n for n in notifications(app) if n.startswith("Test message sent to bob@example.net")]
        assert sent, notifications(app)
        queue_id = re.search(r"queued as (Q[0-9A-F]{10})", sent[0]).group(1)
        pane = str(app.screen.query_one("#form-status").render())
        assert f"✓ Sent: queued as {queue_id}" in pane and "data" in pane  # the steps, in the status pane
    [message] = mail_servers.recorder.messages[before:]
    assert message["queue_id"] == queue_id and message["to"] == ["bob@example.net"]


async def test_send_test_message_needs_a_saved_provider_and_can_be_cancelled(tmp_path, mail_servers):
    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    app.service.create(mail_servers.draft(name="Support", receive_emails=False))
    before = len(mail_servers.recorder.messages)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_edit_form(pilot, "Support")
        await type_into(pilot, "#from-name", "Changed")
        await pilot.press(SEND_TEST_KEY)
        await settle(pilot)
        assert isinstance(app.screen, ProviderFormScreen)
        assert any(n.startswith("Save the provider first") for n in notifications(app))
        await type_into(pilot, "#from-name", "")
        await pilot.press(SEND_TEST_KEY)
        await settle(pilot)
        assert isinstance(app.screen, SendTestScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ProviderFormScreen)
    assert len(mail_servers.recorder.messages) == before


async def test_send_test_message_is_in_the_palette_and_the_help(tmp_path):
    from tui.ui.screens.help import form_keys

    assert (SEND_TEST_KEY, "Send a real test message") in form_keys()
    app = make_app(tmp_path)
    app.service.create(example_draft("Support"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_edit_form(pilot, "Support")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"send")
        await settle(pilot)
        assert "Send test message" in visible_text(app)
