"""Environment faults, end to end in real processes: bad settings, databases that cannot be
opened, a secret store without its master key, file permissions, parallel first runs, a
closed stdout and Ctrl+C. Each is one line on stderr (never a traceback) and exit code 3
(environment), 130 (interrupted) or 141 (closed pipe).

A command runs as a fork of a process that imported mailprov (tests/forked_cli.py): its own
environment, umask, files and exit code, read by the same main() from os.environ. Where the
interpreter's start-up is the subject (a closed stdout, Ctrl+C, the UI refusing to start)
it is a new `python -m tui` (`Mailprov.real`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.databases import migrated_database
from tests.forked_cli import run_forked, start_forked
from tui.core.store import HEAD_REVISION

DB_PASSWORD = "Xq7-db-S3cret"  # distinctive, so a leak anywhere can be found
PROVIDER_PASSWORD = "Zebra-Tr0ub4dor&3"


class Mailprov:
    """mailprov in a process of its own, with every folder in a temp dir."""

    def __init__(self, home: Path):
        self.home = home
        self.data, self.config, self.log = home / "data", home / "config", home / "log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONUTF8": "1",
            "MAILPROV_DATA_DIR": str(self.data),
            "MAILPROV_CONFIG_DIR": str(self.config),
            "MAILPROV_LOG_DIR": str(self.log),
            "MAILPROV_TIMEOUT": "5",
        }

    @property
    def db(self) -> Path:
        return self.data / "mailprov.db"

    @property
    def key_file(self) -> Path:
        return self.config / "master.key"

    @property
    def secrets_file(self) -> Path:
        return self.data / "secrets.enc"

    def migrated(self) -> Mailprov:
        """Start from a database already at HEAD (tests/databases.py): for the tests whose
        subject is not the new database nor the first run."""
        migrated_database(self.db)
        return self

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tui", *args]

    def __call__(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
        """A command, forked (tests/forked_cli.py). A permissive umask: the private modes
        must come from mailprov, not from the user's umask."""
        return run_forked(list(args), env=self.env | env, folder=self.home, stdin=stdin, timeout=60, umask=0o022)

    def real(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """`python -m tui` itself, interpreter start-up and all."""
        return subprocess.run(self.argv(*args), env=self.env | env, capture_output=True, text=True,
                              timeout=60, umask=0o022)

    def add(self, name: str = "Support") -> subprocess.CompletedProcess:
        return self("provider", "add", "--name", name, "--type", "smtp-imap",
                    "--account", "support@example.com", "--smtp-host", "smtp.example.com",
                    "--imap-host", "imap.example.com", "--password-stdin", stdin=PROVIDER_PASSWORD + "\n")

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.log.glob("*") if p.is_file())


@pytest.fixture
def mailprov(tmp_path) -> Mailprov:
    return Mailprov(tmp_path)


def one_line(done: subprocess.CompletedProcess) -> str:
    """stderr, asserted to be exactly one `mailprov: ...` line (no traceback)."""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("mailprov: ") and "Traceback" not in done.stderr
    return done.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MAILPROV_TIMEOUT", v) for v in ("nan", "inf", "0", "-1", "1e300", "ten")]
    + [("MAILPROV_CONCURRENCY", v) for v in ("nan", "inf", "0", "-1", "2.5", "four")],
)
def test_an_unusable_setting_is_one_line_naming_it_exit_3(mailprov, variable, value):
    done = mailprov("provider", "list", **{variable: value})
    assert done.returncode == 3
    line = one_line(done)
    assert variable in line and f"'{value}'" in line
    assert not mailprov.db.exists(), "nothing is created before the settings are good"


def test_good_settings_still_work(mailprov):
    done = mailprov.migrated()("provider", "list", MAILPROV_TIMEOUT="2.5", MAILPROV_CONCURRENCY=" 8 ")
    assert done.returncode == 0, done.stderr


