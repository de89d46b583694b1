"""The encrypted secrets file: the keyring backend mailprov uses where no system keyring
answers (a headless server), and the master key it is encrypted with.

`EncryptedFileKeyring` keeps every secret in one JSON file (`<data dir>/secrets.enc`), each
entry encrypted with AES-GCM under a key derived with scrypt from the master key. The master
key comes from `MAILPROV_MASTER_KEY`, else the systemd credential `mailprov-master-key`,
else a key file in the config dir, created 0600 on first use (`master_key()`). A file that
cannot be decrypted is never overwritten, and a lost key is said, never replaced.

`tui.core.secrets` chooses this backend (`choose_backend`) and re-exports
`EncryptedFileKeyring`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from tui.core.filelock import exclusive_lock
from tui.core.secrets import SecretDamagedError, SecretStoreError
from tui.core.settings import Settings

log = logging.getLogger(__name__)

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

# --------------------------------------------------------------------------- the master key


def master_key(settings: Settings, secrets_file: Path) -> tuple[bytes, str]:
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
