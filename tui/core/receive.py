"""The receive worker (`mailprov worker`): for every active provider with Receive emails on,
new mail in its inbox is fetched through the connection layer (tui/core/mail) and queued
(tui/core/queue), each message once.

- IMAP: IDLE when the server offers it, else polling; new messages are those above the
  highest UID done, fetched in batches with `BODY.PEEK[]` (nothing is marked read unless
  asked, nothing is moved or deleted): one FETCH of size and body per batch when SEARCH
  LARGER says none of its messages is over the batch's share of BATCH_BYTES, else sizes
  first, then the bodies in groups. A message over the size cap is queued as its headers
  with a "too large" mark. A UIDVALIDITY change fetches
  the mailbox again since the first sync; what was queued already is recognised by its
  Message-ID (or its bytes) and skipped.
- POP3: polled; UIDL tells the new messages, RETR (or TOP 0 over the size cap) reads them;
  DELE is never sent.
- First sync of a mailbox: from now on (what is there is not taken), or the last N days.
- Each batch and the mailbox position after it are one transaction (queue.commit_batch).
- Status: an authentication or configuration failure turns the provider red at once; a
  network failure only after FAILURES_BEFORE_RED in a row (with backoff in between); the
  first good pass after the worker made it red turns it green. Each change is logged once.
- One provider's failure never stops another's: each provider is its own thread (or, with
  --once, its own task), and every failure is caught at the provider's level.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from tui.core.checks.failures import classify
from tui.core.checks.target import Target
from tui.core.credentials import SecretMissing, for_provider
from tui.core.domain import Status
from tui.core.mail.bounds import Deadline, raised_bounds
from tui.core.mail.errors import ServerClosed, UnexpectedReply, shorten
from tui.core.parse import ParsedMessage, parse_message
from tui.core.protocols import Protocol
from tui.core.queue import Incoming, QueueStore, SyncState
from tui.core.report import Failure, FailureKind, utcnow
from tui.core.records import ProviderRecord

log = logging.getLogger(__name__)

MB = 1024 * 1024
DEFAULT_MAX_MESSAGE_BYTES = 25 * MB
DEFAULT_POLL_INTERVAL = 60.0
FAILURES_BEFORE_RED = 3
# Kinds that do not pass by themselves: the settings or the password must change.
CONFIG_KINDS = frozenset({FailureKind.AUTH, FailureKind.MECHANISM, FailureKind.CERTIFICATE, FailureKind.TLS,
                          FailureKind.STARTTLS_UNAVAILABLE, FailureKind.SECRET, FailureKind.MAILBOX})
# Messages per batch (one FETCH, one transaction), and bytes per body FETCH.
# A FETCH of N messages is answered with about 3N lines: within MAX_IMAP_REPLY_LINES.
BATCH_MESSAGES = 1000
MAX_BATCH_MESSAGES = 3000
BATCH_BYTES = 32 * MB
# Headers of a message over the size cap: at most this much is read.
MAX_HEADER_BYTES = 256 * 1024
# A SEARCH answer is one line of UIDs: enough for about a million of them.
MAX_SEARCH_BYTES = 8 * MB
# IDLE is renewed well within the 29 minutes RFC 2177 allows; the wait is cut in slices
# so that a stop is heard within one.
IDLE_RENEW_SECONDS = 300.0
WAIT_SLICE = 0.25
MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class WorkerOptions:
    since_days: int | None = None  # first sync: None takes mail from now on
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    mark_seen: bool = False
    failures_before_red: int = FAILURES_BEFORE_RED
    refresh_interval: float = 2.0  # how often the worker looks for new or changed providers
    first_backoff: float = 2.0
    batch_messages: int = BATCH_MESSAGES  # messages per FETCH round and per transaction


    @classmethod
    def from_flags(cls, since_days=None, poll_interval=None, max_message_mb=None, mark_seen=False,
                   batch_size=None) -> WorkerOptions:
        options = cls(since_days=since_days, mark_seen=mark_seen)
        if batch_size is not None:
            options = _replace(options, batch_messages=batch_size)
        if poll_interval is not None:
            options = _replace(options, poll_interval=poll_interval)
        if max_message_mb is not None:
            options = _replace(options, max_message_bytes=int(max_message_mb * MB))
        return options


def _replace(options: WorkerOptions, **changes) -> WorkerOptions:
    from dataclasses import replace

    return replace(options, **changes)


def receives(record: ProviderRecord, state: SyncState | None) -> bool:
    """Whether the worker watches this provider: Receive emails on, and active (or made red
    by the worker itself, which it may make green again)."""
    if record.settings.inbound is None:
        return False
    return record.status is Status.GREEN or (
        record.status is Status.RED and state is not None and state.red_by_worker
    )


def run_worker(service, options: WorkerOptions, *, once: bool = False, stop: Callable[[], bool] = lambda: False) -> int:
    """Watch every provider that receives until `stop()` says so (checked several times a
    second); with `once`, one pass over each, then return. Returns how many providers'
    passes failed (with `once`; 0 otherwise)."""
    with _COLLECTOR.tuned_for_receiving():
        return _run_worker(service, options, once=once, stop=stop)


class _CollectorTuning:
    """The cyclic garbage collector, tuned while a worker runs (and put back as it was
    when the last worker running in this process returns).

    A worker makes tracked objects by the thousand (each queued message is about ten
    objects, lists and tuples) and keeps a batch of them until it is committed, which is
    what triggers the collector, although they make no cycles:
    - the objects that existed when it started (modules, the libraries' tables: about
      120,000 in the bench's process) are frozen, left out of the collections: a full
      collection walked them all again, about 10 us of CPU per message queued (no
      collection before the freeze: it would walk them once more per pass; what start-up
      left as garbage, if anything, is collected once the worker returns);
    - the youngest generation is collected every YOUNG_OBJECTS new objects rather than
      every 700: most of a batch's objects are freed by then, not walked once or twice in
      vain (about 2 us a message)."""

    YOUNG_OBJECTS = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers = 0
        self._thresholds = gc.get_threshold()

    @contextmanager
    def tuned_for_receiving(self) -> Iterator[None]:
        with self._lock:
            if self._workers == 0:
                self._thresholds = gc.get_threshold()
                gc.freeze()
                young = self._thresholds[0]  # 0: automatic collection turned off, left so
                gc.set_threshold(young and max(young, self.YOUNG_OBJECTS), *self._thresholds[1:])
            self._workers += 1
        try:
            yield
        finally:
            with self._lock:
                self._workers -= 1
                if self._workers == 0:
                    gc.set_threshold(*self._thresholds)
                    gc.unfreeze()


_COLLECTOR = _CollectorTuning()


def _run_worker(service, options: WorkerOptions, *, once: bool, stop: Callable[[], bool]) -> int:
    queue = QueueStore(service.store)
    if once:
        records = _receiving(service, queue)
        log.info("worker: one pass over %d provider(s)", len(records))
        if not records:
            return 0
        workers = min(len(records), service.settings.max_concurrency)
        halt = threading.Event()  # a stop asked during the pass: each provider ends after its batch
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="receive") as pool:
            passes = [pool.submit(ProviderWatcher(service, queue, record, options, halt).pass_once)
                      for record in records]
            while wait(passes, timeout=WAIT_SLICE).not_done:
                if stop():
                    halt.set()
        return sum(not done.result() for done in passes)
    log.info("worker: started")
    watchers: dict[int, tuple[ProviderWatcher, threading.Thread]] = {}
    halt = threading.Event()
    while not stop():
        for record in _receiving(service, queue):
            running = watchers.get(record.id)
            if running is None or not running[1].is_alive():
                watcher = ProviderWatcher(service, queue, record, options, halt)
                thread = threading.Thread(target=watcher.watch, name=f"receive-{record.id}", daemon=True)
                watchers[record.id] = (watcher, thread)
                thread.start()
        _sleep(options.refresh_interval, stop)
    halt.set()
    end = time.monotonic() + 3.0  # systemd's stop waits: stay well within 5 s
    for _, thread in watchers.values():
        thread.join(max(0.0, end - time.monotonic()))
    log.info("worker: stopped")
    return 0


def _receiving(service, queue: QueueStore) -> list[ProviderRecord]:
    return [record for record in service.list() if receives(record, queue.sync_state(record.id))]


def _sleep(seconds: float, stopped: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while not stopped() and (left := end - time.monotonic()) > 0:
        time.sleep(min(WAIT_SLICE, left))


class ProviderWatcher:
    """One provider's inbox: passes over it, the session kept open between them when the
    server offers IMAP IDLE, failures counted and turned into its status."""

    def __init__(self, service, queue: QueueStore, record: ProviderRecord, options: WorkerOptions,
                 halt: threading.Event | None = None):
        self.service = service
        self.queue = queue
        self.record = record
        self.options = options
        self.halt = halt or threading.Event()
        self.session = None

    @property
    def name(self) -> str:
        return self.record.name

    def stopped(self) -> bool:
        return self.halt.is_set()

    # The two ways to run --------------------------------------------------------------

    def pass_once(self) -> bool:
        """Connect, take what is new, disconnect. Never raises: a failure is recorded."""
        try:
            return self._guarded_pass()
        finally:
            self._close()

    def watch(self) -> None:
        """Until stopped, or until the provider no longer receives (edited, deleted, made
        grey by an edit): passes, with IDLE or a poll interval or a backoff in between."""
        try:
            while not self.stopped():
                if not self._refresh():
                    return
                if self._guarded_pass():
                    self._wait_for_news()
                else:
                    self._close()
                    _sleep(self._backoff(), self.stopped)
        finally:
            self._close()

    # One pass ------------------------------------------------------------------------

    def _guarded_pass(self) -> bool:
        step = "connect"
        try:
            if self.session is None:
                self.session = self._open()
            step = "fetch"
            queued = self._sync()
        except SecretMissing as exc:
            self._failed(exc.failure)
            return False
        except Exception as exc:  # whatever one provider's server does, the others go on
            self._failed(self._failure(exc, step))
            self._close()
            return False
        if queued:
            log.info("provider %r: queued %d message(s)", self.name, queued)
        self._succeeded()
        return True

    def _open(self):
        from tui.core.mail import open_imap, open_pop3

        settings = self.service.settings
        credential = for_provider(self.record, self.service.secrets)
        inbound = self.record.settings.inbound
        deadline = Deadline.for_timeout(settings.timeout, seconds=max(120.0, 3 * settings.timeout))
        opener = open_imap if inbound.protocol is Protocol.IMAP else open_pop3
        return opener(inbound.server, credential, deadline=deadline, ca_file=settings.ca_file)

    def _sync(self) -> int:
        self.session.deadline.restart()
        if self.record.settings.inbound.protocol is Protocol.IMAP:
            return ImapInbox(self).sync()
        return Pop3Inbox(self).sync()

    def _close(self) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        try:
            session.deadline.restart()
            session.logout() if hasattr(session, "logout") else session.quit()
        except Exception:  # closing a broken session: nothing more to learn from it
            session.close()

    def _wait_for_news(self) -> None:
        """IDLE until the server announces mail (or IDLE is to be renewed); else close the
        session and wait one poll interval."""
        if self.session is not None and getattr(self.session, "capabilities", None) and "IDLE" in self.session.capabilities:
            try:
                idle_until_news(self.session, IDLE_RENEW_SECONDS, self.stopped)
                return
            except Exception as exc:
                log.info("provider %r: IDLE ended (%s); reconnecting", self.name, type(exc).__name__)
                self._close()
                return
        self._close()
        _sleep(self.options.poll_interval, self.stopped)

    def _refresh(self) -> bool:
        """Read the provider again: False when it no longer receives. A changed provider
        (settings, password) gets a new session."""
        record = self.service.store.get_by_id(self.record.id)
        if record is None or not receives(record, self.queue.sync_state(record.id)):
            return False
        if (record.settings.connection_key(), record.secret_key) != (self.record.settings.connection_key(), self.record.secret_key):
            self._close()
        self.record = record
        return True

    # Status upkeep -------------------------------------------------------------------

    def _failure(self, exc: BaseException, step: str) -> Failure:
        settings = self.record.settings
        target = Target(settings.inbound.protocol, settings.inbound.server, settings.account, settings.username,
                        settings.sign_in, self.service.settings.timeout)
        return classify(exc, target, step)

    def _failed(self, failure: Failure) -> None:
        state = self.queue.sync_state(self.record.id)
        failures = (state.failures if state else 0) + 1
        at_once = failure.kind in CONFIG_KINDS
        turn_red = at_once or failures >= self.options.failures_before_red
        red_by_worker = (state.red_by_worker if state else False) or turn_red
        self.queue.note_failures(self.record.id, failures, red_by_worker)
        if turn_red and self.service.store.set_receive_status(self.record, Status.RED, failure):
            log.warning("provider %r: receiving failed, now red (%s): %s", self.name, failure.kind.value, failure.message)
        elif not turn_red:
            log.info("provider %r: receiving failed (%d of %d before red): %s", self.name, failures,
                     self.options.failures_before_red, failure.message)

    def _succeeded(self) -> None:
        state = self.queue.sync_state(self.record.id)
        if state is None or (state.failures == 0 and not state.red_by_worker):
            return
        self.queue.note_failures(self.record.id, 0, False)
        if state.red_by_worker and self.service.store.set_receive_status(self.record, Status.GREEN, None):
            log.warning("provider %r: receiving works again, now green", self.name)

    def _backoff(self) -> float:
        state = self.queue.sync_state(self.record.id)
        failures = max(1, state.failures if state else 1)
        return min(MAX_BACKOFF, self.options.first_backoff * 2 ** (failures - 1))

    # What the inboxes share ------------------------------------------------------------

    def mailbox_key(self) -> str:
        settings = self.record.settings
        server = settings.inbound.server
        return f"{settings.inbound.protocol.value} {server.host}:{server.port} {settings.username}"

    def first_sync_since(self) -> datetime:
        days = self.options.since_days
        return utcnow() if days is None else utcnow() - timedelta(days=days)

    def parsed(self, raw: bytes, size: int, too_large: bool) -> ParsedMessage:
        return parse_message(raw, too_large=too_large, size=size)

    def commit(self, batch: list[Incoming], **position) -> int:
        return self.queue.commit_batch(self.record.id, batch,
                                       active_reference=self.record.settings.active_reference, **position)


class ImapInbox:
    """One pass over an IMAP INBOX."""

    def __init__(self, watcher: ProviderWatcher):
        self.watcher = watcher
        self.session = watcher.session
        self.client = watcher.session.client
        self.cap = watcher.options.max_message_bytes
        self._tags = 0  # our own FETCH commands' tags ("MPW1"...), apart from imaplib's

    def sync(self) -> int:
        watcher = self.watcher
        info = self.client.select_folder("INBOX", readonly=not watcher.options.mark_seen)
        uidvalidity = int(info[b"UIDVALIDITY"])
        state = watcher.queue.sync_state(watcher.record.id)
        if state is None or state.mailbox_key != watcher.mailbox_key():
            state = watcher.queue.start_sync(watcher.record.id, watcher.mailbox_key(), watcher.first_sync_since())
            if watcher.options.since_days is None:  # from now: remember where the mailbox is, take nothing
                self.watcher.commit([], uidvalidity=uidvalidity, last_uid=self._highest_uid(info))
                return 0
            return self._take(self._search_since(state.since), uidvalidity, done_up_to=self._highest_uid(info))
        if state.uidvalidity is not None and state.uidvalidity != uidvalidity:
            log.warning("provider %r: the mailbox's UIDVALIDITY changed (%s -> %s): fetching it again since %s, "
                        "skipping what was queued", watcher.name, state.uidvalidity, uidvalidity, state.since.date())
            # The old UIDs mean nothing now: the search covers every message up to UIDNEXT.
            return self._take(self._search_since(state.since), uidvalidity, done_up_to=self._highest_uid(info))
        if state.uidvalidity is None:
            self.watcher.commit([], uidvalidity=uidvalidity)
        return self._take(self._search_after(state.last_uid), uidvalidity)

    def _highest_uid(self, info: dict) -> int:
        """The highest UID the mailbox has given so far (from SELECT's UIDNEXT, else a search)."""
        uidnext = info.get(b"UIDNEXT")
        return int(uidnext) - 1 if uidnext else max(self._search_after(0), default=0)

    def _search(self, criteria: list) -> list[int]:
        self.session.deadline.restart()
        with raised_bounds(self.session.reader, max_line=MAX_SEARCH_BYTES, max_bytes=MAX_SEARCH_BYTES + 1024):
            return sorted(self.client.search(criteria))

    def _search_after(self, last_uid: int) -> list[int]:
        # "N:*" always includes the highest UID, even when it is below N: filtered out.
        return [uid for uid in self._search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid]

    def _search_since(self, since: datetime) -> list[int]:
        return self._search(["SINCE", since.date()])

    def _take(self, uids: list[int], uidvalidity: int, done_up_to: int | None = None) -> int:
        """Queue `uids` in batches, each committed with the position after it; then, when
        given, the position moves to `done_up_to` (what a search since a date left out is
        not wanted).

        A batch none of whose messages is over `small` bytes (the server says which are,
        for all batches at once, in one SEARCH LARGER; most mail) is ONE FETCH of sizes and
        bodies, its reply within BATCH_BYTES; and the next such batch is asked for before
        this one is parsed and committed, so the server prepares it meanwhile (its reply
        waits in the socket). A batch with a larger message goes the careful way: sizes
        first, then the bodies in groups of at most BATCH_BYTES (headers only over the cap)."""
        size = self.watcher.options.batch_messages
        small = max(1, min(self.cap, BATCH_BYTES // size))
        chunks = [uids[start : start + size] for start in range(0, len(uids), size)]
        larger = self._larger_than(uids, small)
        # A quick batch is committed by a thread of its own while the next one is read and parsed:
        # one at a time and in order, each still one transaction with its position.
        committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")
        committing: list = []  # the commit under way, if any
        queued = 0
        stopped_early = False

        def settle() -> int:
            return committing.pop().result() if committing else 0

        try:
            asked: str | None = None  # the tag of the quick FETCH of the chunk at hand, already sent
            for index, chunk in enumerate(chunks):
                if asked is None and self.watcher.stopped():
                    stopped_early = True
                    break
                if not larger.isdisjoint(chunk):
                    queued += settle() + self._take_carefully(chunk, uidvalidity)
                    continue
                fetched = self._read_fetch(asked or self._send_fetch(chunk, QUICK_FETCH), limit=small,
                                           count=len(chunk))
                following = chunks[index + 1] if index + 1 < len(chunks) else None
                # Not with --mark-seen: its STORE goes through imaplib, which must not meet our reply.
                quick_next = (following is not None and larger.isdisjoint(following) and not self.watcher.stopped()
                              and not self.watcher.options.mark_seen)
                asked = self._send_fetch(following, QUICK_FETCH) if quick_next else None
                batch = [Incoming(self.watcher.parsed(raw or b"", int(octets or len(raw or b"")), False),
                                  f"imap {uid}") for uid, octets, raw in sorted(fetched)]
                queued += settle()
                if self.watcher.options.mark_seen:
                    queued += self._commit(batch, chunk, uidvalidity)
                else:
                    committing.append(committer.submit(self._commit, batch, chunk, uidvalidity))
            queued += settle()
        finally:
            committer.shutdown(wait=True)  # a failed pass still lets the commit under way end
        if done_up_to is not None and not stopped_early:
            self.watcher.commit([], uidvalidity=uidvalidity, last_uid=max(done_up_to, uids[-1] if uids else 0))
        return queued

    def _take_carefully(self, chunk: list[int], uidvalidity: int) -> int:
        queued = 0
        sizes = self._sizes(chunk)
        for group in _groups_by_bytes(chunk, sizes, self.cap):
            queued += self._commit(self._fetch(group, sizes), group, uidvalidity)
        return queued

    def _commit(self, batch: list[Incoming], uids: list[int], uidvalidity: int) -> int:
        """Queue `batch` and move the position past `uids` (one transaction)."""
        queued = self.watcher.commit(batch, uidvalidity=uidvalidity, last_uid=uids[-1])
        if self.watcher.options.mark_seen:
            self.client.add_flags(uids, [b"\\Seen"])
        return queued

    def _larger_than(self, uids: list[int], size: int) -> set[int]:
        """Which of `uids` are over `size` bytes: one SEARCH LARGER over their UID range
        (a short command however scattered they are), its answer short too (few are)."""
        if not uids:
            return set()
        return set(self._search(["UID", f"{uids[0]}:{uids[-1]}", "LARGER", str(size)])) & set(uids)

    def _sizes(self, uids: list[int]) -> dict[int, int]:
        self.session.deadline.restart()
        return {uid: int(size or 0) for uid, size, _ in self._uid_fetch(uids, "RFC822.SIZE")}

    def _fetch(self, uids: list[int], sizes: dict[int, int]) -> list[Incoming]:
        """The messages of `uids` (gone ones are skipped): whole, or headers when too large."""
        small = [uid for uid in uids if uid in sizes and sizes[uid] <= self.cap]
        large = [uid for uid in uids if uid in sizes and sizes[uid] > self.cap]
        fetched: dict[int, tuple[bytes, bool]] = {}
        reply_bytes = sum(sizes[uid] for uid in small) + 1024 * (len(uids) + 1)
        self.session.deadline.restart()
        if small:
            with raised_bounds(self.session.reader, max_literal=max(self.cap, 1), max_bytes=reply_bytes):
                for uid, _, raw in self._uid_fetch(small, "BODY.PEEK[]"):
                    fetched[uid] = (raw or b"", False)
        if large:
            with raised_bounds(self.session.reader, max_literal=MAX_HEADER_BYTES,
                               max_bytes=(MAX_HEADER_BYTES + 1024) * (len(large) + 1)):
                for uid, _, raw in self._uid_fetch(large, f"BODY.PEEK[HEADER]<0.{MAX_HEADER_BYTES}>"):
                    fetched[uid] = (raw or b"", True)
        return [
            Incoming(self.watcher.parsed(raw, sizes[uid], too_large), f"imap {uid}")
            for uid, (raw, too_large) in sorted(fetched.items())
        ]

    def _uid_fetch(self, uids: list[int], item: str) -> list[tuple[int, bytes | None, bytes | None]]:
        """`UID FETCH uids (item)`: (uid, RFC822.SIZE or None, first literal or None) per
        message, within the reader's bounds as they are now."""
        return self._read_fetch(self._send_fetch(uids, item))

    def _send_fetch(self, uids: list[int], item: str) -> str:
        """Send `UID FETCH uids (item)` (through imaplib's send: transcript, deadline) with
        a tag of ours; its reply is read by `_read_fetch(tag)`."""
        self._tags += 1
        tag = f"MPW{self._tags}"
        self.client._imap.send(f"{tag} UID FETCH {_uid_set(uids)} ({item})\r\n".encode())
        return tag

    def _read_fetch(self, tag: str, limit: int | None = None, count: int = 0) -> list[tuple[int, bytes | None, bytes | None]]:
        """The reply to FETCH `tag`, read straight from the session's bounded reader
        (imaplib's and imapclient's per-line parsing cost as much again as the fetch). With
        `limit`, for the duration, each literal is at most `limit` bytes and the reply at
        most `count` of them. Only the tagged answer goes to the transcript."""
        self.session.deadline.restart()
        reader = self.session.reader
        reader.new_reply()
        if limit is None:
            return self._fetch_answer(tag.encode(), reader)
        with raised_bounds(reader, max_literal=limit, max_bytes=(limit + 1024) * (count + 1)):
            return self._fetch_answer(tag.encode(), reader)

    def _fetch_answer(self, tag: bytes, reader) -> list[tuple[int, bytes | None, bytes | None]]:
        answer = []
        while True:
            line = reader.readline()
            if not line:
                raise ServerClosed()
            if line.startswith(tag + b" "):
                self.client._imap.transcript.add(f"S: {_text(line).rstrip()}")
                if line[len(tag) + 1 : len(tag) + 3].upper() != b"OK":
                    raise UnexpectedReply(shorten(_text(line[len(tag) + 1 :]).strip(), self.session.wire.clean))
                return answer
            literal = None
            while (found := LITERAL_AT_END.search(line)) is not None:  # {n}: n bytes, then the line goes on
                size = int(found.group(1))
                data = reader.read(size)
                if len(data) < size:
                    raise ServerClosed()
                literal = data if literal is None else literal
                more = reader.readline()
                if not more:
                    raise ServerClosed()
                line = line[: found.start()] + more
            uid = FETCH_UID.search(line)
            if uid is None or not line.startswith(b"* "):
                continue  # an unsolicited FETCH (flags changed elsewhere), EXISTS...: not one of ours
            size = FETCH_SIZE.search(line)
            answer.append((int(uid.group(1)), size.group(1) if size else None, literal))


QUICK_FETCH = "RFC822.SIZE BODY.PEEK[]"
LITERAL_AT_END = re.compile(rb"\{(\d{1,19})\}\r?\n\Z")
FETCH_UID = re.compile(rb"\bUID (\d+)")
FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def _uid_set(uids: list[int]) -> str:
    """1,2,3,7 -> "1:3,7": a batch of consecutive UIDs is a few bytes on the wire."""
    ranges = []
    for uid in uids:
        if ranges and uid == ranges[-1][1] + 1:
            ranges[-1][1] = uid
        else:
            ranges.append([uid, uid])
    return ",".join(f"{low}:{high}" if high != low else str(low) for low, high in ranges)


def _text(part) -> str:
    if isinstance(part, tuple):
        part = part[0]
    return part.decode("utf-8", "replace") if isinstance(part, bytes) else str(part)


def _groups_by_bytes(uids: list[int], sizes: dict[int, int], cap: int) -> list[list[int]]:
    """`uids` in order, cut so that no group's bodies pass BATCH_BYTES (one big one alone)."""
    groups: list[list[int]] = [[]]
    total = 0
    for uid in uids:
        size = min(sizes.get(uid, 0), cap)
        if groups[-1] and total + size > BATCH_BYTES:
            groups.append([])
            total = 0
        groups[-1].append(uid)
        total += size
    return [group for group in groups if group]


class Pop3Inbox:
    """One pass over a POP3 maildrop: UIDL, then RETR (TOP 0 when too large); never DELE."""

    def __init__(self, watcher: ProviderWatcher):
        self.watcher = watcher
        self.connection = watcher.session.connection
        self.cap = watcher.options.max_message_bytes

    def sync(self) -> int:
        watcher = self.watcher
        listing = self._listing()
        state = watcher.queue.sync_state(watcher.record.id)
        if state is None or state.mailbox_key != watcher.mailbox_key():
            state = watcher.queue.start_sync(watcher.record.id, watcher.mailbox_key(), watcher.first_sync_since())
            if watcher.options.since_days is None:
                watcher.commit([], uidls=[uidl for _, uidl, _ in listing])  # from now: these are not taken
                return 0
            return self._take(listing, since=state.since)
        seen = watcher.queue.seen_uidls(watcher.record.id)
        return self._take([entry for entry in listing if entry[1] not in seen])

    def _listing(self) -> list[tuple[int, str, int]]:
        """(number, UIDL, size) of every message in the maildrop."""
        uidls = {number: value for number, value in self._numbered("UIDL")}
        sizes = {number: value for number, value in self._numbered("LIST")}
        return [(number, uidl, int(sizes.get(number, "0") or 0)) for number, uidl in sorted(uidls.items())]

    def _numbered(self, command: str) -> list[tuple[int, str]]:
        self.watcher.session.deadline.restart()
        with raised_bounds(self.connection.reader, max_lines=10_000_000, max_bytes=256 * MB):
            reply = self.connection.command(command)
            if not reply.ok:
                raise UnexpectedReply(shorten(reply.line, self.watcher.session.wire.clean))
            pairs = []
            for line in self.connection.read_lines():
                number, _, value = line.strip().partition(" ")
                if number.isdigit() and value.strip():
                    pairs.append((int(number), value.strip().split()[0]))
            return pairs

    def _take(self, entries: list[tuple[int, str, int]], since: datetime | None = None) -> int:
        queued = 0
        size = self.watcher.options.batch_messages
        for start in range(0, len(entries), size):
            if self.watcher.stopped():
                break
            chunk = entries[start : start + size]
            batch = []
            for number, uidl, size in chunk:
                too_large = size > self.cap
                raw = self._read(f"TOP {number} 0" if too_large else f"RETR {number}",
                                 MAX_HEADER_BYTES if too_large else max(self.cap, 1))
                parsed = self.watcher.parsed(raw, size, too_large)
                if since is not None and parsed.date is not None and parsed.date < since:
                    continue  # first sync of the last N days: older than that
                batch.append(Incoming(parsed, f"pop3 {uidl}"))
            queued += self.watcher.commit(batch, uidls=[uidl for _, uidl, _ in chunk])
        return queued

    def _read(self, command: str, limit: int) -> bytes:
        """A multi-line answer as bytes (dot-stuffing undone), at most `limit` bytes and
        lines of at most 1 MiB."""
        self.watcher.session.deadline.restart()
        reader = self.connection.reader
        with raised_bounds(reader, max_lines=10_000_000, max_bytes=limit + 64 * 1024, max_line=MB):
            reply = self.connection.command(command)
            if not reply.ok:
                raise UnexpectedReply(shorten(reply.line, self.watcher.session.wire.clean))
            lines = []
            while True:
                line = reader.readline()
                if not line:
                    raise ServerClosed()
                if line in (b".\r\n", b".\n"):
                    return b"".join(lines)
                lines.append(line[1:] if line.startswith(b"..") else line)


def idle_until_news(session, seconds: float, stopped: Callable[[], bool]) -> bool:
    """IMAP IDLE for at most `seconds`: True when the server announced new mail (EXISTS or
    RECENT), False when the time ran out or `stopped()` said so. The wait is cut in short
    slices through the session's bounded reader (a stop is heard within one)."""
    client = session.client
    reader = session.reader
    client.idle()
    news = False
    saved = reader.deadline
    try:
        end = time.monotonic() + seconds
        while not news and not stopped() and time.monotonic() < end:
            reader.deadline = Deadline(WAIT_SLICE, WAIT_SLICE)
            reader.new_reply()
            try:
                line = reader.readline()
            except TimeoutError:
                continue
            if not line:
                raise ServerClosed()
            words = line.upper().split()
            news = len(words) >= 3 and words[0] == b"*" and words[2] in (b"EXISTS", b"RECENT")
    finally:
        reader.deadline = saved
        session.deadline.restart()
    client.idle_done()
    return news
