"""Toasts go away on time at 80x24 too, and never cover the check steps they sum up."""

from __future__ import annotations

import time

from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.widgets import Input
from textual.widgets._toast import Toast

from tests.ui_helpers import example_draft, make_app, settle


def refused(name: str, port: int):
    return example_draft(name, smtp_host="127.0.0.1", smtp_port=str(port),
                         inbound_host="127.0.0.1", inbound_port=str(port))


def toast_regions(app):
    return [toast.region for toast in app.screen.query(Toast)]


async def test_an_expired_toast_is_wiped_from_the_screen_at_80x24(tmp_path):
    """The case of the issue: the form at 80x24, its focused field scrolled out of view once
    the status pane shows. Textual removed the expired toast but never repainted where it
    was (what a terminal shows is what the app sends: here, the updates it hands its driver).
    """
    app = make_app(tmp_path)
    sent = []  # (when, update) for every screen update the app sends to the terminal
    display = app._display

    def record(screen, update):
        sent.append((time.monotonic(), update))
        return display(screen, update)

    app._display = record
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        last_field = list(app.screen.query(Input))[-1]
        last_field.focus()
        app.screen.query_one("#form-status-scroll").display = True  # as after a check
        await pilot.pause(0.3)
        assert last_field not in app.screen._compositor.visible_widgets  # its cursor blinks out of view
        gone_at = time.monotonic() + 0.95  # just before the toast's 1 s are over
        app.notify("Saved and active.", title="Support", timeout=1)
        await pilot.pause(0.3)
        (region,) = toast_regions(app)
        await pilot.pause(1.5)  # not asking the screen anything meanwhile: that would repaint it
        assert not toast_regions(app)

        def covers_toast(update) -> bool:
            if isinstance(update, LayoutUpdate):
                return True
            return isinstance(update, ChopsUpdate) and any(
                region.y <= y < region.bottom and x1 < region.right and x2 > region.x for y, x1, x2 in update.spans
            )

        assert any(covers_toast(update) for when, update in sent if when >= gone_at)


async def test_a_toast_does_not_cover_the_list_status_pane(tmp_path, closed_port):
    app = make_app(tmp_path)
    app.service.create(refused("Support", closed_port))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        pane = app.screen.query_one("#status-scroll").region
        regions = toast_regions(app)
        assert regions  # "Check failed"
        assert not any(region.overlaps(pane) for region in regions)


async def test_a_toast_does_not_cover_the_form_status_pane(tmp_path, closed_port):
    for size in ((80, 24), (120, 36)):  # the pane under the fields, then beside them
        app = make_app(tmp_path / f"{size[0]}")
        app.service.create(refused("Support", closed_port))
        async with app.run_test(size=size, notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("ctrl+t")  # test the values: steps in the pane, a toast sums up
            await settle(pilot)
            pane = app.screen.query_one("#form-status-scroll").region
            regions = toast_regions(app)
            assert regions, size
            assert not any(region.overlaps(pane) for region in regions), size
