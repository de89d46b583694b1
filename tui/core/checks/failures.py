"""Failures in plain words: what failed, naming the server or account, one line of remedy,
and the form fields to blame.

`classify()` turns an exception raised by a step (by the mail connection layer, or by the
check itself as `CheckFailed`) into a Failure; the other functions build each kind.
Protocol facts (labels, usual ports) come from the protocol spec (tui/core/protocols.py).
"""

from __future__ import annotations

import errno
import re
import smtplib
import socket
import ssl
from dataclasses import replace

from tui.core.checks.target import Target
from tui.core.domain import PRESETS, SignIn
from tui.core.mail import errors
from tui.core.mail.bounds import ReplyTooLong
from tui.core.mail.errors import Cleaner, reply_text, shorten
from tui.core.mail.network import CAFileError, ResolveTimeout
from tui.core.protocols import Protocol, Security
from tui.core.report import TRANSIENT_KINDS, Failure, FailureKind

TRUST_REMEDY = (
    "Set MAILPROV_CA_FILE to a PEM file with the server's CA certificate, "
    "or give the server a certificate from a public CA."
)
# Who an OAuth sign-in is with, for "Not signed in" messages.
SIGN_IN_COMPANIES = {SignIn.MICROSOFT: "Microsoft", SignIn.GOOGLE: "Google"}

# OpenSSL verify codes (X509_V_ERR_*), see `man openssl-verify`.
_EXPIRED = 10
_NOT_YET_VALID = 9
_SELF_SIGNED = 18
_UNKNOWN_CA = {2, 19, 20, 21}
_NAME_MISMATCH = {62, 64}


class CheckFailed(Exception):
    """Raised inside a step when the ladder itself found what is wrong."""

    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


def make_failure(kind: FailureKind, message: str, remedy: str, fields: tuple[str, ...]) -> Failure:
    return Failure(kind, message, remedy, fields, transient=kind in TRANSIENT_KINDS)


def _as_is(text: str) -> str:
    return text


# --- from exceptions -------------------------------------------------------------------


def classify(exc: BaseException, target: Target, step: str, clean: Cleaner = _as_is) -> Failure:
    """The failure an exception raised during `step` stands for (server words it quotes
    are cleaned with `clean`).

    Libraries wrap the cause (smtplib turns a read timeout into SMTPServerDisconnected),
    so the whole chain of causes is searched, most telling kind first."""
    chain = _causes(exc)

    def find(kind: type[BaseException] | tuple[type[BaseException], ...]):
        return next((e for e in chain if isinstance(e, kind)), None)

    if found := find(CheckFailed):
        return found.failure
    if (reply := _server_reply(chain, clean)) and is_limit_reply(reply):
        return limit_failure(target, reply)
    if found := find(errors.MailError):
        failure = session_failure(found, target, step)
        if failure is not None:
            return failure
    if found := find(CAFileError):
        return _ca_file_failure(found)
    if found := find(ssl.SSLCertVerificationError):
        return _certificate_failure(found, target)
    if find(ResolveTimeout):
        return _timeout_failure(target, "resolve")
    if found := find(ReplyTooLong):
        return reply_too_long(target, step, found.what)
    if step == "resolve" and find(UnicodeError):  # idna.IDNAError is a UnicodeError
        return make_failure(
            FailureKind.DNS,
            f"The {target.label} server name {target.host} is not a valid host name.",
            f"Check the spelling of the {target.label} host.",
            (target.field("host"),),
        )
    if found := find(socket.gaierror):
        return _dns_failure(found, target)
    if find(TimeoutError):
        return _timeout_failure(target, step)
    if find(ConnectionRefusedError):
        return _refused_failure(target)
    if found := find(ssl.SSLError):
        return _tls_failure(found, target)
    if (found := find(OSError)) and found.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return _unreachable_failure(found, target)
    if step in ("tls", "starttls") and find((ConnectionError, EOFError, smtplib.SMTPServerDisconnected)):
        return make_failure(
            FailureKind.TLS,
            f"The {target.where} closed the connection during the TLS handshake.",
            f"Check that port {target.port} expects {target.security.label}; "
            "otherwise the server's TLS setup is broken.",
            (target.field("security"), target.field("port")),
        )
    return protocol_failure(target, step, describe(exc, clean))


