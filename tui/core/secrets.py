"""Provider passwords, kept in a keyring backend that works on a headless server.

keyring's own automatic choice fails exactly where mailprov runs (no D-Bus: `fail.Keyring`
raises; with keyrings.alt installed it silently picks a plaintext file). So the backend is
chosen here, in code, by `choose_backend()`:

1. `PYTHON_KEYRING_BACKEND` when the user set it (their explicit choice is honoured);
2. an existing encrypted secrets file, so secrets do not seem to vanish when D-Bus comes and
   goes between sessions;
3. a system keyring that really answers (Keychain, Windows, or SecretService/KWallet when a
   D-Bus session is present);
4. otherwise `EncryptedFileKeyring` (tui/core/secret_file.py): AES-GCM in
   `<data dir>/secrets.enc`, its key derived from `MAILPROV_MASTER_KEY`, a systemd
   credential, or a 0600 key file in the config dir.

There is never a silent plaintext fallback.

`SecretStore` stores each secret of a provider (its password, its OAuth token cache) under
the keyring username `provider/<key>` in the service "mailprov", the key being the slot's
own key (`secret_key`, `token_key`); callers pass only the key.
Batch calls (`get_many`, `set_many`, `delete_many`) use the backend's own batch methods when
it has them (the encrypted file rewrites itself once for N entries), else loop.
A secret key never appears in an error message: it means nothing to a person.

keyring itself is imported only where it is used (a system keyring, PYTHON_KEYRING_BACKEND,
the in-memory backend): importing it costs more than a whole `mailprov check` should (its
dependencies load urllib, email, tarfile support), and the encrypted file needs none of it.
So `EncryptedFileKeyring` is a keyring backend by its methods, not by inheritance.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tui.core.settings import Settings

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "mailprov"
PROBE_USERNAME = "mailprov-probe"


class SecretStoreError(Exception):
    """A secret could not be read or written. The message says what failed and what to do;
    it never contains a secret."""


class SecretDamagedError(SecretStoreError):
    """One stored password cannot be read (its entry is damaged); the others can."""


# --------------------------------------------------------------------------- the store


class SecretStore:
    """Provider secrets by key (a slot's key: `secret_key`, `token_key`), over any keyring
    backend. The methods say "password" for any secret: an OAuth token cache is stored alike."""

    def __init__(self, backend: KeyringBackend, service: str = DEFAULT_SERVICE) -> None:
        self._backend = backend
        self._service = service

    @property
    def backend_name(self) -> str:
        return describe_backend(self._backend)

    def get_password(self, key: str) -> str | None:
        username = _username(key)
        with self._errors_explained("read the stored password"):
            return self._backend.get_password(self._service, username)

    def get_many(self, keys: list[str]) -> tuple[dict[str, str], set[str]]:
        """(passwords found by key, keys whose entry is damaged); absent keys are in neither.
        A damaged entry spoils only itself; a store that cannot be read at all raises."""
        usernames = {_username(key): key for key in keys}
        with self._errors_explained("read the stored passwords"):
            batch = getattr(self._backend, "get_many", None)
            if batch is not None:
                found, damaged = batch(self._service, list(usernames))
            else:
                found, damaged = self._get_one_by_one(list(usernames))
        return {usernames[u]: p for u, p in found.items()}, {usernames[u] for u in damaged}

    def _get_one_by_one(self, usernames: list[str]) -> tuple[dict[str, str], set[str]]:
        found: dict[str, str] = {}
        damaged: set[str] = set()
        for username in usernames:
            try:
                password = self._backend.get_password(self._service, username)
            except SecretDamagedError:
                damaged.add(username)
                continue
            if password is not None:
                found[username] = password
        return found, damaged

    def set_password(self, key: str, password: str) -> None:
        self.set_many({key: password})

    def set_many(self, items: dict[str, str]) -> None:
        """Save several passwords; with a batching backend, in one write."""
        if not all(isinstance(password, str) for password in items.values()):
            raise TypeError("password must be a str")
        by_username = {_username(key): password for key, password in items.items()}
        if not by_username:
            return
        with self._errors_explained("save the password", *items.values()):
            batch = getattr(self._backend, "set_many", None)
            if batch is not None:
                batch(self._service, by_username)
            else:
                for username, password in by_username.items():
                    self._backend.set_password(self._service, username, password)

    def delete_many(self, keys: list[str]) -> None:
        """Forget several passwords; absent ones are no error."""
        batch = getattr(self._backend, "delete_many", None)
        if batch is None:
            for key in keys:
                self.delete_password(key)
            return
        usernames = [_username(key) for key in keys]
        if usernames:
            with self._errors_explained("delete stored passwords"):
                batch(self._service, usernames)

    def delete_password(self, key: str) -> None:
        """Forget the password; nothing happens when there is none."""
        if getattr(self._backend, "delete_many", None) is not None:
            self.delete_many([key])  # skips an absent key by itself
            return
        from keyring.errors import PasswordDeleteError  # a keyring backend: keyring is loaded

        username = _username(key)
        with self._errors_explained("delete the stored password"):
            try:
                self._backend.delete_password(self._service, username)
            except PasswordDeleteError:
                # Backends signal "not there" with this error; other failures use it too,
                # so it is only ignored when the password is really absent.
                if self._backend.get_password(self._service, username) is not None:
                    raise

    @contextmanager
    def _errors_explained(self, action: str, *secrets: str) -> Iterator[None]:
        try:
            yield
        except SecretStoreError:
            raise
        except (OSError, ValueError, *_keyring_errors()) as exc:
            if _is_no_keyring(exc):
                # keyring's own text suggests installing a plaintext backend: do not repeat it.
                detail = "no usable keyring backend"
            else:
                detail = _without_secrets(f"{type(exc).__name__}: {exc}", secrets)
            raise SecretStoreError(
                f"Could not {action} ({detail}). Passwords are kept in {self.backend_name}; "
                "run `mailprov doctor` to check that store and how to fix it."
            ) from None  # the chained exception could carry backend details; keep them out


class LazySecretStore:
    """A SecretStore whose backend is chosen and opened on first use.

    Listing, showing and exporting providers need no password. Opened lazily, the secret
    store cannot stop them when it is unusable (a lost master key, a locked keyring): only
    what reads or writes a password meets, and reports, the problem. It offers everything
    SecretStore does, by delegation.
    """

    def __init__(self, open_backend: Callable[[], KeyringBackend], service: str = DEFAULT_SERVICE) -> None:
        self._open_backend = open_backend
        self._service = service
        self._store: SecretStore | None = None
        self._lock = threading.Lock()

    def opened(self) -> SecretStore:
        """The store, opened now if it was not yet. Raises SecretStoreError when it cannot
        be opened; the next call tries again (the user may have fixed it meanwhile)."""
        with self._lock:
            if self._store is None:
                try:
                    backend = self._open_backend()
                except SecretStoreError:
                    raise
                except (OSError, ValueError, *_keyring_errors()) as exc:
                    raise SecretStoreError(f"cannot open the secret store ({type(exc).__name__}: {exc}).") from None
                self._store = SecretStore(backend, self._service)
            return self._store

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this class does not define: get_password, set_password, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.opened(), name)


def _keyring_errors() -> tuple[type[Exception], ...]:
    """keyring's base error when keyring is loaded; none otherwise (nothing can raise it then).
    An except clause evaluates its classes only when an exception reaches it."""
    errors = sys.modules.get("keyring.errors")
    return (errors.KeyringError,) if errors is not None else ()


def _is_no_keyring(exc: Exception) -> bool:
    errors = sys.modules.get("keyring.errors")
    return errors is not None and isinstance(exc, errors.NoKeyringError)


def _username(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValueError("a secret key must be a non-empty string")
    return f"provider/{key}"


def _without_secrets(text: str, secrets: tuple[str, ...]) -> str:
    # Longest first, so a password containing another one is removed whole.
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# --------------------------------------------------------------------------- choosing


SYSTEM_KEYRING_NAMES = {
    "keyring.backends.macOS.Keyring": "macOS Keychain (system keyring)",
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Manager (system keyring)",
    "keyring.backends.SecretService.Keyring": "SecretService (system keyring)",
    "keyring.backends.kwallet.DBusKeyring": "KWallet (system keyring)",
    "keyring.backends.libsecret.Keyring": "libsecret (system keyring)",
}
OTHER_BACKEND_NAMES = {
    "keyring.backends.null.Keyring": "null keyring (stores nothing: saved passwords are lost)",
    "keyring.backends.fail.Keyring": "no keyring (every save fails)",
}
DBUS_KEYRINGS = [
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.libsecret.Keyring",
]


def choose_backend(settings: Settings) -> KeyringBackend:
    """The keyring backend to use, decided from `settings.env` (see the module docstring)."""
    env = settings.env
    requested = env.get("PYTHON_KEYRING_BACKEND", "").strip()
    if requested:
        return _requested_backend(requested)
    from tui.core.secret_file import SECRETS_FILE_NAME, EncryptedFileKeyring, master_key

    secrets_file = settings.data_dir / SECRETS_FILE_NAME
    if not secrets_file.exists():
        system = _usable_system_keyring(env)
        if system is not None:
            return system
    material, source = master_key(settings, secrets_file)
    return EncryptedFileKeyring(secrets_file, material, source)


def describe_backend(backend: KeyringBackend) -> str:
    """What `mailprov doctor` and the TUI show about where passwords are kept."""
    from tui.core.secret_file import EncryptedFileKeyring

    if isinstance(backend, EncryptedFileKeyring):
        text = backend.description
    elif _is_memory_keyring(backend):
        text = "in memory (nothing is saved; for tests and demos)"
    else:
        class_path = _class_path(backend)
        text = SYSTEM_KEYRING_NAMES.get(class_path) or OTHER_BACKEND_NAMES.get(class_path) or f"{backend.name} ({class_path})"
        if "plaintext" in class_path.lower():
            text += " - WARNING: passwords are stored in plain text"
    if getattr(backend, "_mailprov_chosen_by", None):
        text += f", chosen by {backend._mailprov_chosen_by}"
    return text


def _is_memory_keyring(backend) -> bool:
    memory = sys.modules.get("tui.core.memory_keyring")  # never created unless imported
    return memory is not None and isinstance(backend, memory.MemoryKeyring)


def _class_path(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def _requested_backend(class_path: str) -> KeyringBackend:
    import keyring.core

    try:
        backend = keyring.core.load_keyring(class_path)
    except Exception as exc:  # ImportError, AttributeError, RuntimeError (not viable), TypeError
        raise SecretStoreError(
            f"PYTHON_KEYRING_BACKEND={class_path} cannot be used ({type(exc).__name__}: {exc}). "
            "Correct the class path or unset PYTHON_KEYRING_BACKEND to let mailprov choose."
        ) from None
    backend._mailprov_chosen_by = "PYTHON_KEYRING_BACKEND"  # type: ignore[attr-defined]
    return backend


def _system_keyring_candidates(env: dict[str, str]) -> list[str]:
    if sys.platform == "darwin":
        return ["keyring.backends.macOS.Keyring"]
    if sys.platform == "win32":
        return ["keyring.backends.Windows.WinVaultKeyring"]
    # Linux and BSD: a system keyring needs a D-Bus session. Without one, do not even import
    # the D-Bus backends (cheaper, and keeps the decision on the env we were given).
    return DBUS_KEYRINGS if env.get("DBUS_SESSION_BUS_ADDRESS") else []


def _usable_system_keyring(env: dict[str, str]) -> KeyringBackend | None:
    for class_path in _system_keyring_candidates(env):
        backend = _answering_backend(class_path)
        if backend is not None:
            return backend
    return None


def _answering_backend(class_path: str) -> KeyringBackend | None:
    """The backend when it is viable and answers a read; None otherwise."""
    import keyring.core

    try:
        backend_class = keyring.core._load_keyring_class(class_path)
        if backend_class.priority <= 0:
            return None
        backend = backend_class()
        backend.get_password(DEFAULT_SERVICE, PROBE_USERNAME)
    except Exception as exc:  # a probe: anything going wrong means "not usable"
        log.debug("system keyring %s not usable: %s", class_path, exc)
        return None
    return backend


def __getattr__(name: str) -> Any:
    """`EncryptedFileKeyring` lives in tui.core.secret_file (which raises this module's
    errors, so it cannot be imported at the top here), and `MemoryKeyring` in
    tui.core.memory_keyring (a keyring backend: it loads keyring); both are offered here as
    well (`PYTHON_KEYRING_BACKEND=tui.core.secrets.MemoryKeyring` works)."""
    if name == "EncryptedFileKeyring":
        from tui.core.secret_file import EncryptedFileKeyring

        return EncryptedFileKeyring
    if name == "MemoryKeyring":
        from tui.core.memory_keyring import MemoryKeyring

        return MemoryKeyring
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
