"""Secrets: the in-memory and encrypted-file backends, the store, and the backend choice.

Every test uses tmp dirs and an explicit env dict; none touches the real user keyring.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.errors import PasswordDeleteError

from tui.core.secrets import (
    EncryptedFileKeyring,
    MemoryKeyring,
    SecretDamagedError,
    SecretStore,
    SecretStoreError,
    choose_backend,
    describe_backend,
)
from tui.core.secret_file import GENERATED_KEY_PREFIX, generated_key_bytes
from tui.core.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
KEY = "6f1c2e0a-3b7d-4c7e-9f4a-1d2b3c4d5e6f"
PASSWORD = "correct horse battery staple 8472"


def make_settings(tmp_path: Path, env: dict[str, str] | None = None) -> Settings:
    return Settings(
        db_url="sqlite:///:memory:",
        config_dir=tmp_path / "config",
        data_dir=tmp_path / "data",
        log_dir=tmp_path / "log",
        env=dict(env or {}),
    )


def file_store(path: Path, key: str = "master-key-one") -> SecretStore:
    return SecretStore(EncryptedFileKeyring(path, key, "test key"))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- memory


def test_memory_round_trip_and_delete():
    store = SecretStore(MemoryKeyring())
    assert store.get_password(KEY) is None
    store.set_password(KEY, PASSWORD)
    assert store.get_password(KEY) == PASSWORD
    store.set_password(KEY, "second")
    assert store.get_password(KEY) == "second"
    store.delete_password(KEY)
    assert store.get_password(KEY) is None


def test_delete_of_a_missing_key_is_fine(tmp_path):
    for store in (SecretStore(MemoryKeyring()), file_store(tmp_path / "secrets.enc")):
        store.delete_password(KEY)  # no file, no entry
        store.set_password("other", "x")
        store.delete_password(KEY)  # file exists, entry does not
        assert store.get_password("other") == "x"


def test_stores_are_separated_by_service():
    backend = MemoryKeyring()
    SecretStore(backend, service="a").set_password(KEY, "for a")
    assert SecretStore(backend, service="b").get_password(KEY) is None


def test_empty_key_is_refused():
    with pytest.raises(ValueError):
        SecretStore(MemoryKeyring()).set_password("", PASSWORD)


# --------------------------------------------------------------------------- encrypted file


def test_encrypted_file_round_trip_across_instances(tmp_path):
    path = tmp_path / "data" / "secrets.enc"
    file_store(path).set_password(KEY, PASSWORD)
    file_store(path).set_password("second", "two")

    reopened = file_store(path)  # like a new process: nothing cached
    assert reopened.get_password(KEY) == PASSWORD
    assert reopened.get_password("second") == "two"
    assert reopened.get_password("absent") is None
    assert mode_of(path) == 0o600
    assert not list(path.parent.glob("*.tmp")), "temp files must not be left behind"


def test_password_does_not_appear_in_the_file(tmp_path):
    path = tmp_path / "secrets.enc"
    file_store(path).set_password(KEY, PASSWORD)
    raw = path.read_bytes()
    assert PASSWORD.encode() not in raw
    assert base64.b64encode(PASSWORD.encode()) not in raw
    assert b"master-key-one" not in raw


def test_unicode_passwords(tmp_path):
    password = "pässwörd-日本語-🔑-\u00a0end"
    path = tmp_path / "secrets.enc"
    file_store(path).set_password(KEY, password)
    assert file_store(path).get_password(KEY) == password
    assert password.encode() not in path.read_bytes()


def test_wrong_master_key_is_a_clear_error_and_the_file_is_unchanged(tmp_path):
    path = tmp_path / "secrets.enc"
    file_store(path, "right key").set_password(KEY, PASSWORD)
    before = path.read_bytes()
    wrong = file_store(path, "wrong key")

    with pytest.raises(SecretStoreError, match="master key does not match") as read_error:
        wrong.get_password(KEY)
    assert str(path) in str(read_error.value)
    with pytest.raises(SecretStoreError, match="master key does not match") as write_error:
        wrong.set_password("new", "s3cret-new-value")
    assert "s3cret-new-value" not in str(write_error.value)
    with pytest.raises(SecretStoreError):
        wrong.delete_password(KEY)

    assert path.read_bytes() == before
    assert file_store(path, "right key").get_password(KEY) == PASSWORD


def test_swapped_entries_are_detected(tmp_path):
    import json

    path = tmp_path / "secrets.enc"
    store = file_store(path)
    store.set_password("alice", "alice-pw")
    store.set_password("bob", "bob-pw")
    document = json.loads(path.read_text())
    entries = document["entries"]["mailprov"]
    entries["provider/alice"] = entries["provider/bob"]
    path.write_text(json.dumps(document))
    with pytest.raises(SecretStoreError, match="damaged or was copied"):
        store.get_password("alice")


def damage_entry(path: Path, key: str) -> None:
    """Flip bits in one entry's ciphertext, as a disk error or a bad edit would."""
    import json

    document = json.loads(path.read_text())
    entries = document["entries"]["mailprov"]
    sealed = bytearray(base64.b64decode(entries[f"provider/{key}"]))
    sealed[-1] ^= 0xFF
    entries[f"provider/{key}"] = base64.b64encode(bytes(sealed)).decode()
    path.write_text(json.dumps(document))


