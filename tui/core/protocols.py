"""The mail protocols mailprov speaks, described once.

Every table that used to be keyed by the strings "smtp"/"imap" (default ports, the ports that
usually mean implicit TLS, labels, section titles) is derived from `SPECS`. Adding a protocol
means adding one `ProtocolSpec` here, then the code that speaks it (`tui/core/mail/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Security(StrEnum):
    STARTTLS = "starttls"
    SSL = "ssl"
    NONE = "none"

    @property
    def label(self) -> str:
        return SECURITY_LABELS[self]


# What the user sees: the platform has always called STARTTLS "TLS".
SECURITY_LABELS = {Security.STARTTLS: "TLS", Security.SSL: "SSL", Security.NONE: "None"}


class Protocol(StrEnum):
    SMTP = "smtp"
    IMAP = "imap"
    POP3 = "pop3"

    @property
    def spec(self) -> ProtocolSpec:
        return SPECS[self]

    @property
    def label(self) -> str:
        return SPECS[self].label


@dataclass(frozen=True)
class ProtocolSpec:
    protocol: Protocol
    label: str  # "IMAP": how messages name it
    title: str  # the form's section title
    inbound: bool  # fetches mail (IMAP, POP3) rather than sending it (SMTP)
    ports: dict[Security, int]  # the standard port of each security
    default_security: Security  # what a new provider starts with

    @property
    def ssl_port(self) -> int:
        """The port that usually means TLS from the first byte (465, 993, 995)."""
        return self.ports[Security.SSL]

    @property
    def usual_ports(self) -> str:
        """For remedies: "993 for SSL, 143 for TLS", the default security's port first."""
        order = [self.default_security] + [s for s in (Security.SSL, Security.STARTTLS) if s != self.default_security]
        return ", ".join(f"{self.ports[s]} for {s.label}" for s in order if s is not Security.NONE)

    def default_port(self, security: Security | str) -> int:
        return self.ports[Security(security)]


SPECS: dict[Protocol, ProtocolSpec] = {
    Protocol.SMTP: ProtocolSpec(
        Protocol.SMTP, "SMTP", "Sending (SMTP)", inbound=False,
        ports={Security.STARTTLS: 587, Security.SSL: 465, Security.NONE: 25},
        default_security=Security.STARTTLS,
    ),
    Protocol.IMAP: ProtocolSpec(
        Protocol.IMAP, "IMAP", "Receiving (IMAP)", inbound=True,
        ports={Security.STARTTLS: 143, Security.SSL: 993, Security.NONE: 143},
        default_security=Security.SSL,
    ),
    Protocol.POP3: ProtocolSpec(
        Protocol.POP3, "POP3", "Receiving (POP3)", inbound=True,
        ports={Security.STARTTLS: 110, Security.SSL: 995, Security.NONE: 110},
        default_security=Security.SSL,
    ),
}

INBOUND_PROTOCOLS = tuple(p for p in Protocol if SPECS[p].inbound)


def default_port(protocol: Protocol | str, security: Security | str) -> int:
    return SPECS[Protocol(protocol)].default_port(security)
