"""Pilot tests of the list as it lives: it follows the database and every check, its times
tick, its cursor follows what was saved, its filter reads statuses, and it fits 80x24."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from textual.widgets import Input

from tests.forked_cli import run_forked
from tests.ui_helpers import (
    FROZEN_NOW,
    example_draft,
    fill,
    fill_demo,
    make_app,
    make_service,
    make_settings,
    notifications,
    queue_demo,
    settle,
    type_into,
    visible_text,
    wait_until,
)
from tui.core.domain import Status
from tui.ui import screens
from tui.ui.app import create_app
from tui.ui.commands import ScreenActionsProvider
from tui.ui.screens.form import ProviderFormScreen
from tui.ui.screens.help import HelpScreen
from tui.ui.widgets import status_pane
from tui.ui.widgets.provider_table import ProviderTable
from tui.ui.widgets.status_pane import StatusPane

REPO_ROOT = Path(__file__).resolve().parent.parent


def refused(name: str, port: int, **changes):
    """A provider whose servers refuse at once (a check fails fast, without DNS)."""
    servers = {"smtp_host": "127.0.0.1", "smtp_port": str(port), "inbound_host": "127.0.0.1", "inbound_port": str(port)}
    return example_draft(name, **{**servers, **changes})


def table_of(app) -> ProviderTable:
    return app.screen_stack[0].query_one(ProviderTable)


def row_names(app) -> list[str]:
    table = table_of(app)
    return [table.row_cells(i)[1] for i in range(table.row_count)]


def row_status(app, name: str) -> str:
    table = table_of(app)
    return next(table.row_cells(i)[0] for i in range(table.row_count) if table.row_cells(i)[1] == name)


def run_cli(tmp_path: Path, *argv: str, stdin: str = "") -> None:
    """A real `mailprov` command (a process of its own, forked: tests/forked_cli.py) on the
    app's database (its own secrets file)."""
    keep = {k: v for k, v in os.environ.items()
            if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "MAILPROV_DB")}
    env = {**keep, "MAILPROV_DB": str(tmp_path / "mailprov.db"),
           "MAILPROV_DATA_DIR": str(tmp_path / "cli"), "MAILPROV_CONFIG_DIR": str(tmp_path / "cli"),
           "MAILPROV_LOG_DIR": str(tmp_path / "cli"), "MAILPROV_MASTER_KEY": "cli test key"}
    result = run_forked(list(argv), env=env, folder=tmp_path, stdin=stdin, timeout=60)
    assert result.returncode == 0, result.stderr


# Following the truth --------------------------------------------------------------------


