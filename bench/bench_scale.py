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
    # As an installed mailprov runs: its bytecode cached (the first run writes it).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# Each measured process reports its own peak memory as it exits (wait4's ru_maxrss can give
# the parent's, this benchmark's, for a child started with vfork).
PEAK_AT_EXIT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('PEAK', next(line.split()[1] for line in open('/proc/self/status')"
    " if line.startswith('VmHWM')), file=sys.stderr))\n"
)
RUN_MAILPROV = "import runpy, sys\nsys.argv[0] = 'mailprov'\nrunpy.run_module('tui', run_name='__main__')\n"


def python_code(code: str) -> list[str]:
    return [sys.executable, "-c", PEAK_AT_EXIT + code]


def mailprov(*args: str) -> list[str]:
    return [*python_code(RUN_MAILPROV), *args]


def timed_run(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB) of one process, its output discarded."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    peaks = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK ")]
    if not peaks:
        raise RuntimeError(f"{argv[3:]} ended without a peak: {done.stderr[-500:]}")
    return elapsed, int(peaks[-1])


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
    big, empty = folder / "big.db", folder / "empty.db"
    checked_database(big, BIG)
    checked_database(empty, 0)
    env = command_env(folder)
    results = paired({
        "import sqlmodel": python_code("import sqlmodel"),
        "import textual": python_code("import textual"),
        f"provider list ({BIG:,} checked)": mailprov("provider", "list", "--db", str(big)),
        "provider list (empty db)": mailprov("provider", "list", "--db", str(empty)),
        "provider show NAME": mailprov("provider", "show", "Provider 000042", "--db", str(big)),
        "doctor": mailprov("doctor", "--db", str(big)),
    }, env)
    (sqlmodel, sqlmodel_peak), (textual, _) = results.pop("import sqlmodel"), results.pop("import textual")
    print(f"baselines: python -c 'import sqlmodel' {sqlmodel * 1000:6.0f} ms (peak {sqlmodel_peak / 1024:5.1f} MB),"
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
        seconds, peak = timed_run(mailprov("provider", "list", "--json", "--db", str(path)), env)
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


# Runs `check --all` in a process that has already imported what it needs, and says when
# it called it: the time the command itself takes to its first connection.
AFTER_IMPORTS = """
import sys, time
import tui.commands, tui.core.checks, tui.core.reader, tui.core.secrets, tui.core.service, tui.core.store
from tui.cli import main
print(time.time(), file=sys.stderr, flush=True)
main(sys.argv[1:])
"""


def time_to_first_connection(folder: Path, count: int) -> tuple[float, float]:
    """`mailprov check --all` on `count` providers with stored passwords (one encrypted
    secrets file): seconds to the first connection from the process start, and from the
    command's start once its modules are imported."""
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
    from_start = _first_connection(server, [sys.executable, "-m", "tui", "check", "--all", "--db", str(path)], env)
    server.first = None
    server.arrived.clear()
    child = subprocess.Popen([sys.executable, "-c", AFTER_IMPORTS, "check", "--all", "--db", str(path)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        called = float(child.stderr.readline())
        if not server.arrived.wait(120):
            raise RuntimeError("no connection within 120 s")
        after_imports = time.time() - (time.perf_counter() - server.first) - called
    finally:
        child.terminate()
        child.communicate(timeout=30)
        server.close()
    return from_start, after_imports


def _first_connection(server: FirstConnection, argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not server.arrived.wait(120):
            raise RuntimeError("no connection within 120 s")
        return server.first - started
    finally:
        child.terminate()
        child.wait(30)


def main() -> None:
    print(f"data: providers each checked once, reports of {report_size()} bytes of JSON")
    with tempfile.TemporaryDirectory(prefix="mailprov-bench-") as temp:
        folder = Path(temp)
        command_costs(folder)
        from_start, after_imports = time_to_first_connection(folder, BIG)
        print(f"check --all, {BIG:,} providers: first connection {after_imports * 1000:6.0f} ms after the command"
              f" started (target < 1000 ms: {'met' if after_imports < 1 else 'MISSED'}); {from_start * 1000:6.0f} ms"
              " after the process started (imports included: see import sqlmodel above)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "first-connection":
        with tempfile.TemporaryDirectory(prefix="mailprov-bench-") as temp:
            print("%.3f s from the process start, %.3f s from the command's start" % time_to_first_connection(
                Path(temp), int(sys.argv[2])))
    else:
        main()
