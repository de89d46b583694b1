"""How fast does the receive worker queue mail, next to fetching it raw?

    python -m bench.bench_ingest

10,000 small messages wait in a Dovecot INBOX (over TLS on 127.0.0.1). The baseline fetches
them raw with imapclient, `UID FETCH BODY.PEEK[]` in batches of 500 and nothing else. The
ingest is one `worker --once` pass (a first sync of the last day, so that everything there
is taken): one SEARCH LARGER, then per batch one FETCH of sizes and bodies through the
bounded connection layer (the next batch asked for while this one is parsed), each message
parsed, threaded and queued with its raw bytes, one SQLite transaction per batch (committed
by a thread of its own while the next batch is read).

Target: the ingest rate at least 0.5x the raw fetch rate (0.8x wanted by issue 11). Both
are measured in the same run, after one untimed pass of each (Dovecot indexes the mailbox
and caches the sizes then, so neither timed side pays for that), in ROUNDS rounds whose
order alternates (raw then ingest, ingest then raw, ...), so that a load that grows or
fades during the run weighs on both sides alike. Each round's ratio compares the two
sides measured next to each other, under about the same load; the figure reported is the
median of the rounds' ratios, with the lowest and highest, and the load average of the
machine before and after.

Both run in this process, so each side's CPU is this process's CPU time (every thread)
across its run: on a loaded machine the rate ratio follows the CPU each side needs per
message (the raw fetch mostly waits on Dovecot), and the CPU figures say how much that is.
"""

from __future__ import annotations

import os
import shutil
import ssl
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient

from tests.servers import (
    HOST,
    PASSWORD,
    USER,
    MailServers,
    TestCertificates,
    start_dovecot,
    start_smtp_servers,
    world_readable_tempdir,
)
from tui.core.bootstrap import build_service
from tui.core.queue import QueueStore
from tui.core.receive import WorkerOptions, run_worker
from tui.core.secrets import MemoryKeyring
from tui.core.settings import load_settings

MESSAGES = 10_000
BATCH = 500
ROUNDS = 12  # an even number: each order (raw first, ingest first) as often
TARGET = 0.5


def small_message(number: int) -> bytes:
    return (
        f"From: Customer {number} <customer{number}@example.test>\r\nTo: {USER}\r\n"
        f"Subject: Question number {number}\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <bench-{number}@example.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "Hello, I have a question about my order. " * 20
        + "\r\n"
    ).encode()


def fill_inbox(servers: MailServers) -> None:
    maildir = servers.dovecot.maildir(USER)
    for number in range(MESSAGES):
        (maildir / "new" / f"{number}.bench.mailprov").write_bytes(small_message(number))
    subprocess.run(["chown", "-R", "nobody:nogroup", str(maildir)], check=True)


def client(servers: MailServers) -> IMAPClient:
    imap = IMAPClient(HOST, servers.dovecot.imaps_port, ssl_context=ssl.create_default_context(cafile=str(servers.ca_file)))
    imap.login(USER, PASSWORD)
    return imap


@dataclass(frozen=True)
class Timing:
    seconds: float  # wall clock
    cpu: float  # this process's CPU time, all threads


def timed(run: Callable[[], None]) -> Timing:
    started, cpu_started = time.perf_counter(), time.process_time()
    run()
    return Timing(time.perf_counter() - started, time.process_time() - cpu_started)


def raw_fetch(servers: MailServers) -> None:
    """Fetch every message raw (the baseline), login included."""
    imap = client(servers)
    imap.select_folder("INBOX", readonly=True)
    uids = imap.search()
    fetched = 0
    for start in range(0, len(uids), BATCH):
        fetched += len(imap.fetch(uids[start : start + BATCH], ["BODY.PEEK[]"]))
    imap.logout()
    assert fetched == MESSAGES, fetched


