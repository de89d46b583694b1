"""The IMAP inbound ladder: the IMAP session's phases (resolve, connect, TLS, greeting,
CAPABILITY, STARTTLS, CAPABILITY, LOGIN or AUTHENTICATE), then EXAMINE INBOX (read-only:
counts messages, changes nothing) and LOGOUT."""

from __future__ import annotations

from tui.core.checks.ladder import ProtocolCheck
from tui.core.mail.imap import ImapSession, open_imap


class ImapCheck(ProtocolCheck):
    session: ImapSession | None

    def _climb(self) -> None:
        self.session = open_imap(self.target.server, self.credential, **self.session_options())
        with self.ladder.step("examine") as step:
            messages, unseen = self.session.examine_inbox()
            step.detail = f"{messages} messages, {unseen} unseen (opened read-only)"
            self.result.summary = f"INBOX: {messages} messages, {unseen} unseen"
        with self.ladder.step("logout") as step:
            step.detail = self.session.logout()
