"""Snapshot tests of the main screens at 80x24 and 120x36 (fixed data, frozen clock, no network).

Review tests/__snapshots__/ with `pytest --snapshot-report` before `--snapshot-update`."""

import pytest
import textual.constants

from tests.ui_helpers import example_draft, fill_demo, make_app, no_cursor_blink, settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


@pytest.fixture(autouse=True)
def no_animations(monkeypatch):
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


def demo_app(tmp_path, *, providers: bool = True):
    app = make_app(tmp_path)
    if providers:
        fill_demo(app.service)
    return app


def steps(*keys, type_value: str | None = None, actions=()):
    """A run_before that settles the app, presses keys, and stops the cursor blinking."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        if type_value is not None:
            pilot.app.screen.query_one("#type").value = type_value
        for action in actions:
            await action(pilot)
        await settle(pilot)
        no_cursor_blink(pilot.app)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_empty_list(snap_compare, tmp_path, size):
    assert snap_compare(demo_app(tmp_path, providers=False), terminal_size=size, run_before=steps())


@pytest.mark.parametrize("size", SIZES)
def test_list_with_every_status_and_a_failed_check(snap_compare, tmp_path, size):
    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=steps())


@pytest.mark.parametrize("size", SIZES)
def test_list_with_long_names_and_accounts(snap_compare, tmp_path, size):
    """Status stays in view; names are cut at the end, accounts in the middle (domain kept)."""
    app = demo_app(tmp_path)
    app.service.create(example_draft("Customer support desk, second line EMEA",
                                     account="customer.support.second.line.emea@example.com"))
    app.service.create(example_draft("Escalations", account="escalations@very-long-subsidiary-domain.example.co.uk"))
    assert snap_compare(app, terminal_size=size, run_before=steps())


@pytest.mark.parametrize("size", SIZES)
def test_filter_that_matches_nothing(snap_compare, tmp_path, size):
    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=steps("slash", "z", "z", "z"))


@pytest.mark.parametrize("size", SIZES)
def test_status_pane_with_transcript(snap_compare, tmp_path, size):
    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=steps("l"))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("provider_type", ["smtp-imap", "outlook", "gmail"])
def test_new_form(snap_compare, tmp_path, size, provider_type):
    run_before = steps("n", type_value=provider_type)
    assert snap_compare(demo_app(tmp_path, providers=False), terminal_size=size, run_before=run_before)


async def _type_bad_values(pilot) -> None:
    screen = pilot.app.screen
    screen.query_one("#name").value = "Billing"  # taken
    screen.query_one("#account").value = "billing@"
    screen.query_one("#reply-to").value = "help@example.com; nobody"
    screen.query_one("#smtp-host").value = "https://smtp.example.com"
    await pilot.pause()
    await pilot.press("ctrl+s")


@pytest.mark.parametrize("size", SIZES)
def test_form_full_of_validation_errors(snap_compare, tmp_path, size):
    run_before = steps("n", actions=[_type_bad_values])
    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=run_before)
