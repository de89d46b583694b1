"""The POP3 inbound ladder: the POP3 session's phases (resolve, connect, TLS, greeting,
CAPA, STLS, CAPA, AUTH PLAIN or USER and PASS), then STAT (message count and size;
nothing is read or deleted) and QUIT."""

from __future__ import annotations

from tui.core.checks.ladder import ProtocolCheck
from tui.core.mail.pop3 import Pop3Session, open_pop3


def size_text(size: int) -> str:
    """1234567 -> "1.2 MB": a mailbox size for people."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


class Pop3Check(ProtocolCheck):
    session: Pop3Session | None

    def _climb(self) -> None:
        self.session = open_pop3(self.target.server, self.credential, **self.session_options())
        with self.ladder.step("stat") as step:
            messages, size = self.session.stat()
            step.detail = f"{messages} messages, {size} bytes (nothing read or deleted)"
            self.result.summary = f"Mailbox: {messages} messages, {size_text(size)}"
        with self.ladder.step("quit") as step:
            step.detail = self.session.quit()
