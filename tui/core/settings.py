"""Where things live and how long network calls may take.

Read once at start-up from flags and the environment; passed to whatever needs it
(no module reads the environment on its own, so tests can build their own Settings).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

APP_NAME = "mailprov"
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 50  # checks wait on the network: 50 providers in about one round


@dataclass(frozen=True)
class Settings:
    db_url: str
    config_dir: Path
    data_dir: Path
    log_dir: Path
    timeout: float = DEFAULT_TIMEOUT  # seconds, for every single network operation
    ca_file: Path | None = None  # trust these CAs instead of the system store
    max_concurrency: int = DEFAULT_CONCURRENCY
    env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{APP_NAME}.log"

    @property
    def db_path(self) -> Path | None:
        """The SQLite file, when the database is one."""
        prefix = "sqlite:///"
        if self.db_url.startswith(prefix) and self.db_url != "sqlite:///:memory:":
            return Path(self.db_url[len(prefix) :])
        return None

    @property
    def ca_source(self) -> str:
        if self.ca_file:
            return f"CA file {self.ca_file} (MAILPROV_CA_FILE)"
        if self.env.get("SSL_CERT_FILE"):
            return f"CA file {self.env['SSL_CERT_FILE']} (SSL_CERT_FILE)"
        return "the system certificate store"


def db_url_from(value: str) -> str:
    """A SQLAlchemy URL stays as it is; anything else is a path to a SQLite file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def load_settings(db: str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from a `--db` flag and the environment (MAILPROV_DB, MAILPROV_TIMEOUT,
    MAILPROV_CA_FILE, MAILPROV_CONCURRENCY)."""
    import platformdirs

    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("MAILPROV_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))
    config_dir = Path(env.get("MAILPROV_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))
    log_dir = Path(env.get("MAILPROV_LOG_DIR") or platformdirs.user_log_dir(APP_NAME))
    db_value = db or env.get("MAILPROV_DB") or str(data_dir / f"{APP_NAME}.db")
    ca_file = env.get("MAILPROV_CA_FILE")
    return Settings(
        db_url=db_url_from(db_value),
        config_dir=config_dir,
        data_dir=data_dir,
        log_dir=log_dir,
        timeout=_positive_float(env.get("MAILPROV_TIMEOUT"), DEFAULT_TIMEOUT, "MAILPROV_TIMEOUT"),
        ca_file=Path(ca_file) if ca_file else None,
        max_concurrency=int(
            _positive_float(env.get("MAILPROV_CONCURRENCY"), DEFAULT_CONCURRENCY, "MAILPROV_CONCURRENCY")
        ),
        env=env,
    )


class SettingsError(ValueError):
    pass


def _positive_float(text: str | None, default: float, name: str) -> float:
    if text is None or text.strip() == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a positive number, not '{text}'.") from None
    if value <= 0:
        raise SettingsError(f"{name} must be a positive number, not '{text}'.")
    return value
