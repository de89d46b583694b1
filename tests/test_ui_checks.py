"""Pilot tests of the check flows against real servers (Dovecot, aiosmtpd on 127.0.0.1)."""

import time

from textual.widgets import Input

from tests.ui_helpers import fill, make_app, notifications, settle, type_into, visible_text
from tui.core.domain import Status
from tui.ui.screens.form import ProviderFormScreen
from tui.ui.widgets.form_field import FormField
from tui.ui.widgets.provider_table import ProviderTable
from tui.ui.widgets.status_pane import StatusPane


async def fill_form(pilot, draft) -> None:
    """Name and password typed key by key; the longer values pasted."""
    await type_into(pilot, "#name", draft.name)
    await fill(pilot, "#account", draft.account)
    await type_into(pilot, "#password", draft.password)
    await fill(pilot, "#smtp-host", draft.smtp_host)
    await fill(pilot, "#smtp-port", draft.smtp_port)
    await fill(pilot, "#inbound-host", draft.inbound_host)
    await fill(pilot, "#inbound-port", draft.inbound_port)


async def open_new_form(pilot) -> None:
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)


async def test_a_provider_typed_into_the_form_saves_and_goes_green(tmp_path, mail_servers):
    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_new_form(pilot)
        await fill_form(pilot, mail_servers.draft(name="Support"))
        assert app.screen.errors == {}
        await pilot.press("ctrl+s")
        await settle(pilot)
        record = app.service.get("Support")
        assert record.status is Status.GREEN
        assert "Saved and active." in notifications(app)
        text = visible_text(app)
        assert "● active" in text and "✓ auth" in text
        await pilot.press("escape")  # saved: no question
        await settle(pilot)
        assert "● active" in visible_text(app)  # the list is up to date


async def test_a_wrong_password_goes_red_and_focuses_the_password(tmp_path, mail_servers):
    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_new_form(pilot)
        await fill_form(pilot, mail_servers.draft(name="Support", password="wrong"))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.service.get("Support").status is Status.RED
        assert isinstance(app.screen, ProviderFormScreen)
        assert app.focused is app.screen.query_one("#password", Input)
        assert app.screen.query_one("#password-field", FormField).has_class("-blamed")
        assert any(n.startswith("Saved, but activation failed: ") for n in notifications(app))
        assert "✖ error" in visible_text(app)
        assert "wrong" not in visible_text(app)  # never the secret


async def test_test_without_saving_checks_the_values_as_typed(tmp_path, mail_servers):
    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_new_form(pilot)
        await fill_form(pilot, mail_servers.draft(name="Support"))
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert "Test passed: these settings work." in notifications(app)
        assert app.service.list() == []  # nothing saved
        pane = app.screen.query_one("#form-status", StatusPane)
        assert "INBOX" in pane.view.report.inbound.summary
        assert "Support (test, not saved)" in visible_text(app)


async def test_t_checks_the_selected_provider_step_by_step(tmp_path, mail_servers):
    app = make_app(tmp_path, ca_file=mail_servers.ca_file)
    app.service.create(mail_servers.draft(name="Support"))
    steps = []
    async with app.run_test(size=(120, 36), message_hook=lambda m: steps.append(type(m).__name__)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert steps.count("CheckProgress") >= 4  # the ladder arrived step by step
        assert app.service.get("Support").status is Status.GREEN
        assert app.screen.query_one(StatusPane).view.status is Status.GREEN
        assert "● active" in visible_text(app)


async def test_check_all_updates_each_row_and_keys_stay_responsive(tmp_path, mail_servers, silent_port):
    # The silent server holds its check for the whole 3 s timeout; a key answered well
    # before that shows the UI is not waiting on it (a wide margin for busy CI machines).
    app = make_app(tmp_path, ca_file=mail_servers.ca_file, timeout=3)
    app.service.create(mail_servers.draft(name="A good one"))
    app.service.create(mail_servers.draft(name="B wrong password", password="wrong"))
    app.service.create(mail_servers.draft(name="C silent server", smtp_port=str(silent_port)))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ProviderTable)
        started = time.monotonic()
        await pilot.press("T")
        await pilot.pause(0.2)
        assert "checking" in visible_text(app)
        await pilot.press("down")  # answered while the silent server keeps its check waiting
        assert time.monotonic() - started < 2.0
        assert table.cursor_row == 1
        await settle(pilot)
        statuses = {r.name: r.status for r in app.service.list()}
        assert statuses == {
            "A good one": Status.GREEN,
            "B wrong password": Status.RED,
            "C silent server": Status.RED,
        }
        shown = [table.row_cells(i)[0] for i in range(table.row_count)]
        assert shown == ["● active", "✖ error", "✖ error"]


async def test_a_check_outrun_by_an_edit_leaves_the_row_grey(tmp_path, closed_port):
    """Another process edits the provider while the app checks it: the result is dropped."""
    from tests.ui_helpers import example_draft

    app = make_app(tmp_path)
    app.service.create(example_draft("Support").updated(smtp_host="127.0.0.1", smtp_port=str(closed_port)))
    check = app.service.check
    edited = []

    def check_while_someone_edits(name, on_step=None):
        def step_done(protocol, step):
            if not edited:
                edited.append(app.service.update(name, app.service.draft_for(name).updated(smtp_port="2525")))
            if on_step:
                on_step(protocol, step)

        return check(name, on_step=step_done)

    app.service.check = check_while_someone_edits
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert edited
        record = app.service.get("Support")
        assert record.status is Status.GREY and record.settings.outbound.port == 2525
        table = app.screen.query_one(ProviderTable)
        assert table.row_cells(0)[0] == "○ not checked"
        assert any("result was not saved" in n for n in notifications(app))
        assert app.screen.query_one(StatusPane).live_steps is None  # not stuck on "Checking…"
