"""The app factory. `run_app` paints the first screen, then opens the store in a worker:
importing SQLModel and friends costs more than all of Textual, so it waits until after
the first paint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding

from tui.core.report import utcnow
from tui.core.settings import Settings
from tui.ui.messages import SecretStoreFailed, ServiceFailed, ServiceReady
from tui.ui.screens.providers import ProvidersScreen

if TYPE_CHECKING:
    from tui.core.service import ProviderService

ServiceFactory = Callable[[], "ProviderService"]


class MailprovApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mailprov"
    SUB_TITLE = "email providers"
    # The form puts the status pane beside the fields when there is room, else under them.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit-app")]

    def __init__(
        self,
        settings: Settings,
        *,
        service: ProviderService | None = None,
        service_factory: ServiceFactory | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        if service is None and service_factory is None:
            raise ValueError("Give a service or a service factory.")
        self.settings = settings
        self.service = service
        self.service_factory = service_factory
        self.clock = clock or utcnow

    def now(self) -> datetime:
        return self.clock()

    def get_default_screen(self) -> ProvidersScreen:
        return ProvidersScreen()

    def on_mount(self) -> None:
        if self.service is None:
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
        self.service = message.service
        self.providers_screen.reload()

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

    @property
    def providers_screen(self) -> ProvidersScreen:
        return next(s for s in self.screen_stack if isinstance(s, ProvidersScreen))


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

    MailprovApp(settings, service_factory=open_real_service).run()
