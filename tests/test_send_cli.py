"""`mailprov send` end to end: a real mailprov process (forked, tests/forked_cli.py) sending through aiosmtpd, the
message recorded in its conversation, and replies to it APPENDed to a real Dovecot inbox
and ingested by `mailprov worker --once` (tests/test_worker.py's Home and helpers)."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess

import pytest

from tests.forked_cli import run_forked
from tests.servers import USER
from tests.test_worker import add_green, append, home, imap, message, own_dovecot  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

FROM_NAME = "Support Desk"
REPLY_TO = "help@example.com"


def mailprov(home, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return run_forked(list(args), env=home.env, folder=home.root, stdin=stdin, text=False)


def sent_ids(done: subprocess.CompletedProcess) -> tuple[str, str]:
    """(Message-ID, queue id) from `send`'s output."""
    out = done.stdout.decode()
    return re.search(r"^Message-ID (<\S+>)$", out, re.M).group(1), re.search(r"^queue id (\S+)$", out, re.M).group(1)


def wire(mail_servers, queue_id: str) -> email.message.EmailMessage:
    """The message aiosmtpd received under `queue_id`, parsed."""
    [found] = [m for m in mail_servers.recorder.messages if m["queue_id"] == queue_id]
    return email.message_from_bytes(found["data"], policy=email.policy.default)


def body_of(received: email.message.EmailMessage) -> str:
    text = received.get_content()
    assert "\r\r" not in text  # CRLF in the input became one line end, not two
    return text.replace("\r\n", "\n")


def queue_json(home, campaign: str = "Sales") -> dict[str, dict]:
    listed = mailprov(home, "queue", "list", campaign, "--json")
    assert listed.returncode == 0, listed.stderr
    return {m["message_id"]: m for m in json.loads(listed.stdout)}


def reply_to(our_id: str, number: int) -> bytes:
    return (f"From: Customer <customer@example.test>\r\nTo: {USER}\r\nSubject: Re: Offer\r\n"
            f"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <reply{number}@example.test>\r\n"
            f"In-Reply-To: {our_id}\r\nReferences: {our_id}\r\n\r\nYes please.\r\n").encode()


@pytest.fixture
def sales(home, mail_servers, own_dovecot):  # noqa: F811 - pytest fixtures by name
    """A green provider "Inbox" on the test's own Dovecot, used by the campaign "Sales", its
    mailbox synced once (so mail APPENDed from now on is taken)."""

    def setup(active_reference: bool = True):
        add_green(home, mail_servers, own_dovecot, from_name=FROM_NAME, reply_to=REPLY_TO,
                  active_reference=active_reference)
        assert mailprov(home, "campaign", "add", "Sales", "--provider", "Inbox").returncode == 0
        assert mailprov(home, "worker", "--once").returncode == 0
        return imap(own_dovecot, ca_file=mail_servers.ca_file)

    return setup


@pytest.mark.parametrize("active_reference", [True, False])
def test_a_reply_to_a_sent_message_threads_into_its_conversation_only_with_active_reference(
        home, mail_servers, sales, tmp_path, active_reference):  # noqa: F811
    client = sales(active_reference)
    body = tmp_path / "body.txt"
    body.write_text("Our offer:\r\nGrüße, 10% off.\n", encoding="utf-8")
    done = mailprov(home, "send", "--provider", "inbox", "--to", "customer@example.test",
                    "--cc", "boss@example.test", "--subject", "Offer", "--body-file", str(body))
    assert done.returncode == 0, done.stderr
    our_id, queue_id = sent_ids(done)

    received = wire(mail_servers, queue_id)
    assert received["From"] == f"{FROM_NAME} <{USER}>"
    assert received["Reply-To"] == REPLY_TO
    assert received["To"] == "customer@example.test" and received["Cc"] == "boss@example.test"
    assert received["Message-ID"] == our_id and our_id.endswith(f"@{USER.rpartition('@')[2]}>")
    assert received["In-Reply-To"] is None and received["References"] is None
    assert body_of(received) == "Our offer:\nGrüße, 10% off.\n"
    sent = queue_json(home)[our_id]
    assert sent["direction"] == "out" and sent["subject"] == "Offer"

    append(client, reply_to(our_id, 1))
    assert mailprov(home, "worker", "--once").returncode == 0
    reply = queue_json(home)["<reply1@example.test>"]
    assert reply["direction"] == "in"
    if active_reference:
        assert reply["conversation"] == sent["conversation"]
    else:
        assert reply["conversation"] != sent["conversation"]


