"""How long does checking 50 providers take, next to checking one?

    python -m bench.bench_checks

Two kinds of provider: SMTP + IMAP, and SMTP + POP3 (both against Dovecot over SSL).

The target: about as long as the slowest single check, not the sum of all of them.
Real mail servers are far away, so a check mostly waits for round trips; on loopback it
mostly burns CPU (TLS handshakes), which concurrency cannot hide on a small machine.
So the run measures both: the local servers as they are, and the same servers behind a
proxy that adds network latency to every chunk of data.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import threading
import time

from dataclasses import replace

from tests.servers import HOST, start_mail_servers, stop_mail_servers
from tui.core.checks import Credential, check_many, check_provider
from tui.core.domain import InboundSettings, ServerSettings
from tui.core.protocols import Protocol, Security
from tui.core.settings import DEFAULT_CONCURRENCY

PROVIDERS = 50
ONE_WAY_DELAY = 0.02  # seconds each way: a 40 ms round trip, a nearby data centre
TIMEOUT = 10.0


class LatencyProxy:
    """Forwards 127.0.0.1:port -> 127.0.0.1:upstream, delaying every chunk each way."""

    def __init__(self, upstream_port: int, delay: float):
        self.upstream_port = upstream_port
        self.delay = delay
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self.thread.start()
        started.wait(5)

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, HOST, 0))
        self.port = self.server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    async def _handle(self, client_reader, client_writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(HOST, self.upstream_port)
        try:
            await asyncio.gather(
                self._pump(client_reader, upstream_writer), self._pump(upstream_reader, client_writer)
            )
        except asyncio.CancelledError:
            pass  # stop() while a connection was still open

    async def _pump(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _shutdown(self) -> None:
        self.server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def timed(function):
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def measure(label: str, settings, credential, ca_file, workers: list[int]) -> None:
    check_one = lambda: check_provider(settings, credential, timeout=TIMEOUT, ca_file=ca_file)  # noqa: E731
    check_one()  # warm-up: imports, first handshakes
    singles = [timed(check_one) for _ in range(3)]
    baseline = statistics.median(seconds for seconds, _ in singles)
    assert all(report.ok for _, report in singles), singles[0][1].failure
    print(f"{label}: one check (baseline, median of 3) {baseline * 1000:8.1f} ms")

    jobs = [(replace(settings, name=f"P{n}"), credential) for n in range(PROVIDERS)]
    for max_workers in workers:
        seconds, reports = timed(
            # One test account for all: allow as many connections to it as workers.
            lambda: check_many(jobs, timeout=TIMEOUT, ca_file=ca_file, max_workers=max_workers, per_account=max_workers)
        )
        failed = [r for r in reports if not r.ok]
        slowest = max(r.duration_ms for r in reports) / 1000
        print(
            f"{label}: {PROVIDERS} checks, {max_workers:2} workers {seconds * 1000:8.1f} ms"
            f" = {seconds / baseline:5.1f}x one check (the sum would be {PROVIDERS}x;"
            f" slowest single check in the run {slowest * 1000:.0f} ms)"
            + (f"  {len(failed)} FAILED: {failed[0].failure.message}" if failed else "")
        )


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # aiosmtpd's chatter, not ours
    servers = start_mail_servers()
    proxies: list[LatencyProxy] = []
    try:
        credential = Credential(servers.user, servers.password)
        measure("IMAP loopback ", servers.settings(), credential, servers.ca_file, [DEFAULT_CONCURRENCY])
        measure("POP3 loopback ", servers.pop3_settings(), credential, servers.ca_file, [DEFAULT_CONCURRENCY])

        smtp_proxy = LatencyProxy(servers.smtp_starttls_port, ONE_WAY_DELAY)
        imap_proxy = LatencyProxy(servers.imap_ssl_port, ONE_WAY_DELAY)
        pop3_proxy = LatencyProxy(servers.pop3_ssl_port, ONE_WAY_DELAY)
        proxies = [smtp_proxy, imap_proxy, pop3_proxy]
        remote = servers.settings(smtp_port=str(smtp_proxy.port), inbound_port=str(imap_proxy.port))
        rtt = f"{ONE_WAY_DELAY * 2000:.0f} ms RTT"
        measure(f"IMAP {rtt}", remote, credential, servers.ca_file, [16, DEFAULT_CONCURRENCY])
        pop3 = InboundSettings(Protocol.POP3, ServerSettings(HOST, pop3_proxy.port, Security.SSL))
        measure(f"POP3 {rtt}", replace(remote, inbound=pop3), credential, servers.ca_file, [16, DEFAULT_CONCURRENCY])
        print(
            f"target: {PROVIDERS} checks in about one check's time when checks wait on the network"
            f" (the default bound is {DEFAULT_CONCURRENCY} workers; a bound of 16 takes"
            f" ceil({PROVIDERS}/16) rounds); on loopback the checks are CPU-bound on this"
            f" machine's {os.cpu_count()} cores."
        )
    finally:
        for proxy in proxies:
            proxy.stop()
        stop_mail_servers(servers)


if __name__ == "__main__":
    main()
