"""Real mail servers on 127.0.0.1, for the tests and the benchmarks: Dovecot (IMAP and
POP3, each over SSL and STARTTLS/STLS) and aiosmtpd (SMTP).

The starters are plain functions and classes (the benchmarks use them outside pytest);
the pytest fixtures at the bottom are thin session-scoped wrappers. Facts behind the
Dovecot set-up: /work/shared/notes/mail-test-servers.md.

    def test_something(mail_servers):
        settings = mail_servers.settings()              # green against these servers
        draft = mail_servers.draft(smtp_security="ssl", smtp_port=str(mail_servers.smtp_ssl_port))
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from tui.core.domain import InboundSettings, ProviderDraft, ProviderSettings, ServerSettings
from tui.core.protocols import Protocol, Security

HOST = "127.0.0.1"
USER = "alice@example.test"
PASSWORD = "secret"
OTHER_USER = "bob@example.test"
OTHER_PASSWORD = "hunter22"
# The token the SMTP test servers accept for XOAUTH2 (as USER).
GOOD_TOKEN = "good-oauth-token"
UNICODE_USER = "carol@example.test"
UNICODE_PASSWORD = "pässwörd-ü"
USERS = {USER: PASSWORD, OTHER_USER: OTHER_PASSWORD, UNICODE_USER: UNICODE_PASSWORD}
INBOX_SEEN = 3
INBOX_UNSEEN = 2
DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_MISSING = "dovecot-imapd is not installed: apt-get install dovecot-imapd"
DOVECOT_POP3 = Path("/usr/lib/dovecot/pop3")
POP3_MISSING = "dovecot-pop3d is not installed: apt-get install dovecot-pop3d"


class ServerUnavailable(RuntimeError):
    """A server could not be started on this machine (the message says how to fix it)."""


def free_port() -> int:
    """A port nothing listens on right now (servers that cannot take port 0 need one).
    Another test process (pytest-xdist) may take it before the server does: the starters
    below try again with new ports (PORT_ATTEMPTS) when that happens."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each is held while the next is picked (a port just
    closed can be handed out again at once: Dovecot then refused a "duplicate listener")."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket())
            sock.bind((HOST, 0))
            ports.append(sock.getsockname()[1])
        return ports


PORT_ATTEMPTS = 3


class PortTaken(Exception):
    """A server's port was taken between free_port() and the server's own bind."""


def retried_when_a_port_is_taken(start):
    """A starter that raises PortTaken is called again (it picks new ports), up to PORT_ATTEMPTS times."""

    @functools.wraps(start)
    def starter(*args, **kwargs):
        for _ in range(PORT_ATTEMPTS - 1):
            try:
                return start(*args, **kwargs)
            except PortTaken:
                continue
        try:
            return start(*args, **kwargs)
        except PortTaken as exc:
            raise ServerUnavailable(f"{start.__name__}: its ports were taken {PORT_ATTEMPTS} times") from exc

    return starter


def world_readable_tempdir(prefix: str) -> Path:
    """Dovecot's auth and mail processes run as other users: the dir must be traversable."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


# --- TLS material ------------------------------------------------------------------------


@dataclass
class TestCertificates:
    """A private CA and a server certificate for 127.0.0.1 and localhost."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    directory: Path
    ca_file: Path  # the CA's PEM: hand it to clients as ca_file
    cert_file: Path  # server certificate chain
    key_file: Path
    server_context: ssl.SSLContext

    @classmethod
    def create(cls, directory: Path) -> TestCertificates:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert(HOST, "localhost")
        paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
        ca.cert_pem.write_to_path(str(paths["ca"]))
        with open(paths["cert"], "wb") as chain:
            for pem in cert.cert_chain_pems:
                chain.write(pem.bytes())
        cert.private_key_pem.write_to_path(str(paths["key"]))
        for path in paths.values():
            path.chmod(0o644)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return cls(directory, paths["ca"], paths["cert"], paths["key"], context)


# --- IMAP and POP3: Dovecot -------------------------------------------------------------

DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = {instance}
log_path = {dir}/dovecot.log
protocols = {protocols}
listen = {host}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
mail_location = maildir:{dir}/mail/%u
mail_uid = nobody
mail_gid = nogroup
# Benchmarks and check_many tests log in as one user many times at once (default: 10).
protocol imap {{
  mail_max_userip_connections = {max_userip}
}}
passdb {{
  driver = passwd-file
  args = {dir}/users
}}
userdb {{
  driver = passwd-file
  args = {dir}/users
}}
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
{pop3}{oauth}
# Failed logins would otherwise slow down the next good one by seconds.
service anvil {{
  unix_listener anvil-auth-penalty {{
    path = anvil-auth-penalty-disabled
  }}
}}
"""


# Added when dovecot-pop3d is installed.
DOVECOT_POP3_CONF = """\
protocol pop3 {{
  mail_max_userip_connections = {max_userip}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = {pop3s_port}
    ssl = yes
  }}
}}
"""


# Added for a Dovecot that also takes OAuth tokens (XOAUTH2), checked by asking an
# introspection endpoint (see OAuthIntrospection).
DOVECOT_OAUTH_CONF = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf
}}
"""
DOVECOT_OAUTH_ARGS = """\
introspection_url = {url}
introspection_mode = post
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = {ca}
"""


@dataclass
class DovecotServer:
    directory: Path
    process: subprocess.Popen
    imap_port: int  # plain, offers STARTTLS
    imaps_port: int  # implicit TLS
    pop3_port: int | None = None  # plain, offers STLS; None without dovecot-pop3d
    pop3s_port: int | None = None  # implicit TLS

    def maildir(self, user: str) -> Path:
        return self.directory / "mail" / user

    def deliver(self, user: str, number: int, seen: bool = False) -> Path:
        """Drop a message into `user`'s INBOX (created if need be), as Dovecot's own user."""
        maildir = self.maildir(user)
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        path = write_maildir_message(maildir, number, seen)
        subprocess.run(["chown", "-R", "nobody:nogroup", str(maildir)], check=True)
        return path

    def inbox_size(self, user: str) -> int:
        """Bytes in `user`'s INBOX: the messages are written with CRLF line ends, so this is
        also the size POP3 reports."""
        return sum(path.stat().st_size for sub in ("cur", "new") for path in (self.maildir(user) / sub).iterdir())

    @property
    def log_text(self) -> str:
        log = self.directory / "dovecot.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        # SIGTERM takes seconds; a throw-away instance can be killed, children and all.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


def write_maildir_message(maildir: Path, number: int, seen: bool) -> Path:
    body = (
        f"From: sender{number}@example.test\r\nTo: {USER}\r\n"
        f"Subject: Test message {number}\r\nMessage-ID: <{number}@example.test>\r\n\r\n"
        f"Body of message {number}.\r\n"
    )
    unique = f"{int(time.time())}.M{number}P{os.getpid()}.mailprov"
    path = maildir / "cur" / f"{unique}:2,S" if seen else maildir / "new" / unique
    path.write_bytes(body.encode())
    return path


