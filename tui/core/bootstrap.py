"""Build the real services from Settings: what `mailprov` runs on (tests build their own)."""

from __future__ import annotations

import logging
import os

from tui.core.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_service(settings: Settings, keyring_backend=None):
    """The ProviderService over the configured database and secret store."""
    from tui.core.secrets import SecretStore, choose_backend
    from tui.core.service import ProviderService
    from tui.core.store import Store

    backend = keyring_backend if keyring_backend is not None else choose_backend(settings)
    service = ProviderService(Store.open(settings.db_url), SecretStore(backend), settings)
    service.sweep()  # what a killed process left behind; cheap when nothing is pending
    return service


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Log to a file (never to the terminal: the TUI owns the screen). Secrets are never
    passed to the logger in the first place; the file is private to the user anyway."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger("tui")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
