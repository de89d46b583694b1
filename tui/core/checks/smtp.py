"""The outbound ladder: the SMTP session's phases (resolve, connect, TLS, greeting, EHLO,
STARTTLS, EHLO, AUTH), then a dry run (MAIL FROM, RCPT TO, RSET: nothing is sent) and QUIT.
With SMTP sign-in none (a trusted relay) no AUTH is sent: the auth step says no login was
used, and the dry run shows whether the relay takes mail from this machine."""

from __future__ import annotations

from tui.core.checks.failures import CheckFailed, address_refused, protocol_failure
from tui.core.checks.ladder import ProtocolCheck
from tui.core.hosts import ascii_host
from tui.core.mail.smtp import SmtpSession, open_smtp


def envelope_address(account: str) -> str:
    local, _, domain = account.rpartition("@")
    return f"{local}@{ascii_host(domain)}"


class SmtpCheck(ProtocolCheck):
    session: SmtpSession | None

    def _climb(self) -> None:
        logs_in = self.target.logs_in  # False: a trusted relay ("SMTP sign-in: none")
        self.session = open_smtp(self.target.server, self.credential, log_in=logs_in, **self.session_options())
        self.result.logged_in = logs_in
        self._dry_run()
        with self.ladder.step("quit") as step:
            step.detail = self.session.quit()

    def _dry_run(self) -> None:
        """Ask the server to accept a message to and from the account, then take it back."""
        smtp, said = self.session.smtp, self.session.said
        address = envelope_address(self.target.account)
        options = ["SMTPUTF8"] if not address.isascii() and smtp.has_extn("smtputf8") else []
        with self.ladder.step("mail-from") as step:
            code, reply = smtp.mail(address, options)
            if code != 250:
                raise CheckFailed(address_refused(self.target, "sender", address, said(code, reply)))
            step.detail = said(code, reply)
        with self.ladder.step("rcpt-to") as step:
            code, reply = smtp.rcpt(address)
            if code not in (250, 251):
                raise CheckFailed(address_refused(self.target, "recipient", address, said(code, reply)))
            step.detail = said(code, reply)
        with self.ladder.step("rset") as step:
            code, reply = smtp.rset()
            if code != 250:
                raise CheckFailed(protocol_failure(self.target, "rset", said(code, reply)))
            step.detail = f"{said(code, reply)} (nothing was sent)"
        login = (f"Login accepted for {self.target.username}" if self.target.logs_in
                 else "No login used (SMTP sign-in: none)")
        self.result.summary = f"{login}; {address} accepted as sender and recipient (nothing sent)"
