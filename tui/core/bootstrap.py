"""Build the real services from Settings: what `mailprov` runs on (tests build their own)."""

from __future__ import annotations

import logging
import os

from tui.core.settings import Settings
from tui.core.text import visible

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_service(settings: Settings, keyring_backend=None):
    """The ProviderService over the configured database and secret store."""
    from tui.core.secrets import SecretStore, choose_backend
    from tui.core.service import ProviderService
    from tui.core.store import Store

    backend = keyring_backend if keyring_backend is not None else choose_backend(settings)
    return ProviderService(Store.open(settings.db_url), SecretStore(backend), settings)


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Log to a file (never to the terminal: the TUI owns the screen). Secrets are never
    passed to the logger in the first place; the file is private to the user anyway."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    handler.setFormatter(VisibleFormatter(LOG_FORMAT))
    root = logging.getLogger("tui")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class VisibleFormatter(logging.Formatter):
    """Log records name providers and quote servers: their control characters are written as
    visible escapes, so `tail` on the log cannot drive the terminal, and a line break in a
    message cannot forge a log line. A traceback keeps its own lines, each escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return visible(super().formatMessage(record))

    def formatException(self, exc_info) -> str:
        return _visible_lines(super().formatException(exc_info))

    def formatStack(self, stack_info: str) -> str:
        return _visible_lines(super().formatStack(stack_info))


def _visible_lines(text: str) -> str:
    return "\n".join(visible(line) for line in text.split("\n"))
