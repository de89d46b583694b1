"""Provider passwords, kept in a keyring backend that works on a headless server.

keyring's own automatic choice fails exactly where mailprov runs (no D-Bus: `fail.Keyring`
raises; with keyrings.alt installed it silently picks a plaintext file). So the backend is
chosen here, in code, by `choose_backend()`:

1. `PYTHON_KEYRING_BACKEND` when the user set it (their explicit choice is honoured);
2. an existing encrypted secrets file, so secrets do not seem to vanish when D-Bus comes and
   goes between sessions;
3. a system keyring that really answers (Keychain, Windows, or SecretService/KWallet when a
   D-Bus session is present);
4. otherwise `EncryptedFileKeyring`: AES-GCM in `<data dir>/secrets.enc`, its key derived
   from `MAILPROV_MASTER_KEY`, a systemd credential, or a 0600 key file in the config dir.

There is never a silent plaintext fallback.

`SecretStore` stores the password of a provider under the keyring username
`provider/<secret_key>` in the service "mailprov"; callers pass only the `secret_key`.
Batch calls (`get_many`, `set_many`, `delete_many`) use the backend's own batch methods when
it has them (the encrypted file rewrites itself once for N entries), else loop.
A secret key never appears in an error message: it means nothing to a person.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keyring.core
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

from tui.core.filelock import exclusive_lock
from tui.core.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "mailprov"
SECRETS_FILE_NAME = "secrets.enc"
KEY_FILE_NAME = "master.key"
CREDENTIAL_NAME = "mailprov-master-key"  # systemd LoadCredential= name
MASTER_KEY_ENV = "MAILPROV_MASTER_KEY"

FILE_FORMAT = "mailprov-secrets"
FILE_VERSION = 1
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAX_N = 2**20  # refuse parameters from a file that would take minutes and gigabytes
NONCE_BYTES = 12  # the AES-GCM standard nonce size
# A fixed text encrypted with the file key: a wrong master key is detected even in a file
# with no entries, before anything is written.
KEY_CHECK_PLAINTEXT = b"mailprov master key check"
KEY_CHECK_AAD = b"mailprov key check"
PROBE_USERNAME = "mailprov-probe"


class SecretStoreError(KeyringError):
    """A secret could not be read or written. The message says what failed and what to do;
    it never contains a secret."""


class SecretDamagedError(SecretStoreError):
    """One stored password cannot be read (its entry is damaged); the others can."""


# --------------------------------------------------------------------------- the store


class SecretStore:
    """Provider passwords by `secret_key`, over any keyring backend."""

    def __init__(self, backend: KeyringBackend, service: str = DEFAULT_SERVICE) -> None:
        self._backend = backend
        self._service = service

    @property
    def backend(self) -> KeyringBackend:
        return self._backend

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
        except (KeyringError, OSError, ValueError) as exc:
            if isinstance(exc, NoKeyringError):
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
                except (KeyringError, OSError, ValueError) as exc:
                    raise SecretStoreError(f"cannot open the secret store ({type(exc).__name__}: {exc}).") from None
                self._store = SecretStore(backend, self._service)
            return self._store

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this class does not define: get_password, set_password, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.opened(), name)


def _username(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValueError("a secret key must be a non-empty string")
    return f"provider/{key}"


def _without_secrets(text: str, secrets: tuple[str, ...]) -> str:
    # Longest first, so a password containing another one is removed whole.
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# --------------------------------------------------------------------------- in memory


class MemoryKeyring(KeyringBackend):
    """A keyring kept in a dict: for tests, demos and screenshots. Nothing is saved."""

    # Loadable through PYTHON_KEYRING_BACKEND, but below fail.Keyring (0) so keyring's own
    # automatic choice never picks it.
    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self._passwords: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self._passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self._passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            if self._passwords.pop((service, username), None) is None:
                raise PasswordDeleteError("no such password")

    def set_many(self, service: str, passwords: dict[str, str]) -> None:
        with self._lock:
            self._passwords.update({(service, username): pw for username, pw in passwords.items()})

    def delete_many(self, service: str, usernames: list[str]) -> None:
        with self._lock:
            for username in usernames:
                self._passwords.pop((service, username), None)


# --------------------------------------------------------------------------- encrypted file


class EncryptedFileKeyring(KeyringBackend):
    """Passwords in one JSON file, each encrypted with AES-GCM.

    The file key is derived with scrypt from the master key material and a random salt kept
    in the file. Every entry has its own random nonce; the associated data binds it to its
    service and username, so entries cannot be swapped. Service and usernames (UUIDs) are
    visible in the file, the passwords are not. Writes take an exclusive lock on a side
    file, replace the file atomically and keep it 0600. A file that cannot be decrypted is
    never overwritten.
    """

    priority = -1  # type: ignore[assignment]  # needs arguments: never picked by keyring itself

    def __init__(self, path: Path, key_material: bytes | str, key_source: str) -> None:
        super().__init__()
        material = key_material.encode() if isinstance(key_material, str) else bytes(key_material)
        if not material.strip():
            raise ValueError("the master key material is empty")
        self.path = Path(path)
        self.key_source = key_source
        self._material = material
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._new_file_salt = secrets.token_bytes(16)
        self._derived_keys: dict[tuple[bytes, int, int, int], bytes] = {}
        self._derive_lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"encrypted file {self.path} (key: {self.key_source})"

    # keyring API

    def get_password(self, service: str, username: str) -> str | None:
        document = self._read()
        if document is None:
            return None
        cipher = self._verified_cipher(document)
        blob = document["entries"].get(service, {}).get(username)
        if blob is None:
            return None
        return self._decrypt_entry(cipher, blob, service, username)

    def get_many(self, service: str, usernames: list[str]) -> tuple[dict[str, str], set[str]]:
        """One read of the file for many passwords: (found, damaged usernames)."""
        document = self._read()
        if document is None:
            return {}, set()
        cipher = self._verified_cipher(document)
        entries = document["entries"].get(service, {})
        found: dict[str, str] = {}
        damaged: set[str] = set()
        for username in usernames:
            blob = entries.get(username)
            if blob is None:
                continue
            try:
                found[username] = self._decrypt_entry(cipher, blob, service, username)
            except SecretDamagedError:
                damaged.add(username)
        return found, damaged

    def set_password(self, service: str, username: str, password: str) -> None:
        self.set_many(service, {username: password})

    def set_many(self, service: str, passwords: dict[str, str]) -> None:
        """Encrypt N passwords and rewrite the file once."""
        with self._write_lock():
            document = self._read() or self._new_document()
            cipher = self._verified_cipher(document)
            entries = document["entries"].setdefault(service, {})
            for username, password in passwords.items():
                nonce = secrets.token_bytes(NONCE_BYTES)
                sealed = cipher.encrypt(nonce, password.encode("utf-8"), _entry_aad(service, username))
                entries[username] = _b64(nonce + sealed)
            self._write(document)

    def delete_password(self, service: str, username: str) -> None:
        with self._write_lock():
            document = self._read()
            entries = document["entries"].get(service, {}) if document else {}
            if username not in entries:
                raise PasswordDeleteError("no such password")
            self._remove_entries(document, service, [username])

    def delete_many(self, service: str, usernames: list[str]) -> None:
        """Remove N entries (absent ones are skipped) and rewrite the file once, if at all."""
        with self._write_lock():
            document = self._read()
            entries = document["entries"].get(service, {}) if document else {}
            present = [username for username in usernames if username in entries]
            if present:
                self._remove_entries(document, service, present)

    def _remove_entries(self, document: dict[str, Any], service: str, usernames: list[str]) -> None:
        self._verified_cipher(document)  # never rewrite a file written with another key
        entries = document["entries"][service]
        for username in usernames:
            del entries[username]
        if not entries:
            del document["entries"][service]
        self._write(document)

    # the file

    def _read(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretStoreError(
                f"cannot read {self.path}: {exc.strerror}. Check the file's owner and permissions."
            ) from None
        return self._parsed(raw)

    def _parsed(self, raw: bytes) -> dict[str, Any]:
        damaged = SecretStoreError(
            f"{self.path} is not a readable mailprov secrets file (damaged or not ours). "
            "It was left unchanged; restore it from a backup or move it away to start over."
        )
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise damaged from None
        if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
            raise damaged
        if document.get("version") != FILE_VERSION:
            raise SecretStoreError(
                f"{self.path} has version {document.get('version')!r}; this mailprov reads "
                f"version {FILE_VERSION}. Use the mailprov that wrote it, or a newer one."
            )
        if not isinstance(document.get("entries"), dict) or not isinstance(document.get("kdf"), dict):
            raise damaged
        return document

    def _new_document(self) -> dict[str, Any]:
        kdf = {"name": "scrypt", "salt": _b64(self._new_file_salt), "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
        cipher = self._cipher_for(kdf)
        nonce = secrets.token_bytes(NONCE_BYTES)
        check = cipher.encrypt(nonce, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
        return {"format": FILE_FORMAT, "version": FILE_VERSION, "kdf": kdf, "check": _b64(nonce + check), "entries": {}}

    def _write(self, document: dict[str, Any]) -> None:
        data = json.dumps(document, indent=1, sort_keys=True).encode("utf-8")
        # mkstemp creates the file 0600 in the same directory, so os.replace is atomic.
        fd, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(self.path.parent)

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Serialise read-modify-write between threads and processes (TUI and CLI)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with exclusive_lock(self._lock_path):
            yield

    # cryptography

    def _verified_cipher(self, document: dict[str, Any]) -> Any:
        from cryptography.exceptions import InvalidTag

        cipher = self._cipher_for(document["kdf"])
        try:
            blob = _unb64(document["check"])
            cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], KEY_CHECK_AAD)
        except (InvalidTag, KeyError, TypeError, ValueError):
            raise SecretStoreError(
                f"cannot decrypt {self.path}: the master key does not match the one it was "
                f"written with (key in use: {self.key_source}). Restore the original master key "
                f"({MASTER_KEY_ENV}, the systemd credential {CREDENTIAL_NAME}, or the key file "
                f"{KEY_FILE_NAME}); the file was left unchanged."
            ) from None
        return cipher

    def _decrypt_entry(self, cipher: Any, blob: str, service: str, username: str) -> str:
        from cryptography.exceptions import InvalidTag

        try:
            raw = _unb64(blob)
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _entry_aad(service, username)).decode("utf-8")
        except (InvalidTag, TypeError, ValueError):
            # The username holds the secret key: it means nothing to a person, so it is left out.
            raise SecretDamagedError(
                f"a password entry in {self.path} is damaged or was copied from another entry; "
                "enter that provider's password again."
            ) from None

    def _cipher_for(self, kdf: dict[str, Any]) -> Any:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._derived_key(kdf))

    def _derived_key(self, kdf: dict[str, Any]) -> bytes:
        """scrypt is slow on purpose: derive once per salt and keep the result."""
        try:
            salt, n, r, p = _unb64(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        except (KeyError, TypeError, ValueError):
            raise SecretStoreError(f"{self.path} has damaged key parameters; it was left unchanged.") from None
        if kdf.get("name") != "scrypt" or not (2 <= n <= SCRYPT_MAX_N) or not (1 <= r <= 32) or not (1 <= p <= 16):
            raise SecretStoreError(f"{self.path} has unsupported key parameters; it was left unchanged.")
        with self._derive_lock:
            cache_key = (salt, n, r, p)
            if cache_key not in self._derived_keys:
                from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

                self._derived_keys[cache_key] = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(self._material)
            return self._derived_keys[cache_key]


def _entry_aad(service: str, username: str) -> bytes:
    # JSON keeps the two parts unambiguous whatever characters they contain.
    return json.dumps(["mailprov-secret", service, username]).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the data itself is synced
    finally:
        os.close(fd)


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
    secrets_file = settings.data_dir / SECRETS_FILE_NAME
    if not secrets_file.exists():
        system = _usable_system_keyring(env)
        if system is not None:
            return system
    material, source = _master_key(settings, secrets_file)
    return EncryptedFileKeyring(secrets_file, material, source)


def describe_backend(backend: KeyringBackend) -> str:
    """What `mailprov doctor` and the TUI show about where passwords are kept."""
    if isinstance(backend, EncryptedFileKeyring):
        text = backend.description
    elif isinstance(backend, MemoryKeyring):
        text = "in memory (nothing is saved; for tests and demos)"
    else:
        class_path = _class_path(backend)
        text = SYSTEM_KEYRING_NAMES.get(class_path) or OTHER_BACKEND_NAMES.get(class_path) or f"{backend.name} ({class_path})"
        if "plaintext" in class_path.lower():
            text += " - WARNING: passwords are stored in plain text"
    if getattr(backend, "_mailprov_chosen_by", None):
        text += f", chosen by {backend._mailprov_chosen_by}"
    return text


def _class_path(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def _requested_backend(class_path: str) -> KeyringBackend:
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


def _master_key(settings: Settings, secrets_file: Path) -> tuple[bytes, str]:
    """Key material and where it came from: env var, systemd credential, or key file."""
    from_env = settings.env.get(MASTER_KEY_ENV, "").strip()
    if from_env:
        return from_env.encode("utf-8"), f"{MASTER_KEY_ENV} environment variable"
    credentials_dir = settings.env.get("CREDENTIALS_DIRECTORY", "").strip()
    if credentials_dir:
        credential = Path(credentials_dir) / CREDENTIAL_NAME
        if credential.is_file():
            return _read_credential(credential), f"systemd credential {credential}"
    key_file = settings.config_dir / KEY_FILE_NAME
    return _key_file_material(key_file, secrets_file), f"key file {key_file}"


def _read_credential(credential: Path) -> bytes:
    # systemd makes credential files private to the service; no mode check needed.
    try:
        material = credential.read_bytes().strip()
    except OSError as exc:
        raise SecretStoreError(f"cannot read the systemd credential {credential}: {exc.strerror}.") from None
    if not material:
        raise SecretStoreError(f"the systemd credential {credential} is empty; put the master key in it.")
    return material


def _key_file_material(key_file: Path, secrets_file: Path) -> bytes:
    try:
        return _read_key_file(key_file, secrets_file)
    except FileNotFoundError:
        pass
    if secrets_file.exists():
        # A new key could never open the existing file: say so instead of making one.
        raise SecretStoreError(
            f"the secrets file {secrets_file} exists but its master key was not found: the key file "
            f"{key_file} is missing and neither {MASTER_KEY_ENV} nor the systemd credential "
            f"{CREDENTIAL_NAME} is set. Restore the key file from a backup (mode 600) or set the "
            "original key; a new key could not read the saved passwords."
        )
    return _create_key_file(key_file, secrets_file)


def _read_key_file(key_file: Path, secrets_file: Path) -> bytes:
    """The key file's content; refuses a file other users could read."""
    try:
        fd = os.open(key_file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise  # the caller creates the key file
    except OSError as exc:
        raise SecretStoreError(f"cannot open the key file {key_file}: {exc.strerror}.") from None
    with os.fdopen(fd, "rb") as file:
        mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
        if mode & 0o077:
            raise SecretStoreError(
                f"refusing to use the key file {key_file}: other users may read it (mode {mode:o}). "
                f"Run `chmod 600 {key_file}`, and consider the key exposed."
            )
        material = file.read().strip()
    if not material:
        raise SecretStoreError(_empty_key_file_advice(key_file, secrets_file))
    return material


def _empty_key_file_advice(key_file: Path, secrets_file: Path) -> str:
    if secrets_file.exists():
        # Deleting it would make a new key, which cannot read the passwords already saved.
        return (
            f"the key file {key_file} is empty, and the secrets file {secrets_file} cannot be read "
            f"without the original key: restore the key file from a backup (or set {MASTER_KEY_ENV} "
            "to the original key)."
        )
    return (
        f"the key file {key_file} is empty and no secrets file exists yet: remove the key file "
        "and mailprov creates a new one."
    )


def _create_key_file(key_file: Path, secrets_file: Path) -> bytes:
    material = base64.b64encode(secrets.token_bytes(32))
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(key_file, secrets_file)  # another process created it first: use theirs
    except OSError as exc:
        raise SecretStoreError(f"cannot create the key file {key_file}: {exc.strerror}.") from None
    with os.fdopen(fd, "wb") as file:
        file.write(material + b"\n")
        file.flush()
        os.fsync(file.fileno())
    log.info("created the master key file %s", key_file)
    return material
