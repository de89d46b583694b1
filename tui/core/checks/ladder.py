"""The step-by-step bookkeeping both ladders share.

    ladder = Ladder(result, target, on_step, deadline, clean)
    with ladder.step("connect") as step:
        sock = connect(...)
        step.detail = "127.0.0.1 port 587"

A step that raises is recorded as failed, its failure classified and stored on the
result, and `StopLadder` ends the ladder: the first failing step is the one to report.
Every step detail and failure message is cleaned (no secret, no control character)
before anyone sees it, including the live `on_step` callback.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from tui.core.checks.bounds import Deadline
from tui.core.checks.credential import Credential
from tui.core.checks.failures import classify, deadline_failure
from tui.core.checks.network import Target, connect, describe_address, resolve, tls_detail
from tui.core.checks.redact import Redactor
from tui.core.domain import ProviderType, Security
from tui.core.report import FailureKind, ProtocolResult, Step

log = logging.getLogger(__name__)

StepCallback = Callable[[str, Step], None]
Cleaner = Callable[[str], str]

# What a report keeps of a conversation: the first lines (greeting, capabilities) and the
# last ones (where it went wrong), with a marker counting what was left out between.
TRANSCRIPT_HEAD = 300
TRANSCRIPT_TAIL = 99
MAX_TRANSCRIPT_LINE = 500  # characters, after cleaning
# A step detail or failure message quoting a server (its EHLO, its capabilities) is cut here.
MAX_DETAIL = 1000


class StopLadder(Exception):
    """A step failed; its failure is already on the result."""


class Transcript:
    """The lines a check keeps of its conversation: cleaned (no secret, no control
    character), each at most MAX_TRANSCRIPT_LINE characters, and at most
    TRANSCRIPT_HEAD + TRANSCRIPT_TAIL + 1 of them, so a chatty server cannot bloat a report."""

    def __init__(self, lines: list[str], clean: Cleaner):
        self.lines = lines
        self.clean = clean
        self._tail: deque[str] = deque(maxlen=TRANSCRIPT_TAIL)  # raw: cleaned if kept
        self._left_out = 0

    def add(self, line: str) -> None:
        if len(self.lines) < TRANSCRIPT_HEAD:
            self.lines.append(self._cleaned(line))
            return
        if len(self._tail) == self._tail.maxlen:
            self._left_out += 1
        self._tail.append(line)

    def finish(self) -> None:
        """Put the kept tail after the head (called once, when the ladder ends)."""
        if self._left_out:
            self.lines.append(f"… {self._left_out} more lines")
        self.lines.extend(self._cleaned(line) for line in self._tail)
        self._tail.clear()

    def _cleaned(self, line: str) -> str:
        return cut(self.clean(line), MAX_TRANSCRIPT_LINE)


def cut(text: str, limit: int) -> str:
    """`text` at most `limit` characters, saying how much was left out. Always applied after
    cleaning: a cut first could leave half a password that the cleaner would not find."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


class Ladder:
    def __init__(
        self,
        result: ProtocolResult,
        target: Target,
        on_step: StepCallback | None,
        deadline: Deadline,
        clean: Cleaner,
    ):
        self.result = result
        self.target = target
        self.on_step = on_step
        self.deadline = deadline
        self.clean = clean

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        step = Step(name=name, ok=False, duration_ms=0.0)
        started = time.perf_counter()
        try:
            yield step
        except Exception as exc:
            failure = classify(exc, self.target, name, self.clean)
            if failure.kind is FailureKind.TIMEOUT and self.deadline.expired:
                # The wait was cut short by the overall deadline, not by a silent server.
                failure = deadline_failure(self.target, name)
            failure = replace(
                failure, message=cut(self.clean(failure.message), MAX_DETAIL), remedy=self.clean(failure.remedy)
            )
            step.detail = failure.message
            self._finish(step, started)
            self.result.failure = failure
            raise StopLadder(name) from exc
        step.ok = True
        step.detail = cut(self.clean(step.detail), MAX_DETAIL)
        self._finish(step, started)

    def _finish(self, step: Step, started: float) -> None:
        step.duration_ms = round((time.perf_counter() - started) * 1000, 2)
        self.result.steps.append(step)
        if self.on_step is None:
            return
        try:
            self.on_step(self.result.protocol, step)
        except Exception:
            # A broken progress display must not turn into a failed check.
            log.exception("on_step callback failed for %s %s", self.result.protocol, step.name)


class ProtocolCheck:
    """What the SMTP and IMAP ladders share: their inputs, their result, the overall
    deadline, and the first rungs (resolve, connect, and the TLS handshake when the
    security is implicit SSL)."""

    protocol = ""

    def __init__(
        self,
        target: Target,
        credential: Credential | None,
        provider_type: ProviderType,
        tls_context: Callable[[], ssl.SSLContext],
        on_step: StepCallback | None,
    ):
        self.target = target
        self.credential = credential
        self.provider_type = provider_type
        self.tls_context = tls_context
        self.result = ProtocolResult(
            self.protocol, target.host, target.port, encrypted=target.security is not Security.NONE
        )
        self.clean = Redactor(credential)
        self.transcript = Transcript(self.result.transcript, self.clean)
        self.deadline = Deadline(target.deadline, target.timeout)
        self.ladder = Ladder(self.result, target, on_step, self.deadline, self.clean)
        self.sock: socket.socket | None = None

    def run(self) -> ProtocolResult:
        """Climb the ladder until a rung fails; the connection is closed whatever happens."""
        try:
            self._climb()
        except StopLadder:
            pass  # the failed step and its failure are already on the result
        finally:
            self._close()
            self.transcript.finish()
            self.result.summary = self.clean(self.result.summary)
        return self.result

    def _climb(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _open_socket(self) -> socket.socket:
        target = self.target
        with self.ladder.step("resolve") as step:
            addresses = resolve(target.wire_host, target.port, self.deadline.timeout())
            step.detail = ", ".join(describe_address(a[4]) for a in addresses)
        with self.ladder.step("connect") as step:
            self.sock = connect(addresses, self.deadline.timeout())
            step.detail = f"{describe_address(self.sock.getpeername())} port {target.port}"
        if target.security is Security.SSL:
            with self.ladder.step("tls") as step:
                self.deadline.arm(self.sock)  # the handshake's reads and writes, all together
                self.sock = self.tls_context().wrap_socket(self.sock, server_hostname=target.wire_host)
                step.detail = tls_detail(self.sock)
        return self.sock