def test_reply_to_message_on_a_received_message_threads_on_the_wire_and_in_the_queue(home, mail_servers, sales):
    client = sales()
    append(client, message(1, reply_to="<m0@example.test>"))  # In-Reply-To and References: <m0@...>
    assert mailprov(home, "worker", "--once").returncode == 0
    received_one = queue_json(home)["<m1@example.test>"]

    done = mailprov(home, "send", "--provider", "Inbox", "--to", "sender1@example.test", "--subject", "Re: Message 1",
                    "--reply-to-message", "m1@example.test", stdin="Thanks.\n")  # brackets optional
    assert done.returncode == 0, done.stderr
    our_id, queue_id = sent_ids(done)
    on_the_wire = wire(mail_servers, queue_id)
    assert on_the_wire["In-Reply-To"] == "<m1@example.test>"
    assert on_the_wire["References"].split() == ["<m0@example.test>", "<m1@example.test>"]
    assert body_of(on_the_wire) == "Thanks.\n"  # the body from stdin
    listed = queue_json(home)
    assert listed[our_id]["direction"] == "out"
    assert listed[our_id]["conversation"] == received_one["conversation"]
    assert f"conversation {received_one['conversation']}" in done.stdout.decode()

    # And the customer's answer to our reply lands there too.
    append(client, reply_to(our_id, 2))
    assert mailprov(home, "worker", "--once").returncode == 0
    assert queue_json(home)["<reply2@example.test>"]["conversation"] == received_one["conversation"]


def test_an_unknown_message_id_or_provider_is_exit_2_naming_the_flag_and_nothing_is_sent(home, mail_servers, sales):
    sales()
    before = len(mail_servers.recorder.messages)
    done = mailprov(home, "send", "--provider", "Inbox", "--to", "a@example.test", "--subject", "S",
                    "--reply-to-message", "<nobody@example.test>", stdin="x\n")
    assert done.returncode == 2
    assert "--reply-to-message <nobody@example.test>: no message with this Message-ID" in done.stderr.decode()
    done = mailprov(home, "send", "--provider", "Nope", "--to", "a@example.test", "--subject", "S", stdin="x\n")
    assert done.returncode == 2 and "--provider Nope: No provider named 'Nope'" in done.stderr.decode()
    assert len(mail_servers.recorder.messages) == before
    assert queue_json(home) == {}


@pytest.mark.parametrize("flag, value", [
    ("--subject", "Hello\r\nBcc: victim@example.test"),
    ("--subject", "Hello\nX-Evil: 1"),
    ("--to", "a@example.test\r\nBcc: victim@example.test"),
    ("--to", "a@example.test>, <victim@example.test"),
    ("--cc", "c@example.test\nBcc: victim@example.test"),
])
def test_header_injection_through_a_flag_is_refused_naming_it(home, mail_servers, sales, flag, value):
    sales()
    before = len(mail_servers.recorder.messages)
    args = {"--to": "a@example.test", "--subject": "Hi", "--cc": "c@example.test", flag: value}
    done = mailprov(home, "send", "--provider", "Inbox", *[part for item in args.items() for part in item], stdin="x\n")
    assert done.returncode == 2, done.stdout
    err = done.stderr.decode()
    assert err.startswith(f"mailprov: {flag}: ") and "Nothing sent" in err and err.count("\n") == 1
    assert len(mail_servers.recorder.messages) == before
    assert queue_json(home) == {}


def test_bad_bodies_are_exit_2_naming_where_the_body_came_from(home, mail_servers, sales, tmp_path):
    sales()
    common = ("send", "--provider", "Inbox", "--to", "a@example.test", "--subject", "S")
    missing = mailprov(home, *common, "--body-file", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "--body-file " in missing.stderr.decode()
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Grüße".encode("latin-1"))
    wrong = mailprov(home, *common, "--body-file", str(latin))
    assert wrong.returncode == 2 and "not UTF-8 text" in wrong.stderr.decode()
    nul = mailprov(home, *common, stdin="a\0b")
    assert nul.returncode == 2 and "the body on stdin: " in nul.stderr.decode()
