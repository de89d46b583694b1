"""Pilot tests of the provider list: empty state, rows and statuses, filter, delete, help."""

from textual.widgets import Input

from tests.databases import migrated_database
from tests.ui_helpers import example_draft, fill_demo, make_app, settle, visible_text
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.form import ProviderFormScreen
from tui.ui.screens.help import HelpScreen
from tui.ui.widgets.provider_table import ProviderTable
from tui.ui.widgets.status_pane import StatusPane


def row_names(app) -> list[str]:
    table = app.screen.query_one(ProviderTable)
    return [table.row_cells(i)[1] for i in range(table.row_count)]


async def test_an_empty_database_explains_what_a_provider_is(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = visible_text(app)
        assert "No providers yet" in text
        assert "Press n to add one" in text
        assert not app.screen.query_one(ProviderTable).display


async def test_rows_show_status_as_glyph_and_word(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert row_names(app) == ["Billing", "Sales", "Support"]
        text = visible_text(app)
        for status in ("✖ error", "○ not checked", "● active"):
            assert status in text
        assert "3 min ago" in text and "2 h ago" in text  # from the frozen clock


async def test_the_status_pane_follows_the_selected_row(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(StatusPane)
        assert pane.view.name == "Billing"
        text = visible_text(app)
        assert "Error: auth" in text
        assert "Fix: Check the password" in text
        assert "✖ auth" in text  # the failing step of the ladder
        await pilot.press("l")
        await pilot.pause()
        assert "AUTH PLAIN ********" in visible_text(app)  # the redacted transcript
        await pilot.press("down", "down")
        assert pane.view.name == "Support"
        assert "INBOX: 12 messages" in visible_text(app)


async def test_filter_narrows_the_rows_as_you_type(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter", Input)
        await pilot.press("s", "u")
        assert row_names(app) == ["Support"]
        await pilot.press("backspace", "backspace", *"gmail")  # by type
        assert row_names(app) == ["Sales"]
        await pilot.press("ctrl+u", *"billing@")  # by account
        assert row_names(app) == ["Billing"]
        await pilot.press("escape")
        assert row_names(app) == ["Billing", "Sales", "Support"]
        assert isinstance(app.focused, ProviderTable)


async def test_delete_asks_first_and_names_the_provider(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Billing" in visible_text(app)
        await pilot.press("n")  # no: nothing deleted
        await settle(pilot)
        assert app.service.get("Billing") is not None
        await pilot.press("d")
        await pilot.press("y")
        await settle(pilot)
        assert app.service.get("Billing") is None
        assert row_names(app) == ["Sales", "Support"]


async def test_enter_edits_n_creates_and_question_mark_helps(tmp_path):
    app = make_app(tmp_path)
    app.service.create(example_draft("Support"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProviderFormScreen)
        assert app.screen.query_one("#name", Input).value == "Support"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, ProviderFormScreen) and app.screen.editing is None
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("q")
        assert app.return_code == 0


async def test_keys_are_offered_in_the_command_palette(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"check all")
        await pilot.pause(0.3)
        assert "Check every provider" in visible_text(app)


async def test_the_real_services_open_after_the_first_paint(tmp_path):
    """What `mailprov` does: paint first, then open the SQLite file and the secret store
    in a worker (here the real encrypted-file keyring, keyed by MAILPROV_MASTER_KEY)."""
    from tui.core.bootstrap import build_service
    from tui.core.settings import load_settings
    from tui.ui.app import MailprovApp

    env = {"MAILPROV_DB": str(tmp_path / "m.db"), "MAILPROV_DATA_DIR": str(tmp_path),
           "MAILPROV_CONFIG_DIR": str(tmp_path / "cfg"), "MAILPROV_LOG_DIR": str(tmp_path),
           "MAILPROV_MASTER_KEY": "a test master key"}
    settings = load_settings(env=env)
    migrated_database(settings.db_path)  # opening it is the subject, not migrating it
    build_service(settings).create(example_draft("Support"))
    app = MailprovApp(settings, service_factory=lambda: build_service(settings))
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.service is None  # the first frame did not wait for the database
        await settle(pilot)
        assert app.service is not None
        assert row_names(app) == ["Support"]


async def test_a_database_that_cannot_be_opened_is_said_on_screen(tmp_path):
    from tui.ui.app import MailprovApp

    def broken():
        raise PermissionError("unable to open database file /nope/m.db")

    app = MailprovApp(make_app(tmp_path).settings, service_factory=broken)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "Could not open the database" in visible_text(app)
        assert "/nope/m.db" in visible_text(app)


async def test_a_provider_without_its_password_says_so_in_the_list_and_the_pane(tmp_path):
    app = make_app(tmp_path)
    record = app.service.create(example_draft("Support"))
    app.service.secrets.delete_password(record.secret_key)
    app.service.store.record_intents([record.secret_key])  # as an older version's row is
    app.service.sweep()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(ProviderTable)
        assert table.row_cells(0)[0] == "✖ password missing"
        text = visible_text(app)
        assert "○ not checked" not in text
        assert "Error: secret" in text and "is missing" in text and "Enter the password again" in text
