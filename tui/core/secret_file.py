"""The encrypted secrets file: the keyring backend mailprov uses where no system keyring
answers (a headless server), and the master key it is encrypted with.

`EncryptedFileKeyring` keeps every secret in one JSON file (`<data dir>/secrets.enc`), each
entry encrypted with AES-GCM under a file key derived from the master key. The master key
comes from `MAILPROV_MASTER_KEY`, else the systemd credential `mailprov-master-key`, else a
key file in the config dir, created 0600 on first use (`master_key()`). A file that cannot be
decrypted is never overwritten, and a lost key is said, never replaced.

How the file key is derived depends on what the master key is, and is recorded in the file
(`kdf`: its name and parameters), so that a file always opens the way it was written:
- A key mailprov generated itself: `mailprov-key-1:` followed by 32 random bytes from
  `secrets.token_bytes` in unpadded URL-safe base64 (`GENERATED_KEY_PREFIX`). It is what a new
  key file holds, and is recognised by that exact form wherever it comes from (the key file,
  or copied into `MAILPROV_MASTER_KEY` or the systemd credential). 256 random bits gain nothing
  from password stretching: nobody can guess them, slowly or quickly. So the file key is
  HKDF-SHA256 of those 32 bytes with the file's random salt (`"name": "hkdf-sha256"`): a few
  microseconds instead of scrypt's ~0.1 s on every process that reads a password.
- Anything else (a passphrase someone chose, of unknown strength, and key files written
  before the prefix existed, which cannot be told from a passphrase with certainty): scrypt,
  N=2^14, r=8, p=1, with the file's random salt (`"name": "scrypt"`), so that guessing a weak
  passphrase from a stolen file stays expensive.
An existing file keeps its kdf (scrypt files keep opening, with scrypt); a new file takes the
kdf of the key it is created with. A wrong key is refused before anything is decrypted or
written, whatever the kdf: a fixed text encrypted with the file key must decrypt first (and
a file written with a generated key does not even try a passphrase). An older mailprov
refuses an hkdf-sha256 file and leaves it unchanged (it says "damaged key parameters").

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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
# A key mailprov generates: this prefix, then GENERATED_KEY_BYTES random bytes in unpadded
# URL-safe base64. Only that exact form counts as generated (see the module docstring).
GENERATED_KEY_PREFIX = b"mailprov-key-1:"
GENERATED_KEY_BYTES = 32
HKDF_INFO = b"mailprov secrets file key"  # binds the derived key to its one use
NONCE_BYTES = 12  # the AES-GCM standard nonce size
# A fixed text encrypted with the file key: a wrong master key is detected even in a file
# with no entries, before anything is written.
KEY_CHECK_PLAINTEXT = b"mailprov master key check"
KEY_CHECK_AAD = b"mailprov key check"


class EncryptedFileKeyring:
    """Passwords in one JSON file, each encrypted with AES-GCM. A keyring backend by its
    methods (get_password, set_password, delete_password, and batches of them), without
    keyring's base class, so that using it never imports keyring (tui.core.secrets).

    The file key is derived from the master key material and a random salt kept in the
    file: HKDF-SHA256 for a key mailprov generated, scrypt for any other (see the module
    docstring). Every entry has its own random nonce; the associated data binds it to its
    service and username, so entries cannot be swapped. Service and usernames (UUIDs) are
    visible in the file, the passwords are not. Writes take an exclusive lock on a side
    file, replace the file atomically and keep it 0600. A file that cannot be decrypted is
    never overwritten.
    """

    def __init__(self, path: Path, key_material: bytes | str, key_source: str) -> None:
        material = key_material.encode() if isinstance(key_material, str) else bytes(key_material)
        if not material.strip():
            raise ValueError("the master key material is empty")
        self.path = Path(path)
        self.key_source = key_source
        self._material = material
        self._generated_key = generated_key_bytes(material)  # None for a passphrase
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
                from keyring.errors import PasswordDeleteError  # keyring's way to say "not there"

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
        salt = _b64(self._new_file_salt)
        if self._generated_key is not None:
            kdf: dict[str, Any] = {"name": "hkdf-sha256", "salt": salt}
        else:
            kdf = {"name": "scrypt", "salt": salt, "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
        cipher = self._cipher_for(kdf)
        nonce = secrets.token_bytes(NONCE_BYTES)
        check = cipher.encrypt(nonce, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
        return {"format": FILE_FORMAT, "version": FILE_VERSION, "kdf": kdf, "check": _b64(nonce + check), "entries": {}}

    def _write(self, document: dict[str, Any]) -> None:
        import tempfile  # here: a check only reads the file (tempfile brings shutil, bz2, lzma)

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
            raise self._key_mismatch() from None
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
        """The file key, by the kdf the file names; derived once per file and kept."""
        name = kdf.get("name")
        if name == "hkdf-sha256":
            return self._hkdf_key(kdf)
        if name == "scrypt":
            return self._scrypt_key(kdf)
        raise SecretStoreError(f"{self.path} has unsupported key parameters; it was left unchanged.")

    def _hkdf_key(self, kdf: dict[str, Any]) -> bytes:
        salt = self._salt(kdf)
        if len(salt) < 16:  # mailprov writes 16 random bytes
            raise self._damaged_parameters()
        if self._generated_key is None:
            # Written with a key mailprov generated; this one is not: it cannot be that key.
            raise self._key_mismatch()
        cache_key = ("hkdf-sha256", salt)
        with self._derive_lock:
            if cache_key not in self._derived_keys:
                from cryptography.hazmat.primitives import hashes
                from cryptography.hazmat.primitives.kdf.hkdf import HKDF

                hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=HKDF_INFO)
                self._derived_keys[cache_key] = hkdf.derive(self._generated_key)
            return self._derived_keys[cache_key]

    def _scrypt_key(self, kdf: dict[str, Any]) -> bytes:
        """scrypt is slow on purpose: derive once per salt and keep the result."""
        try:
            salt, n, r, p = self._salt(kdf), int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        except (KeyError, TypeError, ValueError):
            raise self._damaged_parameters() from None
        if not (2 <= n <= SCRYPT_MAX_N) or not (1 <= r <= 32) or not (1 <= p <= 16):
            raise SecretStoreError(f"{self.path} has unsupported key parameters; it was left unchanged.")
        cache_key = ("scrypt", salt, n, r, p)
        with self._derive_lock:
            if cache_key not in self._derived_keys:
                from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

                self._derived_keys[cache_key] = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(self._material)
            return self._derived_keys[cache_key]

    def _salt(self, kdf: dict[str, Any]) -> bytes:
        try:
            salt = _unb64(kdf["salt"])
        except (KeyError, TypeError, ValueError):
            raise self._damaged_parameters() from None
        return salt

    def _damaged_parameters(self) -> SecretStoreError:
        return SecretStoreError(f"{self.path} has damaged key parameters; it was left unchanged.")

    def _key_mismatch(self) -> SecretStoreError:
        return SecretStoreError(
            f"cannot decrypt {self.path}: the master key does not match the one it was "
            f"written with (key in use: {self.key_source}). Restore the original master key "
            f"({MASTER_KEY_ENV}, the systemd credential {CREDENTIAL_NAME}, or the key file "
            f"{KEY_FILE_NAME}); the file was left unchanged."
        )


def generated_key_bytes(material: bytes) -> bytes | None:
    """The random bytes of a key mailprov generated (`mailprov-key-1:` + 32 bytes in
    unpadded URL-safe base64), or None when the material is anything else (a passphrase)."""
    if not material.startswith(GENERATED_KEY_PREFIX):
        return None
    encoded = material[len(GENERATED_KEY_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return None
    # Only the one canonical spelling: no padding, no stray characters, exactly 32 bytes.
    if len(raw) != GENERATED_KEY_BYTES or _generated_key_text(raw) != material:
        return None
    return raw


def new_generated_key() -> bytes:
    """A new random master key in the generated form (what a new key file holds)."""
    return _generated_key_text(secrets.token_bytes(GENERATED_KEY_BYTES))


def _generated_key_text(raw: bytes) -> bytes:
    return GENERATED_KEY_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=")


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
    # A generated key, recognised by its form: its secrets file uses the fast KDF.
    material = new_generated_key()
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
