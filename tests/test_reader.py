"""The quick read path of read-only commands (tui.core.reader, stdlib sqlite3): the same answers
as the store, taken only when the database is current, on real SQLite files and processes."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.databases import migrated_database
from tui.core.domain import ProviderDraft
from tui.core.reader import Reader
from tui.core.report import CheckReport, Failure, FailureKind, ProtocolResult, Step
from tui.core.rules import to_settings
from tui.core.settings import load_settings
from tui.core.store import Store

ROOT = Path(__file__).resolve().parent.parent


def settings_in(folder: Path):
    return load_settings(env={"MAILPROV_DB": str(folder / "mailprov.db"), "MAILPROV_DATA_DIR": str(folder),
                              "MAILPROV_CONFIG_DIR": str(folder), "MAILPROV_LOG_DIR": str(folder)})


def open_store(settings) -> Store:
    """The store, on a migrated copy (tests/databases.py): the reader's tests are not about a first run."""
    migrated_database(settings.db_path)
    return Store.open(settings.db_url)


def draft(name: str, **changes) -> ProviderDraft:
    return ProviderDraft(name=name, account=f"{name.split()[0].lower()}@example.com", password="x",
                         smtp_host="smtp.example.com", inbound_host="imap.example.com").updated(**changes)


@pytest.fixture
def filled(tmp_path):
    """A database with a failed, a passing, an unencrypted and an unchecked provider."""
    settings = settings_in(tmp_path)
    store = open_store(settings)
    for name, changes in [("Desk", {}), ("Plain", {"smtp_security": "none", "smtp_port": "25"}),
                          ("Sender", {"receive_emails": False}), ("Sales [/]", {})]:
        store.add(to_settings(draft(name, **changes)))
    when = datetime(2026, 3, 4, 5, 6, tzinfo=timezone.utc)
    failure = Failure(FailureKind.AUTH, "refused", "Check the password.", ("password",))
    store.save_report("Desk", CheckReport("Desk", when, ProtocolResult(
        "smtp", "smtp.example.com", 587, [Step("auth", False, 2.0)], failure, ["S: 535 no"])))
    store.save_report("Plain", CheckReport("Plain", when, ProtocolResult(
        "smtp", "smtp.example.com", 25, [Step("auth", True, 2.0)], None, ["S: 235 ok"], encrypted=False)))
    yield settings, store
    store.close()


def test_the_reader_answers_as_the_store(filled):
    settings, store = filled
    reader = Reader.open(settings)
    assert reader is not None
    assert reader.summaries() == store.summaries()
    assert list(reader.records(page=2)) == store.list()
    assert list(reader.records(reports=False)) == store.list(reports=False)
    assert reader.require("desk") == store.require("Desk")
    assert reader.report("DESK") == store.report("Desk") and reader.report("Sender") is None
    assert reader.get("nobody") is None and reader.get("bad \udcff name") is None
    assert reader.count() == 4
    reader.close()


def test_the_reader_stands_aside_when_the_full_path_is_needed(filled, tmp_path):
    settings, store = filled
    store.record_intents(["a-key-to-sweep"])  # a sweep is due: only the full path does it
    assert Reader.open(settings) is None
    store.settle_intents(["a-key-to-sweep"])
    assert Reader.open(settings) is not None
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0004'")
    assert Reader.open(settings) is None  # to be migrated: the full path migrates
    assert Reader.open(settings_in(tmp_path / "new")) is None  # no file yet: never created here
    assert not (tmp_path / "new" / "mailprov.db").exists()


HEAVY = ("keyring", "imapclient", "sqlmodel", "alembic", "textual", "msal", "urllib.request")