# A server turning a login away for now because of how many connect at once, or how often:
# Dovecot's "[LIMIT] Maximum number of connections from user+IP exceeded", IMAP's [LIMIT] and
# [UNAVAILABLE] codes, POP3's [IN-USE], SMTP's "421 4.7.0 Too many connections".
_LIMIT_REPLY = re.compile(
    r"\[(LIMIT|UNAVAILABLE|IN-USE)\]|too many (connections|concurrent|simultaneous|sessions|logins|login attempts)"
    r"|maximum number of (connections|sessions)|connection limit|rate[ -]?limit",
    re.IGNORECASE,
)


def is_limit_reply(reply: str) -> bool:
    return bool(_LIMIT_REPLY.search(reply))


def _server_reply(chain: list[BaseException], clean: Cleaner) -> str:
    """What the server answered, when the failure is an answer (a refused login, an error
    reply); "" otherwise."""
    for exc in chain:
        if isinstance(exc, errors.LoginRefused | errors.MailboxUnavailable):
            return exc.reply
        if isinstance(exc, errors.UnexpectedReply):
            return exc.said
        if isinstance(exc, smtplib.SMTPResponseException):
            return describe(exc, clean)
    return ""


def limit_failure(target: Target, reply: str) -> Failure:
    return make_failure(
        FailureKind.LIMIT,
        f"The {target.label} server turned {target.username} away for now: too many connections at once ({reply}).",
        "Wait a minute and check again; when many providers share this account, check fewer at once "
        "(lower MAILPROV_ACCOUNT_CONCURRENCY or MAILPROV_CONCURRENCY).",
        (),
    )


def describe(exc: BaseException, clean: Cleaner = _as_is) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return reply_text(exc.smtp_code, exc.smtp_error, clean)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, UnicodeError):
        # Its text quotes the character (maybe one of a password's): say only what happened.
        return f"text with characters outside {getattr(exc, 'encoding', 'the protocol')} could not be sent"
    return shorten(errors.exception_text(exc) or type(exc).__name__, clean)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _host_port_fields(target: Target) -> tuple[str, ...]:
    return (target.field("host"), target.field("port"))


# The hosts Outlook and Gmail come with: nobody typed them, so a lookup failing is this
# machine's DNS, not a spelling mistake.
PRESET_HOSTS = frozenset(
    server.host.casefold()
    for preset in PRESETS.values()
    for server in (preset.outbound, *preset.inbound.values())
)


def _dns_failure(exc: socket.gaierror, target: Target) -> Failure:
    reason = exc.strerror or str(exc)
    if exc.errno == socket.EAI_AGAIN:
        remedy = "This machine's DNS did not answer: check /etc/resolv.conf and the network, then try again."
    elif target.host.casefold() in PRESET_HOSTS:
        remedy = (f"{target.host} is the provider's own server, spelled right: this machine's DNS "
                  "cannot resolve it. Check /etc/resolv.conf and the network, then try again.")
    else:
        remedy = f"Check the spelling of the {target.label} host."
    return make_failure(
        FailureKind.DNS,
        f"The {target.label} server name {target.host} could not be found ({reason}).",
        remedy,
        (target.field("host"),),
    )


def _timeout_failure(target: Target, step: str) -> Failure:
    seconds = f"{target.timeout:g} s"
    if step == "resolve":
        message = f"Looking up the {target.label} server name {target.host} took longer than {seconds}."
        remedy = "Check this machine's DNS resolver (/etc/resolv.conf), then try again."
        return make_failure(FailureKind.TIMEOUT, message, remedy, (target.field("host"),))
    if step == "connect":
        message = f"The {target.where} did not accept a connection within {seconds}."
        remedy = (
            f"Check the {target.label} host and port, and that no firewall blocks port "
            f"{target.port}; then try again."
        )
    else:
        message = f"The {target.where} stopped answering at the {step} step (nothing within {seconds})."
        remedy = "Try again later; if it keeps happening, check the host and port."
        if step == "greeting" and target.security is not Security.SSL:
            remedy = (
                f"If port {target.port} expects SSL from the start (usually "
                f"{target.spec.ssl_port}), pick SSL; otherwise try again later."
            )
    return make_failure(FailureKind.TIMEOUT, message, remedy, _host_port_fields(target))


