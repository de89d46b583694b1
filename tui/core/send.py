"""Sending a message through a provider: the check's SMTP ladder (resolve, connect, TLS,
greeting, EHLO, STARTTLS, AUTH - or no login for a trusted relay), then MAIL FROM, RCPT
TO for each recipient, DATA and QUIT, each recorded as a step with the same failures,
timeouts, overall deadline, bounds and redacted transcript as the check.

    message = compose(settings, to=["alice@example.com"], subject="Hi", body="…")
    result = send_message(settings, credential, message, timeout=10, ca_file=None)
    result.sent, result.queue_id, result.failure, result.result.transcript

`send_message` never raises for what a server or the network does: the failure is on the
result (`result.failure`, a checks Failure with message, remedy and fields). Nothing here
reads the secret store: the caller gives the credential (ProviderService.send does).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui.core.checks.failures import CheckFailed, address_refused, make_failure
from tui.core.checks.ladder import ProtocolCheck
from tui.core.checks.smtp import envelope_address
from tui.core.checks.target import Target
from tui.core.domain import ProviderSettings
from tui.core.mail.compose import OutgoingMessage
from tui.core.mail.credential import Credential
from tui.core.mail.network import tls_context
from tui.core.mail.smtp import SmtpSession, open_smtp
from tui.core.protocols import Protocol
from tui.core.report import Failure, FailureKind, ProtocolResult, StepCallback

# Where servers put the id of the queued message in their final reply to DATA:
# Postfix "250 2.0.0 Ok: queued as 4Xyz1", Exim "250 OK id=1rAbCd-0001xY-2Q",
# Sendmail "250 2.0.0 4ABCD123 Message accepted for delivery".
_QUEUE_ID_PATTERNS = (
    re.compile(r"queued as ([\w.\-/+=]{1,100})", re.IGNORECASE),
    re.compile(r"\bid=([\w.\-/+=]{1,100})", re.IGNORECASE),
    re.compile(r"^250 [\d.]+ ([\w.\-]{1,100}) Message accepted", re.IGNORECASE),
)


@dataclass
class SendResult:
    """What became of one message: `sent` once the server accepted DATA (with 250)."""

    provider: str
    message_id: str
    recipients: tuple[str, ...]
    result: ProtocolResult  # the steps, the redacted transcript, the failure if any
    sent: bool = False
    queue_id: str | None = None  # the server's id for the queued message, when it gave one
    reply: str = ""  # the server's final answer to DATA, cleaned ("250 2.0.0 Ok: queued as …")

    @property
    def failure(self) -> Failure | None:
        return self.result.failure

    @property
    def summary(self) -> str:
        return self.result.summary


def queue_id_of(reply: str) -> str | None:
    """The queue id in a server's final reply to DATA, or None when it gave none."""
    for pattern in _QUEUE_ID_PATTERNS:
        found = pattern.search(reply)
        if found:
            return found.group(1).rstrip(".")
    return None


def send_message(
    settings: ProviderSettings,
    credential: Credential | None,
    message: OutgoingMessage,
    *,
    timeout: float,
    ca_file: Path | None = None,
    on_step: StepCallback | None = None,
    deadline: float | None = None,
) -> SendResult:
    """Send `message` (see mail.compose) through the provider's SMTP server, logged in with
    `credential` (None only for "SMTP sign-in: none"). `timeout` bounds each network wait,
    `deadline` the whole conversation (default 3x timeout); `on_step(protocol, step)` is
    called from this thread as each step ends. Never raises for a server's or the
    network's doing: see `SendResult.failure`."""
    target = Target(
        protocol=Protocol.SMTP,
        server=settings.outbound,
        account=settings.account,
        username=credential.username if credential else settings.username,
        sign_in=settings.sign_in,
        timeout=timeout,
        deadline=deadline or 0.0,
        logs_in=settings.smtp_logs_in,
    )
    contexts: list = []

    def shared_tls_context():
        if not contexts:  # made inside the TLS step, so a bad CA file fails that step
            contexts.append(tls_context(ca_file))
        return contexts[0]

    sending = Sending(target, credential, shared_tls_context, on_step, message)
    result = sending.run()
    return SendResult(
        provider=settings.name,
        message_id=message.message_id,
        recipients=message.recipients,
        result=result,
        sent=sending.accepted,
        queue_id=sending.queue_id,
        reply=sending.reply,
    )


