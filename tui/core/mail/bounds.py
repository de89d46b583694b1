"""How long a session may talk to a server, and how much of what it says is read.

A per-read timeout alone does not stop a server that trickles one byte per second, and
a library reading "the whole reply" does not stop one that never ends its reply. So each
session (and so each protocol's check) has an overall deadline, every network wait is cut
to what is left of it, and every reply is read through a `LineReader` that bounds lines,
replies and literals.

    deadline = Deadline(seconds=30, per_operation=10)
    reader = LineReader(sock, deadline, max_lines=500)
    reader.new_reply()
    line = reader.readline()      # TimeoutError when the deadline runs out, ReplyTooLong
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

# The overall deadline of one protocol's ladder, as a multiple of the per-operation timeout.
DEADLINE_FACTOR = 3
# smtplib allows 8192 bytes per line; real servers stay far below.
MAX_LINE = 8192
# Lines of one SMTP reply: a real EHLO reply has a dozen or two.
MAX_SMTP_REPLY_LINES = 500
# Lines answering one IMAP command (untagged responses and the tagged one).
MAX_IMAP_REPLY_LINES = 10_000
# Lines of one POP3 reply: a real CAPA list has about ten.
MAX_POP3_REPLY_LINES = 500
# An IMAP literal in anything a session asks for while opening or checking (CAPABILITY,
# EXAMINE, SEARCH) is small (fetching whole messages will need a bound of its own).
MAX_LITERAL = 1024 * 1024
# All bytes answering one command, lines and literals together.
MAX_REPLY_BYTES = 4 * 1024 * 1024
RECV_SIZE = 16 * 1024


class DeadlineExceeded(TimeoutError):
    """The overall deadline ran out before the next network operation could start."""


class ReplyTooLong(Exception):
    """A server sent more than a session reads; `what` says which bound it broke."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class Deadline:
    """The end of a session's work (a check's ladder, a worker's fetch), and the timeout
    each network wait may use. Everything reading or writing for one session shares it."""

    def __init__(self, seconds: float, per_operation: float):
        self.seconds = seconds
        self.per_operation = per_operation
        self.ends = time.monotonic() + seconds

    @classmethod
    def for_timeout(cls, timeout: float, seconds: float | None = None) -> Deadline:
        """`timeout` per wait, and `seconds` in all (default DEADLINE_FACTOR x timeout)."""
        return cls(seconds or DEADLINE_FACTOR * timeout, timeout)

    def restart(self) -> None:
        """Start the same allowance again from now: a session kept open for another task."""
        self.ends = time.monotonic() + self.seconds

    @property
    def remaining(self) -> float:
        return self.ends - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining <= 0

    def timeout(self) -> float:
        """The timeout for the next wait: the per-operation one, or what is left if less."""
        remaining = self.remaining
        if remaining <= 0:
            raise DeadlineExceeded(f"the overall deadline of {self.seconds:g} s ran out")
        return min(self.per_operation, remaining)

    def arm(self, sock: socket.socket) -> None:
        """Give the socket's next operation (read, write, TLS handshake) its timeout. One
        already set is left: settimeout is a system call, which also lets another thread
        take the GIL (a worker reading mail waited for its committing thread at each read)."""
        timeout = self.timeout()
        if sock.gettimeout() != timeout:
            sock.settimeout(timeout)


class LineReader:
    """Reads a server's lines and literals from `sock`, every wait within `deadline`.

    Bounds: a line is at most MAX_LINE bytes, a literal at most MAX_LITERAL, and one reply
    (from `new_reply()` on) at most `max_lines` lines and `max_bytes` bytes; beyond that
    `ReplyTooLong` is raised before anything more is buffered."""

    def __init__(self, sock: socket.socket, deadline: Deadline, max_lines: int, max_bytes: int = MAX_REPLY_BYTES):
        self.sock = sock
        self.deadline = deadline
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        # Opening and checking need no more; fetching mail raises them for a while (see
        # `raised_bounds`), to the size cap per message it takes.
        self.max_line = MAX_LINE
        self.max_literal = MAX_LITERAL
        self._buffer = bytearray()
        self._lines = 0
        self._bytes = 0

    def new_reply(self) -> None:
        self._lines = 0
        self._bytes = 0

    def readline(self) -> bytes:
        """One line with its line ending; what is left without one at EOF; b"" after that."""
        self._lines += 1
        if self._lines > self.max_lines:
            raise ReplyTooLong(f"a reply of more than {self.max_lines} lines")
        scanned = 0
        while True:
            end = self._buffer.find(b"\n", scanned)
            if end >= 0:
                return self._take(end + 1)
            if len(self._buffer) > self.max_line:
                raise ReplyTooLong(f"a line longer than {self.max_line} bytes")
            scanned = len(self._buffer)
            if not self._fill():
                return self._take(len(self._buffer))

    def read(self, size: int) -> bytes:
        """`size` bytes (fewer at EOF); a literal over MAX_LITERAL is refused unread."""
        if size > self.max_literal:
            raise ReplyTooLong(f"a literal of {size} bytes (at most {self.max_literal} are read)")
        while len(self._buffer) < size and self._fill():
            pass
        return self._take(min(size, len(self._buffer)))

    def _fill(self) -> bool:
        self.deadline.arm(self.sock)
        chunk = self.sock.recv(RECV_SIZE)
        self._buffer += chunk
        return bool(chunk)

    def _take(self, size: int) -> bytes:
        self._bytes += size
        if self._bytes > self.max_bytes:
            raise ReplyTooLong(f"a reply of more than {self.max_bytes} bytes")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


@contextmanager
def raised_bounds(reader: LineReader, **bounds: int) -> Iterator[LineReader]:
    """Within the block, `reader` allows more (max_lines, max_bytes, max_line, max_literal):
    fetching whole messages needs more than a check's replies, still bounded."""
    before = {name: getattr(reader, name) for name in bounds}
    for name, value in bounds.items():
        setattr(reader, name, value)
    try:
        yield reader
    finally:
        for name, value in before.items():
            setattr(reader, name, value)