def test_the_ui_refuses_a_bad_setting_before_it_starts(mailprov):
    done = mailprov.real(MAILPROV_TIMEOUT="nan")  # no command: the UI, which must not start
    assert done.returncode == 3 and "MAILPROV_TIMEOUT" in one_line(done)


# --------------------------------------------------------------------------- database URLs


def assert_password_nowhere(mailprov: Mailprov, *outputs: subprocess.CompletedProcess) -> None:
    for done in outputs:
        assert DB_PASSWORD not in done.stdout + done.stderr
    assert DB_PASSWORD not in mailprov.log_text()


def test_a_missing_database_driver_names_the_package_and_masks_the_password(mailprov):
    url = f"postgresql+psycopg2://mailprov:{DB_PASSWORD}@db.example.com/mailprov"
    done = mailprov("--db", url, "provider", "list")
    assert done.returncode == 3
    line = one_line(done)
    assert "postgresql+psycopg2://mailprov:***@db.example.com/mailprov" in line
    assert "psycopg2-binary" in line and "pip install" in line
    doctor = mailprov("--db", url, "doctor")
    assert doctor.returncode == 1
    assert "✖ database" in doctor.stdout and "mailprov:***@db.example.com" in doctor.stdout
    assert_password_nowhere(mailprov, done, doctor)


def test_an_unknown_database_type_says_so(mailprov):
    done = mailprov("--db", f"nosuchdb://admin:{DB_PASSWORD}@db.example.com/x", "provider", "list")
    assert done.returncode == 3
    line = one_line(done)
    assert "unknown database type 'nosuchdb'" in line and "nosuchdb://admin:***@db.example.com/x" in line
    assert_password_nowhere(mailprov, done)


def test_an_unreadable_database_url_is_masked_too(mailprov):
    done = mailprov("--db", f"postgresql://admin:{DB_PASSWORD}@db.example.com:54x/x", "provider", "list")
    assert done.returncode == 3
    assert "admin:***@" in one_line(done)
    assert_password_nowhere(mailprov, done)


# --------------------------------------------------------------------------- database paths


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/proc/mailprov-nowhere/y.db", "cannot create /proc/mailprov-nowhere"),
        ("{tmp}/a-file/y.db", "a file has that name"),
        ("{tmp}", "this is a folder"),
        ("{tmp}/a-file", "not a mailprov database"),
    ],
    ids=["cannot-create", "parent-is-a-file", "a-folder", "not-a-database"],
)
def test_a_database_path_that_cannot_be_used_is_one_line_exit_3(mailprov, tmp_path, path, expected):
    (tmp_path / "a-file").write_text("not a database\n")
    db = path.format(tmp=tmp_path)
    done = mailprov("--db", db, "provider", "list")
    assert done.returncode == 3
    line = one_line(done)
    assert f"database {db}: " in line and expected in line


def test_a_database_from_a_newer_mailprov_is_one_line_exit_3(mailprov):
    mailprov.migrated()
    with sqlite3.connect(mailprov.db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    done = mailprov("provider", "list")
    assert done.returncode == 3
    assert "schema is at revision 9999" in one_line(done) and "newer mailprov" in done.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_a_database_in_a_folder_without_permission(mailprov, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    done = mailprov("--db", str(locked / "m.db"), "provider", "list")
    assert done.returncode == 3
    assert "Permission denied" in one_line(done) or "unable to open" in done.stderr


def test_a_log_folder_that_cannot_be_created_is_one_line_exit_3(mailprov):
    done = mailprov.migrated()("provider", "list", MAILPROV_LOG_DIR="/proc/mailprov-nowhere")
    assert done.returncode == 3
    assert "log file /proc/mailprov-nowhere/mailprov.log" in one_line(done)
    doctor = mailprov("doctor", MAILPROV_LOG_DIR="/proc/mailprov-nowhere")
    assert doctor.returncode == 1 and "✖ log file" in doctor.stdout


def test_twenty_first_runs_at_once_on_a_new_database_all_succeed(mailprov):
    """Each process finds no schema and migrates; only the first may do it. The processes
    are forks of one that imported mailprov (tests/forked_cli.py): they start within
    milliseconds of each other, so they race harder than 20 interpreters starting up."""
    db = mailprov.home / "fresh" / "new.db"
    processes = [start_forked(["provider", "list", "--db", str(db)], env=mailprov.env, folder=mailprov.home)
                 for _ in range(20)]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in processes]
    failures = [(code, err) for code, err in results if code != 0]
    assert failures == []
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD_REVISION,)]
        assert connection.execute("SELECT count(*) FROM provider").fetchone() == (0,)