class Sending(ProtocolCheck):
    """The SMTP ladder of the check, with a real message where the check does a dry run."""

    session: SmtpSession | None

    def __init__(self, target: Target, credential, tls_context: Callable, on_step, message: OutgoingMessage):
        super().__init__(target, credential, tls_context, on_step)
        self.message = message
        self.log_in = target.logs_in  # False: a trusted relay ("SMTP sign-in: none")
        self.accepted = False
        self.queue_id: str | None = None
        self.reply = ""

    def _climb(self) -> None:
        self.session = open_smtp(self.target.server, self.credential, log_in=self.log_in, **self.session_options())
        self.result.logged_in = self.log_in
        self._envelope()
        self._data()
        self._quit()

    def _envelope(self) -> None:
        smtp, said, message = self.session.smtp, self.session.said, self.message
        options = []
        if message.smtputf8:
            if not smtp.has_extn("smtputf8"):
                raise_in_step(self, "mail-from", _smtputf8_missing(self.target))
            options.append("SMTPUTF8")
        sender = envelope_address(message.sender)
        with self.ladder.step("mail-from") as step:
            code, reply = smtp.mail(sender, options)
            if code != 250:
                raise CheckFailed(address_refused(self.target, "sender", sender, said(code, reply)))
            step.detail = said(code, reply)
        for recipient in message.recipients:
            with self.ladder.step("rcpt-to") as step:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    raise CheckFailed(_recipient_refused(self.target, recipient, said(code, reply)))
                step.detail = f"{recipient}: {said(code, reply)}"

    def _data(self) -> None:
        smtp, said = self.session.smtp, self.session.said
        with self.ladder.step("data") as step:
            code, reply = smtp.docmd("DATA")
            if code != 354:
                raise CheckFailed(_not_accepted(self.target, said(code, reply)))
            code, reply = smtp.send_content(self.message.data)
            self.reply = said(code, reply)
            if code != 250:
                raise CheckFailed(_not_accepted(self.target, self.reply))
            self.accepted = True
            self.queue_id = queue_id_of(self.reply)
            queued = f"queued as {self.queue_id}" if self.queue_id else "the server gave no queue id"
            step.detail = f"{self.reply} ({queued})"
        login = "no login used" if not self.log_in else f"logged in as {self.target.username}"
        self.result.summary = (
            f"Sent {self.message.message_id} to {', '.join(self.message.recipients)} ({login}); "
            + (f"the server queued it as {self.queue_id}" if self.queue_id else "the server gave no queue id")
        )

    def _quit(self) -> None:
        """QUIT; the message is already accepted, so a server that closes rudely now is
        noted in the step, not a failure."""
        with self.ladder.step("quit") as step:
            try:
                step.detail = self.session.quit()
            except Exception as exc:  # noqa: BLE001 - after a 250 to DATA nothing can undo the send
                step.detail = f"no answer to QUIT ({type(exc).__name__}); the message was already accepted"


def raise_in_step(sending: Sending, name: str, failure: Failure) -> None:
    """Record `failure` as step `name`'s and stop the ladder (a problem found before the
    step could send anything)."""
    with sending.ladder.step(name):
        raise CheckFailed(failure)


def _smtputf8_missing(target: Target) -> Failure:
    return make_failure(
        FailureKind.PROTOCOL,
        f"An address of this message has non-ASCII characters before the @, and the {target.where} "
        "does not offer SMTPUTF8, which such addresses need; nothing was sent.",
        "Use ASCII addresses, or a server that offers SMTPUTF8.",
        (),
    )


def _recipient_refused(target: Target, recipient: str, reply: str) -> Failure:
    return make_failure(
        FailureKind.MAILBOX,
        f"The {target.label} server refused {recipient} as recipient ({reply}); nothing was sent.",
        "Check the recipient's address; a server that relays only for its own domains refuses others.",
        (),
    )


def _not_accepted(target: Target, reply: str) -> Failure:
    return make_failure(
        FailureKind.PROTOCOL,
        f"The {target.label} server did not accept the message ({reply}).",
        "The transcript shows what it said; a 5xx reply names the reason (size, content, policy).",
        (),
    )


__all__ = ["SendResult", "queue_id_of", "send_message"]
