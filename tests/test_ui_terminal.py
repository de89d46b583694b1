"""`mailprov` in a real terminal (a tmux pane of a private tmux server), driven with keys
sent as a terminal sends them: in bursts, before the list is loaded, during a hung check."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.databases import migrated_database
from tests.ui_helpers import example_draft

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

REPO_ROOT = Path(__file__).resolve().parent.parent


class Terminal:
    """`python -m tui` in an 80x24 tmux pane, over a temp database and secrets file."""

    def __init__(self, folder: Path, env: dict[str, str], size: tuple[int, int] = (80, 24)):
        self.folder = folder
        self.env = env
        self.size = size
        self.socket = f"mailprov-test-{os.getpid()}-{id(self)}"
        self.exit_file = folder / "exit-code"

    def tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return result.stdout

    def start(self) -> None:
        variables = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.env.items())
        command = (f"cd {shlex.quote(str(REPO_ROOT))} && env -i {variables} {shlex.quote(sys.executable)} -m tui; "
                   f"echo $? > {shlex.quote(str(self.exit_file))}; sleep 600")
        width, height = self.size
        self.tmux("new-session", "-d", "-s", "app", "-x", str(width), "-y", str(height), command)

    def keys(self, *keys: str) -> None:
        """One tmux command: the keys reach the app in one burst, as from a fast terminal."""
        self.tmux("send-keys", "-t", "app", *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, limit: float = 15.0) -> str:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen()}")

    def wait_for_exit(self, limit: float) -> float:
        """Seconds until the app's process ended."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            if self.exit_file.exists() and self.exit_file.read_text().strip():
                return time.monotonic() - started
            time.sleep(0.02)
        raise AssertionError(f"mailprov still running after {limit} s; the screen:\n{self.screen()}")

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def terminal(tmp_path):
    from tui.core.bootstrap import build_service
    from tui.core.settings import load_settings

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "MAILPROV_DB": str(tmp_path / "mailprov.db"),
        "MAILPROV_DATA_DIR": str(tmp_path),
        "MAILPROV_CONFIG_DIR": str(tmp_path / "config"),
        "MAILPROV_LOG_DIR": str(tmp_path / "log"),
        "MAILPROV_MASTER_KEY": "terminal test master key",  # the encrypted secrets file, never a real keyring
        "TEXTUAL_ANIMATIONS": "none",
    }
    term = Terminal(tmp_path, env)
    migrated_database(tmp_path / "mailprov.db")  # a copy (tests/databases.py): not a first run
    term.service = build_service(load_settings(env=env))
    yield term
    term.close()


def test_keys_typed_while_the_list_loads_and_right_after_tab_land_where_meant(terminal):
    terminal.service.create(example_draft("Billing"))
    terminal.start()
    terminal.keys("n")  # at once: before the first paint, long before the list is loaded
    terminal.wait_for("New provider")
    # One burst: Name, Tab, Tab (past Type), Account, Tab, Username.
    terminal.keys("Support", "Tab", "Tab", "alice@example.test", "Tab", "ZZ")
    screen = terminal.wait_for("ZZ")
    lines = {line.split("  ")[0].strip(" *"): line for line in screen.splitlines() if "  " in line}
    assert "Support" in lines["Name"] and "ZZ" not in lines["Name"]
    assert "alice@example.test" in lines["Account"] and "ZZ" not in lines["Account"]
    assert "ZZ" in lines["Username"]


def test_a_filter_typed_before_the_list_is_ready_applies_once_it_is(terminal):
    for name in ("Billing", "Sales", "Support"):
        terminal.service.create(example_draft(name))
    terminal.start()
    terminal.keys("/", "sup")
    screen = terminal.wait_for("Support")
    time.sleep(0.5)
    screen = terminal.screen()
    assert "sup" in screen  # in the filter field
    assert "Billing" not in screen and "Sales" not in screen


def test_q_during_a_check_against_a_silent_server_quits_at_once_without_a_traceback(terminal, silent_port):
    terminal.env["MAILPROV_TIMEOUT"] = "30"  # the check would hold the process for 30 s and more
    terminal.service.create(example_draft("Silent", smtp_host="127.0.0.1", smtp_port=str(silent_port)))
    terminal.start()
    terminal.wait_for("Silent")
    terminal.keys("t")
    terminal.wait_for("checking")
    time.sleep(0.5)
    terminal.keys("q")
    took = terminal.wait_for_exit(limit=5)
    terminal.keys("C-c")  # what a user does when a program hangs after quitting
    time.sleep(0.3)
    assert took < 2.0, f"exit took {took:.1f} s"
    assert terminal.exit_file.read_text().strip() == "0"
    assert "Traceback" not in terminal.screen()
    assert "KeyboardInterrupt" not in terminal.screen()