def test_a_damaged_entry_spoils_only_itself_and_no_message_names_its_key(tmp_path):
    path = tmp_path / "secrets.enc"
    store = file_store(path)
    store.set_many({"alice": "alice-pw", "bob": "bob-pw"})
    damage_entry(path, "alice")
    with pytest.raises(SecretDamagedError) as error:
        store.get_password("alice")
    assert "alice" not in str(error.value) and "enter that provider's password again" in str(error.value)
    assert store.get_many(["alice", "bob", "carol"]) == ({"bob": "bob-pw"}, {"alice"})
    store.delete_many(["alice"])  # a damaged entry can still be removed
    assert store.get_many(["alice", "bob"]) == ({"bob": "bob-pw"}, set())


class CountingFileKeyring(EncryptedFileKeyring):
    """The real encrypted file, counting how often it is rewritten."""

    writes = 0

    def _write(self, document):
        self.writes += 1
        super()._write(document)


def test_set_many_and_delete_many_rewrite_the_file_once(tmp_path):
    backend = CountingFileKeyring(tmp_path / "secrets.enc", "master-key-one", "test key")
    store = SecretStore(backend)
    store.set_many({f"key-{n}": f"pw-{n}" for n in range(200)})
    assert backend.writes == 1
    store.delete_many([f"key-{n}" for n in range(0, 200, 2)] + ["never-stored"])
    assert backend.writes == 2
    store.delete_many(["never-stored"])  # nothing to remove: no rewrite
    assert backend.writes == 2
    found, damaged = file_store(tmp_path / "secrets.enc").get_many([f"key-{n}" for n in range(200)])
    assert found == {f"key-{n}": f"pw-{n}" for n in range(1, 200, 2)} and damaged == set()


class DictOnlyKeyring(KeyringBackend):
    """A backend with only keyring's own three methods, like the system keyrings."""

    priority = -1

    def __init__(self):
        super().__init__()
        self.passwords = {}

    def get_password(self, service, username):
        return self.passwords.get((service, username))

    def set_password(self, service, username, password):
        self.passwords[(service, username)] = password

    def delete_password(self, service, username):
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


@pytest.mark.parametrize("backend_class", [MemoryKeyring, DictOnlyKeyring])
def test_batches_work_with_and_without_backend_batch_methods(backend_class):
    store = SecretStore(backend_class())
    store.set_many({"a": "1", "b": "2", "c": "3"})
    assert store.get_many(["a", "b", "z"]) == ({"a": "1", "b": "2"}, set())
    store.delete_many(["a", "z"])
    assert store.get_many(["a", "b", "c"]) == ({"b": "2", "c": "3"}, set())


def test_damaged_file_is_reported_and_not_overwritten(tmp_path):
    path = tmp_path / "secrets.enc"
    path.write_text("not json at all")
    with pytest.raises(SecretStoreError, match="not a readable mailprov secrets file"):
        file_store(path).set_password(KEY, PASSWORD)
    assert path.read_text() == "not json at all"


