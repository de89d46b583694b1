"""One server of a provider as a check sees it: what to connect to, and what to name and
blame in a failure."""

from __future__ import annotations

from dataclasses import dataclass

from tui.core.domain import ServerSettings, SignIn
from tui.core.mail.bounds import DEADLINE_FACTOR
from tui.core.protocols import Protocol, ProtocolSpec, Security

# The form's fields of each server: the outbound one is always SMTP; the inbound one is
# IMAP or POP3, chosen in the form, with the same three fields either way.
OUTBOUND_FIELD_PREFIX = "smtp"
INBOUND_FIELD_PREFIX = "inbound"


@dataclass(frozen=True)
class Target:
    protocol: Protocol
    server: ServerSettings
    account: str
    username: str
    sign_in: SignIn
    timeout: float  # seconds, for each network wait
    deadline: float = 0.0  # seconds, for the whole ladder; 0 means DEADLINE_FACTOR x timeout
    logs_in: bool = True  # False: SMTP through a trusted relay, no AUTH ("SMTP sign-in: none")

    def __post_init__(self) -> None:
        if not self.deadline:
            object.__setattr__(self, "deadline", DEADLINE_FACTOR * self.timeout)

    @property
    def spec(self) -> ProtocolSpec:
        return self.protocol.spec

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def security(self) -> Security:
        return self.server.security

    @property
    def where(self) -> str:
        return f"{self.label} server {self.host} port {self.port}"

    def field(self, name: str) -> str:
        """The form field holding this server's `name` ("host", "port", "security")."""
        prefix = INBOUND_FIELD_PREFIX if self.spec.inbound else OUTBOUND_FIELD_PREFIX
        return f"{prefix}_{name}"
