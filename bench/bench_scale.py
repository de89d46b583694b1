"""mailprov at scale: 10,000 providers, each checked once (reports of the real size, 4.5 KB).

    python -m bench.bench_scale

Each figure is printed next to its baseline, measured in the same run on this machine:
- `provider list` (10,000 checked), `provider list` on an empty database, `provider show`,
  `doctor`: against `python -c 'import sqlmodel'` (targets: list <= 1.5x and < 100 MB, the
  fixed cost of a data command <= 1.2x) and `python -c 'import textual'` (read-only commands
  within 1x, as far as reachable);
- `provider list --json` (10,000 checked): its peak memory against the same command on 1,000
  providers (streams: memory flat in the count);
- `check --all` on 10,000 providers: the time from the start of the process to the first
  connection a server receives (target < 1 s; the servers here accept and hang up).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.datasets import checked_database, report_size

BIG = 10_000
SMALL = 1_000
RUNS = 5
MASTER_KEY = "benchmark-only-key"


def command_env(folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAILPROV_", "PYTHON_KEYRING"))}
    env.update(MAILPROV_DATA_DIR=str(folder), MAILPROV_CONFIG_DIR=str(folder / "config"),
               MAILPROV_LOG_DIR=str(folder / "log"), MAILPROV_MASTER_KEY=MASTER_KEY,
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    return env


def timed_run(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB) of one process, its output discarded."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss


def paired(commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, tuple[float, int]]:
    """Each command RUNS times, taken in turns (so a load spike hits all of them alike):
    the median time and the largest peak memory of each."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    peaks: dict[str, int] = {label: 0 for label in commands}
    for _ in range(RUNS):
        for label, argv in commands.items():
            seconds, peak = timed_run(argv, env)
            times[label].append(seconds)
            peaks[label] = max(peaks[label], peak)
    return {label: (statistics.median(times[label]), peaks[label]) for label in commands}


def command_costs(folder: Path) -> None:
    python = sys.executable
    big, empty = folder / "big.db", folder / "empty.db"
    checked_database(big, BIG)
    checked_database(empty, 0)
    env = command_env(folder)
    mailprov = [python, "-m", "tui"]
    results = paired({
        "import sqlmodel": [python, "-c", "import sqlmodel"],
        "import textual": [python, "-c", "import textual"],
        f"provider list ({BIG:,} checked)": [*mailprov, "provider", "list", "--db", str(big)],
        "provider list (empty db)": [*mailprov, "provider", "list", "--db", str(empty)],
        "provider show NAME": [*mailprov, "provider", "show", "Provider 000042", "--db", str(big)],
        "doctor": [*mailprov, "doctor", "--db", str(big)],
    }, env)
    sqlmodel, textual = results.pop("import sqlmodel")[0], results.pop("import textual")[0]
    print(f"baselines: python -c 'import sqlmodel' {sqlmodel * 1000:6.0f} ms,"
          f" python -c 'import textual' {textual * 1000:6.0f} ms (medians of {RUNS}, in turns)")
    targets = {f"provider list ({BIG:,} checked)": 1.5}
    for label, (seconds, peak) in results.items():
        target = targets.get(label, 1.2)
        print(f"{label:28} {seconds * 1000:6.0f} ms = {seconds / sqlmodel:4.2f}x import sqlmodel"
              f" (target <= {target}x), {seconds / textual:4.2f}x import textual; peak {peak / 1024:5.1f} MB")

    json_peaks = {}
    for count in (SMALL, BIG):
        path = folder / f"json-{count}.db"
        checked_database(path, count)
        seconds, peak = timed_run([*mailprov, "provider", "list", "--json", "--db", str(path)], env)
        json_peaks[count] = peak
        print(f"provider list --json ({count:,} checked): {seconds:6.2f} s, peak {peak / 1024:5.1f} MB")
    print(f"  memory at {BIG:,} / at {SMALL:,}: {json_peaks[BIG] / json_peaks[SMALL]:.2f}x (flat: about 1x)")


class FirstConnection:
    """A server on 127.0.0.1 that notes when its first connection arrives, and hangs up."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.listener.getsockname()[1]
        self.first: float | None = None
        self.arrived = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            if self.first is None:
                self.first = time.perf_counter()
                self.arrived.set()
            connection.close()

    def close(self) -> None:
        self.listener.close()


def time_to_first_connection(folder: Path, count: int) -> float:
    """`mailprov check --all` on `count` providers with stored passwords (one encrypted
    secrets file): seconds from the process start to the first connection."""
    import sqlite3

    from tui.core.secrets import EncryptedFileKeyring, SecretStore

    server = FirstConnection()
    path = folder / f"check-{count}.db"
    checked_database(path, count)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE provider SET smtp_host = '127.0.0.1', smtp_port = ?, inbound_host = '127.0.0.1',"
                     " inbound_port = ?", (server.port, server.port))
    backend = EncryptedFileKeyring(folder / "secrets.enc", MASTER_KEY, "benchmark")
    SecretStore(backend).set_many({f"key-{i}": f"password-{i}" for i in range(count)})
    env = command_env(folder)
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "tui", "check", "--all", "--db", str(path)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not server.arrived.wait(120):
            raise RuntimeError("no connection within 120 s")
        return server.first - started
    finally:
        child.terminate()
        child.wait(30)
        server.close()


def main() -> None:
    print(f"data: providers each checked once, reports of {report_size()} bytes of JSON")
    with tempfile.TemporaryDirectory(prefix="mailprov-bench-") as temp:
        folder = Path(temp)
        command_costs(folder)
        seconds = time_to_first_connection(folder, BIG)
        print(f"check --all, {BIG:,} providers: first connection after {seconds * 1000:6.0f} ms"
              f" (target < 1000 ms: {'met' if seconds < 1 else 'MISSED'})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "first-connection":
        with tempfile.TemporaryDirectory(prefix="mailprov-bench-") as temp:
            print(f"{time_to_first_connection(Path(temp), int(sys.argv[2])):.3f} s to the first connection")
    else:
        main()
