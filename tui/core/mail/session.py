"""What every session shares while it opens: the phases it reports, the wire it talks on.

Opening a session is a row of phases (resolve, connect, tls, greeting, ehlo/capability/
capa, starttls, ..., auth/login). Each runs inside `phases.step(name)`, which the caller
can listen to: the check's ladder is such a listener (it times each phase, keeps its
detail, and turns its exception into a Failure); the default `Phases` only lets the
exception through, for a worker that just wants a logged-in session or an error.

    phases.step("connect") as note:     # note.detail: what the phase found, for people
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tui.core.hosts import ascii_host
from tui.core.mail.bounds import Deadline
from tui.core.mail.credential import Credential
from tui.core.mail.network import TlsSource, connect, describe_address, resolve, tls_detail
from tui.core.mail.network import tls_context as verifying_context
from tui.core.mail.redact import Redactor
from tui.core.mail.transcript import Cleaner, NoTranscript, Transcript
from tui.core.domain import ServerSettings
from tui.core.protocols import Protocol, Security


class ClosingSession:
    """A logged-in session used in a `with` block is closed when the block ends."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class PhaseNote:
    """What one phase found, in words (its `detail`), for whoever listens."""

    detail: str = ""


class Phases:
    """Hears about each phase of opening a session. This default one hears nothing: an
    exception raised by a phase reaches the caller of open_smtp/open_imap/open_pop3 as is."""

    @contextmanager
    def step(self, name: str) -> Iterator[PhaseNote]:
        yield PhaseNote()

    def starttls_offered(self) -> None:
        """On a connection with security none, the server offered STARTTLS (or STLS)."""


@dataclass
class Wire:
    """One session's connection context: where it goes, its deadline, its listener, its
    transcript and its cleaner (which every server text quoted in an error goes through)."""

    protocol: Protocol
    server: ServerSettings
    deadline: Deadline
    phases: Phases
    transcript: Transcript
    clean: Cleaner
    tls: TlsSource

    @classmethod
    def make(
        cls,
        protocol: Protocol,
        server: ServerSettings,
        credential: Credential | None,
        *,
        deadline: Deadline,
        ca_file: Path | None,
        tls_context: TlsSource | None,
        transcript: Transcript | None,
        phases: Phases | None,
    ) -> Wire:
        clean = transcript.clean if transcript is not None else Redactor(credential)
        return cls(
            protocol=protocol,
            server=server,
            deadline=deadline,
            phases=phases or Phases(),
            transcript=transcript if transcript is not None else NoTranscript(clean),
            clean=clean,
            tls=tls_context if tls_context is not None else (lambda: verifying_context(ca_file)),
        )

    @property
    def host(self) -> str:
        """The server's name as DNS, SNI and certificate checks want it (IDNA, no brackets)."""
        return ascii_host(self.server.host)

    def tls_context(self) -> ssl.SSLContext:
        return self.tls if isinstance(self.tls, ssl.SSLContext) else self.tls()

    def open_socket(self) -> socket.socket:
        """The resolve and connect phases, and the TLS handshake when security is SSL."""
        with self.phases.step("resolve") as note:
            addresses = resolve(self.host, self.server.port, self.deadline.timeout())
            note.detail = ", ".join(describe_address(a[4]) for a in addresses)
        with self.phases.step("connect") as note:
            sock = connect(addresses, self.deadline.timeout())
            note.detail = f"{describe_address(sock.getpeername())} port {self.server.port}"
        if self.server.security is Security.SSL:
            try:
                with self.phases.step("tls") as note:
                    sock = self.wrap(sock)
                    note.detail = tls_detail(sock)
            except BaseException:
                sock.close()
                raise
        return sock

    def wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        """The TLS handshake on `sock`, verifying the certificate for the server's name."""
        self.deadline.arm(sock)  # the handshake's reads and writes, all together
        return self.tls_context().wrap_socket(sock, server_hostname=self.host)
