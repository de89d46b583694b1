"""check_provider(): the ladders of one provider (outbound SMTP, then the inbound IMAP or
POP3 one); check_many(): many providers at once."""

from __future__ import annotations

import importlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from queue import Empty, SimpleQueue

from tui.core.checks.failures import make_failure
from tui.core.checks.ladder import ProtocolCheck
from tui.core.checks.target import Target
from tui.core.domain import ProviderSettings, ServerSettings
from tui.core.mail.credential import Credential
from tui.core.mail.network import tls_context
from tui.core.mail.redact import Redactor
from tui.core.protocols import Protocol
from tui.core.report import CheckReport, FailureKind, ProtocolResult, StepCallback, utcnow
from tui.core.settings import DEFAULT_ACCOUNT_CONCURRENCY

log = logging.getLogger(__name__)

# The ladder of each protocol: (module, class), imported when a provider uses it (the IMAP
# one loads imapclient, which an SMTP-only or POP3 check does not need).
CHECKS: dict[Protocol, tuple[str, str]] = {
    Protocol.SMTP: ("tui.core.checks.smtp", "SmtpCheck"),
    Protocol.IMAP: ("tui.core.checks.imap", "ImapCheck"),
    Protocol.POP3: ("tui.core.checks.pop3", "Pop3Check"),
}


def ladder_of(protocol: Protocol) -> type[ProtocolCheck]:
    module, name = CHECKS[protocol]
    return getattr(importlib.import_module(module), name)


