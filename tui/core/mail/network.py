"""Resolve, connect and TLS, each bounded by a timeout.

Every session (SMTP, IMAP, POP3) opens its socket with these helpers, so DNS, TCP and
TLS are separate phases with their own timing and their own failure kind.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

# A certificate this close to its end is worth a word in the step detail.
EXPIRY_WARNING_DAYS = 14


class ResolveTimeout(TimeoutError):
    """The system resolver did not answer within the check's timeout."""


class CAFileError(Exception):
    """The configured CA file could not be loaded; `variable` is the setting that names it."""

    def __init__(self, ca_file: Path, reason: str, variable: str = "MAILPROV_CA_FILE"):
        super().__init__(f"{ca_file}: {reason}")
        self.ca_file = ca_file
        self.reason = reason
        self.variable = variable


def resolve(host: str, port: int, timeout: float) -> list[tuple]:
    """getaddrinfo() results (family, type, proto, canonname, sockaddr), unique addresses.

    getaddrinfo() itself cannot be given a timeout, so it runs in a daemon thread and we
    stop waiting after `timeout` (the thread finishes on its own later)."""
    outcome: dict[str, object] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome["value"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as exc:  # handed over to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(timeout):
        raise ResolveTimeout(f"resolving {host} took longer than {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    unique: dict[object, tuple] = {}
    for info in outcome["value"]:  # type: ignore[union-attr]
        unique.setdefault(info[4][0], info)
    return list(unique.values())


def connect(addresses: list[tuple], timeout: float) -> socket.socket:
    """Connect to the first address that answers; all attempts together within `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    for family, kind, proto, _name, sockaddr in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        # Reads and writes set their own timeout (see bounds.Deadline); until then, this one.
        sock.settimeout(timeout)
        return sock
    raise last_error or TimeoutError(f"connecting took longer than {timeout:g} s")


def describe_address(sockaddr: tuple) -> str:
    address = sockaddr[0]
    return f"[{address}]" if ":" in address else address


# What a session is given to verify servers with: a ready context, or a factory called when
# the TLS phase starts (so that an unreadable CA file fails that phase, not the caller).
TlsSource = ssl.SSLContext | Callable[[], ssl.SSLContext]


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying client context: the system store (or SSL_CERT_FILE through OpenSSL's
    defaults), or only `ca_file` when given. Verification is never switched off.

    One context per CA configuration, shared by every check (a context is safe to use from
    many threads, and loading the system store costs ~20 ms of CPU each time): it is made
    again only when the configuration changes, the CA file included (its size and
    modification time are part of the key)."""
    if ca_file is None:
        # OpenSSL skips an SSL_CERT_FILE that does not exist and trusts whatever else it
        # finds, so a typo would read as "untrusted certificate": say the file is missing.
        env_file = os.environ.get("SSL_CERT_FILE")
        if env_file and not Path(env_file).is_file():
            raise CAFileError(Path(env_file), "the file does not exist", "SSL_CERT_FILE")
        env_dir = os.environ.get("SSL_CERT_DIR")
        key = ("system", env_file, _file_stamp(env_file), env_dir)
        return _shared_context(key, ssl.create_default_context)
    return _shared_context(("file", str(ca_file), _file_stamp(ca_file)), lambda: _context_with(ca_file))


def _context_with(ca_file: Path) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise CAFileError(Path(ca_file), str(reason)) from None


_contexts: dict[tuple, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def _shared_context(key: tuple, make: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """The context made for `key`, made once (a failure is not kept: the next call tries again)."""
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = _contexts[key] = make()
        return context


def _file_stamp(path: str | Path | None) -> tuple[int, int] | None:
    try:
        found = os.stat(path) if path else None
    except OSError:
        return None
    return (found.st_size, found.st_mtime_ns) if found else None


def speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether `port` answers a TLS ClientHello: a port that stayed silent waiting for our
    greeting may be an implicit-TLS (SSL) port. Only the handshake is done, with a verifying
    context (a certificate it cannot verify still proves TLS is spoken); nothing is sent after."""
    try:
        addresses = resolve(host, port, timeout)
        with connect(addresses, timeout) as sock:
            sock.settimeout(timeout)
            with ssl.create_default_context().wrap_socket(sock, server_hostname=host):
                return True
    except ssl.SSLCertVerificationError:
        return True
    except (OSError, ValueError):  # ssl.SSLError (not TLS), refused, timeout, DNS
        return False


def tls_detail(sock: ssl.SSLSocket) -> str:
    """TLS version, cipher and the certificate's subject, issuer and days to expiry."""
    parts = [f"{sock.version()}"]
    cipher = sock.cipher()
    if cipher:
        parts[0] += f" ({cipher[0]})"
    cert = sock.getpeercert() or {}
    if cert:
        parts.append(f"certificate for {certificate_subject(cert)}")
        issuer = _name_text(cert.get("issuer", ()))
        if issuer:
            parts.append(f"issued by {issuer}")
        days = days_to_expiry(cert)
        if days is not None:
            warning = " - renew it soon" if days <= EXPIRY_WARNING_DAYS else ""
            parts.append(f"expires in {days} days{warning}")
    return ", ".join(parts)


def certificate_subject(cert: dict) -> str:
    subject = _name_text(cert.get("subject", ()), only=("commonName",))
    names = [value for kind, value in cert.get("subjectAltName", ()) if kind in ("DNS", "IP Address")]
    if subject and names:
        return f"{subject} ({', '.join(names)})"
    return subject or ", ".join(names) or "an unnamed subject"


def days_to_expiry(cert: dict) -> int | None:
    not_after = cert.get("notAfter")
    if not not_after:
        return None
    expires = datetime.fromtimestamp(cert_time_seconds(not_after), timezone.utc)
    return (expires - datetime.now(timezone.utc)).days


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cert_time_seconds(text: str) -> int:
    """What ssl.cert_time_to_seconds says of a certificate time as getpeercert() gives it
    ("Jun  1 12:00:00 2025 GMT"), read here when it has that form: the stdlib function's
    strptime costs ~3.5 ms of CPU on its first use in a process (a tenth of what a check does
    after its imports). Any other form is left to it."""
    parts = text.split()
    if len(parts) == 5 and parts[0] in _MONTHS and parts[4] == "GMT":
        numbers = [parts[1], *parts[2].split(":"), parts[3]]
        if len(numbers) == 5 and all(number.isascii() and number.isdigit() for number in numbers):
            day, hours, minutes, seconds, year = map(int, numbers)
            try:
                moment = datetime(year, _MONTHS.index(parts[0]) + 1, day, hours, minutes, seconds, tzinfo=timezone.utc)
            except ValueError:  # not a valid time (or a leap second): as the stdlib says
                pass
            else:
                return int(moment.timestamp())
    return ssl.cert_time_to_seconds(text)


def _name_text(name: tuple, only: tuple[str, ...] = ()) -> str:
    """"CN=mail.example.com, O=Example" from the nested tuples getpeercert() returns."""
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C"}
    pieces = []
    for rdn in name:
        for key, value in rdn:
            if (not only or key in only) and key in short:
                pieces.append(f"{short[key]}={value}")
    return ", ".join(pieces)


def ehlo_name(sock: socket.socket) -> str:
    """The name we greet SMTP servers with, without a DNS lookup: this machine's name when
    it is fully qualified, else our address as an RFC 5321 address literal."""
    hostname = socket.gethostname()
    if "." in hostname:
        return hostname
    address = sock.getsockname()[0]
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"