def ingest(servers: MailServers, directory: Path) -> Timing:
    """One worker pass queueing every message, into a new database, timed."""
    env = {"MAILPROV_DATA_DIR": str(directory), "MAILPROV_CONFIG_DIR": str(directory),
           "MAILPROV_LOG_DIR": str(directory), "MAILPROV_CA_FILE": str(servers.ca_file)}
    service = build_service(load_settings(env=env), keyring_backend=MemoryKeyring())
    service.create(servers.draft(name="Bench"))
    assert service.check("Bench").ok
    took = timed(lambda: run_worker(service, WorkerOptions(since_days=1), once=True))
    queued = QueueStore(service.store).queued_counts().get(service.require("Bench").id, 0)
    service.store.close()
    assert queued == MESSAGES, f"queued {queued} of {MESSAGES}"
    return took


def main() -> None:
    certs_dir = world_readable_tempdir("mailprov-bench-tls-")
    certs = TestCertificates.create(certs_dir)
    dovecot = start_dovecot(certs, seen=0, unseen=0)
    smtp = start_smtp_servers(certs)
    servers = MailServers(certs=certs, smtp=smtp, dovecot=dovecot)
    work = Path(tempfile.mkdtemp(prefix="mailprov-bench-ingest-"))
    try:
        fill_inbox(servers)
        # Untimed, once each: Dovecot indexes the new mailbox and caches what the ingest asks.
        raw_fetch(servers)
        ingest(servers, work / "warm-up")
        load_before = os.getloadavg()
        raw_times, ingest_times = [], []
        for round_number in range(ROUNDS):
            directory = work / f"round{round_number}"
            if round_number % 2 == 0:
                raw_times.append(timed(lambda: raw_fetch(servers)))
                ingest_times.append(ingest(servers, directory))
            else:
                ingest_times.append(ingest(servers, directory))
                raw_times.append(timed(lambda: raw_fetch(servers)))
        report(raw_times, ingest_times, load_before, os.getloadavg())
    finally:
        smtp.stop()
        dovecot.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(certs_dir, ignore_errors=True)


def report(raw_times: list[Timing], ingest_times: list[Timing], load_before: tuple, load_after: tuple) -> None:
    ratios = [raw.seconds / ingested.seconds for raw, ingested in zip(raw_times, ingest_times)]
    cpu_ratios = [ingested.cpu / raw.cpu for raw, ingested in zip(raw_times, ingest_times)]
    ratio = statistics.median(ratios)
    size = len(small_message(0))
    print(f"{MESSAGES:,} messages of about {size:,} bytes, Dovecot over TLS on 127.0.0.1, {ROUNDS} rounds in"
          f" alternating order; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"  raw fetch (imapclient, batches of {BATCH}): {_rate(raw_times)} messages/s")
    print(f"  ingest (worker --once into SQLite):       {_rate(ingest_times)} messages/s")
    print(f"  CPU a message (this process, all threads): ingest {_per_message(ingest_times)},"
          f" raw fetch {_per_message(raw_times)}: {_spread(cpu_ratios, 'x')} the raw fetch's CPU")
    print("  rounds (ingest/raw seconds): "
          + ", ".join(f"{i.seconds:.2f}/{r.seconds:.2f}" for i, r in zip(ingest_times, raw_times)))
    print(f"  ratio: {_spread(ratios, 'x')} the raw fetch rate (median of the rounds' ratios;"
          f" target >= {TARGET}x; issue 11 wants 0.8x) {'ok' if ratio >= TARGET else 'MISSED'}")


def _rate(times: list[Timing]) -> str:
    rates = [MESSAGES / t.seconds for t in times]
    return f"{statistics.median(rates):8,.0f} [{min(rates):,.0f}-{max(rates):,.0f}]"


def _per_message(times: list[Timing]) -> str:
    return _spread([t.cpu / MESSAGES * 1e6 for t in times], " us", digits=0)


def _spread(values: list[float], unit: str, digits: int = 2) -> str:
    """The median, then the lowest and highest in brackets."""
    return f"{statistics.median(values):.{digits}f}{unit} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


if __name__ == "__main__":
    main()
