"""The CLI in a real process of its own, minus the interpreter start-up and the imports
(about 1 s of CPU per `python -m tui`): each command is a fork of a server process that
imported mailprov once (multiprocessing's forkserver).

For tests where processes are the subject (kill -9, SIGINT and SIGTERM, races on one
database, settings and files of a process's own) but the interpreter's start-up is not. A
forked command runs the same `main()` on its own file descriptors, environment (settings are
read from os.environ by main(), which the fork has replaced), umask and working directory,
can be killed at any instant, and ends with the same exit code (negative for a signal, as
subprocess reports it). Tests of start-up itself (stdio encodings, a closed stdout, Ctrl+C
during the imports, the entry point) keep `python -m tui`.

    process = start_forked(["provider", "list"], env=env, folder=tmp_path)
    out, err = process.communicate(timeout=60)
"""

from __future__ import annotations

import argparse  # noqa: F401  (imported once here, see below)
import multiprocessing
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

# What a command imports lazily, imported here once so that forks inherit it.
import alembic.command  # noqa: F401
import alembic.config  # noqa: F401
import alembic.runtime.migration  # noqa: F401
import alembic.script  # noqa: F401
import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401
import cryptography.hazmat.primitives.kdf.scrypt  # noqa: F401
import email_validator  # noqa: F401
import platformdirs  # noqa: F401
import tui.commands  # noqa: F401
import tui.core.bootstrap  # noqa: F401
import tui.core.campaigns  # noqa: F401
import tui.core.checks  # noqa: F401
import tui.core.credentials  # noqa: F401
import tui.core.doctor  # noqa: F401
import tui.core.exchange  # noqa: F401
import tui.core.listing  # noqa: F401
import tui.core.mail.compose  # noqa: F401
import tui.core.migrations  # noqa: F401
import tui.core.oauth  # noqa: F401
import tui.core.queue  # noqa: F401
import tui.core.reader  # noqa: F401
import tui.core.receive  # noqa: F401
import tui.core.secret_file  # noqa: F401
import tui.core.send  # noqa: F401
import tui.core.service  # noqa: F401
import tui.core.store  # noqa: F401  (SQLModel, SQLAlchemy's ORM, pydantic: ~0.2 s a command)
from tui.cli import main

_forkserver = multiprocessing.get_context("forkserver")
_forkserver.set_forkserver_preload([__name__])


def _run(argv: list[str], env: dict[str, str], cwd: str, streams: tuple[str, str, str], umask: int) -> None:
    """In the fork: become `python -m tui ARGV` with this environment and these files."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    os.umask(umask)
    for fd, (path, flags) in enumerate(zip(streams, (os.O_RDONLY, os.O_WRONLY, os.O_WRONLY))):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
    sys.argv = ["mailprov", *argv]
    sys.exit(main(argv))  # multiprocessing turns this into the exit code, a traceback into 1


@contextmanager
def _stderr_with_a_file():
    """multiprocessing hands sys.stderr's file descriptor to the fork server it starts on
    first use; inside a Textual app (Pilot) sys.stderr is a capture whose fileno() is -1,
    which fork_exec refuses. The process's real stderr is handed instead."""
    try:
        usable = sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable:
        yield
        return
    captured, sys.stderr = sys.stderr, sys.__stderr__
    try:
        yield
    finally:
        sys.stderr = captured


class ForkedCommand:
    """The part of subprocess.Popen the tests use (text mode, stdin given up front)."""

    def __init__(self, argv: list[str], env: dict[str, str], folder: Path, stdin: str, umask: int):
        self.args = ["mailprov", *argv]
        files = tempfile.mkdtemp(prefix="forked-", dir=folder)
        self._streams = tuple(os.path.join(files, name) for name in ("stdin", "stdout", "stderr"))
        for path, text in zip(self._streams, (stdin, "", "")):
            Path(path).write_text(text, encoding="utf-8")
        self._process = _forkserver.Process(
            target=_run, args=(argv, dict(env), os.getcwd(), self._streams, umask), name=" ".join(self.args)
        )
        with _stderr_with_a_file():
            self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def kill(self) -> None:
        self._process.kill()

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self._process.exitcode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """(stdout, stderr) once the command has ended."""
        self.wait(timeout)
        _, out, err = (Path(path).read_text(encoding="utf-8", errors="replace") for path in self._streams)
        return out, err

    def communicate_bytes(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        """(stdout, stderr) as the bytes written, once the command has ended."""
        self.wait(timeout)
        return Path(self._streams[1]).read_bytes(), Path(self._streams[2]).read_bytes()


def start_forked(argv: list[str], *, env: dict[str, str], folder: Path, stdin: str = "",
                 umask: int = 0o022) -> ForkedCommand:
    """Start `mailprov ARGV` as a fork; its stdin, stdout and stderr are files in `folder`."""
    return ForkedCommand(list(argv), env, folder, stdin, umask)


def run_forked(argv: list[str], *, env: dict[str, str], folder: Path, stdin: str = "", timeout: float = 120,
               text: bool = True, umask: int = 0o022) -> subprocess.CompletedProcess:
    """`subprocess.run(["mailprov", *argv], capture_output=True)` as a fork: the exit code,
    stdout and stderr (str, or bytes with text=False) of a command that has ended."""
    process = start_forked(argv, env=env, folder=folder, stdin=stdin, umask=umask)
    try:
        out, err = process.communicate(timeout) if text else process.communicate_bytes(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
