"""The form screen is built once and shown again for every provider (tui/ui/screens/form.py):
each opening must look and behave as a brand-new form, and nothing of an earlier opening
(values, messages, a check still running) may leak into the next. Closing the form re-reads
only what it changed."""

from textual.widgets import Input, Select, Switch

from tests.ui_helpers import burst, example_draft, fill, make_app, settle, type_into, visible_text
from tui.core.domain import ProviderDraft
from tui.core.report import Step
from tui.ui.messages import CheckStepDone, ProviderReloaded, ProvidersLoaded
from tui.ui.screens.form import ProviderFormScreen, TakenNames
from tui.ui.screens.providers import ProvidersScreen
from tui.ui.view import fold_names
from tui.ui.widgets.provider_table import ProviderTable


async def open_form(pilot, key: str) -> ProviderFormScreen:
    await pilot.press(key)
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, ProviderFormScreen)
    return form


async def leave_form(pilot) -> None:
    """Esc, and discard when asked."""
    await pilot.press("escape")
    await pilot.pause()
    if not isinstance(pilot.app.screen, ProvidersScreen):
        await pilot.press("y")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ProvidersScreen)


async def test_a_form_shown_again_is_as_new_as_the_first(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        first = await open_form(pilot, "n")
        fresh_draft, fresh_screen = first.draft(), visible_text(app)
        # Change about everything: values, a type with another panel, switches, security,
        # the revealed password, messages under fields after a refused save.
        await type_into(pilot, "#name", "Typed")
        await fill(pilot, "#account", "not an address")
        await fill(pilot, "#password", "secret")
        await pilot.press("ctrl+r")
        first.query_one("#smtp-security", Select).value = "none"
        first.query_one("#inbound-protocol", Select).value = "pop3"
        first.query_one("#receive-emails", Switch).value = False
        await pilot.pause()
        await pilot.press("ctrl+s")
        first.query_one("#type", Select).value = "gmail"
        await settle(pilot)
        await leave_form(pilot)

        again = await open_form(pilot, "n")
        assert again is first  # the same screen, shown again
        assert again.draft() == fresh_draft == ProviderDraft(smtp_port="587", inbound_port="993")
        assert visible_text(app) == fresh_screen
        assert app.focused is again.query_one("#name", Input)
        assert again.query_one("#password", Input).password  # masked again


async def test_an_edit_after_a_new_form_shows_the_provider_not_what_was_typed(tmp_path):
    app = make_app(tmp_path)
    app.service.create(example_draft("Support", inbound_protocol="pop3", inbound_port="995"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "n")
        await type_into(pilot, "#name", "Other")
        await fill(pilot, "#from-name", "Someone")
        await leave_form(pilot)
        form = await open_form(pilot, "enter")
        assert form.editing == "Support"
        assert form.query_one("#name", Input).value == "Support"
        assert form.query_one("#from-name", Input).value == ""
        assert form.query_one("#inbound-protocol", Select).value == "pop3"
        assert form.query_one("#inbound-port", Input).value == "995"
        assert not form.has_unsaved_changes()
        await leave_form(pilot)
        form = await open_form(pilot, "n")
        assert form.editing is None and form.query_one("#name", Input).value == ""
        assert form.query_one("#inbound-protocol", Select).value == "imap"


async def test_what_a_worker_of_an_earlier_opening_says_is_dropped(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "n")
        closed_opening = form.opening
        await leave_form(pilot)
        form = await open_form(pilot, "n")
        assert form.opening != closed_opening
        # A check started in the closed opening reports a step now: not shown in this one.
        form._post(closed_opening, CheckStepDone("Old", "smtp", Step("connect", True, 3)))
        form._post(form.opening, CheckStepDone("New", "smtp", Step("resolve", True, 1)))
        await settle(pilot)
        steps = form.query_one("#form-status").live_steps
        assert [step.name for _, step in steps] == ["resolve"]


async def test_the_form_follows_a_terminal_resized_while_it_was_closed(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "n")
        assert form.has_class("-wide")
        await leave_form(pilot)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        form = await open_form(pilot, "n")
        assert form.has_class("-narrow") and not form.has_class("-wide")
        assert form.query_one("#name").region.right <= 80


async def test_closing_the_form_reads_only_what_it_changed(tmp_path, closed_port):
    app = make_app(tmp_path)
    for name in ("Billing", "Support"):  # servers that refuse at once: the check after the save is quick
        app.service.create(example_draft(name, smtp_host="127.0.0.1", smtp_port=str(closed_port),
                                          inbound_host="127.0.0.1", inbound_port=str(closed_port)))
    seen = []
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        await open_form(pilot, "n")
        seen.clear()
        await leave_form(pilot)  # nothing saved: nothing read again
        assert not [m for m in seen if isinstance(m, (ProvidersLoaded, ProviderReloaded))]

        await open_form(pilot, "enter")  # Billing, the first row
        await fill(pilot, "#account", "billing.desk@example.com")
        seen.clear()
        await pilot.press("ctrl+s")
        await settle(pilot)
        await leave_form(pilot)
        assert {m.name for m in seen if isinstance(m, ProviderReloaded)} == {"Billing"}
        table = app.screen.query_one(ProviderTable)
        assert table.selected_name == "Billing"
        assert "billing.desk@example.com" in table.row_cells(0)


def test_the_name_rule_gets_only_the_name_typed_and_only_when_taken():
    taken = TakenNames(fold_names(["Support", " Billing "]), editing="support")
    assert taken.clashing("BILLING") == ("BILLING",)
    assert taken.clashing("Support ") == ()  # the provider being edited keeps its name
    assert taken.clashing("Sales") == ()


async def test_a_value_longer_than_its_field_scrolls_with_the_cursor(tmp_path):
    """The form's inputs skip Textual's relayout per keystroke (FormInput): typing past the
    field's width must still scroll, so the end of what is typed stays in view."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "n")
        name = form.query_one("#name", Input)
        text = "abcdefghij" * 8 + "ZYXW"  # wider than the field
        await burst(pilot, text)  # key by key, as a fast typist's keys come
        await pilot.pause()
        assert name.value == text
        assert name.scroll_x > 0
        assert "ZYXW" in visible_text(app)
        await pilot.press("home")
        await pilot.pause()
        assert name.scroll_x == 0 and "abcdefghij" in visible_text(app)
