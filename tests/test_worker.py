"""The receive worker against a real Dovecot (IMAP and POP3), on real SQLite files, with
`mailprov worker` run in-process (--once) and as a real process (IDLE, SIGKILL, SIGTERM).

Each test gets a Dovecot of its own (started in about 40 ms), so mailboxes, UIDs and
UIDVALIDITY are the test's alone; SMTP comes from the shared aiosmtpd servers, so that the
providers pass their real activation check before the worker takes them.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.databases import migrated_database
from tests.forked_cli import run_forked
from tests.servers import HOST, OTHER_PASSWORD, OTHER_USER, PASSWORD, USER, ServerUnavailable, start_dovecot
from tui.core.bootstrap import build_service
from tui.core.campaigns import CampaignStore
from tui.core.domain import Status
from tui.core.queue import QueueStore
from tui.core.receive import WorkerOptions, run_worker
from tui.core.settings import load_settings

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def own_dovecot(test_certificates):
    try:
        server = start_dovecot(test_certificates, seen=0, unseen=0)
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


class Home:
    """A mailprov installation in a temp dir: in-process service and CLI, commands in a process
    of their own (forked: tests/forked_cli.py), or the worker as `python -m tui`."""

    def __init__(self, root: Path, ca_file: Path):
        self.root = root
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONUTF8": "1",
            "MAILPROV_DATA_DIR": str(root / "data"),
            "MAILPROV_CONFIG_DIR": str(root / "config"),
            "MAILPROV_LOG_DIR": str(root / "log"),
            "MAILPROV_TIMEOUT": "5",
            "MAILPROV_CA_FILE": str(ca_file),
        }
        migrated_database(load_settings(env=self.env).db_path)  # the worker's tests are not about a first run
        self._service = None

    @property
    def service(self):
        if self._service is None:
            self._service = build_service(load_settings(env=self.env))
        return self._service

    @property
    def queue(self) -> QueueStore:
        return QueueStore(self.service.store)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run_forked(list(args), env=self.env, folder=self.root, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "tui", *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    def once(self, **options) -> None:
        run_worker(self.service, WorkerOptions(**options), once=True)

    def messages(self, name: str):
        return self.queue.messages(self.service.require(name).id)


@pytest.fixture
def home(tmp_path, mail_servers):
    home = Home(tmp_path, mail_servers.ca_file)
    yield home
    if home._service is not None:
        home.service.store.close()


def add_green(home: Home, mail_servers, dovecot, name: str = "Inbox", protocol: str = "imap",
              password: str = PASSWORD, user: str = USER, **fields) -> None:
    """A provider on `dovecot` that passes its real check (then, if asked, a wrong password)."""
    port = dovecot.imaps_port if protocol == "imap" else dovecot.pop3s_port
    if port is None:
        pytest.skip("dovecot-pop3d is not installed: apt-get install dovecot-pop3d")
    draft = mail_servers.draft(name=name, account=user, password=PASSWORD if user == USER else OTHER_PASSWORD,
                               inbound_protocol=protocol, inbound_port=str(port), **fields)
    home.service.create(draft)
    report = home.service.check(name)
    assert report.ok, report.failure
    if password != draft.password:  # the password goes wrong after the check: as if changed on the server
        record = home.service.require(name)
        home.service.secrets.set_password(record.secret_key, password)


def imap(dovecot, user: str = USER, password: str = PASSWORD, ca_file=None) -> IMAPClient:
    context = ssl.create_default_context(cafile=str(ca_file))
    client = IMAPClient(HOST, dovecot.imaps_port, ssl_context=context, timeout=10)
    client.login(user, password)
    return client


def message(number: int, *, reply_to: str | None = None, subject: str | None = None, extra: str = "") -> bytes:
    threading = f"In-Reply-To: {reply_to}\r\nReferences: {reply_to}\r\n" if reply_to else ""
    return (
        f"From: Sender {number} <sender{number}@example.test>\r\nTo: {USER}\r\nCc: copy@example.test\r\n"
        f"Subject: {subject or f'Message {number}'}\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <m{number}@example.test>\r\n{threading}{extra}\r\nBody of message {number}.\r\n"
    ).encode()


def append(client: IMAPClient, *raws: bytes) -> None:
    for raw in raws:
        client.append("INBOX", raw)


def ids(messages) -> list[str]:
    return [m.message_id for m in messages]


# --- IMAP ------------------------------------------------------------------------------


def test_appended_message_is_queued_exactly_once_with_its_fields(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    client = imap(own_dovecot, ca_file=mail_servers.ca_file)
    append(client, message(0))  # there before the first sync: "from now" leaves it
    home.once()
    assert home.messages("Inbox") == []

    html = (
        "From: =?utf-8?q?Z=C3=B6e?= <zoe@example.test>\r\nTo: alice@example.test, Bob <bob@example.test>\r\n"
        "Cc: carol@example.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDate: Fri, 27 Nov 2026 11:30:00 +0100\r\n"
        "Message-ID: <html-1@example.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b></p><script>x()</script>\r\n"
        "--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"bill.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
    ).encode()
    append(client, html)
    home.once()
    home.once()  # a second pass queues nothing again
    [queued] = home.messages("Inbox")
    assert queued.message_id == "<html-1@example.test>"
    assert queued.from_addr == "Zöe <zoe@example.test>"
    assert queued.to_addrs == ["alice@example.test", "Bob <bob@example.test>"]
    assert queued.cc_addrs == ["carol@example.test"]
    assert queued.subject == "Grüße"
    assert queued.date.isoformat() == "2026-11-27T10:30:00+00:00"
    assert queued.text == "Hello there"
    assert [(a.name, a.size) for a in queued.attachments] == [("bill.pdf", 9)]
    assert queued.parse_error is None and not queued.too_large
    assert home.queue.raw(queued.id).replace(b"\r\n", b"\n") == html.replace(b"\r\n", b"\n")
    client.logout()


def test_the_garbage_collector_is_given_back_as_it_was_after_a_pass(home, mail_servers, own_dovecot):
    """The worker tunes the collector while it runs (receive._CollectorTuning): a pass, even
    one that fails, leaves the thresholds and the frozen objects as they were."""
    add_green(home, mail_servers, own_dovecot)
    append(imap(own_dovecot, ca_file=mail_servers.ca_file), message(1))
    before = (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled())
    home.once(since_days=1)
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before
    assert ids(home.messages("Inbox")) == ["<m1@example.test>"]

    class Broken:
        store = home.service.store

        def list(self):
            raise RuntimeError("the providers cannot be read")

    with pytest.raises(RuntimeError):
        run_worker(Broken(), WorkerOptions(), once=True)
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before


def test_cli_campaign_and_queue_list_json(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    home.service.create(mail_servers.draft(name="Grey one", inbound_port=str(own_dovecot.imaps_port)))
    refused = home.run("campaign", "add", "Sales", "--provider", "Grey one")
    assert refused.returncode == 2 and "--provider: 'Grey one' is not active" in refused.stderr
    assert home.run("campaign", "add", "Sales", "--provider", "Inbox", "--kind", "fax").returncode == 2
    done = home.run("campaign", "add", "Sales", "--provider", "Inbox")
    assert done.returncode == 0, done.stderr
    refused = home.run("campaign", "attach", "Sales", "--provider", "Grey one")
    assert refused.returncode == 2 and "--provider: 'Grey one' is not active" in refused.stderr
    assert home.run("campaign", "attach", "Nope", "--provider", "Inbox").returncode == 2
    assert home.run("campaign", "attach", "sales", "--provider", "inbox").returncode == 0
    home.once()
    append(imap(own_dovecot, ca_file=mail_servers.ca_file), message(1), message(2, reply_to="<m1@example.test>"))
    assert home.run("worker", "--once").returncode == 0
    listed = json.loads(home.run("queue", "list", "sales", "--json").stdout)
    assert [(m["message_id"], m["from"], m["subject"]) for m in listed] == [
        ("<m1@example.test>", "Sender 1 <sender1@example.test>", "Message 1"),
        ("<m2@example.test>", "Sender 2 <sender2@example.test>", "Message 2"),
    ]
    assert listed[0]["conversation"] == listed[1]["conversation"]  # a reply threads (Active reference on)
    assert all(m["received_at"] for m in listed)
    campaigns = json.loads(home.run("campaign", "list", "--json").stdout)
    assert campaigns == [{"name": "Sales", "kind": "email", "provider": "Inbox", "queued": 2,
                          "created_at": campaigns[0]["created_at"]}]
    # The provider is in use: rm refuses, naming the campaign; --force detaches it.
    refused = home.run("provider", "rm", "Inbox")
    assert refused.returncode == 2 and "'Sales'" in refused.stderr and "--force" in refused.stderr
    listed = home.run("queue", "list", "Sales")
    assert listed.returncode == 0 and "Message 2" in listed.stdout and "sender1@example.test" in listed.stdout
    assert home.run("provider", "rm", "Inbox", "--force").returncode == 0
    assert json.loads(home.run("campaign", "list", "--json").stdout)[0]["provider"] is None
    assert home.run("campaign", "rm", "Sales").returncode == 0
    assert home.run("campaign", "rm", "Sales").returncode == 2


def test_threading_on_and_off(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot, name="Threaded")
    home.once()
    queue = home.queue
    record = home.service.require("Threaded")
    sent = queue.record_sent(record.id, b"From: alice@example.test\r\nTo: c@example.test\r\n"
                             b"Subject: Offer\r\nMessage-ID: <sent-1@mailprov.test>\r\n\r\nHi\r\n")
    client = imap(own_dovecot, ca_file=mail_servers.ca_file)
    append(client, message(1, reply_to="<sent-1@mailprov.test>"), message(2),
           message(3, reply_to="<m2@example.test>"), message(4, reply_to="<unknown@example.test>"))
    home.once()
    by_id = {m.message_id: m.conversation_id for m in home.messages("Threaded")}
    assert by_id["<m1@example.test>"] == sent.conversation_id  # a reply to what we sent
    assert by_id["<m3@example.test>"] == by_id["<m2@example.test>"] != sent.conversation_id
    assert len({by_id["<m4@example.test>"], by_id["<m2@example.test>"], sent.conversation_id}) == 3
    conversations = queue.conversations(record.id)
    assert conversations[0].last_message_at >= conversations[-1].last_message_at

    home.service.update("Threaded", home.service.draft_for("Threaded").updated(active_reference=False))
    assert home.service.check("Threaded").ok
    append(client, message(5, reply_to="<m2@example.test>"))
    home.once()
    by_id = {m.message_id: m.conversation_id for m in home.messages("Threaded")}
    assert by_id["<m5@example.test>"] not in (by_id["<m2@example.test>"], sent.conversation_id)


def test_a_malformed_message_is_queued_raw_and_flagged_and_the_next_ones_arrive(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    home.once()
    broken = (b"Message-ID: <broken@example.test>\r\nContent-Type: multipart/mixed\r\n\r\n"
              b"no boundary anywhere \xff\xfe\r\n")
    append(imap(own_dovecot, ca_file=mail_servers.ca_file), message(1), broken, message(2))
    home.once()
    queued = home.messages("Inbox")
    assert ids(queued) == ["<m1@example.test>", "<broken@example.test>", "<m2@example.test>"]
    assert queued[1].parse_error and "Boundary" in queued[1].parse_error
    assert home.queue.raw(queued[1].id).endswith(b"\xff\xfe\r\n")
    assert queued[0].parse_error is None and queued[2].parse_error is None


def test_a_message_over_the_size_cap_is_queued_as_headers_marked_too_large(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    home.once()
    big = message(1, extra="X-Padding: yes\r\n") + b"x" * 5000 + b"\r\n"
    append(imap(own_dovecot, ca_file=mail_servers.ca_file), big, message(2))
    home.once(max_message_bytes=2000)
    first, second = home.messages("Inbox")
    assert first.too_large and first.subject == "Message 1" and first.size == len(big)
    assert b"x" * 100 not in home.queue.raw(first.id) and b"X-Padding" in home.queue.raw(first.id)
    assert not second.too_large and second.text.strip() == "Body of message 2."


def test_batches_with_and_without_larger_messages_queue_everything_whole_in_order(home, mail_servers, own_dovecot,
                                                                                  monkeypatch):
    """Batches of 2 with a share of 10,000 bytes each: a batch whose messages are all under
    it is one FETCH (the next one asked for before this one is committed), a batch with a
    larger message (under the cap) takes sizes first; every message arrives whole, in order."""
    from tui.core import receive

    monkeypatch.setattr(receive, "BATCH_BYTES", 20_000)
    add_green(home, mail_servers, own_dovecot)
    home.once()
    larger = message(3, extra="X-Padding: yes\r\n") + b"y" * 15_000 + b"\r\n"
    raws = [message(1), message(2), larger, message(4), message(5), message(6), message(7)]
    append(imap(own_dovecot, ca_file=mail_servers.ca_file), *raws)
    home.once(batch_messages=2)
    home.once(batch_messages=2)  # nothing twice
    queued = home.messages("Inbox")
    assert ids(queued) == [f"<m{number}@example.test>" for number in range(1, 8)]
    assert not any(m.too_large or m.parse_error for m in queued)
    assert [home.queue.raw(m.id) for m in queued] == raws
    assert [m.size for m in queued] == [len(raw) for raw in raws]


def test_first_sync_of_the_last_days_takes_what_is_there(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    client = imap(own_dovecot, ca_file=mail_servers.ca_file)
    append(client, message(1), message(2))
    home.once(since_days=3)
    assert ids(home.messages("Inbox")) == ["<m1@example.test>", "<m2@example.test>"]
    client.select_folder("INBOX", readonly=True)
    assert all(b"\\Seen" not in flags for flags in client.get_flags(client.search()).values())
    append(client, message(3))
    home.once(mark_seen=True)  # an option: what is queued is marked \Seen
    flags = client.get_flags(client.search())
    assert [b"\\Seen" in f for _, f in sorted(flags.items())] == [False, False, True]


def test_uidvalidity_change_queues_no_duplicates(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    home.once()
    client = imap(own_dovecot, ca_file=mail_servers.ca_file)
    append(client, message(1), message(2))
    client.logout()
    home.once()
    before = home.queue.sync_state(home.service.require("Inbox").id)
    # Dovecot forgets the mailbox's UIDs when its uidlist goes: new UIDVALIDITY, UIDs from 1.
    (own_dovecot.maildir(USER) / "dovecot-uidlist").unlink()
    for index_file in own_dovecot.maildir(USER).glob("dovecot.index*"):
        index_file.unlink()
    time.sleep(1.1)  # UIDVALIDITY is a time in seconds
    client = imap(own_dovecot, ca_file=mail_servers.ca_file)
    append(client, message(3))
    home.once()
    after = home.queue.sync_state(home.service.require("Inbox").id)
    assert after.uidvalidity != before.uidvalidity
    assert ids(home.messages("Inbox")) == ["<m1@example.test>", "<m2@example.test>", "<m3@example.test>"]
    append(client, message(4))  # and the new UIDs go on from there
    home.once()
    home.once()
    assert ids(home.messages("Inbox"))[3:] == ["<m4@example.test>"]


def test_a_wrong_password_turns_red_at_once_and_the_healthy_provider_keeps_ingesting(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot, name="Healthy")
    add_green(home, mail_servers, own_dovecot, name="Broken", user=OTHER_USER, password="not-the-password")
    done = home.run("worker", "--once")
    assert done.returncode == 1 and "'Broken'" in done.stderr and "'Healthy'" not in done.stderr
    assert "not-the-password" not in done.stderr + home.run("provider", "show", "Broken", "--json").stdout
    append(imap(own_dovecot, ca_file=mail_servers.ca_file), message(1))
    home.once()
    assert ids(home.messages("Healthy")) == ["<m1@example.test>"]
    broken = home.service.require("Broken")
    assert broken.status is Status.RED and broken.failure.kind.value == "auth"
    assert home.service.require("Healthy").status is Status.GREEN
    # Fixed on the server side (the stored password is right again): green at the next pass.
    home.service.secrets.set_password(broken.secret_key, OTHER_PASSWORD)
    home.once()
    assert home.service.require("Broken").status is Status.GREEN


def test_network_failures_turn_red_only_after_several_in_a_row(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    record = home.service.require("Inbox")
    home.once()
    # The server goes away (its port closed): two failed passes are a blip, the third is an outage.
    home.service.store.engine.dispose()
    own_dovecot.stop()
    for expected in (Status.GREEN, Status.GREEN, Status.RED):
        home.once(failures_before_red=3)
        assert home.service.require("Inbox").status is expected
    assert home.queue.sync_state(record.id).failures == 3


def test_deleting_a_provider_in_use_names_the_campaigns(home, mail_servers, own_dovecot):
    from tui.core.campaigns import ProviderInUse

    add_green(home, mail_servers, own_dovecot)
    campaigns = CampaignStore(home.service.store)
    campaigns.add("Alpha", provider="Inbox")
    campaigns.add("Beta", provider="inbox", kind="dialer")
    assert home.service.campaigns_using("Inbox") == ["Alpha", "Beta"]
    with pytest.raises(ProviderInUse, match="'Alpha', 'Beta'"):
        home.service.delete("Inbox")
    assert home.service.get("Inbox") is not None
    home.service.delete("Inbox", force=True)
    assert [c.provider_name for c in campaigns.list()] == [None, None]


# --- POP3 ------------------------------------------------------------------------------


def test_pop3_messages_are_queued_once_across_runs_and_a_restart(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot, name="Pop", protocol="pop3")
    own_dovecot.deliver(USER, 100)  # there before the first sync: not taken
    assert home.run("worker", "--once").returncode == 0
    own_dovecot.deliver(USER, 101)
    own_dovecot.deliver(USER, 102)
    done = home.run("worker", "--once")
    assert done.returncode == 0, done.stderr
    done = home.run("worker", "--once")  # a second run: nothing new
    assert done.returncode == 0
    home.service.store.engine.dispose()
    own_dovecot.deliver(USER, 103)
    assert home.run("worker", "--once").returncode == 0  # a restart of the worker process
    assert ids(home.messages("Pop")) == ["<101@example.test>", "<102@example.test>", "<103@example.test>"]
    assert len(list((own_dovecot.maildir(USER) / "new").iterdir())) + len(
        list((own_dovecot.maildir(USER) / "cur").iterdir())) == 4  # nothing deleted on the server


# --- the long-running worker -----------------------------------------------------------


def test_idle_delivers_within_two_seconds_and_sigterm_stops_it(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    home.once()
    worker = home.start("worker")
    try:
        client = imap(own_dovecot, ca_file=mail_servers.ca_file)
        time.sleep(1.5)  # the worker connects and enters IDLE
        append(client, message(1))
        appended = time.monotonic()
        while not home.messages("Inbox") and time.monotonic() - appended < 5:
            time.sleep(0.05)
        took = time.monotonic() - appended
        assert ids(home.messages("Inbox")) == ["<m1@example.test>"]
        assert took < 2.0, f"queued {took:.2f} s after APPEND"
        worker.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        worker.wait(timeout=10)
        assert time.monotonic() - stopping < 5.0
        assert worker.returncode == 143 or worker.returncode == 0
        assert "worker: stopped" in worker.stderr.read()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)


def test_sigkill_during_a_batch_of_a_thousand_then_restart_queues_each_once(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot)
    home.once()
    maildir = own_dovecot.maildir(USER)
    for number in range(1000):
        (maildir / "new" / f"{number}.bulk.mailprov").write_bytes(message(number) + b"x" * 2000 + b"\r\n")
    subprocess.run(["chown", "-R", "nobody:nogroup", str(maildir)], check=True)
    record = home.service.require("Inbox")
    worker = home.start("worker", "--once", "--batch-size", "100")
    deadline = time.monotonic() + 60
    # Killed as soon as the first batch is committed, while the next ones are being fetched.
    while worker.poll() is None and time.monotonic() < deadline and not home.queue.queued_counts():
        time.sleep(0.005)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_with = home.queue.queued_counts().get(record.id, 0)
    assert 0 < killed_with < 1000, killed_with
    done = home.run("worker", "--once")
    assert done.returncode == 0, done.stderr
    queued = ids(home.messages("Inbox"))
    assert len(queued) == 1000 and len(set(queued)) == 1000
    assert home.queue.sync_state(record.id).last_uid >= 1000


def test_bad_worker_flags_are_one_line_naming_the_flag(home):
    for flags, named in ((["--batch-size", "0"], "--batch-size"), (["--since-days", "-1"], "--since-days"),
                         (["--poll-interval", "nan"], "--poll-interval"), (["--max-message-mb", "0"], "--max-message-mb")):
        done = home.run("worker", "--once", *flags)
        assert done.returncode == 2 and done.stderr.startswith(f"mailprov: {named}"), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_pop3_first_sync_of_the_last_days(home, mail_servers, own_dovecot):
    add_green(home, mail_servers, own_dovecot, name="Pop", protocol="pop3")
    own_dovecot.deliver(USER, 7)  # no Date header: taken (nothing says it is older)
    maildir = own_dovecot.maildir(USER)
    (maildir / "new" / "old.mailprov").write_bytes(
        b"From: a@example.test\r\nSubject: Old\r\nDate: Mon, 01 Jan 2001 10:00:00 +0000\r\n"
        b"Message-ID: <old@example.test>\r\n\r\nAncient.\r\n")
    subprocess.run(["chown", "-R", "nobody:nogroup", str(maildir)], check=True)
    home.once(since_days=2)
    home.once(since_days=2)
    assert ids(home.messages("Pop")) == ["<7@example.test>"]