# --------------------------------------------------------------------------- the secret store


def test_without_the_master_key_providers_can_still_be_listed_shown_and_exported(mailprov):
    assert mailprov.migrated().add().returncode == 0
    assert mailprov.secrets_file.exists()
    mailprov.key_file.unlink()

    listed = mailprov("provider", "list")
    assert listed.returncode == 0 and "Support" in listed.stdout, listed.stderr
    shown = mailprov("provider", "show", "Support", "--json")
    assert shown.returncode == 0 and '"account": "support@example.com"' in shown.stdout
    exported = mailprov("export")
    assert exported.returncode == 0 and 'name = "Support"' in exported.stdout
    assert not mailprov.key_file.exists(), "reading made no new, useless key"

    # Whatever needs the password fails, naming the secret store, its file and the key file.
    checked = mailprov("check", "Support")
    assert checked.returncode == 3
    for line in (one_line(checked), one_line(mailprov("provider", "rm", "Support"))):
        assert "secret store" in line and str(mailprov.secrets_file) in line and str(mailprov.key_file) in line
    assert "Support" in mailprov("provider", "list").stdout, "rm changed nothing"
    doctor = mailprov("doctor")
    assert doctor.returncode == 1 and "✖ secret store" in doctor.stdout and str(mailprov.key_file) in doctor.stdout


def test_an_empty_key_file_next_to_a_secrets_file_is_not_to_be_deleted(mailprov):
    assert mailprov.migrated().add().returncode == 0
    mailprov.key_file.write_text("")
    done = mailprov("check", "Support")
    assert done.returncode == 3
    line = one_line(done)
    assert f"the key file {mailprov.key_file} is empty" in line
    assert f"{mailprov.secrets_file} cannot be read without the original key" in line
    assert "restore the key file from a backup" in line
    assert "remove" not in line and "delete" not in line


# --------------------------------------------------------------------------- permissions


def test_files_are_created_private_to_the_user(mailprov):
    assert mailprov("provider", "list").returncode == 0
    # Keep a connection open, as a running UI would, so the -wal and -shm files stay.
    with sqlite3.connect(mailprov.db) as reader:
        reader.execute("SELECT count(*) FROM provider").fetchone()
        assert mailprov.add().returncode == 0
        files = [mailprov.db, Path(f"{mailprov.db}-wal"), Path(f"{mailprov.db}-shm"),
                 mailprov.secrets_file, mailprov.key_file, mailprov.log / "mailprov.log"]
        assert {str(f): oct(mode(f)) for f in files} == {str(f): oct(0o600) for f in files}
    folders = [mailprov.data, mailprov.config, mailprov.log]
    assert {str(f): oct(mode(f)) for f in folders} == {str(f): oct(0o700) for f in folders}


def test_doctor_warns_about_a_database_other_users_can_read(mailprov):
    assert mailprov("provider", "list").returncode == 0
    assert mailprov("doctor").returncode == 0
    mailprov.db.chmod(0o644)
    mailprov.data.chmod(0o755)
    done = mailprov("doctor")
    assert done.returncode == 1
    warnings = [line for line in done.stdout.splitlines() if line.startswith("✖ permissions")]
    assert len(warnings) == 2
    assert f"chmod 700 {mailprov.data}" in warnings[0] and f"chmod 600 {mailprov.db}" in warnings[1]
    assert mode(mailprov.db) == 0o644, "existing files are left as they are"


# --------------------------------------------------------------------------- stdout closed, Ctrl+C