def run_cli(settings, *argv: str) -> subprocess.CompletedProcess:
    """The CLI in a fresh process, which then says whether it imported SQLAlchemy (and which
    of HEAVY it imported: `heavy loaded: [...]`)."""
    code = ("import sys; from tui.cli import main; code = main(sys.argv[1:]); "
            "print('sqlalchemy loaded:', 'sqlalchemy' in sys.modules, file=sys.stderr); "
            f"print('heavy loaded:', [name for name in {HEAVY!r} if name in sys.modules], file=sys.stderr); "
            "sys.exit(code)")
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith(("MAILPROV_", "PYTHON_KEYRING")) and key != "DBUS_SESSION_BUS_ADDRESS"}
    env = {**inherited, "PYTHONPATH": str(ROOT), "MAILPROV_DB": settings.db_url.removeprefix("sqlite:///"),
           "MAILPROV_DATA_DIR": str(settings.data_dir), "MAILPROV_CONFIG_DIR": str(settings.data_dir),
           "MAILPROV_LOG_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=60)


def test_list_and_show_do_not_load_sqlalchemy_on_a_current_database(filled):
    settings, store = filled
    listed = run_cli(settings, "provider", "list")
    assert listed.returncode == 0 and "sqlalchemy loaded: False" in listed.stderr
    assert [line.split("  ")[0] for line in listed.stdout.splitlines()[1:]] == [
        "✖ error", "● active, unencrypted", "○ not checked", "○ not checked"]  # Desk, Plain, Sales, Sender
    shown = run_cli(settings, "provider", "show", "desk", "--json")
    assert shown.returncode == 0 and "sqlalchemy loaded: False" in shown.stderr
    assert json.loads(shown.stdout)["last_report"]["outbound"]["transcript"] == ["S: 535 no"]
    missing = run_cli(settings, "provider", "show", "nobody")
    assert missing.returncode == 2 and "No provider named 'nobody'" in missing.stderr

    store.record_intents(["a-key-to-sweep"])  # now the full path runs, and sweeps
    listed_again = run_cli(settings, "provider", "list", "--json")
    assert listed_again.returncode == 0 and "sqlalchemy loaded: True" in listed_again.stderr
    assert [p["name"] for p in json.loads(listed_again.stdout)] == ["Desk", "Plain", "Sales [/]", "Sender"]
    assert store.intents() == []


def test_check_runs_on_the_quick_path_and_saves_its_report(tmp_path, closed_port):
    """`check` reads and saves with sqlite3 (the store's SQL); the store then reads the result."""
    settings = settings_in(tmp_path)
    store = open_store(settings)
    store.add(to_settings(draft("Desk", smtp_host="127.0.0.1", smtp_port=str(closed_port), receive_emails=False)))
    store.settle_intents(store.intents())
    checked = run_cli(settings, "check", "desk", "--json")
    assert checked.returncode == 1 and "sqlalchemy loaded: False" in checked.stderr
    (report,) = json.loads(checked.stdout)
    assert (report["kind"], report["saved"]) == ("secret", True)  # no password in this secret store
    record = store.require("Desk")
    assert record.failure.kind is FailureKind.SECRET and record.report.outbound.failure.kind is FailureKind.SECRET
    assert record.last_checked_at == store.summaries()[0].last_checked_at is not None
    store.close()


def test_check_with_the_encrypted_file_loads_neither_keyring_nor_the_store(tmp_path, closed_port):
    """The default install (no system keyring: the secrets file and its generated key file):
    `check` decrypts the password without importing keyring, SQLAlchemy or msal."""
    from tui.core.secrets import SecretStore, choose_backend

    settings = settings_in(tmp_path)
    store = open_store(settings)
    record = store.add(to_settings(draft("Desk", smtp_host="127.0.0.1", smtp_port=str(closed_port),
                                         receive_emails=False)))
    store.settle_intents(store.intents())
    SecretStore(choose_backend(settings)).set_password(record.secret_key, "the password")
    checked = run_cli(settings, "check", "desk", "--json")
    (report,) = json.loads(checked.stdout)
    assert report["kind"] == "refused", report  # the password was read: the check went on to connect
    assert "sqlalchemy loaded: False" in checked.stderr
    assert "heavy loaded: []" in checked.stderr, checked.stderr
    store.close()


def test_provider_list_prints_the_same_on_the_quick_and_the_full_path(filled):
    """The quick path builds the table from stored values (tui.commands._list_rows): the same
    lines as from the store's summaries, a time stored in another shape included."""
    settings, store = filled
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE provider SET last_checked_at = '2026-03-04T07:08:09Z' WHERE name = 'Plain'")
    quick = run_cli(settings, "provider", "list")
    store.record_intents(["a-key-to-sweep"])  # the full path now
    full = run_cli(settings, "provider", "list")
    assert "sqlalchemy loaded: False" in quick.stderr and "sqlalchemy loaded: True" in full.stderr
    assert quick.stdout == full.stdout
    assert "2026-03-04 07:08 UTC" in quick.stdout and "2026-03-04 05:06 UTC" in quick.stdout


def test_a_whole_check_over_imap_skips_the_metadata_scan_and_closes_its_database(tmp_path, mail_servers):
    """`mailprov check NAME` of a provider that receives over IMAP, as a process (its entry
    point, tui.__main__.run): it passes, without importlib.metadata (imapclient's version is
    read from its dist-info, see tui.core.mail.imapclient_import), platformdirs (every folder
    is given) or strptime; and its database is closed before the process ends (the entry
    point leaves the last collection out: an open SQLite connection would leave its -wal
    file behind)."""
    from tui.core.secrets import SecretStore, choose_backend

    settings = settings_in(tmp_path)
    store = Store.open(settings.db_url)
    record = store.add(mail_servers.settings(name="Desk"))
    store.settle_intents(store.intents())
    SecretStore(choose_backend(settings)).set_password(record.secret_key, mail_servers.password)
    store.close()
    unwanted = ("importlib.metadata", "platformdirs", "_strptime", "tempfile", "keyring", "sqlalchemy")
    code = ("import atexit, sys; from tui.__main__ import run; "
            f"atexit.register(lambda: print('loaded:', [n for n in {unwanted!r} if n in sys.modules], file=sys.stderr)); "
            "sys.argv[1:] = ['check', 'desk']; sys.exit(run())")
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith(("MAILPROV_", "PYTHON_KEYRING")) and key != "DBUS_SESSION_BUS_ADDRESS"}
    env = {**inherited, "PYTHONPATH": str(ROOT), "MAILPROV_DB": str(tmp_path / "mailprov.db"),
           "MAILPROV_DATA_DIR": str(tmp_path), "MAILPROV_CONFIG_DIR": str(tmp_path),
           "MAILPROV_LOG_DIR": str(tmp_path), "MAILPROV_CA_FILE": str(mail_servers.ca_file)}
    checked = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("Desk: ● active") and "INBOX:" in checked.stdout
    assert "loaded: []" in checked.stderr, checked.stderr
    assert not (tmp_path / "mailprov.db-wal").exists()


def test_imapclient_has_its_own_version_without_the_metadata_scan():
    code = ("import sys; import tui.core.mail.imap; import imapclient; "
            "scanned = 'importlib.metadata' in sys.modules; "
            "from importlib import metadata; "
            "print(scanned, imapclient.__version__ == metadata.version('imapclient'), "
            "imapclient.version_info == (*map(int, metadata.version('imapclient').split('.')), 'final'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.split() == ["False", "True", "True"], done.stdout + done.stderr