def test_concurrent_writes_from_threads_keep_every_entry(tmp_path):
    path = tmp_path / "secrets.enc"

    def write_many(prefix: str) -> None:
        store = file_store(path)  # each thread its own instance, as two processes would
        for number in range(15):
            store.set_password(f"{prefix}-{number}", f"pw-{prefix}-{number}")

    threads = [threading.Thread(target=write_many, args=(prefix,)) for prefix in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    reader = file_store(path)
    for prefix in ("a", "b"):
        for number in range(15):
            assert reader.get_password(f"{prefix}-{number}") == f"pw-{prefix}-{number}"


WRITER_SCRIPT = """
import sys
from pathlib import Path
from tui.core.secrets import EncryptedFileKeyring, SecretStore
store = SecretStore(EncryptedFileKeyring(Path(sys.argv[1]), "master-key-one", "test key"))
for number in range(20):
    store.set_password(f"{sys.argv[2]}-{number}", f"pw-{sys.argv[2]}-{number}")
"""


def test_concurrent_writes_from_processes_keep_every_entry(tmp_path):
    path = tmp_path / "secrets.enc"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(path), prefix], env=env)
        for prefix in ("p", "q")
    ]
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0]

    reader = file_store(path)
    for prefix in ("p", "q"):
        for number in range(20):
            assert reader.get_password(f"{prefix}-{number}") == f"pw-{prefix}-{number}"


# --------------------------------------------------------------------------- the key derivation


def generated_key() -> str:
    """A key in the form mailprov writes to a new key file."""
    import secrets

    return (GENERATED_KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=")).decode()


def kdf_of(path: Path) -> dict:
    import json

    return json.loads(path.read_text())["kdf"]


def test_a_generated_key_uses_hkdf_and_a_passphrase_keeps_scrypt(tmp_path):
    fast, slow = tmp_path / "generated.enc", tmp_path / "passphrase.enc"
    key = generated_key()
    file_store(fast, key).set_password(KEY, PASSWORD)
    file_store(slow, "a passphrase someone chose").set_password(KEY, PASSWORD)

    assert kdf_of(fast)["name"] == "hkdf-sha256" and len(base64.b64decode(kdf_of(fast)["salt"])) == 16
    assert kdf_of(slow) | {"salt": None} == {"name": "scrypt", "salt": None, "n": 2**14, "r": 8, "p": 1}
    assert file_store(fast, key).get_password(KEY) == PASSWORD  # a new instance: derived again
    assert file_store(slow, "a passphrase someone chose").get_password(KEY) == PASSWORD
    assert PASSWORD.encode() not in fast.read_bytes() and key.encode() not in fast.read_bytes()


@pytest.mark.parametrize("near_miss", [
    "mailprov-key-1:",  # no key at all
    "passphrase",
    None,  # the right bytes, padded: not the form mailprov writes
    "mailprov-key-1:" + "A" * 42,  # 31 bytes and a half
    "mailprov-key-1:" + "A" * 44,  # 33 bytes
    "mailprov-key-2:" + "A" * 43,
    "mailprov-key-1:" + "A" * 21 + " " + "A" * 22,
])
def test_only_the_exact_generated_form_counts_as_generated(near_miss):
    key = generated_key()
    assert generated_key_bytes(key.encode()) is not None
    text = key + "=" if near_miss is None else near_miss
    assert generated_key_bytes(text.encode()) is None


def test_a_wrong_key_is_refused_by_an_hkdf_file_and_it_stays_unchanged(tmp_path):
    path = tmp_path / "secrets.enc"
    key = generated_key()
    file_store(path, key).set_password(KEY, PASSWORD)
    before = path.read_bytes()
    # Another generated key, the same random part as a passphrase, and any passphrase.
    for wrong in (generated_key(), key.removeprefix("mailprov-key-1:"), "a passphrase"):
        store = file_store(path, wrong)
        with pytest.raises(SecretStoreError, match="master key does not match"):
            store.get_password(KEY)
        with pytest.raises(SecretStoreError, match="master key does not match"):
            store.set_password("new", "s3cret-new-value")
        with pytest.raises(SecretStoreError):
            store.delete_password(KEY)
    assert path.read_bytes() == before
    assert file_store(path, key).get_password(KEY) == PASSWORD


def write_previous_release_file(path: Path, material: bytes, passwords: dict[str, str]) -> None:
    """A secrets file as the previous release wrote it (scrypt, AES-GCM), built here by hand
    with cryptography, so that opening it does not rely on the code that writes files now."""
    import json
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = os.urandom(16)
    cipher = AESGCM(Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(material))

    def sealed(plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + cipher.encrypt(nonce, plaintext, aad)).decode()

    entries = {f"provider/{key}": sealed(password.encode(), json.dumps(["mailprov-secret", "mailprov", f"provider/{key}"]).encode())
               for key, password in passwords.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "format": "mailprov-secrets", "version": 1,
        "kdf": {"name": "scrypt", "salt": base64.b64encode(salt).decode(), "n": 2**14, "r": 8, "p": 1},
        "check": sealed(b"mailprov master key check", b"mailprov key check"),
        "entries": {"mailprov": entries},
    }))
    path.chmod(0o600)


