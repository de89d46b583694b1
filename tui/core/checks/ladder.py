"""The step-by-step bookkeeping every ladder shares.

A ladder is a listener of the mail connection layer (`mail.session.Phases`): opening a
session reports each phase (resolve, connect, tls, greeting, ..., login) as a step, and the
check adds its own steps after it (a dry run, EXAMINE, STAT, QUIT) the same way:

    ladder = Ladder(result, target, on_step, deadline, clean)
    with ladder.step("examine") as step:
        step.detail = "12 messages"

A step that raises is recorded as failed, its failure classified and stored on the
result, and `StopLadder` ends the ladder: the first failing step is the one to report.
Every step detail and failure message is cleaned (no secret, no control character)
before anyone sees it, including the live `on_step` callback.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from tui.core.checks.failures import classify, deadline_failure, implicit_tls_port
from tui.core.checks.target import Target
from tui.core.mail.bounds import Deadline
from tui.core.mail.credential import Credential
from tui.core.mail.network import speaks_tls
from tui.core.mail.redact import Redactor
from tui.core.mail.session import Phases
from tui.core.mail.transcript import Cleaner, Transcript, cut
from tui.core.protocols import Security
from tui.core.report import FailureKind, ProtocolResult, Step, StepCallback

log = logging.getLogger(__name__)

# A step detail or failure message quoting a server (its EHLO, its capabilities) is cut here.
MAX_DETAIL = 1000


class StopLadder(Exception):
    """A step failed; its failure is already on the result."""


class Ladder(Phases):
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
            elif failure.kind is FailureKind.TIMEOUT and name == "greeting" and self._waits_for_tls():
                failure = implicit_tls_port(self.target)
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

    def _waits_for_tls(self) -> bool:
        """A server silent at the greeting while security is not SSL: is it waiting for our
        TLS handshake (an implicit-TLS port, like 465/993/995)? Asked of the port itself."""
        target = self.target
        if target.security is Security.SSL:
            return False
        if target.port == target.spec.ssl_port:
            return True
        probe_time = min(self.deadline.per_operation, self.deadline.remaining)
        return probe_time > 0 and speaks_tls(target.host, target.port, probe_time)

    def starttls_offered(self) -> None:
        self.result.starttls_offered = True

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
    """What every ladder shares: its inputs, its result, the overall deadline, the
    transcript, and the session `_climb` opens through the connection layer (its phases
    are the first steps) and climbs on; the session is closed whatever happens."""

    def __init__(
        self,
        target: Target,
        credential: Credential | None,
        tls_context: Callable[[], ssl.SSLContext],
        on_step: StepCallback | None,
    ):
        self.target = target
        self.credential = credential
        self.tls_context = tls_context
        self.result = ProtocolResult(
            target.protocol.value, target.host, target.port, encrypted=target.security is not Security.NONE
        )
        self.clean = Redactor(credential)
        self.transcript = Transcript(self.result.transcript, self.clean)
        self.deadline = Deadline(target.deadline, target.timeout)
        self.ladder = Ladder(self.result, target, on_step, self.deadline, self.clean)
        self.session = None

    def session_options(self) -> dict:
        """What open_smtp/open_imap/open_pop3 need beside the server and the credential."""
        return {
            "deadline": self.deadline,
            "tls_context": self.tls_context,
            "transcript": self.transcript,
            "phases": self.ladder,
        }

    def run(self) -> ProtocolResult:
        """Climb the ladder until a rung fails; the connection is closed whatever happens."""
        try:
            self._climb()
        except StopLadder:
            pass  # the failed step and its failure are already on the result
        finally:
            if self.session is not None:
                self.session.close()
            self.transcript.finish()
            self.result.summary = self.clean(self.result.summary)
        return self.result

    def _climb(self) -> None:
        raise NotImplementedError