def implicit_tls_port(target: Target) -> Failure:
    """Security TLS (STARTTLS) or none on a port that expects TLS from the first byte: the
    server waits for our handshake while we wait for its greeting."""
    own_port = target.spec.ports[target.security]
    return make_failure(
        FailureKind.TLS,
        f"The {target.where} sent no greeting within {target.timeout:g} s: it expects TLS from "
        f"the first byte (SSL), while security {target.security.label} waits for a greeting first.",
        f"Pick SSL for port {target.port}, or keep {target.security.label} with port {own_port}.",
        (target.field("security"),),
    )


def _refused_failure(target: Target) -> Failure:
    failure = make_failure(
        FailureKind.REFUSED,
        f"Nothing accepts {target.label} connections on port {target.port} of {target.host} "
        "(connection refused).",
        f"Check the {target.label} host and port (usually {target.spec.usual_ports}).",
        _host_port_fields(target),
    )
    # A mail port that refuses may be a server restarting; a port no mail service uses
    # will not start accepting by itself.
    return failure if target.port in target.spec.ports.values() else replace(failure, transient=False)


def _unreachable_failure(exc: OSError, target: Target) -> Failure:
    return make_failure(
        FailureKind.REFUSED,
        f"The {target.label} server {target.host} cannot be reached from this machine ({exc.strerror}).",
        "Check the host, and this machine's network and firewall; then try again.",
        _host_port_fields(target),
    )


def _tls_failure(exc: ssl.SSLError, target: Target) -> Failure:
    reason = str(exc.reason or exc).lower().replace("_", " ")  # "WRONG_VERSION_NUMBER"
    fields = (target.field("security"), target.field("port"))
    if "wrong version number" in reason or "record layer failure" in reason:
        return make_failure(
            FailureKind.TLS,
            f"The {target.where} does not speak SSL (TLS handshake failed: {reason}).",
            "This port does not speak SSL: pick TLS (STARTTLS) or the SSL port.",
            fields,
        )
    if "unsupported protocol" in reason or "version" in reason:
        remedy = "The server only offers an outdated TLS version; it needs TLS 1.2 or later."
    else:
        remedy = f"Check that port {target.port} is the server's {target.security.label} port."
    return make_failure(
        FailureKind.TLS, f"The TLS handshake with {target.host} failed ({reason}).", remedy, fields
    )


def _certificate_failure(exc: ssl.SSLCertVerificationError, target: Target) -> Failure:
    code = exc.verify_code
    why = exc.verify_message or str(exc)
    whose = f"The certificate of the {target.label} server {target.host}"
    if code in _NAME_MISMATCH:
        message = f"{whose} is for another name, so it does not prove this is the right server ({why})."
        remedy = "Use the host name the certificate was issued for, or fix the server's certificate."
    elif code == _EXPIRED:
        message = f"{whose} has expired."
        remedy = "The server's certificate must be renewed (ask the mail server's admin)."
    elif code == _NOT_YET_VALID:
        message = f"{whose} is not valid yet."
        remedy = "Check this machine's clock; otherwise fix the server's certificate."
    elif code == _SELF_SIGNED:
        message = f"{whose} is self-signed: nothing this machine trusts vouches for it."
        remedy = TRUST_REMEDY
    elif code in _UNKNOWN_CA:
        message = f"{whose} was issued by a certificate authority this machine does not trust ({why})."
        remedy = TRUST_REMEDY
    else:
        message = f"{whose} could not be verified ({why})."
        remedy = TRUST_REMEDY
    return make_failure(FailureKind.CERTIFICATE, message, remedy, (target.field("host"),))


def _ca_file_failure(exc: CAFileError) -> Failure:
    return make_failure(
        FailureKind.CERTIFICATE,
        f"The CA file {exc.ca_file} named by {exc.variable} could not be loaded ({exc.reason}).",
        f"Point {exc.variable} at a readable PEM file with the CA certificate"
        + (", or unset it to use the system store." if exc.variable == "SSL_CERT_FILE" else "."),
        (),
    )


