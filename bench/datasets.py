"""Data sets for the benchmarks: providers that were each checked once, with a report of the
real size (about 4.5 KB of JSON: the steps and transcript of an SMTP + IMAP check).

    python -m bench.datasets PATH COUNT     # a database of COUNT checked providers at PATH
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

CHECKED_AT = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


def real_size_report(name: str, ok: bool = True) -> dict:
    """A report as an SMTP (STARTTLS) + IMAP (SSL) check of a real server saves it."""
    from tui.core.report import CheckReport, Failure, FailureKind, ProtocolResult, Step

    tls = "TLSv1.3 (TLS_AES_256_GCM_SHA384), certificate for CN=mail.example.com (mail.example.com), " \
          "issued by CN=R11, O=Let's Encrypt, C=US, expires in 61 days"
    smtp_steps = [Step("resolve", True, 1.2, "mail.example.com -> 203.0.113.25"), Step("connect", True, 21.0, "203.0.113.25:587"),
                  Step("greeting", True, 22.4, "220 mail.example.com ESMTP Postfix (Debian/GNU)"),
                  Step("ehlo", True, 20.1, "PIPELINING, SIZE 52428800, STARTTLS, ENHANCEDSTATUSCODES, 8BITMIME"),
                  Step("starttls", True, 44.7, tls), Step("ehlo", True, 20.3, "AUTH PLAIN LOGIN, SIZE 52428800"),
                  Step("auth", True, 25.8, "235 2.7.0 Authentication successful (PLAIN)"),
                  Step("mail-from", True, 20.2, "250 2.1.0 Ok"), Step("rcpt-to", True, 20.9, "250 2.1.5 Ok"),
                  Step("rset", True, 20.0, "250 2.0.0 Ok"), Step("quit", True, 20.1, "221 2.0.0 Bye")]
    smtp_transcript = ["S: 220 mail.example.com ESMTP Postfix (Debian/GNU)", "C: ehlo [10.0.0.5]",
                       "S: 250-mail.example.com", "S: 250-PIPELINING", "S: 250-SIZE 52428800", "S: 250-VRFY",
                       "S: 250-ETRN", "S: 250-STARTTLS", "S: 250-ENHANCEDSTATUSCODES", "S: 250-8BITMIME",
                       "S: 250-DSN", "S: 250-SMTPUTF8", "S: 250 CHUNKING", "C: STARTTLS",
                       "S: 220 2.0.0 Ready to start TLS", "C: ehlo [10.0.0.5]", "S: 250-mail.example.com",
                       "S: 250-PIPELINING", "S: 250-SIZE 52428800", "S: 250-AUTH PLAIN LOGIN",
                       "S: 250-ENHANCEDSTATUSCODES", "S: 250 8BITMIME", "C: AUTH PLAIN <redacted>",
                       "S: 235 2.7.0 Authentication successful", f"C: mail FROM:<{name}@example.com>",
                       "S: 250 2.1.0 Ok", f"C: rcpt TO:<{name}@example.com>", "S: 250 2.1.5 Ok", "C: rset",
                       "S: 250 2.0.0 Ok", "C: quit", "S: 221 2.0.0 Bye"]
    imap_steps = [Step("resolve", True, 1.1, "imap.example.com -> 203.0.113.26"), Step("connect", True, 20.7, "203.0.113.26:993"),
                  Step("tls", True, 43.9, tls), Step("greeting", True, 21.0, "* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot ready."),
                  Step("capability", True, 20.2, "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN"),
                  Step("login", True, 30.4, "OK Logged in (LOGIN)"), Step("examine", True, 21.5, "INBOX: 1284 messages, 12 unseen"),
                  Step("logout", True, 20.3, "BYE Logging out")]
    imap_transcript = ["S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.",
                       "C: a1 CAPABILITY", "S: * CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN",
                       "S: a1 OK Pre-login capabilities listed, post-login capabilities have more.",
                       f"C: a2 LOGIN {name}@example.com <redacted>",
                       "S: a2 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
                       "MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED] Logged in",
                       "C: a3 EXAMINE INBOX", "S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
                       "S: * OK [PERMANENTFLAGS ()] Read-only mailbox.", "S: * 1284 EXISTS", "S: * 0 RECENT",
                       "S: * OK [UNSEEN 1273] First unseen.", "S: * OK [UIDVALIDITY 1700000000] UIDs valid",
                       "S: * OK [UIDNEXT 1300] Predicted next UID", "S: a3 OK [READ-ONLY] Examine completed (0.001 + 0.000 secs).",
                       "C: a4 SEARCH UNSEEN", "S: * SEARCH 1273 1274 1275 1276 1277 1278 1279 1280 1281 1282 1283 1284",
                       "S: a4 OK Search completed (0.001 + 0.000 secs).", "C: a5 LOGOUT", "S: * BYE Logging out",
                       "S: a5 OK Logout completed (0.001 + 0.000 secs)."]
    failure = None if ok else Failure(FailureKind.AUTH, f"The IMAP server refused the login of {name}@example.com.",
                                      "Check the password (and the username, when it is not the address).",
                                      ("password", "username"))
    outbound = ProtocolResult("smtp", "mail.example.com", 587, smtp_steps, None, smtp_transcript, "", True)
    inbound = ProtocolResult("imap", "imap.example.com", 993, imap_steps, failure, imap_transcript,
                             "INBOX: 1284 messages, 12 unseen" if ok else "", True)
    return CheckReport(name, CHECKED_AT, outbound, inbound, duration_ms=412.5).to_dict()


def checked_database(path: Path, count: int, ok_every: int = 4) -> None:
    """`count` SMTP-IMAP providers, each checked once (one in `ok_every` failed), written in
    bulk: the store creates the schema, then plain SQL fills the rows and the reports, in
    whichever shape the schema has (a report table, or the older `last_report` column)."""
    from tui.core.store import Store

    Store.open(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(provider)")}
        now = CHECKED_AT.strftime("%Y-%m-%d %H:%M:%S.%f")
        rows = []
        for i in range(count):
            name = f"Provider {i:06d}"
            ok = i % ok_every != 0
            rows.append((f"key-{i}", name, name.casefold(), f"mailbox{i}@example.com", "green" if ok else "red",
                         now, now if ok else None, None if ok else "auth",
                         None if ok else "The IMAP server refused the login.", None if ok else "Check the password.",
                         "[]" if ok else '["password", "username"]', now, now))
        conn.executemany(
            "INSERT INTO provider (secret_key, name, name_key, type, sign_in, account, from_name, active_reference,"
            " reply_to, smtp_host, smtp_port, smtp_security, inbound_protocol, inbound_host, inbound_port,"
            " inbound_security, status, last_checked_at, last_ok_at, error_kind, error_message, error_remedy,"
            " error_fields, created_at, updated_at) VALUES (?, ?, ?, 'smtp-imap', 'password', ?, 'Desk', 1, '[]',"
            " 'mail.example.com', 587, 'starttls', 'imap', 'imap.example.com', 993, 'ssl', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        ids = conn.execute("SELECT id, name FROM provider").fetchall()
        reports = [(json.dumps(real_size_report(name, ok=(int(name.split()[1]) % ok_every != 0))), row_id)
                   for row_id, name in ids]
        if "last_report" in columns:
            conn.executemany("UPDATE provider SET last_report = ? WHERE id = ?", reports)
        else:
            conn.executemany("INSERT INTO check_report (report, provider_id) VALUES (?, ?)", reports)
            conn.execute("UPDATE provider SET check_encrypted = 1")


def report_size() -> int:
    return len(json.dumps(real_size_report("Provider 000001")))


if __name__ == "__main__":
    checked_database(Path(sys.argv[1]), int(sys.argv[2]))
    print(f"{sys.argv[2]} checked providers in {sys.argv[1]}, reports of {report_size()} bytes")