def test_an_existing_scrypt_file_and_its_old_key_file_keep_working(tmp_path):
    """An install from before the generated-key form: its key file holds plain base64 (which
    cannot be told from a passphrase), so its file stays on scrypt, read and written."""
    settings = make_settings(tmp_path)
    old_key = base64.b64encode(os.urandom(32))
    settings.config_dir.mkdir(parents=True)
    (settings.config_dir / "master.key").write_bytes(old_key + b"\n")
    (settings.config_dir / "master.key").chmod(0o600)
    path = settings.data_dir / "secrets.enc"
    write_previous_release_file(path, old_key, {KEY: PASSWORD, "other": "two"})

    store = SecretStore(choose_backend(settings))
    assert store.get_many([KEY, "other"]) == ({KEY: PASSWORD, "other": "two"}, set())
    store.set_password("third", "three")
    assert kdf_of(path)["name"] == "scrypt"
    assert (settings.config_dir / "master.key").read_bytes() == old_key + b"\n", "the key file is never rewritten"
    assert SecretStore(choose_backend(settings)).get_many([KEY, "third"]) == ({KEY: PASSWORD, "third": "three"}, set())


def test_a_scrypt_file_opens_with_a_key_in_the_generated_form_too(tmp_path):
    """A file keeps the kdf it was written with (here: written by an older mailprov that
    already had a key of the new form as its material)."""
    path = tmp_path / "secrets.enc"
    key = generated_key()
    write_previous_release_file(path, key.encode(), {KEY: PASSWORD})
    store = file_store(path, key)
    assert store.get_password(KEY) == PASSWORD
    store.set_password("more", "pw")
    assert kdf_of(path)["name"] == "scrypt" and file_store(path, key).get_password("more") == "pw"


@pytest.mark.parametrize("tamper, message", [
    (lambda doc: doc["kdf"].update(name="scrypt", n=2**14, r=8, p=1), "master key does not match"),  # downgrade
    (lambda doc: doc["kdf"].update(salt=base64.b64encode(os.urandom(16)).decode()), "master key does not match"),
    (lambda doc: doc["kdf"].update(salt=base64.b64encode(b"short").decode()), "damaged key parameters"),
    (lambda doc: doc["kdf"].update(name="none"), "unsupported key parameters"),
    (lambda doc: doc["kdf"].pop("salt"), "damaged key parameters"),
    (lambda doc: doc.update(check=doc["entries"]["mailprov"][f"provider/{KEY}"]), "master key does not match"),
])
def test_a_tampered_hkdf_file_is_refused_and_left_unchanged(tmp_path, tamper, message):
    import json

    path = tmp_path / "secrets.enc"
    key = generated_key()
    file_store(path, key).set_password(KEY, PASSWORD)
    document = json.loads(path.read_text())
    tamper(document)
    path.write_text(json.dumps(document))
    before = path.read_bytes()
    store = file_store(path, key)
    with pytest.raises(SecretStoreError, match=message):
        store.get_password(KEY)
    with pytest.raises(SecretStoreError, match=message):
        store.set_password("new", "pw")
    assert path.read_bytes() == before


