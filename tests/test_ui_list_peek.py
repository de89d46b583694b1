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


def selected_name(app) -> str | None:
    return app.screen.query_one(ProviderTable).selected_name


async def test_a_long_list_paints_its_first_rows_at_once_and_moves_past_them_once_all_are_read(tmp_path, monkeypatch):
    """The first rows are read before the first frame; the rest in a worker, and the store
    opens only after that. A move within the first rows acts at once; one past them (End)
    waits for the rest, then lands on the real last provider."""
    from tui.core import listing
    from tui.ui.screens import providers

    monkeypatch.setattr(providers, "FIRST_ROWS", 3)
    settings = make_settings(tmp_path)
    service = make_service(settings)
    names = [f"Provider {i}" for i in range(1, 6)]
    for name in names:
        service.create(example_draft(name))
    rest_read = threading.Event()
    read_rows = listing.read_rows

    def rest_waits(connection, convert=None, limit=None):
        if limit is None:  # the whole list: held back until the test says
            rest_read.wait(30)
        return read_rows(connection, convert, limit)

    monkeypatch.setattr(listing, "read_rows", rest_waits)
    opened = []
    app = MailprovApp(settings, service_factory=lambda: opened.append(True) or service, clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        assert row_names(app) == names[:3]  # there from the first frame
        await pilot.press("down")
        assert selected_name(app) == "Provider 2"
        await pilot.press("end", "up")
        await pilot.pause(0.2)
        assert selected_name(app) == "Provider 2"  # waiting for the rest, in order
        assert not opened  # the store opens once the rows are read
        rest_read.set()
        await wait_until(pilot, lambda: row_names(app) == names)
        assert selected_name(app) == "Provider 4"  # End, then up
        await wait_until(pilot, lambda: app.service is not None)
        await settle(pilot)


async def test_rows_read_from_the_file_are_not_read_again_by_the_store_but_changes_are_followed(tmp_path, monkeypatch):
    from tui.core import store

    settings = make_settings(tmp_path)
    service = make_service(settings)
    service.create(example_draft("Support"))
    store_reads = []
    read_rows = store.read_rows
    monkeypatch.setattr(store, "read_rows", lambda *args, **kwargs: store_reads.append(1) or read_rows(*args, **kwargs))
    app = MailprovApp(settings, service_factory=lambda: service, clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.service is not None)
        await settle(pilot)
        assert row_names(app) == ["Support"]
        assert not store_reads  # nobody committed since the rows were read from the file
        make_service(settings).create(example_draft("Billing"))  # as the CLI would
        await wait_until(pilot, lambda: row_names(app) == ["Billing", "Support"], limit=10)
        await settle(pilot)


async def test_a_file_that_is_not_a_database_is_not_peeked_and_the_store_says_why(tmp_path):
    from tui.core.store import Store

    settings = make_settings(tmp_path)
    (tmp_path / "mailprov.db").write_bytes(b"not a database" * 100)
    app = MailprovApp(settings, service_factory=lambda: Store.open(settings.db_url), clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: "Could not open the database" in visible_text(app), limit=10)
        assert app.screen.query_one(ProviderTable).row_count == 0
