"""Pilot tests of keys as a terminal sends them: in bursts, while the list loads, and quitting.
(The same in a real terminal: tests/test_ui_terminal.py.)"""

from textual.widgets import Input

from tests.ui_helpers import (
    burst,
    example_draft,
    gated_app,
    make_app,
    notifications,
    settle,
    type_into,
    visible_text,
    wait_until,
)
from tui.core.domain import Status
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.form import ProviderFormScreen
from tui.ui.screens.providers import ProvidersScreen
from tui.ui.widgets.provider_table import ProviderTable


def refused(name: str, port: int):
    """A provider whose servers refuse at once (a check fails fast, without DNS)."""
    return example_draft(name, smtp_host="127.0.0.1", smtp_port=str(port),
                         inbound_host="127.0.0.1", inbound_port=str(port))


def field_value(app, selector: str) -> str:
    return app.screen.query_one(selector, Input).value


async def test_keys_sent_right_after_tab_go_to_the_next_field(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#account", Input).focus()
        await pilot.pause()
        await burst(pilot, "alice@example.test", "tab", "ZZ")
        await wait_until(pilot, lambda: field_value(app, "#username") == "ZZ", limit=3)
        assert field_value(app, "#account") == "alice@example.test"


async def test_n_and_the_keys_after_it_in_one_burst_fill_the_new_form(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await burst(pilot, "n", "Support", "tab", "tab", "bob@example.test")
        await wait_until(pilot, lambda: isinstance(app.screen, ProviderFormScreen)
                         and field_value(app, "#account") == "bob@example.test", limit=5)
        assert field_value(app, "#name") == "Support"
        assert isinstance(app.screen_stack[0], ProvidersScreen)


async def test_n_opens_a_new_form_while_the_list_is_still_loading(tmp_path):
    app, service, gate = gated_app(tmp_path)
    service.create(example_draft("Billing"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "Loading providers…" in visible_text(app)
        await pilot.press("n")
        assert isinstance(app.screen, ProviderFormScreen) and app.screen.editing is None
        await type_into(pilot, "#name", "Typed early")
        assert field_value(app, "#name") == "Typed early"
        gate.set()
        await settle(pilot)


async def test_keys_pressed_while_the_list_loads_act_once_it_is_there(tmp_path, closed_port):
    app, service, gate = gated_app(tmp_path)
    for name in ("Billing", "Sales", "Support"):
        service.create(refused(name, closed_port))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("slash", "s", "u")  # the filter opens at once
        await pilot.press("enter", "T")  # back to the (coming) list, then check all: kept
        assert "Loading providers…" in visible_text(app)
        gate.set()
        await settle(pilot)
        table = app.screen.query_one(ProviderTable)
        assert [table.row_cells(i)[1] for i in range(table.row_count)] == ["Support"]
        assert "Checking 3 providers…" in notifications(app)
        await wait_until(pilot, lambda: all(r.status is Status.RED for r in service.list()))


async def test_enter_pressed_while_the_list_loads_edits_the_first_provider(tmp_path):
    app, service, gate = gated_app(tmp_path)
    service.create(example_draft("Billing"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        assert isinstance(app.screen, ProvidersScreen)
        gate.set()
        await settle(pilot)
        assert isinstance(app.screen, ProviderFormScreen) and app.screen.editing == "Billing"


async def test_ctrl_q_in_a_form_with_unsaved_changes_asks_first(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await type_into(pilot, "#name", "Draft")
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        assert "unsaved" in visible_text(app)
        await pilot.press("n")  # no: back in the form, nothing lost
        assert isinstance(app.screen, ProviderFormScreen)
        assert field_value(app, "#name") == "Draft"
        await pilot.press("ctrl+q")
        await pilot.press("y")
        assert app.return_code == 0


async def test_ctrl_q_without_unsaved_changes_quits_at_once(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("ctrl+q")
        assert app.return_code == 0
        assert not any(isinstance(screen, ConfirmScreen) for screen in app.screen_stack)