def deadline_failure(target: Target, step: str) -> Failure:
    return make_failure(
        FailureKind.TIMEOUT,
        f"The {target.where} was still at the {step} step when the check's overall deadline "
        f"of {target.deadline:g} s ran out (it answers too slowly, or keeps talking).",
        "Try again later; if it keeps happening, check that the host and port are this "
        "provider's mail server.",
        _host_port_fields(target),
    )


# --- found by the connection layer or the ladders --------------------------------------


def session_failure(exc: errors.MailError, target: Target, step: str) -> Failure | None:
    """The failure a session error stands for (None: none of these, classify further)."""
    if isinstance(exc, errors.StartTlsUnavailable):
        return preauthenticated(target) if exc.preauth else starttls_unavailable(target, exc.answer)
    if isinstance(exc, errors.NotSignedIn):
        return not_signed_in(target)
    if isinstance(exc, errors.NoLoginOffered):
        return no_login_offered(target)
    if isinstance(exc, errors.NoCommonMechanism):
        return no_common_mechanism(target, exc.offered, exc.wanted)
    if isinstance(exc, errors.PasswordUnsendable):
        return password_unsendable(target)
    if isinstance(exc, errors.LoginCannotCarry):
        return login_cannot_carry(target)
    if isinstance(exc, errors.LoginRefused):
        return auth_rejected(target, exc.uses_token, exc.reply)
    if isinstance(exc, errors.MailboxUnavailable):
        return mailbox_unavailable(target, exc.reply)
    if isinstance(exc, errors.UnexpectedReply):
        return protocol_failure(target, step, exc.said)
    return None


def reply_too_long(target: Target, step: str, what: str) -> Failure:
    return make_failure(
        FailureKind.PROTOCOL,
        f"The {target.where} sent {what} at the {step} step; the check stopped reading there.",
        f"Check that {target.host} port {target.port} is {with_article(target.label)} server; "
        "the transcript shows the start and the end of what it said.",
        _host_port_fields(target),
    )


def protocol_failure(target: Target, step: str, what: str) -> Failure:
    return make_failure(
        FailureKind.PROTOCOL,
        f"The {target.where} broke off at the {step} step: {what}.",
        f"Check that {target.host} port {target.port} is {with_article(target.label)} server; "
        "the transcript shows what it said.",
        _host_port_fields(target),
    )


def starttls_unavailable(target: Target, reply: str = "", said: str = "") -> Failure:
    said = said or (f" (it answered: {reply})" if reply else "")
    command = "STLS" if target.protocol is Protocol.POP3 else "STARTTLS"
    return make_failure(
        FailureKind.STARTTLS_UNAVAILABLE,
        f"The {target.where} does not offer {command}{said}, so nothing was sent unencrypted.",
        f"Pick SSL with the SSL port (usually {target.spec.ssl_port}), or have the server offer {command}.",
        (target.field("security"),),
    )


def no_login_offered(target: Target) -> Failure:
    if target.security is Security.NONE:
        return make_failure(
            FailureKind.MECHANISM,
            f"The {target.where} offers no login on an unencrypted connection.",
            "Use TLS (STARTTLS) or SSL: servers offer login only over an encrypted connection.",
            (target.field("security"), target.field("port")),
        )
    port_kind = f"{target.label} port" if target.spec.inbound else "submission port"
    return make_failure(
        FailureKind.MECHANISM,
        f"The {target.where} offers no login on this port.",
        f"Use the server's {port_kind} ({target.spec.usual_ports}).",
        (target.field("security"), target.field("port")),
    )


def preauthenticated(target: Target) -> Failure:
    """A PREAUTH greeting: logged in before any TLS, so STARTTLS can no longer be asked for."""
    return starttls_unavailable(
        target, said=" (it greeted with PREAUTH: a session already logged in without encryption)"
    )


def password_unsendable(target: Target) -> Failure:
    return make_failure(
        FailureKind.AUTH,
        f"The stored password for {target.username} contains a line break or NUL character; "
        "no login can carry it, so nothing was sent.",
        "Enter the password again (passwords cannot contain line breaks or NUL).",
        ("password",),
    )