def test_a_damaged_entry_of_an_hkdf_file_spoils_only_itself(tmp_path):
    path = tmp_path / "secrets.enc"
    store = file_store(path, generated_key())
    store.set_many({"alice": "alice-pw", "bob": "bob-pw"})
    damage_entry(path, "alice")
    assert store.get_many(["alice", "bob"]) == ({"bob": "bob-pw"}, {"alice"})


def test_a_generated_key_moved_to_the_environment_opens_its_file(tmp_path):
    """The README's systemd and env examples: the key file's text given another way."""
    settings = make_settings(tmp_path)
    SecretStore(choose_backend(settings)).set_password(KEY, PASSWORD)
    key_text = (settings.config_dir / "master.key").read_text().strip()
    (settings.config_dir / "master.key").unlink()
    moved = make_settings(tmp_path, env={"MAILPROV_MASTER_KEY": key_text})
    assert kdf_of(moved.data_dir / "secrets.enc")["name"] == "hkdf-sha256"
    assert SecretStore(choose_backend(moved)).get_password(KEY) == PASSWORD


# --------------------------------------------------------------------------- choosing a backend


def test_empty_env_picks_the_encrypted_file_with_a_new_0600_key_file(tmp_path):
    settings = make_settings(tmp_path, env={})
    backend = choose_backend(settings)

    assert isinstance(backend, EncryptedFileKeyring)
    assert not isinstance(backend, (fail.Keyring, null.Keyring))
    assert backend.path == settings.data_dir / "secrets.enc"
    key_file = settings.config_dir / "master.key"
    assert mode_of(key_file) == 0o600
    assert mode_of(settings.config_dir) == 0o700
    assert generated_key_bytes(key_file.read_bytes().strip()) is not None  # 32 random bytes, marked generated
    assert "encrypted file" in describe_backend(backend)
    assert f"key file {key_file}" in SecretStore(backend).backend_name

    SecretStore(backend).set_password(KEY, PASSWORD)
    assert mode_of(backend.path) == 0o600


def test_key_file_is_reused(tmp_path):
    settings = make_settings(tmp_path)
    SecretStore(choose_backend(settings)).set_password(KEY, PASSWORD)
    key_before = (settings.config_dir / "master.key").read_bytes()

    again = SecretStore(choose_backend(settings))
    assert (settings.config_dir / "master.key").read_bytes() == key_before
    assert again.get_password(KEY) == PASSWORD


def test_group_readable_key_file_is_refused(tmp_path):
    settings = make_settings(tmp_path)
    key_file = settings.config_dir / "master.key"
    settings.config_dir.mkdir(parents=True)
    key_file.write_text("some key material\n")
    key_file.chmod(0o640)

    with pytest.raises(SecretStoreError) as error:
        choose_backend(settings)
    assert str(key_file) in str(error.value)
    assert "chmod 600" in str(error.value)
    assert "some key material" not in str(error.value)


def test_missing_key_file_with_an_existing_secrets_file_is_an_error(tmp_path):
    settings = make_settings(tmp_path)
    SecretStore(choose_backend(settings)).set_password(KEY, PASSWORD)
    (settings.config_dir / "master.key").unlink()

    with pytest.raises(SecretStoreError, match="master key was not found"):
        choose_backend(settings)
    assert not (settings.config_dir / "master.key").exists(), "no new, useless key file"


def test_master_key_env_beats_the_key_file(tmp_path):
    settings = make_settings(tmp_path, env={"MAILPROV_MASTER_KEY": "key from env"})
    settings.config_dir.mkdir(parents=True)
    (settings.config_dir / "master.key").write_text("key from file")
    (settings.config_dir / "master.key").chmod(0o600)

    backend = choose_backend(settings)
    assert "MAILPROV_MASTER_KEY" in describe_backend(backend)
    SecretStore(backend).set_password(KEY, PASSWORD)
    path = settings.data_dir / "secrets.enc"
    assert file_store(path, "key from env").get_password(KEY) == PASSWORD
    with pytest.raises(SecretStoreError):
        file_store(path, "key from file").get_password(KEY)


