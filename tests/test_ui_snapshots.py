"""Snapshot tests of the main screens at 80x24 and 120x36 (fixed data, frozen clock, no network).

Review tests/__snapshots__/ with `pytest --snapshot-report` before `--snapshot-update`."""

import re
import zlib

import pytest
import textual.app
import textual.constants

from tests.ui_helpers import example_draft, fill_demo, make_app, no_cursor_blink, queue_demo, settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


@pytest.fixture(autouse=True)
def no_animations(monkeypatch):
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(autouse=True)
def screenshots_of_what_is_seen(monkeypatch):
    """Snapshots compare what a person sees, not how the compositor cut it in pieces."""
    export = textual.app.App.export_screenshot
    monkeypatch.setattr(textual.app.App, "export_screenshot",
                        lambda app, **kwargs: seen_svg(export(app, **kwargs)))


RECT = re.compile(r'<rect fill="([^"]+)" x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)" '
                  r'height="([0-9.]+)" shape-rendering="crispEdges"/>')


def seen_svg(svg: str) -> str:
    """The SVG with each run of same-coloured background cells on a line drawn as one
    rectangle, and its ids named after that. Two frames that look the same (a blank line
    drawn by a pane or by its scroll container behind it) then give the same SVG."""
    cells = list(RECT.finditer(svg))  # one block of background rectangles, line by line
    if not cells:
        return svg
    runs: list[list] = []
    for cell in cells:
        fill, x, y, width, height = cell.group(1), *map(float, cell.group(2, 3, 4, 5))
        if runs and runs[-1][0] == fill and runs[-1][2] == y and abs(runs[-1][1] + runs[-1][3] - x) < 0.05:
            runs[-1][3] += width
        else:
            runs.append([fill, x, y, width, height])
    rects = "".join(f'<rect fill="{fill}" x="{x:g}" y="{y:g}" width="{round(width, 2):g}" height="{height:g}" '
                    f'shape-rendering="crispEdges"/>' for fill, x, y, width, height in runs)
    svg = svg[: cells[0].start()] + rects + svg[cells[-1].end():]
    new_id = f"terminal-{zlib.adler32(re.sub(r'terminal-[0-9]+', '', svg).encode())}"
    return re.sub(r"terminal-[0-9]+", new_id, svg)


def demo_app(tmp_path, *, providers: bool = True):
    app = make_app(tmp_path)
    if providers:
        fill_demo(app.service)
        queue_demo(app.service.store)  # Support: 12 messages in its queue
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


# --- sign-in screens (a fixed flow: the real ones carry random codes, ports and states) -------


class FixedDeviceCode:
    """A device code flow as msal starts it, with fixed values; waits until cancelled."""

    def __init__(self):
        from datetime import timedelta

        from tests.ui_helpers import FROZEN_NOW

        self.verification_uri = "https://microsoft.com/devicelogin"
        self.user_code = "HX4K9QW2"
        self.expires_at = FROZEN_NOW + timedelta(minutes=15)
        self._stop = __import__("threading").Event()

    def wait(self):
        from tui.core.oauth import SignInCancelled

        self._stop.wait(30)
        raise SignInCancelled()

    def cancel(self):
        self._stop.set()


class FixedLoopback(FixedDeviceCode):
    """A Google loopback flow with fixed values (no listener of its own)."""

    listening = True
    redirect_uri = "http://127.0.0.1:8765/"
    url = ("https://accounts.google.com/o/oauth2/auth?response_type=code&client_id=1234-abc.apps."
           "googleusercontent.com&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2F&scope=https%3A%2F%2Fmail."
           "google.com%2F+openid&state=FIXEDSTATE&code_challenge=FIXEDCHALLENGE&code_challenge_method=S256"
           "&prompt=consent&login_hint=sales%40example.com&access_type=offline")

    def ssh_command(self, where=None):
        return "ssh -L 8765:127.0.0.1:8765 admin@mail-server"


def sign_in_screen(flow_class):
    async def run_before(pilot) -> None:
        from tests.ui_helpers import wait_until
        from tui.core.oauth import DeviceCodeSignIn
        from tui.ui.screens.sign_in import SignInScreen

        await settle(pilot)
        if flow_class is FixedDeviceCode:  # the screen tells the flows apart by their class
            flow_type = type("FixedMicrosoftFlow", (FixedDeviceCode, DeviceCodeSignIn), {})
        else:
            flow_type = flow_class
        pilot.app.push_screen(SignInScreen("Sales", start=lambda service: flow_type()))
        await wait_until(pilot, lambda: pilot.app.screen.flow is not None)
        await pilot.pause()
        no_cursor_blink(pilot.app)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_device_code_sign_in(snap_compare, tmp_path, size):
    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=sign_in_screen(FixedDeviceCode))


@pytest.mark.parametrize("size", SIZES)
def test_loopback_sign_in(snap_compare, tmp_path, size):
    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=sign_in_screen(FixedLoopback))