async def test_the_list_follows_changes_made_by_the_cli_and_keeps_the_cursor(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        assert table_of(app).selected_name == "Support"
        run_cli(tmp_path, "provider", "add", "--name", "Aardvark", "--type", "smtp-imap",
                "--account", "a@example.com", "--smtp-host", "smtp.example.com",
                "--imap-host", "imap.example.com", "--password-stdin", stdin="pw\n")
        run_cli(tmp_path, "provider", "rm", "Billing")
        await wait_until(pilot, lambda: row_names(app) == ["Aardvark", "Sales", "Support"])
        assert table_of(app).selected_name == "Support"
        assert app.screen.query_one(StatusPane).view.name == "Support"


def queue_in_another_process(tmp_path: Path, provider: str, count: int, first: int) -> None:
    """Mail received into the provider's queue by another process (as the worker does)."""
    script = ("import sys; from tui.core.store import Store; from tui.ui.demo import queue_demo; "
              "queue_demo(Store.open(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))")
    result = subprocess.run(
        [sys.executable, "-c", script, f"sqlite:///{tmp_path / 'mailprov.db'}", provider, str(count), str(first)],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def queued_cell(app, name: str) -> str:
    table = table_of(app)
    return next(table.shown_cells(i)[5] for i in range(table.row_count) if table.row_cells(i)[1] == name)


async def test_the_queued_count_shows_and_follows_mail_queued_by_another_process(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    queue_demo(app.service.store, "Support", count=12)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = visible_text(app).splitlines()[1]
        assert "Queued" in header and "Status" in header
        assert [queued_cell(app, name) for name in ("Billing", "Sales", "Support")] == ["0", "0", "12"]
        await pilot.press("down", "down")
        assert app.screen.query_one(StatusPane).view.name == "Support"
        assert "Queued: 12 messages" in visible_text(app)
        queue_in_another_process(tmp_path, "Support", count=3, first=13)
        await wait_until(pilot, lambda: queued_cell(app, "Support") == "15")
        await settle(pilot)
        assert "Queued: 15 messages" in visible_text(app)
        assert table_of(app).selected_name == "Support"  # the cursor stays
        await pilot.press("up", "up")  # Billing
        queue_in_another_process(tmp_path, "Billing", count=1, first=1)
        await wait_until(pilot, lambda: queued_cell(app, "Billing") == "1")
        await settle(pilot)
        assert "Queued: 1 message" in visible_text(app)


async def test_a_check_left_running_in_the_form_shows_in_the_list_then_its_result(tmp_path, silent_port, closed_port):
    app = make_app(tmp_path, timeout=1)
    app.service.create(refused("Slow", closed_port, smtp_port=str(silent_port)))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+s")  # save, then check: the silent server holds it for 1 s
        await wait_until(pilot, lambda: "Slow" in app.service.checking())
        await pilot.press("escape")  # saved: leaves at once, the check goes on
        await pilot.pause()
        assert not isinstance(app.screen, ProviderFormScreen)
        assert row_status(app, "Slow") == "◌ checking…"
        assert "Checking…" in visible_text(app)  # the pane follows the check's steps
        await wait_until(pilot, lambda: row_status(app, "Slow") == "✖ error")
        assert app.service.get("Slow").status is Status.RED
        assert "Error: timeout" in visible_text(app)


async def test_t_marks_the_row_as_being_checked(tmp_path, silent_port, closed_port):
    app = make_app(tmp_path, timeout=1)
    app.service.create(refused("Slow", closed_port, smtp_port=str(silent_port)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        assert row_status(app, "Slow") == "◌ checking…"
        assert "◌ checking…" in visible_text(app)  # glyph and word
        await settle(pilot)
        assert row_status(app, "Slow") == "✖ error"


async def test_check_all_counts_the_providers_in_the_database_not_those_listed(tmp_path, closed_port, monkeypatch):
    monkeypatch.setattr(screens.providers, "WATCH_SECONDS", 3600)  # the list does not follow here
    app = make_app(tmp_path)
    for name in ("A", "B"):
        app.service.create(refused(name, closed_port))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        another_session = make_service(make_settings(tmp_path))
        for name in ("C", "D"):
            another_session.create(refused(name, closed_port))
        assert row_names(app) == ["A", "B"]
        await pilot.press("T")
        await settle(pilot)
        assert "Checking 4 providers…" in notifications(app)
        assert [r.status for r in app.service.list()] == [Status.RED] * 4


async def test_relative_times_tick(tmp_path, monkeypatch):
    monkeypatch.setattr(screens.providers, "TIME_TICK_SECONDS", 0.1)
    monkeypatch.setattr(status_pane, "TIME_TICK_SECONDS", 0.1)
    now = [FROZEN_NOW]
    settings = make_settings(tmp_path)
    app = create_app(make_service(settings), settings, clock=lambda: now[0])
    fill_demo(app.service)  # Support was checked 3 min ago
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        assert "3 min ago" in visible_text(app)
        now[0] += timedelta(minutes=5)
        await pilot.pause(0.5)
        text = visible_text(app)
        assert "3 min ago" not in text
        assert "8 min ago" in text  # the row and the pane
        assert "Last check: 8 min ago" in text


async def test_the_cursor_goes_to_the_provider_just_edited_or_created(tmp_path, closed_port):
    app = make_app(tmp_path)
    for name in ("Bravo", "Charlie", "Delta"):
        app.service.create(refused(name, closed_port))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        await pilot.press("enter")
        await settle(pilot)
        await fill(pilot, "#name", "Alpha")  # renamed: now first in the list
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert row_names(app) == ["Alpha", "Bravo", "Charlie"]
        assert table_of(app).selected_name == "Alpha"
        await pilot.press("n")
        await settle(pilot)
        draft = refused("Echo", closed_port)
        await type_into(pilot, "#name", draft.name)
        await fill(pilot, "#account", draft.account)
        await fill(pilot, "#password", draft.password)
        for field in ("smtp_host", "smtp_port", "inbound_host", "inbound_port"):
            await fill(pilot, f"#{field.replace('_', '-')}", getattr(draft, field))
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert table_of(app).selected_name == "Echo"


# Filter ---------------------------------------------------------------------------------


async def test_the_filter_matches_status_words(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)  # Billing error, Sales not checked, Support active
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        for words, names in (("error", ["Billing"]), ("active", ["Support"]), ("not checked", ["Sales"])):
            await type_into(pilot, "#filter", words)
            assert row_names(app) == names, words


async def test_the_filter_keeps_the_cursor_on_the_selected_provider_while_it_matches(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)  # Billing and Support are SMTP + IMAP, Sales is Gmail
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(StatusPane)
        await pilot.press("down", "down", "slash", *"smtp")
        assert row_names(app) == ["Billing", "Support"]
        assert table_of(app).selected_name == "Support" and pane.view.name == "Support"
        await pilot.press("ctrl+u", *"gmail")  # Support gone: the first row
        assert row_names(app) == ["Sales"]
        assert table_of(app).selected_name == "Sales" and pane.view.name == "Sales"
        await pilot.press("escape")  # every row back: still on Sales
        assert row_names(app) == ["Billing", "Sales", "Support"]
        assert table_of(app).selected_name == "Sales" and pane.view.name == "Sales"
        table_of(app).select_name("Support")  # the index by name follows the rows
        assert table_of(app).selected_name == "Support"


async def test_the_filter_texts_are_built_off_the_screens_thread_before_the_first_key(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert all(view._search is None for view in app.screen.views.values())  # not before "/"
        await pilot.press("slash")
        await settle(pilot)
        assert all(view._search is not None for view in app.screen.views.values())  # no key typed yet
        await pilot.press(*"su")
        assert row_names(app) == ["Support"]


async def test_a_filter_that_matches_nothing_says_so(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzz")
        text = " ".join(visible_text(app).split())  # wrapped lines joined
        assert "No provider matches the filter “zzz”" in text
        assert "Esc clears the filter" in text
        assert "No provider selected" not in text
        assert not table_of(app).display
        await pilot.press("escape")
        assert row_names(app) == ["Billing", "Sales", "Support"]
        assert "No provider matches" not in visible_text(app)


# 80x24 ----------------------------------------------------------------------------------


async def test_long_names_and_accounts_are_shortened_and_status_stays_in_view(tmp_path):
    app = make_app(tmp_path)
    app.service.create(example_draft("Customer support desk, second line EMEA",
                                     account="customer.support.second.line.emea@example.com"))
    app.service.create(example_draft("Sales"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no sideways scrolling
        header = visible_text(app).splitlines()[1]
        for label in ("Status", "Name", "Type", "Account", "Receive", "Last check"):
            assert label in header
        assert "Queued" not in header  # left out before the account is cut to a letter
        status, name, kind, account, receive, queued, checked = table.shown_cells(0)
        assert status == "○ not checked"
        assert name.startswith("Customer") and name.endswith("…")
        assert "…" in account and account.endswith("@example.com")  # the domain stays
        assert len(account) >= 16 and queued == ""
        assert checked == "never"
        assert table.shown_cells(1)[3] == "sales@example.com"  # short ones are whole


def test_the_queued_column_gives_way_before_status_or_a_readable_account():
    from tui.ui.widgets.provider_table import COLUMNS, arrange_columns

    widest = {key: high for _, key, high in COLUMNS}  # "● active, unencrypted", long names
    widths, gap = arrange_columns(widest, 78)  # an 80-column terminal
    assert widths["status"] == 21 and widths["queued"] == 0  # left out, with its gap
    assert sum(width + gap for width in widths.values() if width) <= 78
    short = {**widest, "status": 13, "name": 7, "type": 9, "account": 19}  # the demo's providers
    widths, gap = arrange_columns(short, 78)
    assert widths == short and gap == 1  # everything whole, Queued too


async def test_the_footer_keeps_quit_at_80_columns(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        footer = visible_text(app).splitlines()[-1]
        assert "Edit" in footer and "q Quit" in footer


async def test_every_key_of_the_list_is_in_the_command_palette(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = {command.title for command in ScreenActionsProvider(app.screen)._commands()}
        expected = {"New", "Edit", "Check", "Check all", "Delete", "Filter", "Transcript", "Zoom status", "Help"}
        assert expected <= titles
        await pilot.press("ctrl+p")
        await pilot.press(*"transcript")
        await pilot.pause(0.3)
        assert "Show or hide the transcript (key: l)" in visible_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one(StatusPane).show_transcript


async def test_help_fits_one_screen_at_80x24_and_names_tab_and_esc(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        dialog = app.screen.query_one("#help-dialog")
        assert dialog.max_scroll_y == 0  # nothing below the fold
        text = visible_text(app)
        assert "Go to the status pane" in text  # tab
        assert "Leave the filter" in text  # esc
        assert "ctrl+p" in text and "ctrl+q" in text


async def test_z_gives_the_status_pane_the_whole_screen(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane_scroll = app.screen.query_one("#status-scroll")
        small = pane_scroll.region.height
        await pilot.press("z")
        await pilot.pause()
        assert not table_of(app).display
        assert pane_scroll.region.height > small + 8
        assert app.focused is pane_scroll  # arrows scroll it
        assert "Fix: Check the password" in visible_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert table_of(app).display and pane_scroll.region.height == small
        assert isinstance(app.focused, ProviderTable)


async def test_tab_reaches_the_status_pane(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        assert app.focused is app.screen.query_one("#status-scroll")
