"""Where things live and how long network calls may take.

Read once at start-up from flags and the environment; passed to whatever needs it
(no module reads the environment on its own, so tests can build their own Settings).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

APP_NAME = "mailprov"
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 50  # checks wait on the network: 50 providers in about one round
MAX_TIMEOUT = 3600.0  # an hour per operation is already no timeout; beyond, sockets overflow
MAX_CONCURRENCY = 1000  # one thread per concurrent check
# Connections at once to one server as one user: servers turn more away (Dovecot's default
# mail_max_userip_connections is 10), which a check would report as a failure.
DEFAULT_ACCOUNT_CONCURRENCY = 4


@dataclass(frozen=True)
class Settings:
    db_url: str
    config_dir: Path
    data_dir: Path
    log_dir: Path
    timeout: float = DEFAULT_TIMEOUT  # seconds, for every single network operation
    ca_file: Path | None = None  # trust these CAs instead of the system store
    max_concurrency: int = DEFAULT_CONCURRENCY
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY  # per server and login name
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        # The database URL may hold a password: never show it, even in a debug print.
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        shown["db_url"] = mask_db_url(self.db_url)
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{APP_NAME}.log"

    @property
    def db_path(self) -> Path | None:
        """The SQLite file, when the database is one."""
        return sqlite_file(self.db_url)

    @property
    def db_label(self) -> str:
        return db_label(self.db_url)

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
    MAILPROV_CA_FILE, MAILPROV_CONCURRENCY, MAILPROV_ACCOUNT_CONCURRENCY)."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("MAILPROV_DATA_DIR") or _user_dir("data"))
    config_dir = Path(env.get("MAILPROV_CONFIG_DIR") or _user_dir("config"))
    log_dir = Path(env.get("MAILPROV_LOG_DIR") or _user_dir("log"))
    db_value = db or env.get("MAILPROV_DB") or str(data_dir / f"{APP_NAME}.db")
    ca_file = env.get("MAILPROV_CA_FILE")
    return Settings(
        db_url=db_url_from(db_value),
        config_dir=config_dir,
        data_dir=data_dir,
        log_dir=log_dir,
        timeout=_timeout(env.get("MAILPROV_TIMEOUT")),
        ca_file=Path(ca_file) if ca_file else None,
        max_concurrency=_concurrency(env.get("MAILPROV_CONCURRENCY")),
        account_concurrency=_concurrency(env.get("MAILPROV_ACCOUNT_CONCURRENCY"), "MAILPROV_ACCOUNT_CONCURRENCY",
                                         DEFAULT_ACCOUNT_CONCURRENCY),
        env=env,
    )


def _user_dir(kind: str) -> str:
    """The platform's folder for the user's `kind` ("data", "config" or "log") of mailprov;
    platformdirs is imported only when a folder is not given (~6 ms of a check's start-up)."""
    import platformdirs

    return getattr(platformdirs, f"user_{kind}_dir")(APP_NAME)


class SettingsError(ValueError):
    """A setting from the environment cannot be used; the message names the variable."""


def _timeout(text: str | None) -> float:
    if text is None or text.strip() == "":
        return DEFAULT_TIMEOUT
    problem = SettingsError(
        f"MAILPROV_TIMEOUT must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, "
        f"not {_quoted(text)}."
    )
    try:
        value = float(text)
    except ValueError:
        raise problem from None
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:  # nan fails every comparison
        raise problem
    return value


def _concurrency(text: str | None, variable: str = "MAILPROV_CONCURRENCY", default: int = DEFAULT_CONCURRENCY) -> int:
    if text is None or text.strip() == "":
        return default
    problem = SettingsError(
        f"{variable} must be a whole number from 1 to {MAX_CONCURRENCY}, not {_quoted(text)}."
    )
    try:
        value = int(text.strip())
    except ValueError:
        raise problem from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise problem
    return value


def _quoted(text: str) -> str:
    """A value from the environment, quoted on one line (control characters made visible)."""
    from tui.core.text import visible

    return f"'{visible(text[:80])}'"


# sqlite:///path with nothing SQLAlchemy would decode or split off (a query, an escape).
_PLAIN_SQLITE_URL = re.compile(r"sqlite(?:\+pysqlite)?:///([^?#%@]*)")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (read by SQLAlchemy's own parser); None for other databases,
    in-memory ones, and URLs that cannot be parsed (opening them says what is wrong)."""
    if not url.startswith("sqlite"):
        return None  # not SQLite: no need to load SQLAlchemy to know it
    plain = _PLAIN_SQLITE_URL.fullmatch(url)
    if plain and plain.group(1) not in ("", ":memory:") and not plain.group(1).startswith("file:"):
        return Path(plain.group(1))  # what make_url would say, without importing SQLAlchemy
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def db_label(url: str) -> str:
    """The database as shown to people: the SQLite file, or the URL with its password masked."""
    path = sqlite_file(url)
    return str(path) if path is not None else mask_db_url(url)


def mask_db_url(url: str) -> str:
    """A database URL fit to show: its password, if any, replaced by ***."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: mask the user:password@ part by hand
        return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def without_db_password(text: str, url: str) -> str:
    """`text` (an error message) with the database URL and its password masked."""
    text = text.replace(url, mask_db_url(url))
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:
        match = re.search(r"://[^/:@]*:([^@/]*)@", url)
        password = match.group(1) if match else None
    if password and len(str(password)) >= 4:  # shorter ones would mangle ordinary words
        text = text.replace(str(password), "***")
    return text