def test_systemd_credential_is_used(tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mailprov-master-key").write_bytes(b"credential key\n")
    settings = make_settings(tmp_path, env={"CREDENTIALS_DIRECTORY": str(credentials)})

    backend = choose_backend(settings)
    assert "systemd credential" in describe_backend(backend)
    assert not (settings.config_dir / "master.key").exists()
    SecretStore(backend).set_password(KEY, PASSWORD)
    assert file_store(settings.data_dir / "secrets.enc", "credential key").get_password(KEY) == PASSWORD


def test_credentials_directory_without_our_credential_falls_back_to_the_key_file(tmp_path):
    (tmp_path / "credentials").mkdir()
    settings = make_settings(tmp_path, env={"CREDENTIALS_DIRECTORY": str(tmp_path / "credentials")})
    backend = choose_backend(settings)
    assert "key file" in describe_backend(backend)


@pytest.mark.parametrize(
    "class_path, expected",
    [("keyring.backends.null.Keyring", null.Keyring), ("tui.core.secrets.MemoryKeyring", MemoryKeyring)],
)
def test_python_keyring_backend_is_honoured(tmp_path, class_path, expected):
    settings = make_settings(tmp_path, env={"PYTHON_KEYRING_BACKEND": class_path})
    backend = choose_backend(settings)
    assert type(backend) is expected
    assert "PYTHON_KEYRING_BACKEND" in describe_backend(backend)
    assert not (settings.config_dir / "master.key").exists()


def test_unusable_python_keyring_backend_is_a_clear_error(tmp_path):
    settings = make_settings(tmp_path, env={"PYTHON_KEYRING_BACKEND": "no.such.Backend"})
    with pytest.raises(SecretStoreError, match="PYTHON_KEYRING_BACKEND=no.such.Backend"):
        choose_backend(settings)


def test_dbus_address_without_a_secret_service_falls_back_to_the_file(tmp_path, monkeypatch):
    # A D-Bus address that nothing answers on: the probe must fail cheaply, not hang or raise.
    # (secretstorage reads the real environment, so set it there too.)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    settings = make_settings(tmp_path, env={"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"})
    assert isinstance(choose_backend(settings), EncryptedFileKeyring)


# --------------------------------------------------------------------------- errors from the store


def test_backend_errors_are_wrapped_without_the_secret(tmp_path):
    store = SecretStore(fail.Keyring())
    with pytest.raises(SecretStoreError) as error:
        store.set_password(KEY, PASSWORD)
    message = str(error.value)
    assert PASSWORD not in message and KEY not in message  # a secret key means nothing to a person
    assert "save the password" in message
    assert "mailprov doctor" in message


def test_os_errors_are_wrapped(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    store = file_store(blocker / "secrets.enc")
    with pytest.raises(SecretStoreError) as error:
        store.set_password(KEY, PASSWORD)
    assert PASSWORD not in str(error.value)


def test_describe_backend_names():
    assert "in memory" in describe_backend(MemoryKeyring())
    assert "stores nothing" in describe_backend(null.Keyring())


@pytest.fixture
def dbus_session_without_keyring(monkeypatch):
    """A real D-Bus session bus with no Secret Service on it (a typical server SSH login)."""
    import shutil

    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address"], stdout=subprocess.PIPE, text=True
    )
    try:
        address = daemon.stdout.readline().strip()
        assert address.startswith("unix:")
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def test_dbus_session_without_a_keyring_daemon_falls_back_to_the_file(tmp_path, dbus_session_without_keyring):
    settings = make_settings(tmp_path, env={"DBUS_SESSION_BUS_ADDRESS": dbus_session_without_keyring})
    backend = choose_backend(settings)
    assert isinstance(backend, EncryptedFileKeyring)
    SecretStore(backend).set_password(KEY, PASSWORD)
    assert SecretStore(choose_backend(settings)).get_password(KEY) == PASSWORD
