"""Building the TUI over a real temp SQLite file and an in-memory keyring, for Pilot and snapshot tests."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from tests.databases import migrated_database
from tui.core.settings import Settings
from tui.ui.app import MailprovApp, create_app
from tui.ui.demo import (  # noqa: F401  (re-exported for the tests)
    DEMO_NOW,
    demo_settings,
    example_draft,
    failed_report,
    fill_demo,
    memory_service,
    passed_report,
    queue_demo,
)

FROZEN_NOW = DEMO_NOW


def frozen_clock() -> datetime:
    return FROZEN_NOW


make_settings = demo_settings


def make_service(settings: Settings):
    """The demo's service over the settings' database, started from a migrated copy when
    there is none yet (tests/databases.py): these tests are about what they do with it."""
    migrated_database(settings.db_path)
    return memory_service(settings)


def make_app(folder: Path, *, ca_file: Path | None = None, timeout: float = 5) -> MailprovApp:
    settings = make_settings(folder, ca_file=ca_file, timeout=timeout)
    return create_app(make_service(settings), settings, clock=frozen_clock)


async def settle(pilot) -> None:
    """Let workers finish and their messages be handled: rounds of waiting, at most three,
    until a round that began and ended with no worker running (so a round follows every one
    in which a worker ran: its last messages, and any worker they start, are seen to). A
    round costs ~25 ms of CPU on the form: Pilot's pause() sends every widget a callback."""
    for _ in range(3):
        worked = bool(pilot.app.workers)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not worked and not pilot.app.workers:
            return


KEY_NAMES = {" ": "space", "@": "at", ".": "full_stop", "-": "minus", ";": "semicolon", "_": "underscore"}


async def type_into(pilot, selector: str, text: str) -> None:
    """Focus a field, clear it with keys, and type `text` key by key, as one burst (the keys
    as a quick typist sends them; Pilot's press() would wait ~50 ms for each key)."""
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    await pilot.press("end", "ctrl+u")
    await burst(pilot, *text)


def visible_text(app) -> str:
    """The screen as plain text (what a person would read)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, force_terminal=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


def no_cursor_blink(app) -> None:
    from textual.widgets import Input

    for screen in app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False


async def fill(pilot, selector: str, text: str) -> None:
    """Set a field's value as a paste would (one Changed message): Pilot key presses cost
    ~60 ms each, so long values are pasted and only a few fields are typed key by key."""
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    widget.value = text
    await pilot.pause()


def key_event(key: str):
    """The Key event a terminal gives for `key` (a key name, or one character)."""
    from textual import events

    characters = {"tab": "\t", "enter": "\r", "space": " ", "escape": "\x1b"}
    names = {char: name for name, char in characters.items()} | {ch: name for ch, name in KEY_NAMES.items()}
    if len(key) == 1:
        return events.Key(names.get(key, key), key)
    return events.Key(key, characters.get(key))


async def burst(pilot, *keys: str) -> None:
    """Send keys as one burst, the way a terminal delivers a fast typist's or a password
    manager's keys: all read at once, before the app handles the first (Pilot's press()
    waits for each key to be handled). A text item is sent as its characters."""
    for item in keys:
        for key in ([item] if len(item) == 1 or item in ("tab", "enter", "escape", "space") else list(item)):
            pilot.app.post_message(key_event(key))
    for _ in range(5):
        await pilot.pause()


async def wait_until(pilot, condition, limit: float = 10.0, step: float = 0.05) -> None:
    """Let the app run until `condition()` holds (work done in threads no worker waits for)."""
    import time

    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {limit} s: {condition}")
        # The app runs on while this sleeps; pause() would also make every widget answer
        # a callback each time (~7 ms of CPU on the form), which the condition does not need.
        await asyncio.sleep(step)


def gated_app(folder: Path):
    """An app whose store opens only when the test says so (`gate.set()`), as a slow disk
    would: the first screen shows "Loading providers…" until then. Returns (app, service,
    gate); fill `service` before opening the gate."""
    import threading

    settings = make_settings(folder)
    service = make_service(settings)
    gate = threading.Event()

    def open_service():
        gate.wait(30)
        return service

    # A slow disk: the rows cannot be read before the store opens either (no peek).
    app = MailprovApp(settings, service_factory=open_service, clock=frozen_clock, peek_list=False)
    return app, service, gate
