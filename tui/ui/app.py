"""The app factory. `run_app` paints the first screen, then opens the store in a worker:
importing SQLModel and friends costs more than all of Textual, so it waits until after
the first paint."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn, TypeVar

from textual import work
from textual.app import ScreenStackError
from textual.binding import Binding
from textual.notifications import Notify
from textual.screen import Screen

from tui.core.report import utcnow
from tui.core.settings import Settings
from tui.ui.keys import TypeAheadApp
from tui.ui.messages import (
    CheckProgress,
    ChecksEnded,
    ChecksStarted,
    SecretStoreFailed,
    ServiceFailed,
    ServiceReady,
)
from tui.ui.screens.providers import ProvidersScreen
from tui.ui.watched_service import WatchedService

if TYPE_CHECKING:
    from tui.core.service import ProviderService

ServiceFactory = Callable[[], "ProviderService"]
ScreenType = TypeVar("ScreenType", bound=Screen)
EXIT_INTERRUPTED = 130
TOAST_REPAINT_DELAY = 0.1  # seconds after a toast's timeout


class MailprovApp(TypeAheadApp[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mailprov"
    SUB_TITLE = "email providers"
    # The form puts the status pane beside the fields when there is room, else under them.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", tooltip="Quit (asks if something is unsaved)",
                show=False, priority=True, id="quit-app"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        service: ProviderService | None = None,
        service_factory: ServiceFactory | None = None,
        clock: Callable[[], datetime] | None = None,
        peek_list: bool = True,
    ) -> None:
        """`peek_list`: first show the rows read straight from a SQLite file (the list
        screen's `peek_providers`), then open the service."""
        super().__init__()
        if service is None and service_factory is None:
            raise ValueError("Give a service or a service factory.")
        self.settings = settings
        self.service = self.watched(service) if service is not None else None
        self.service_factory = service_factory
        self.clock = clock or utcnow
        self.peek_list = peek_list
        self.asking_to_quit = False

    def now(self) -> datetime:
        return self.clock()

    def watched(self, service: ProviderService) -> WatchedService:
        """The service, telling this app about every check (see WatchedService)."""
        return WatchedService(service, self.post_message)

    def get_default_screen(self) -> ProvidersScreen:
        return self.with_size_classes(ProvidersScreen())

    def push_screen(self, screen, *args, **kwargs):
        if isinstance(screen, Screen):
            self.with_size_classes(screen)
        return super().push_screen(screen, *args, **kwargs)

    def with_size_classes(self, screen: ScreenType) -> ScreenType:
        """Give a screen its breakpoint class (-narrow, -wide) before it is mounted. Textual
        gives it at the screen's first Resize, after every widget was styled, and so styles
        them all twice: 60-90 ms more to open the form (~140 widgets). A Resize later still
        sets the class, as always."""
        breakpoints = screen.HORIZONTAL_BREAKPOINTS or self.HORIZONTAL_BREAKPOINTS
        width = self.size.width
        fitting = max(((edge, name) for edge, name in breakpoints if width >= edge), default=None)
        screen.remove_class(*(name for _, name in breakpoints), update=False)
        if fitting is not None:
            screen.add_class(fitting[1], update=False)
        return screen

    def on_mount(self) -> None:
        # With `peek_list`, the list screen opens the store once it has read the rows from
        # the file: the store's imports and schema check are kept off the path to a usable list.
        if self.service is None and not self.peek_list:
            self.call_after_refresh(self.open_service)

    @work(thread=True, exit_on_error=False, name="open-service")
    def open_service(self) -> None:
        try:
            service = self.service_factory()
        except Exception as error:  # shown on screen: the app stays usable to read it
            self.post_message(ServiceFailed(f"Could not open the {self.environment_problem(error)}"))
            return
        self.post_message(ServiceReady(service))
        self.open_secret_store(service)

    def open_secret_store(self, service: ProviderService) -> None:
        """The secret store opens on first use, so the list shows even when it cannot be
        opened; open it now anyway, to say at once that passwords are out of reach."""
        opened = getattr(service.secrets, "opened", None)  # absent: a store that is open already
        if opened is None:
            return
        try:
            opened()
        except Exception as error:
            self.post_message(SecretStoreFailed(self.environment_problem(error)))

    def environment_problem(self, error: Exception) -> str:
        """'database …', 'secret store: …', 'log file …': which part failed and why."""
        from tui.core.bootstrap import environment_problem

        return environment_problem(error, self.settings) or f"database: {type(error).__name__}: {error}"

    def on_service_ready(self, message: ServiceReady) -> None:
        self.service = self.watched(message.service)
        self.providers_screen.service_ready()

    def on_service_failed(self, message: ServiceFailed) -> None:
        self.providers_screen.show_problem(message.error)

    def on_secret_store_failed(self, message: SecretStoreFailed) -> None:
        self.notify(
            f"Passwords can be neither read nor saved, so checks and edits will fail; the list "
            f"still works. {message.error}",
            title="Secret store problem",
            severity="error",
            timeout=30,
            markup=False,
        )

    def on_notify(self, message: Notify) -> None:
        """Repaint the screen when the toast goes. Textual removes an expired toast without
        repainting where it was whenever its compositor rebuilt its map in between, which
        a focused field scrolled out of view does at every cursor blink (the form at 80x24
        after a check): "Saved and active." then stayed on screen until a key was pressed."""
        self.set_timer(message.notification.timeout + TOAST_REPAINT_DELAY, self._repaint_screen)

    def _repaint_screen(self) -> None:
        try:
            self.screen.refresh()
        except ScreenStackError:  # quitting
            pass

    # Every check of a saved provider, whichever screen started it, shows in the list.

    def on_checks_started(self, message: ChecksStarted) -> None:
        if self.list_is_up():
            self.providers_screen.checks_started(message.names)

    def on_check_progress(self, message: CheckProgress) -> None:
        if self.list_is_up():
            self.providers_screen.check_progress(message.provider, message.protocol, message.step)

    def on_checks_ended(self, message: ChecksEnded) -> None:
        if self.list_is_up():
            self.providers_screen.checks_ended(message.names, message.report)

    def list_is_up(self) -> bool:
        """False while quitting, when the screens are gone but checks may still report."""
        return any(isinstance(screen, ProvidersScreen) and screen.is_mounted for screen in self.screen_stack)

    async def action_quit(self) -> None:
        """q, ctrl+q and the palette's Quit: when a screen holds unsaved changes, ask first,
        as Esc does in the form. Checks still running are abandoned (see `leave_now`)."""
        from tui.ui.screens.confirm import ConfirmScreen

        if self.asking_to_quit:
            return
        if not any(_has_unsaved_changes(screen) for screen in self.screen_stack):
            self.exit()
            return

        def answered(quit_anyway: bool | None) -> None:
            self.asking_to_quit = False
            if quit_anyway:
                self.exit()

        self.asking_to_quit = True
        self.push_screen(ConfirmScreen("Quit and discard your unsaved changes?", "Quit"), answered)

    @property
    def providers_screen(self) -> ProvidersScreen:
        return next(s for s in self.screen_stack if isinstance(s, ProvidersScreen))


def _has_unsaved_changes(screen: object) -> bool:
    has_unsaved_changes = getattr(screen, "has_unsaved_changes", None)
    return bool(has_unsaved_changes and has_unsaved_changes())


def create_app(
    service: ProviderService,
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
) -> MailprovApp:
    """The app over a ready service (tests, demos)."""
    return MailprovApp(settings, service=service, clock=clock)


def run_app(settings: Settings) -> None:
    """What `mailprov` with no subcommand runs: the real store and keyring, opened lazily."""

    def open_real_service() -> ProviderService:
        from tui.core.bootstrap import build_service, configure_logging

        configure_logging(settings)
        return build_service(settings)

    app = MailprovApp(settings, service_factory=open_real_service)
    # Our own event loop, so that leaving it does not wait for the worker threads
    # (asyncio.run would join them: a check against a server that never answers held the
    # process for its whole timeout after the screen was gone).
    loop = asyncio.new_event_loop()
    try:
        app.run(loop=loop)
    except KeyboardInterrupt:  # a SIGINT from outside: the terminal's ctrl+c is a key here
        print("mailprov: interrupted.", file=sys.stderr)
        leave_now(EXIT_INTERRUPTED)
    leave_now(app.return_code or 0)


def leave_now(code: int) -> NoReturn:
    """End the process without waiting for threads still checking a provider (or waiting for
    a database lock): they are abandoned. Safe, because every write is ordered so that a kill
    at any instant leaves the old state or the new one; what is buffered is flushed first."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
