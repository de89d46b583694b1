"""An exclusive lock on a file, between processes and between threads of one process.

flock() belongs to the open file description, so every acquisition opens the file anew:
two threads of one process exclude each other exactly as two processes do. The kernel
drops the lock when its holder dies, so a killed process never leaves it taken.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_SECONDS = 0.02


class LockError(RuntimeError):
    """The lock could not be taken; the message says why."""


class LockBusy(LockError):
    """The lock stayed taken for longer than the caller would wait."""


@contextmanager
def exclusive_lock(path: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created 0600 when missing) for the `with` block.

    `timeout=None` waits as long as it takes; otherwise LockBusy is raised after `timeout`
    seconds (0: only when the lock is free right now)."""
    import fcntl  # POSIX only; Windows keeps its secrets in its own credential store

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise LockError(f"cannot open the lock file {path}: {exc.strerror}") from None
    try:
        _acquire(fd, path, timeout, fcntl)
        yield
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, path: Path, timeout: float | None, fcntl) -> None:
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockBusy(
                    f"another mailprov process has held {path} for over {timeout:g} s; try again when it is done"
                ) from None
            time.sleep(POLL_SECONDS)
