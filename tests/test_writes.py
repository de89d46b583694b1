"""Writes that survive kill, interrupt and races: real CLI processes on one SQLite file and one
encrypted secrets file (MAILPROV_MASTER_KEY), killed at moments spread over their whole run,
then the database and the secrets file are compared. Each process is forked from one that
imported mailprov already (tests/forked_cli.py): the kills land in the work, not in the
interpreter's start-up, and a test costs seconds of CPU instead of a minute.

After every kill, a new process's start-up sweep must leave: every row with its own
password (the one its command gave), no password without a row, no pending intent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.databases import migrated_database
from tests.forked_cli import ForkedCommand, start_forked
from tui.core.secret_file import new_generated_key
from tui.core.secrets import EncryptedFileKeyring, SecretStore
from tui.core.store import Store

# A key in the form mailprov generates (stretched with HKDF, in microseconds), not a
# passphrase (scrypt, ~70 ms of CPU in each of the ~150 processes these tests start).
MASTER_KEY = new_generated_key().decode()
PROCESSES = 42  # killed at moments spread over a whole run: adds, edits and removals
AT_ONCE = 6  # processes started together (they also race each other for the write lock)
FIRST_MOMENT = 0.1  # of a run: a forked command starts its work at once (no imports)


class Home:
    """A temp data folder shared by every process of a test."""

    def __init__(self, root: Path):
        self.root = root
        self.db = root / "data" / "mailprov.db"
        self.secrets_file = root / "data" / "secrets.enc"
        keep = {k: v for k, v in os.environ.items()
                if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "CREDENTIALS_DIRECTORY",
                             "MAILPROV_CA_FILE", "MAILPROV_DB")}
        self.env = {**keep, "MAILPROV_MASTER_KEY": MASTER_KEY,
                    "MAILPROV_DB": str(self.db), "MAILPROV_DATA_DIR": str(root / "data"),
                    "MAILPROV_CONFIG_DIR": str(root / "config"), "MAILPROV_LOG_DIR": str(root / "log"),
                    "MAILPROV_TIMEOUT": "5"}

    def start(self, *argv: str, stdin: str | None = None, env: dict | None = None) -> ForkedCommand:
        return start_forked(list(argv), env={**self.env, **(env or {})}, folder=self.root, stdin=stdin or "")

    def run(self, *argv: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        process = self.start(*argv, stdin=stdin, env=env)
        out, err = process.communicate(timeout=120)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def state(self) -> tuple[list, dict[str, str | None], list[str], set[str]]:
        """(rows, password per row name, pending intents, every key in the secrets file)."""
        store = Store.open(f"sqlite:///{self.db}")
        try:
            records, intents = store.list(), store.intents()
        finally:
            store.close()
        secrets = SecretStore(EncryptedFileKeyring(self.secrets_file, MASTER_KEY, "test"))
        found, damaged = secrets.get_many([r.secret_key for r in records])
        assert damaged == set()
        passwords = {r.name: found.get(r.secret_key) for r in records}
        entries = json.loads(self.secrets_file.read_text())["entries"].get("mailprov", {}) \
            if self.secrets_file.exists() else {}
        return records, passwords, intents, {username.removeprefix("provider/") for username in entries}

    def swept_state(self):
        """The state after a new process started (its start-up runs the sweep)."""
        done = self.run("provider", "list", "--json")
        assert done.returncode == 0, done.stderr
        return self.state()


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(tmp_path)
    # Migrated before the first process: parallel first runs are another test's subject
    # (tests/test_environment.py); a copy of a migrated database (tests/databases.py).
    migrated_database(home.db)
    return home


def account_of(name: str) -> str:
    return name.lower().replace(" ", ".") + "@example.com"


def add_argv(name: str, port: int = 587) -> list[str]:
    return ["provider", "add", "--name", name, "--type", "smtp-imap", "--account", account_of(name),
            "--smtp-host", "smtp.example.com", "--smtp-port", str(port), "--no-receive", "--password-stdin"]


def import_file(home: Home, names: list[str], port: int) -> Path:
    lines = []
    for name in names:
        lines += ["[[provider]]", f'name = "{name}"', 'type = "smtp-imap"', f'account = "{account_of(name)}"',
                  'smtp_host = "smtp.example.com"', f"smtp_port = {port}", "receive_emails = false",
                  'password_env = "MAILPROV_TEST_PW"', ""]
    path = home.root / f"import-{port}.toml"
    path.write_text("\n".join(lines))
    return path


def timed_run(*starts) -> float:
    """Run the commands together, unkilled, as a wave of the test will: the median time
    one of them takes (on a loaded machine, far more than one alone)."""
    began = time.monotonic()
    processes = [start() for start in starts]
    durations = []
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        durations.append(time.monotonic() - began)
    return sorted(durations)[len(durations) // 2]


def kill_spread(starts: list, run_time: float) -> list[int]:
    """Start the commands AT_ONCE at a time and SIGKILL each at its own moment, the moments
    spread evenly (shuffled, jittered) over a run: from the end of the start-up imports,
    where nothing is written yet, to just past the end. Returns each return code."""
    fractions = [FIRST_MOMENT + (1.1 - FIRST_MOMENT) * i / len(starts) for i in range(len(starts))]
    random.shuffle(fractions)
    codes = []
    for first in range(0, len(starts), AT_ONCE):
        wave = list(zip(starts[first:first + AT_ONCE], fractions[first:first + AT_ONCE]))
        began = time.monotonic()
        processes = [(start(), run_time * fraction * random.uniform(0.9, 1.1)) for start, fraction in wave]
        for process, moment in sorted(processes, key=lambda pair: pair[1]):
            time.sleep(max(0.0, began + moment - time.monotonic()))
            if process.poll() is None:
                process.kill()
        wave_codes = []
        for process, _ in processes:
            _, err = process.communicate(timeout=120)
            assert "Traceback" not in err, err
            wave_codes.append(process.returncode)
        codes += wave_codes
        run_time = _followed(run_time, wave_codes.count(-signal.SIGKILL), len(wave_codes))
    return codes


def _followed(run_time: float, killed: int, started: int) -> float:
    """The run time as the machine's load changes during the test (the other test processes
    come and go): a wave that ended almost unkilled ran faster than the timed one, a wave
    killed entirely slower. A run of a forked command is short (~0.05 s of work each), so a
    busy moment shifts it by a large part."""
    if killed <= started // 4:
        return run_time * 0.75
    if killed == started:
        return run_time * 1.25
    return run_time


def assert_consistent(records, intents, file_keys) -> None:
    assert intents == []
    assert file_keys == {r.secret_key for r in records}, "a password without its row, or a row without it"
    assert all(r.failure is None for r in records), [r.failure for r in records if r.failure]


# --------------------------------------------------------------------------- kill -9


def test_add_edit_rm_killed_at_any_moment_leave_old_or_new_providers(home):
    """Adds, edits (new port and password) and removals, mixed, each killed at a moment of
    its own; then a new process sweeps. Each provider is as before or as after its command."""
    count = (PROCESSES + AT_ONCE) // 3  # per command; the first AT_ONCE runs measure a run
    done = home.run("import", str(import_file(home, [f"E{n:02d}" for n in range(count)] +
                                              [f"R{n:02d}" for n in range(count)], 587)),
                    env={"MAILPROV_TEST_PW": "old"})
    assert done.returncode == 0, done.stderr
    commands = {
        "A": lambda n: home.start(*add_argv(f"A{n:02d}"), stdin=f"pw-A{n:02d}\n"),
        "E": lambda n: home.start("provider", "edit", f"E{n:02d}", "--smtp-port", str(2000 + n),
                                  "--password-stdin", stdin=f"new-{n}\n"),
        "R": lambda n: home.start("provider", "rm", f"R{n:02d}"),
    }
    runs = [(kind, n) for n in range(count) for kind in commands]  # mixed in every wave
    run_time = timed_run(*[lambda k=k, n=n: commands[k](n) for k, n in runs[:AT_ONCE]])
    killed_runs = runs[AT_ONCE:]
    codes = kill_spread([lambda k=k, n=n: commands[k](n) for k, n in killed_runs], run_time)
    # The test means something only when kills landed and some runs finished anyway.
    assert codes.count(-signal.SIGKILL) >= len(codes) // 3 and codes.count(0) >= 1, codes

    records, passwords, intents, file_keys = home.swept_state()
    assert_consistent(records, intents, file_keys)
    rows = {r.name: r for r in records}
    finished = {f"{kind}{n:02d}" for (kind, n), code in zip(runs, [0] * AT_ONCE + codes) if code == 0}
    for kind, n in runs:
        name = f"{kind}{n:02d}"
        row = rows.get(name)
        if kind == "A":
            assert row is not None or name not in finished
            assert row is None or passwords[name] == f"pw-{name}"  # whole, with its own password
        elif kind == "E":
            assert (row.settings.outbound.port, passwords[name]) in ((587, "old"), (2000 + n, f"new-{n}")), name
            assert name not in finished or row.settings.outbound.port == 2000 + n
        else:
            assert row is None or (name not in finished and passwords[name] == "old"), name
    # A killed add can be run again: no half-made row blocks the name.
    missing = [f"A{n:02d}" for kind, n in runs if kind == "A" and f"A{n:02d}" not in rows]
    if missing:
        done = home.run(*add_argv(missing[0]), stdin="again\n")
        assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- ctrl+c, SIGTERM


def test_an_interrupted_import_imports_everything_or_nothing(home):
    """SIGINT and SIGTERM at moments spread over an import of 2,000 providers (each import
    moves every provider to a new port and password): all of it or none of it lands."""
    names = [f"Provider {n:04d}" for n in range(2000)]
    # The fork server is started first if no test of this process has: its start-up (the
    # imports, ~1 s) in the timed run would put every signal after the import's commit.
    assert home.run("provider", "list").returncode == 0
    run_time = timed_run(lambda: home.start("import", str(import_file(home, names, 1000)),
                                            env={"MAILPROV_TEST_PW": "pw-1000"}))
    signals = [signal.SIGINT, signal.SIGTERM] * 3
    previous, outcomes = 1000, []
    for index, sig in enumerate(signals):
        port = 1001 + index
        moment = run_time * (0.25 + 0.9 * index / len(signals)) * random.uniform(0.9, 1.1)
        process = home.start("import", str(import_file(home, names, port)), env={"MAILPROV_TEST_PW": f"pw-{port}"})
        time.sleep(moment)
        process.send_signal(sig)
        _, err = process.communicate(timeout=120)
        assert "Traceback" not in err, err
        records, passwords, intents, file_keys = home.swept_state()
        assert_consistent(records, intents, file_keys)
        assert len(records) == len(names)
        used = {r.settings.outbound.port for r in records}
        assert used in ({previous}, {port}), f"a partial import: {sorted(used)[:5]}"
        now = used.pop()
        assert set(passwords.values()) == {f"pw-{now}"}
        if now == port:
            outcomes.append("all")
            assert process.returncode in (0, -sig, 128 + sig), (process.returncode, err)
        else:
            outcomes.append("nothing")
            assert process.returncode != 0
            if process.returncode == 128 + sig:  # stopped by mailprov itself: one line
                assert err.strip().splitlines() in (["mailprov: import interrupted: nothing imported"],
                                                    ["mailprov: interrupted."]), err
        previous = now
    assert "nothing" in outcomes, outcomes


# --------------------------------------------------------------------------- races


def test_parallel_edits_keep_the_settings_and_password_of_one_edit(home):
    done = home.run(*add_argv("Shared"), stdin="first\n")
    assert done.returncode == 0, done.stderr
    edits = [home.start("provider", "edit", "Shared", "--smtp-port", str(2000 + n), "--from-name", f"Desk {n}",
                        "--password-stdin", stdin=f"password-{n}\n") for n in range(20)]
    for process in edits:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err

    records, passwords, intents, file_keys = home.state()
    (record,) = records
    number = record.settings.outbound.port - 2000
    assert record.settings.from_name == f"Desk {number}"
    assert passwords["Shared"] == f"password-{number}"  # the password of that same edit
    assert_consistent(records, intents, file_keys)  # and the 20 replaced passwords are gone


class DelayedProxy:
    """Forwards to a real server, but only after holding each new connection `delay`
    seconds (or until `release` is set): a slow server, so that an edit can land while a
    check is under way. `accepted` is set once a connection came in."""

    def __init__(self, upstream_port: int, delay: float):
        self.upstream_port, self.delay = upstream_port, delay
        self.accepted, self.release = threading.Event(), threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self.accepted.set()
        self.release.wait(self.delay)
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)

    def stop(self) -> None:
        self.sock.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_an_edit_during_a_check_keeps_the_provider_grey(home, smtp_servers, test_certificates):
    from tests.servers import PASSWORD, USER

    proxy = DelayedProxy(smtp_servers.port("starttls"), delay=30)
    home.env["MAILPROV_CA_FILE"] = str(test_certificates.ca_file)
    try:
        added = home.run("provider", "add", "--name", "Slow", "--type", "smtp-imap", "--account", USER,
                         "--smtp-host", "127.0.0.1", "--smtp-port", str(proxy.port), "--no-receive",
                         "--password-stdin", stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        check = home.start("check", "Slow", "--json")
        assert proxy.accepted.wait(30)  # the check waits for the greeting...
        edited = home.run("provider", "edit", "Slow", "--smtp-port", "1")  # ...while this edit lands
        assert edited.returncode == 0, edited.stderr
        proxy.release.set()
        out, err = check.communicate(timeout=60)
        (report,) = json.loads(out)
        assert report["status"] == "green" and report["saved"] is False  # it passed, for the old port
        assert check.returncode == 1, err
        shown = json.loads(home.run("provider", "show", "Slow", "--json").stdout)
        assert (shown["status"], shown["outbound"]["port"], shown["last_report"]) == ("grey", 1, None)

        # The same check with nobody editing is saved green: the setup can pass.
        home.run("provider", "edit", "Slow", "--smtp-port", str(proxy.port))
        done = home.run("check", "Slow", "--json")
        assert json.loads(done.stdout)[0]["saved"] is True
        assert json.loads(home.run("provider", "show", "Slow", "--json").stdout)["status"] == "green"
    finally:
        proxy.stop()
