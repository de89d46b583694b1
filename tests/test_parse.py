"""The quick reading of plain messages (tui/core/parse.py) gives what the email package's
reading gives: every field the queue keeps, for the shapes of mail the quick reading takes."""

from __future__ import annotations

import dataclasses

import pytest

from tui.core import parse
from tui.core.parse import parse_message

HEAD = (
    "From: Customer 7 <customer7@example.test>\r\nTo: support@example.test\r\n"
    "Subject: Question number 7\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <q-7@example.test>\r\n"
)
PLAIN = "Content-Type: text/plain; charset=utf-8\r\n"
MESSAGES = {
    "the usual small message": HEAD + PLAIN + "\r\n" + "Hello, I have a question. " * 20 + "\r\n",
    "a reply, folded fields, an encoded subject": (
        "Received: from mx.example.test (mx [192.0.2.1])\r\n\tby in.example.test; Fri, 27 Nov 2026 10:00:00 +0000\r\n"
        "DKIM-Signature: v=1; a=rsa-sha256;\r\n b=abcdef\r\n"
        "From: \"Doe, Jane\" <jane@example.test>\r\nTo: a@example.test, Bob <b@example.test>,\r\n c@example.test\r\n"
        "Cc: Team <team@example.test>\r\nSubject: =?utf-8?q?R=C3=A9ponse?= to your\r\n  question\r\n"
        "Date: Mon, 2 Mar 2026 23:30:05 -0530\r\nMessage-ID: <r-1@example.test>\r\n"
        "In-Reply-To: <q-7@example.test>\r\nReferences: <q-1@example.test>\r\n <q-7@example.test>\r\n"
        + PLAIN + "\r\nThanks.\r\n"
    ),
    "bare line feeds": HEAD.replace("\r\n", "\n") + "Content-Type: text/plain\n\nline one\nline two\n",
    "a blank line of CRLF after LF headers": HEAD.replace("\r\n", "\n") + "\r\nbody\r\n",
    "no body at all": HEAD.rstrip("\r\n"),
    "quoted-printable latin-1": HEAD + "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me =\r\nsoft break\r\n",
    "base64 html": HEAD + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "PHA+SGVsbG8gPGI+d29ybGQ8L2I+PC9wPjxwPnR3bzwvcD4=\r\n",
    "a date the usual form does not cover": HEAD.replace("Fri, 27 Nov 2026 10:00:00 +0000", "27 Nov 2026 10:00 GMT")
    + PLAIN + "\r\nx\r\n",
    "a zone far east, a day's edge": HEAD.replace("Fri, 27 Nov 2026 10:00:00 +0000", "Sat, 1 Jan 2000 00:10:00 +1400")
    + PLAIN + "\r\nx\r\n",
    "an offset of a day is not a zone": HEAD.replace("+0000", "+2400") + PLAIN + "\r\nx\r\n",
    "31 February": HEAD.replace("Fri, 27 Nov", "Fri, 31 Feb") + PLAIN + "\r\nx\r\n",
    "no Message-ID, no Date": "From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n",
}


def email_package_reading(raw: bytes, monkeypatch, **options) -> parse.ParsedMessage:
    with monkeypatch.context() as patch:
        patch.setattr(parse, "_read_simple", lambda *args: False)
        return parse_message(raw, **options)


@pytest.mark.parametrize("too_large", [False, True], ids=["whole", "headers only"])
@pytest.mark.parametrize("name", list(MESSAGES))
def test_the_quick_reading_keeps_what_the_email_package_reads(name, too_large, monkeypatch):
    raw = MESSAGES[name].encode("utf-8")
    quick = dataclasses.asdict(parse_message(raw, too_large=too_large))
    full = dataclasses.asdict(email_package_reading(raw, monkeypatch, too_large=too_large))
    assert quick == full
    assert quick["parse_error"] is None


def test_the_quick_reading_took_these_messages(monkeypatch):
    """The comparison above means something only if the quick reading read them."""
    taken = []
    real = parse._read_simple
    monkeypatch.setattr(parse, "_read_simple", lambda *args: taken.append(real(*args)) or taken[-1])
    for text in MESSAGES.values():
        parse_message(text.encode("utf-8"))
    assert all(taken), [name for name, took in zip(MESSAGES, taken) if not took]


def test_fields_read_from_a_reply():
    parsed = parse_message(MESSAGES["a reply, folded fields, an encoded subject"].encode())
    assert parsed.message_id == "<r-1@example.test>"
    assert parsed.in_reply_to == "<q-7@example.test>"
    assert parsed.thread_ids == ["<q-7@example.test>", "<q-1@example.test>"]
    assert parsed.from_addr == "Doe, Jane <jane@example.test>"
    assert parsed.to_addrs == ["a@example.test", "Bob <b@example.test>", "c@example.test"]
    assert parsed.subject == "Réponse to your question"
    assert parsed.date.isoformat() == "2026-03-03T05:00:05+00:00"
