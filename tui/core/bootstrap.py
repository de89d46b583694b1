"""Build the real services from Settings: what `mailprov` runs on (tests build their own)."""

from __future__ import annotations

import logging
import os

from tui.core.settings import Settings
from tui.core.text import visible

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFileError(OSError):
    """The log file cannot be created or opened; the message names it."""


def build_service(settings: Settings, keyring_backend=None, store=None):
    """The ProviderService over the configured database and secret store. The secret store
    is opened when a password is first read or written, not here: reading providers needs
    no secret, so a broken secret store cannot stop it. `store`: the quick path's Reader
    (for `check`; it is only open when there is nothing to sweep), else the Store is opened."""
    from tui.core.secrets import LazySecretStore, SecretStore, choose_backend
    from tui.core.service import ProviderService

    if keyring_backend is not None:
        secrets = SecretStore(keyring_backend)
    else:
        secrets = LazySecretStore(lambda: choose_backend(settings))
    if store is not None:
        return ProviderService(store, secrets, settings)
    from tui.core.store import Store

    service = ProviderService(Store.open(settings.db_url), secrets, settings)
    service.sweep()  # what a killed process left behind; cheap when nothing is pending
    return service


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Log to a file (never to the terminal: the TUI owns the screen). Secrets are never
    passed to the logger in the first place; the file and its folder are private to the user."""
    try:
        settings.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(settings.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise LogFileError(f"log file {settings.log_file}: cannot create it ({exc.strerror or exc}); "
                           "set MAILPROV_LOG_DIR to a folder you may write to.") from None
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


def environment_problem(error: BaseException, settings: Settings) -> str | None:
    """One line saying which part of the environment failed (the database, the secret
    store, the log file) and why, with any database password masked; None when `error` is
    not an environment fault (a bug: let it show)."""
    from tui.core.reader import ReadFailed

    if isinstance(error, ReadFailed):
        return f"database {settings.db_label}: {error}"
    from sqlalchemy.exc import SQLAlchemyError

    from tui.core.filelock import LockError
    from tui.core.secrets import SecretStoreError
    from tui.core.settings import without_db_password
    from tui.core.store import DatabaseUnavailable

    if isinstance(error, SecretStoreError):
        return f"secret store: {error}"
    if isinstance(error, LockError):
        return f"write lock: {error}"
    if isinstance(error, DatabaseUnavailable):
        return f"database {error}"
    if isinstance(error, SQLAlchemyError):
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        return f"database {settings.db_label}: {without_db_password(detail, settings.db_url)}"
    if isinstance(error, LogFileError):
        return str(error)
    return None
