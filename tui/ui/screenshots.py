"""`python -m tui.ui.screenshots FOLDER`: SVGs of the main screens over fixed demo data.

The demo database is a temp file and the secrets stay in memory; a screenshot that shows
the demo password is refused."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tui.ui.app import MailprovApp, create_app
from tui.ui.demo import DEMO_NOW, DEMO_PASSWORD, demo_settings, fill_demo, memory_service, queue_demo

SIZE = (120, 36)


async def _settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def _save(app: MailprovApp, folder: Path, name: str) -> Path:
    from textual.widgets import Input

    for field in app.screen.query(Input):
        field.cursor_blink = False
    svg = app.export_screenshot(title=f"mailprov: {name}")
    if DEMO_PASSWORD in svg:
        raise RuntimeError(f"the {name} screenshot shows a password")
    path = folder / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def _take_all(folder: Path, work_dir: Path) -> list[Path]:
    settings = demo_settings(work_dir)
    service = memory_service(settings)
    fill_demo(service)
    queue_demo(service.store)  # Support: 12 messages queued
    app = create_app(service, settings, clock=lambda: DEMO_NOW)
    app.animation_level = "none"
    saved = []
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        saved.append(_save(app, folder, "providers"))
        await pilot.press("l")
        await _settle(pilot)
        saved.append(_save(app, folder, "failed-check-transcript"))
        await pilot.press("n")
        await _settle(pilot)
        for provider_type in ("smtp-imap", "outlook", "gmail"):
            app.screen.query_one("#type").value = provider_type
            await _settle(pilot)
            saved.append(_save(app, folder, f"form-{provider_type}"))
        app.screen.query_one("#type").value = "smtp-imap"
        for selector, value in (("#name", "Billing"), ("#account", "billing@"), ("#smtp-host", "https://x")):
            app.screen.query_one(selector).value = value
        await pilot.press("ctrl+s")
        await _settle(pilot)
        saved.append(_save(app, folder, "form-validation-errors"))
    return saved


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mailprov-demo-") as work_dir:
        saved = asyncio.run(_take_all(folder, Path(work_dir)))
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