@retried_when_a_port_is_taken
def start_dovecot(
    certs: TestCertificates, seen: int = INBOX_SEEN, unseen: int = INBOX_UNSEEN, oauth_url: str | None = None,
    max_userip_connections: int = 500,
) -> DovecotServer:
    """Dovecot with USERS over IMAP (and POP3 when dovecot-pop3d is installed); USER's
    INBOX holds `seen` read and `unseen` unread messages. With `oauth_url` (an
    OAuthIntrospection's) it also offers XOAUTH2 and OAUTHBEARER. At most
    `max_userip_connections` IMAP sessions of one user from one address at once."""
    if not DOVECOT.exists():
        raise ServerUnavailable(DOVECOT_MISSING)
    if os.geteuid() != 0:
        # Mail processes run as `nobody`, which only root can arrange (see the notes).
        raise ServerUnavailable("the Dovecot tests need root (its mail processes run as nobody)")
    directory = world_readable_tempdir("mailprov-dovecot-")
    imap_port, imaps_port, pop3_port, pop3s_port = free_ports(4)
    if not DOVECOT_POP3.exists():
        pop3_port = pop3s_port = None
    users_file = "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in USERS.items())
    (directory / "users").write_text(users_file, encoding="utf-8")
    (directory / "users").chmod(0o644)
    inbox = directory / "mail" / USER
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True)
    for number in range(seen + unseen):
        write_maildir_message(inbox, number, seen=number < seen)
    subprocess.run(["chown", "-R", "nobody:nogroup", str(directory / "mail")], check=True)
    if oauth_url:
        (directory / "oauth2.conf").write_text(DOVECOT_OAUTH_ARGS.format(url=oauth_url, ca=certs.ca_file))
        (directory / "oauth2.conf").chmod(0o644)
    conf = directory / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(
            dir=directory,
            instance=f"mailprov-test-{uuid.uuid4().hex[:8]}",
            host=HOST,
            cert=certs.cert_file,
            key=certs.key_file,
            imap_port=imap_port,
            imaps_port=imaps_port,
            protocols="imap pop3" if pop3_port else "imap",
            pop3=DOVECOT_POP3_CONF.format(pop3_port=pop3_port, pop3s_port=pop3s_port, max_userip=max_userip_connections)
            if pop3_port else "",
            mechanisms="plain login xoauth2 oauthbearer" if oauth_url else "plain login",
            oauth=DOVECOT_OAUTH_CONF.format(dir=directory) if oauth_url else "",
            max_userip=max_userip_connections,
        )
    )
    process = subprocess.Popen(
        [str(DOVECOT), "-F", "-c", str(conf)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = DovecotServer(directory, process, imap_port, imaps_port, pop3_port, pop3s_port)
    try:
        _wait_for_greeting(imap_port, process)
    except Exception:
        log, stderr = server.log_text, _stderr_of(process)
        server.stop()
        if "Address already in use" in stderr + log:
            raise PortTaken from None
        raise ServerUnavailable(f"Dovecot did not start: {stderr}\n{log}") from None
    return server


def _stderr_of(process: subprocess.Popen) -> str:
    if process.poll() is None:
        return "(still running)"
    return process.stderr.read().decode(errors="replace") if process.stderr else ""


def _wait_for_greeting(port: int, process: subprocess.Popen, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("no IMAP greeting")


class OAuthIntrospection:
    """A token introspection endpoint (RFC 7662) on 127.0.0.1 for Dovecot's oauth2 passdb:
    GOOD_TOKEN is active for USER, every other token is not."""

    def __init__(self, tokens: dict[str, str] | None = None):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs

        known = dict(tokens or {GOOD_TOKEN: USER})
        self.asked: list[str] = []  # the usernames Dovecot asked about, never the tokens

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # noqa: N805 - the handler, not the server
                length = int(handler.headers.get("Content-Length", 0))
                token = parse_qs(handler.rfile.read(length).decode()).get("token", [""])[0]
                user = known.get(token)
                self.asked.append(user or "")
                answer = {"active": True, "username": user} if user else {"active": False}
                body = json.dumps(answer).encode()
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args) -> None:  # noqa: N805 - quiet in test output
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self._server.server_address[1]}/introspect"
        threading.Thread(target=self._server.serve_forever, name="oauth introspection", daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- SMTP: aiosmtpd ----------------------------------------------------------------------


@dataclass
class SmtpEvent:
    listener: str  # "starttls", "ssl", "plain" or "no-starttls"
    command: str  # "EHLO", "AUTH", "MAIL", ...
    argument: str  # for AUTH only the mechanism: credentials are not kept


class SmtpRecorder:
    """The handler all SMTP listeners share: it checks logins and records every command
    and every delivered message, so tests can assert what a server received."""

    def __init__(self, users: dict[str, str], token: str = GOOD_TOKEN, token_user=None):
        self.users = users
        self.token = token
        # With `token_user(access_token) -> user | None` (an OAuthServer's), XOAUTH2 tokens
        # are checked against the identity provider instead of the fixed token.
        self.token_user = token_user
        self.events: list[SmtpEvent] = []
        self.messages: list[dict] = []
        self._lock = threading.Lock()

    def record(self, listener: str, command: str, argument: str) -> None:
        with self._lock:
            self.events.append(SmtpEvent(listener, command, argument))

    def mark(self) -> int:
        """A bookmark for commands(since=...): tests share the servers for the session."""
        with self._lock:
            return len(self.events)

    def commands(self, listener: str, since: int = 0) -> list[str]:
        with self._lock:
            return [e.command for e in self.events[since:] if e.listener == listener]

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        good = self.users.get(login) == password
        return AuthResult(success=good, handled=False, auth_data=auth_data if good else None)

    async def auth_XOAUTH2(self, server, args):
        """XOAUTH2 (initial response only): `user=U^Aauth=Bearer T^A^A` with the good token."""
        from aiosmtpd.smtp import AuthResult

        if len(args) != 2:
            return AuthResult(success=False, handled=False)
        fields = dict(
            part.split("=", 1)
            for part in base64.b64decode(args[1]).decode("utf-8", "replace").split("\x01")
            if "=" in part
        )
        user, auth = fields.get("user", ""), fields.get("auth", "")
        if self.token_user is not None:
            owner = self.token_user(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
            good = owner is not None and owner.casefold() == user.casefold()
        else:
            good = user in self.users and auth == f"Bearer {self.token}"
        return AuthResult(success=good, handled=False, auth_data=fields.get("user"))

    async def handle_DATA(self, server, session, envelope):
        # Postfix's wording, with a queue id of our own: what a sender reports back.
        queue_id = f"Q{uuid.uuid4().hex[:10].upper()}"
        with self._lock:
            self.messages.append(
                {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.content,
                 "queue_id": queue_id, "listener": server.listener, "logged_in": bool(session.authenticated)}
            )
        return f"250 2.0.0 Ok: queued as {queue_id}"


def _recording_server_class():
    from aiosmtpd.smtp import SMTP

    class RecordingServer(SMTP):
        """aiosmtpd's SMTP, telling the handler about each command before handling it."""

        def __init__(self, handler, *, listener: str, auth_require_tls: bool = True, **kwargs):
            self.listener = listener
            super().__init__(handler, **kwargs)
            # Set after the constructor, which warns on every connection about a login
            # without TLS; the plain test listeners allow that on purpose.
            self._auth_require_tls = auth_require_tls

    def recorded(command: str):
        async def method(self, arg):
            shown = (arg or "").split(" ")[0] if command == "AUTH" else (arg or "")
            self.event_handler.record(self.listener, command, shown)
            await getattr(SMTP, f"smtp_{command}")(self, arg)

        method.__name__ = f"smtp_{command}"
        return method

    for command in ("HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "RSET", "DATA", "NOOP", "QUIT"):
        setattr(RecordingServer, f"smtp_{command}", recorded(command))
    return RecordingServer


def smtp_controller(recorder: SmtpRecorder, listener: str, port: int, auth_required: bool = True, **smtp_options):
    """A started-on-demand aiosmtpd Controller on 127.0.0.1:`port` requiring a login (unless
    `auth_required` is False: a trusted relay), whose server tells `recorder` about every
    command as `listener`; call .start() and .stop()."""
    from aiosmtpd.controller import Controller

    server_class = _recording_server_class()

    class RecordingController(Controller):
        def factory(self):
            return server_class(self.handler, listener=listener, **self.SMTP_kwargs)

    return RecordingController(
        recorder,
        hostname=HOST,
        port=port,
        auth_required=auth_required,
        authenticator=recorder.authenticate,
        **smtp_options,
    )


@dataclass
class SmtpServers:
    recorder: SmtpRecorder
    controllers: dict[str, object] = field(default_factory=dict)

    def port(self, listener: str) -> int:
        return self.controllers[listener].port

    def stop(self) -> None:
        for controller in self.controllers.values():
            controller.stop()


def start_smtp_servers(certs: TestCertificates, users: dict[str, str] | None = None, token_user=None) -> SmtpServers:
    """Five listeners sharing one recorder, all but the last requiring a login:
    "starttls" (587-style, STARTTLS required), "ssl" (465-style), "plain" (no TLS at all),
    "no-starttls" (plain, would even accept a plaintext login: for proving we never send one),
    and "relay" (plain, takes mail without any login, like a local Postfix for its network)."""
    servers = SmtpServers(SmtpRecorder(dict(users or USERS), token_user=token_user))
    # aiosmtpd 1.4.6 offers no AUTH on an implicit-TLS listener unless auth_require_tls=False.
    options = {
        "starttls": {"tls_context": certs.server_context, "require_starttls": True},
        "ssl": {"ssl_context": certs.server_context, "auth_require_tls": False},
        "plain": {"auth_require_tls": False},
        "no-starttls": {"auth_require_tls": False},
        "relay": {"auth_require_tls": False, "auth_required": False},
    }
    try:
        for listener, smtp_options in options.items():
            servers.controllers[listener] = _started_smtp_controller(servers.recorder, listener, smtp_options)
    except Exception:
        servers.stop()
        raise
    return servers


def _started_smtp_controller(recorder: SmtpRecorder, listener: str, smtp_options: dict):
    for attempt in range(PORT_ATTEMPTS):
        controller = smtp_controller(recorder, listener, free_port(), **smtp_options)
        try:
            controller.start()
            return controller
        except OSError as exc:  # the port was taken meanwhile (EADDRINUSE)
            if exc.errno != errno.EADDRINUSE or attempt == PORT_ATTEMPTS - 1:
                raise


# --- listeners that do not speak ---------------------------------------------------------


class SilentListener:
    """Accepts TCP connections and never writes a byte (a hung server)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent listener", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return  # closed by stop()
            self.connections.append(connection)

    def stop(self) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()


_closed_port: socket.socket | None = None


def closed_port_number() -> int:
    """A port on 127.0.0.1 with nothing listening: connecting is refused. The port stays
    bound (never listened on) by this process, so no other test process can take it."""
    global _closed_port
    if _closed_port is None:
        _closed_port = socket.socket()
        _closed_port.bind((HOST, 0))
    return _closed_port.getsockname()[1]


# --- everything together -----------------------------------------------------------------


@dataclass
class MailServers:
    """Real SMTP, IMAP and POP3 servers on 127.0.0.1 and how to reach them."""

    certs: TestCertificates
    smtp: SmtpServers
    dovecot: DovecotServer
    host: str = HOST
    user: str = USER
    password: str = PASSWORD
    oauth_token: str = GOOD_TOKEN

    @property
    def ca_file(self) -> Path:
        return self.certs.ca_file

    @property
    def smtp_starttls_port(self) -> int:
        return self.smtp.port("starttls")

    @property
    def smtp_ssl_port(self) -> int:
        return self.smtp.port("ssl")

    @property
    def smtp_plain_port(self) -> int:
        return self.smtp.port("plain")

    @property
    def smtp_no_starttls_port(self) -> int:
        return self.smtp.port("no-starttls")

    @property
    def smtp_relay_port(self) -> int:
        return self.smtp.port("relay")

    @property
    def imap_ssl_port(self) -> int:
        return self.dovecot.imaps_port

    @property
    def imap_starttls_port(self) -> int:
        return self.dovecot.imap_port

    @property
    def pop3_ssl_port(self) -> int:
        return self._pop3_port(self.dovecot.pop3s_port)

    @property
    def pop3_starttls_port(self) -> int:
        return self._pop3_port(self.dovecot.pop3_port)

    @staticmethod
    def _pop3_port(port: int | None) -> int:
        if port is None:
            pytest.skip(POP3_MISSING)
        return port

    @property
    def recorder(self) -> SmtpRecorder:
        return self.smtp.recorder

    def pop3_server(self, security: str = "ssl") -> ServerSettings:
        port = self.pop3_ssl_port if security == "ssl" else self.pop3_starttls_port
        return ServerSettings(self.host, port, Security(security))

    def pop3_settings(self, security: str = "ssl", **overrides) -> ProviderSettings:
        """Settings that check green with POP3 inbound (built directly, not from a draft):
        the draft's SMTP and the given security on Dovecot's POP3 port for it."""
        inbound = InboundSettings(Protocol.POP3, self.pop3_server(security))
        return replace(self.settings(**overrides), inbound=inbound)

    def draft(self, **overrides) -> ProviderDraft:
        """A valid SMTP-IMAP draft that checks green: STARTTLS SMTP, SSL IMAP."""
        draft = ProviderDraft(
            name="Test mailbox",
            type="smtp-imap",
            account=self.user,
            password=self.password,
            smtp_host=self.host,
            smtp_port=str(self.smtp_starttls_port),
            smtp_security="starttls",
            inbound_host=self.host,
            inbound_port=str(self.imap_ssl_port),
            inbound_security="ssl",
            receive_emails=True,
        )
        return draft.updated(**overrides)

    def settings(self, **overrides) -> ProviderSettings:
        from tui.core.rules import to_settings

        return to_settings(self.draft(**overrides))


def start_mail_servers(directory: Path | None = None) -> MailServers:
    """Everything at once (for the benchmarks); call .stop() when done."""
    certs = TestCertificates.create(directory or world_readable_tempdir("mailprov-tls-"))
    dovecot = start_dovecot(certs)
    try:
        smtp = start_smtp_servers(certs)
    except Exception:
        dovecot.stop()
        raise
    return MailServers(certs=certs, smtp=smtp, dovecot=dovecot)


def stop_mail_servers(servers: MailServers) -> None:
    servers.smtp.stop()
    servers.dovecot.stop()
    shutil.rmtree(servers.certs.directory, ignore_errors=True)


# --- pytest fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def test_certificates():
    directory = world_readable_tempdir("mailprov-tls-")
    yield TestCertificates.create(directory)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot(test_certificates):
    try:
        server = start_dovecot(test_certificates)
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp_servers(test_certificates):
    servers = start_smtp_servers(test_certificates)
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def mail_servers(test_certificates, smtp_servers, dovecot) -> MailServers:
    return MailServers(certs=test_certificates, smtp=smtp_servers, dovecot=dovecot)


@pytest.fixture(scope="session")
def silent_port():
    listener = SilentListener()
    yield listener.port
    listener.stop()


@pytest.fixture
def closed_port() -> int:
    return closed_port_number()


# --- OAuth: the identity provider and the mail servers that trust it ----------------------


@dataclass
class OAuthMailServers:
    """The test identity provider (tests/oauth_server.py), a Dovecot whose oauth2 passdb
    asks its introspection endpoint, and aiosmtpd listeners checking XOAUTH2 tokens with it."""

    certs: TestCertificates
    idp: object  # tests.oauth_server.OAuthServer
    dovecot: DovecotServer
    smtp: SmtpServers

    @property
    def ca_file(self) -> Path:
        return self.certs.ca_file


def start_oauth_mail_servers(certs: TestCertificates) -> OAuthMailServers:
    from tests.oauth_server import OAuthServer

    idp = OAuthServer().start(certs.server_context)
    try:
        dovecot = start_dovecot(certs, oauth_url=idp.introspection_url)
    except Exception:
        idp.stop()
        raise
    try:
        smtp = start_smtp_servers(certs, token_user=idp.token_user)
    except Exception:
        dovecot.stop()
        idp.stop()
        raise
    return OAuthMailServers(certs, idp, dovecot, smtp)


@pytest.fixture(scope="session")
def oauth_mail_servers(test_certificates):
    try:
        servers = start_oauth_mail_servers(test_certificates)
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    yield servers
    servers.smtp.stop()
    servers.dovecot.stop()
    servers.idp.stop()


@pytest.fixture
def idp(oauth_mail_servers):
    """The test identity provider, its "browser" signing in as USER; what a test changes
    on it (token lifetime, mailbox permissions, who signs in) is put back afterwards."""
    server = oauth_mail_servers.idp
    server.browser_user, server.browser_denies = USER, False
    yield server
    server.browser_user, server.browser_denies = USER, False
    server.access_token_lifetime = 3600
    server.mailbox_of.clear()