def test_a_closed_stdout_ends_quietly(mailprov):
    mailprov.migrated()
    for name in ("A", "B", "C"):
        assert mailprov.add(name).returncode == 0
    reader_gone = subprocess.Popen(mailprov.argv("provider", "list"), env=mailprov.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader_gone.stdout.close()  # like `| head` exiting before mailprov writes
    stderr = reader_gone.stderr.read()
    reader_gone.stderr.close()
    assert reader_gone.wait(timeout=60) == 141
    assert stderr == b""


def wait_until_reading_stdin(pid: int, timeout: float = 60) -> None:
    """Until the process blocks in read(0, …): the password prompt is waiting (Linux: the
    first fields of /proc/PID/syscall are the system call's number, 0 = read, and its fd)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fields = Path(f"/proc/{pid}/syscall").read_text().split()
        except OSError:
            fields = []
        if fields[:2] == ["0", "0x0"]:
            return
        time.sleep(0.02)
    raise AssertionError("the CLI never waited on stdin")


def test_ctrl_c_is_one_line_exit_130_and_nothing_is_added(mailprov):
    mailprov.migrated()
    # The password prompt waits on stdin, which stays open: interrupt it there.
    process = subprocess.Popen(
        mailprov.argv("provider", "add", "--name", "Support", "--type", "smtp-imap", "--account",
                      "s@example.com", "--smtp-host", "smtp.example.com", "--imap-host",
                      "imap.example.com", "--password-stdin"),
        env=mailprov.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_until_reading_stdin(process.pid)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr == "mailprov: interrupted.\n" and stdout == ""
    assert "No providers yet" in mailprov("provider", "list").stdout


# --------------------------------------------------------------------------- the UI


def real_settings(home: Path, **env: str):
    from tui.core.settings import load_settings

    return load_settings(env={"MAILPROV_DB": str(home / "data" / "m.db"), "MAILPROV_DATA_DIR": str(home / "data"),
                              "MAILPROV_CONFIG_DIR": str(home / "config"), "MAILPROV_LOG_DIR": str(home / "log"),
                              **env})


async def test_the_ui_lists_providers_and_names_the_secret_store_when_its_key_is_lost(tmp_path):
    from tests.ui_helpers import example_draft, settle, visible_text
    from tui.core.bootstrap import build_service
    from tui.ui.app import MailprovApp

    settings = real_settings(tmp_path)
    migrated_database(settings.db_path)
    build_service(settings).create(example_draft("Support"))  # writes secrets.enc with a new key file
    key_file = settings.config_dir / "master.key"
    key_file.unlink()

    app = MailprovApp(settings, service_factory=lambda: build_service(settings))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen_text = visible_text(app)
        assert "Support" in screen_text and "Could not open the database" not in screen_text
        (problem,) = [n for n in app._notifications if n.title == "Secret store problem"]
        assert "secret store" in problem.message and str(key_file) in problem.message
        assert str(settings.data_dir / "secrets.enc") in problem.message


async def test_the_ui_says_when_the_secret_store_itself_fails_to_open(tmp_path):
    from tests.ui_helpers import make_app, settle, visible_text
    from tui.core.secrets import SecretStoreError
    from tui.ui.app import MailprovApp

    def broken():
        raise SecretStoreError("PYTHON_KEYRING_BACKEND=no.such.Backend cannot be used")

    app = MailprovApp(make_app(tmp_path).settings, service_factory=broken)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = visible_text(app)
        assert "Could not open the secret store: PYTHON_KEYRING_BACKEND" in text
        assert "database" not in text


async def test_the_ui_masks_the_password_of_a_database_it_cannot_open(tmp_path):
    from tests.ui_helpers import settle, visible_text
    from tui.core.bootstrap import build_service
    from tui.ui.app import MailprovApp

    settings = real_settings(tmp_path, MAILPROV_DB=f"postgresql+psycopg2://app:{DB_PASSWORD}@db.example.com/m")
    app = MailprovApp(settings, service_factory=lambda: build_service(settings))
    async with app.run_test(size=(200, 30)) as pilot:
        await settle(pilot)
        text = " ".join(visible_text(app).split())
        assert "Could not open the database postgresql+psycopg2://app:***@db.example.com/m" in text
        assert "psycopg2-binary" in text and DB_PASSWORD not in text


# --------------------------------------------------------------------------- units


def test_the_lazy_secret_store_opens_on_first_use_and_retries_after_a_failure():
    from tui.core.secrets import LazySecretStore, MemoryKeyring, SecretStoreError

    attempts = []

    def open_backend():
        attempts.append(1)
        if len(attempts) == 1:
            raise SecretStoreError("the key file is missing")
        return MemoryKeyring()

    store = LazySecretStore(open_backend)
    assert attempts == []
    with pytest.raises(SecretStoreError, match="key file is missing"):
        store.get_password("k")
    store.set_password("k", PROVIDER_PASSWORD)  # fixed meanwhile: opened now
    assert store.get_password("k") == PROVIDER_PASSWORD
    assert "in memory" in store.backend_name
    assert len(attempts) == 2


def test_an_os_error_while_opening_the_secret_store_is_a_secret_store_error(tmp_path):
    from tui.core.secrets import LazySecretStore, SecretStoreError, choose_backend

    settings = real_settings(tmp_path, MAILPROV_CONFIG_DIR="/proc/mailprov-nowhere")
    with pytest.raises(SecretStoreError, match="cannot create the key file /proc/mailprov-nowhere/master.key"):
        LazySecretStore(lambda: choose_backend(settings)).get_password("k")


def test_an_empty_key_file_without_a_secrets_file_may_be_removed(tmp_path):
    from tui.core.secrets import SecretStoreError, choose_backend

    settings = real_settings(tmp_path)
    settings.config_dir.mkdir(parents=True)
    (settings.config_dir / "master.key").touch(mode=0o600)
    with pytest.raises(SecretStoreError, match="is empty and no secrets file exists yet: remove the key file"):
        choose_backend(settings)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://app:{DB_PASSWORD}@h/db", "postgresql://app:***@h/db"),
        (f"mysql+pymysql://app:{DB_PASSWORD}@h:3306/db?charset=utf8", "mysql+pymysql://app:***@h:3306/db?charset=utf8"),
        (f"postgresql://app:{DB_PASSWORD}@h:5x/db", "postgresql://app:***@h:5x/db"),  # SQLAlchemy cannot parse it
        ("sqlite:////var/lib/m.db", "sqlite:////var/lib/m.db"),
    ],
)
def test_database_urls_are_shown_without_their_password(url, shown):
    from tui.core.settings import mask_db_url, without_db_password

    assert mask_db_url(url) == shown
    assert without_db_password(f"error at {url}", url) == f"error at {shown}"
    if DB_PASSWORD in url:  # the password alone, as a driver may quote it, is masked too
        assert without_db_password(f"bad password {DB_PASSWORD}", url) == "bad password ***"


def test_a_migration_cut_short_leaves_the_schema_as_it_was(tmp_path):
    """The migration's DDL runs inside the exclusive transaction: rolled back (as a kill
    would), no table of it remains, so the next start migrates from scratch."""
    from sqlalchemy import create_engine, inspect

    from tui.core.migrations import upgrade
    from tui.core.store import Store, _lock_for_migration

    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as connection:
        _lock_for_migration(connection)
        upgrade(connection)
        assert inspect(connection).has_table("provider")
        connection.rollback()
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == []
    engine.dispose()
    assert Store.open(f"sqlite:///{tmp_path / 'm.db'}").schema_revision() == HEAD_REVISION


def test_the_settings_repr_masks_the_database_password(tmp_path):
    settings = real_settings(tmp_path, MAILPROV_DB=f"postgresql://app:{DB_PASSWORD}@h/db")
    assert DB_PASSWORD not in repr(settings) and "postgresql://app:***@h/db" in repr(settings)
    assert settings.db_label == "postgresql://app:***@h/db"