def check_provider(
    settings: ProviderSettings,
    credential: Credential | None,
    *,
    timeout: float,
    ca_file: Path | None = None,
    on_step: StepCallback | None = None,
    deadline: float | None = None,
    limits: AccountLimits | None = None,
) -> CheckReport:
    """Run the outbound ladder, then the inbound one when the provider receives mail.

    Nothing is sent and nothing in the mailbox changes. `timeout` bounds each network
    wait, `deadline` each ladder as a whole (default: DEADLINE_FACTOR x timeout).
    `on_step(protocol, step)` is called from this (the checking) thread as each step ends.
    With `limits`, each ladder first waits for its turn on its server and login name."""
    started_at, started = utcnow(), time.perf_counter()
    contexts: list[ssl.SSLContext] = []

    def shared_tls_context() -> ssl.SSLContext:
        # Made on first use, inside a step, so a bad CA file fails that step.
        if not contexts:
            contexts.append(tls_context(ca_file))
        return contexts[0]

    results = []
    for protocol, server in settings.servers:  # outbound first, then the inbound server if any
        target = _target(settings, credential, protocol, server, timeout, deadline)
        with limits.turn(protocol, server, target.username) if limits else nullcontext():
            results.append(ladder_of(protocol)(target, credential, shared_tls_context, on_step).run())
    report = CheckReport(
        provider=settings.name,
        started_at=started_at,
        outbound=results[0],
        inbound=results[1] if len(results) > 1 else None,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    _scrub(report, credential)
    return report


class AccountLimits:
    """At most `per_account` connections at once to one server (protocol and host) as one
    login name: servers turn more away (Dovecot: "Maximum number of connections from
    user+IP exceeded"), and many providers may share one mailbox."""

    def __init__(self, per_account: int):
        self.per_account = per_account
        self._turns: dict[tuple[str, str, str], threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextmanager
    def turn(self, protocol: Protocol, server: ServerSettings, username: str) -> Iterator[None]:
        key = (protocol.value, server.host.casefold(), username.casefold())
        with self._lock:
            turns = self._turns.setdefault(key, threading.BoundedSemaphore(self.per_account))
        with turns:
            yield


# Finished reports are handed over in batches (one database transaction each): a batch is
# handed over when it is this old or this big, or when the last check ends.
BATCH_SECONDS = 0.2
BATCH_SIZE = 200


def check_many(
    jobs: Iterable[tuple[ProviderSettings, Credential | None]],
    *,
    timeout: float,
    ca_file: Path | None = None,
    max_workers: int = 16,
    per_account: int = DEFAULT_ACCOUNT_CONCURRENCY,
    on_report: Callable[[CheckReport], None] | None = None,
    on_batch: Callable[[list[tuple[int, CheckReport]]], None] | None = None,
) -> list[CheckReport]:
    """Check many providers concurrently (at most `max_workers` at a time): the whole run
    takes about as long as the slowest check. Reports come back in job order. `jobs` may be
    a generator: each check starts as soon as its job is made. At most
    `per_account` connections go to one server as one login name at a time (AccountLimits).
    From this thread, as checks finish: `on_batch([(job index, report), ...])` with the
    reports finished in the last BATCH_SECONDS (so that saving them costs one transaction,
    not one each), then `on_report(report)` for each of them."""
    reports: list[CheckReport | None] = []
    limits = AccountLimits(per_account)
    # Each check, once finished, is put here: waiting for the next one costs the same however
    # many are still running (concurrent.futures.wait walks every pending future each time).
    finished: SimpleQueue[Future[CheckReport]] = SimpleQueue()
    # Threads are started as jobs are submitted, never more than there are jobs.
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="mailprov-check") as pool:
        futures = {}
        for index, (settings, credential) in enumerate(jobs):
            future = pool.submit(_check_safely, settings, credential, timeout, ca_file, limits)
            futures[future] = index
            future.add_done_callback(finished.put)
            reports.append(None)
        pending = len(futures)
        batch: list[tuple[int, CheckReport]] = []
        batch_started = 0.0
        while pending:
            try:
                future = finished.get(timeout=BATCH_SECONDS)
            except Empty:
                pass
            else:
                pending -= 1
                if not batch:
                    batch_started = time.monotonic()
                batch.append((futures[future], future.result()))
            if batch and (not pending or len(batch) >= BATCH_SIZE or time.monotonic() - batch_started >= BATCH_SECONDS):
                _hand_over(batch, reports, on_batch, on_report)
                batch = []
    return reports  # type: ignore[return-value]


def _hand_over(batch, reports, on_batch, on_report) -> None:
    for index, report in batch:
        reports[index] = report
    if on_batch is not None:
        try:
            on_batch(batch)
        except Exception:
            log.exception("on_batch callback failed for %d report(s)", len(batch))
    for index, _ in batch:
        if on_report is not None:
            try:
                on_report(reports[index])
            except Exception:
                log.exception("on_report callback failed for %s", reports[index].provider)


def _check_safely(
    settings: ProviderSettings, credential: Credential | None, timeout: float, ca_file: Path | None,
    limits: AccountLimits,
) -> CheckReport:
    """One provider's bug must not stop the others: it becomes that provider's failure."""
    started_at = utcnow()
    try:
        return check_provider(settings, credential, timeout=timeout, ca_file=ca_file, limits=limits)
    except Exception as exc:
        log.exception("checking %s failed unexpectedly", settings.name)
        return internal_error_report(settings, started_at, exc)


def internal_error_report(settings: ProviderSettings, started_at, exc: Exception) -> CheckReport:
    failure = make_failure(
        FailureKind.PROTOCOL,
        f"The check of {settings.name} stopped on an internal error ({type(exc).__name__}).",
        "Try again; if it keeps happening, report it with the log file.",
        (),
    )
    outbound = ProtocolResult(Protocol.SMTP.value, settings.outbound.host, settings.outbound.port, failure=failure)
    return CheckReport(provider=settings.name, started_at=started_at, outbound=outbound)


def _target(
    settings: ProviderSettings,
    credential: Credential | None,
    protocol: Protocol,
    server: ServerSettings,
    timeout: float,
    deadline: float | None,
) -> Target:
    return Target(
        protocol=protocol,
        server=server,
        account=settings.account,
        username=credential.username if credential else settings.username,
        sign_in=settings.sign_in,
        timeout=timeout,
        deadline=deadline or 0.0,
        logs_in=settings.smtp_logs_in or protocol is not Protocol.SMTP,
    )


def _scrub(report: CheckReport, credential: Credential | None) -> None:
    """Last line of defence: no secret in any form and no control character in any text of
    the report. The ladders already clean what they write; this catches anything else."""
    clean = Redactor(credential)
    for result in report.results:
        result.steps = [_with_detail(step, clean(step.detail)) for step in result.steps]
        result.transcript = [clean(line) for line in result.transcript]
        result.summary = clean(result.summary)
        if result.failure is not None:
            result.failure = replace(
                result.failure, message=clean(result.failure.message), remedy=clean(result.failure.remedy)
            )


def _with_detail(step, detail: str):
    """The step with this detail: itself when it has it already (the usual case: the
    ladders clean as they go), so that a report is not copied step by step for nothing."""
    return step if detail == step.detail else replace(step, detail=detail)