def login_cannot_carry(target: Target) -> Failure:
    """IMAP LOGIN carries ASCII only; without AUTH=PLAIN a non-ASCII password cannot be sent.
    The characters are not quoted: they may be the password's."""
    return make_failure(
        FailureKind.MECHANISM,
        f"The password (or login name) for {target.username} has non-ASCII characters, which the "
        f"{target.where} cannot receive: it offers only LOGIN, which carries ASCII, and not "
        "AUTH=PLAIN; nothing was sent.",
        "Use a password of ASCII characters only, or ask the server's admin to enable AUTH=PLAIN.",
        ("password", "username"),
    )


def no_common_mechanism(target: Target, offered: list[str], wanted: list[str]) -> Failure:
    return make_failure(
        FailureKind.MECHANISM,
        f"The {target.where} offers login by {', '.join(offered) or 'nothing'}, "
        f"none of which mailprov speaks ({', '.join(wanted)}).",
        "Ask the server's admin to enable PLAIN or LOGIN over TLS, or check the host.",
        (target.field("security"),),
    )


def auth_rejected(target: Target, uses_token: bool, reply: str) -> Failure:
    said = f" ({reply})" if reply else ""
    if uses_token:
        return make_failure(
            FailureKind.AUTH,
            f"The {target.label} server rejected the sign-in token for {target.username}{said}.",
            _token_remedy(target, reply),
            ("account",),
        )
    remedy = "Check the password (and the username, if the login name differs from the address)."
    if "5.7.139" in reply:
        remedy = "SMTP AUTH is disabled for this mailbox: an Exchange admin must enable it."
    elif "5.7.30" in reply:
        remedy = ("Basic authentication is gone for this mailbox (Microsoft 365): change the provider's "
                  "type to Outlook and sign in with Microsoft.")
    return make_failure(
        FailureKind.AUTH,
        f"The {target.label} server rejected the password for {target.username}{said}.",
        remedy,
        ("password", "username"),
    )


def _token_remedy(target: Target, reply: str) -> str:
    if "5.7.139" in reply:
        return ("SMTP AUTH is disabled for this mailbox (OAuth included): an Exchange admin runs "
                f"`Set-CASMailbox -Identity {target.account} -SmtpClientAuthenticationDisabled $false` "
                "in Exchange Online PowerShell (or enables Authenticated SMTP for the mailbox).")
    if re.search(r"\b5\.7\.3\b", reply):
        return ("The token was refused: check that the account is the mailbox address and that the app "
                "has the mail permissions (IMAP.AccessAsUser.All, SMTP.Send); then sign in again.")
    return "Sign in again (`mailprov login NAME`); check that the account is the mailbox address."


def with_article(label: str) -> str:
    """ "an IMAP", "a POP3", "an SMTP": the article follows how the letters are said."""
    return f"{'an' if label[:1] in 'AEFHILMNORSX' else 'a'} {label}"


def not_signed_in(target: Target) -> Failure:
    if target.sign_in.uses_oauth:
        company = SIGN_IN_COMPANIES[target.sign_in]
        return make_failure(
            FailureKind.AUTH,
            f"Not signed in: this provider logs in with a {company} account ({target.username}).",
            "Sign in: run `mailprov login NAME`, or use Sign in in the provider form.",
            (),
        )
    return make_failure(
        FailureKind.AUTH,
        f"No password is stored for {target.username}.",
        "Enter the mailbox password in the provider form.",
        ("password",),
    )


def address_refused(target: Target, role: str, address: str, reply: str) -> Failure:
    if role == "sender":
        message = f"The {target.label} server refused {address} as sender ({reply})."
        remedy = "Use an address this login may send as in Account (or the login name in Username)."
    else:
        message = f"The {target.label} server refused {address} as recipient ({reply})."
        remedy = "Check Account: the server does not accept mail for this address."
    return make_failure(FailureKind.MAILBOX, message, remedy, ("account",))


def mailbox_unavailable(target: Target, reply: str) -> Failure:
    mailbox = "INBOX" if target.protocol is Protocol.IMAP else "the mailbox"
    return make_failure(
        FailureKind.MAILBOX,
        f"Logged in as {target.username}, but the {target.label} server could not open {mailbox} ({reply}).",
        "Check that the username is this mailbox's login on this server.",
        ("username", "account"),
    )
