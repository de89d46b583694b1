"""The list shows the rows of a SQLite file before the store is open (tui.core.listing.peek_sqlite):
what needs the store waits for it, and a store that cannot be opened still says so."""

import threading

from tests.ui_helpers import (
    example_draft,
    frozen_clock,
    make_service,
    make_settings,
    settle,
    visible_text,
    wait_until,
)
from tui.core.listing import peek_sqlite
from tui.ui.app import MailprovApp
from tui.ui.screens.form import ProviderFormScreen
from tui.ui.screens.providers import ProvidersScreen
from tui.ui.widgets.provider_table import ProviderTable


def row_names(app) -> list[str]:
    table = app.screen.query_one(ProviderTable)
    return [table.row_cells(i)[1] for i in range(table.row_count)]


async def test_the_list_shows_before_the_store_opens_and_keys_needing_it_wait(tmp_path):
    settings = make_settings(tmp_path)
    service = make_service(settings)
    for name in ("Support", "Billing"):
        service.create(example_draft(name))
    gate = threading.Event()

    def open_service():
        gate.wait(30)
        return service

    app = MailprovApp(settings, service_factory=open_service, clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: row_names(app) == ["Billing", "Support"], limit=10)
        assert app.service is None  # read from the file, the store still opening
        await pilot.press("enter")  # edit needs the store: kept until it is open
        await pilot.pause()
        assert isinstance(app.screen, ProvidersScreen)
        gate.set()
        await wait_until(pilot, lambda: isinstance(app.screen, ProviderFormScreen), limit=10)
        assert app.screen.editing == "Billing"
        await settle(pilot)


async def test_a_store_that_cannot_open_is_said_even_after_the_rows_were_read(tmp_path):
    settings = make_settings(tmp_path)
    make_service(settings).create(example_draft("Support"))
    gate = threading.Event()

    def broken():
        gate.wait(30)
        raise PermissionError("unable to open database file")

    app = MailprovApp(settings, service_factory=broken, clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: row_names(app) == ["Support"], limit=10)
        gate.set()
        await wait_until(pilot, lambda: "Could not open the database" in visible_text(app), limit=10)
        assert "Support" not in visible_text(app)


def test_peeking_needs_an_existing_sqlite_file(tmp_path):
    assert peek_sqlite(f"sqlite:///{tmp_path / 'none.db'}") is None  # and none is created
    assert not (tmp_path / "none.db").exists()
    assert peek_sqlite("postgresql://db.example.com/m") is None
    (tmp_path / "other.db").write_bytes(b"not a database")
    assert peek_sqlite(f"sqlite:///{tmp_path / 'other.db'}") is None
