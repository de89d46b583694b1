"""The step-by-step bookkeeping both ladders share.

    ladder = Ladder(result, target, on_step)
    with ladder.step("connect") as step:
        sock = connect(...)
        step.detail = "127.0.0.1 port 587"

A step that raises is recorded as failed, its failure classified and stored on the
result, and `StopLadder` ends the ladder: the first failing step is the one to report.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tui.core.checks.credential import Credential
from tui.core.checks.failures import classify
from tui.core.checks.network import Target, connect, describe_address, resolve, tls_detail
from tui.core.domain import ProviderType, Security
from tui.core.report import ProtocolResult, Step

log = logging.getLogger(__name__)

StepCallback = Callable[[str, Step], None]


class StopLadder(Exception):
    """A step failed; its failure is already on the result."""


class Ladder:
    def __init__(self, result: ProtocolResult, target: Target, on_step: StepCallback | None):
        self.result = result
        self.target = target
        self.on_step = on_step

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        step = Step(name=name, ok=False, duration_ms=0.0)
        started = time.perf_counter()
        try:
            yield step
        except Exception as exc:
            failure = classify(exc, self.target, name)
            step.detail = failure.message
            self._finish(step, started)
            self.result.failure = failure
            raise StopLadder(name) from exc
        step.ok = True
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
    """What the SMTP and IMAP ladders share: their inputs, their result, and the first
    rungs (resolve, connect, and the TLS handshake when the security is implicit SSL)."""

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
        self.result = ProtocolResult(self.protocol, target.host, target.port)
        self.ladder = Ladder(self.result, target, on_step)
        self.sock: socket.socket | None = None

    def run(self) -> ProtocolResult:
        """Climb the ladder until a rung fails; the connection is closed whatever happens."""
        try:
            self._climb()
        except StopLadder:
            pass  # the failed step and its failure are already on the result
        finally:
            self._close()
        return self.result

    def _climb(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _open_socket(self) -> socket.socket:
        target = self.target
        with self.ladder.step("resolve") as step:
            addresses = resolve(target.wire_host, target.port, target.timeout)
            step.detail = ", ".join(describe_address(a[4]) for a in addresses)
        with self.ladder.step("connect") as step:
            self.sock = connect(addresses, target.timeout)
            step.detail = f"{describe_address(self.sock.getpeername())} port {target.port}"
        if target.security is Security.SSL:
            with self.ladder.step("tls") as step:
                self.sock = self.tls_context().wrap_socket(self.sock, server_hostname=target.wire_host)
                step.detail = tls_detail(self.sock)
        return self.sock
