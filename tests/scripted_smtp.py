"""A tiny SMTP server on 127.0.0.1 that says what a test tells it to: a greeting with
terminal escapes, an AUTH reply with Textual markup. Real sockets, real smtplib on the
other side; only the server's words are chosen by the test.

    with ScriptedSmtp(greeting="220 \\x1b]0;TITLE\\x07 ready", auth_reply="535 [/x] bad") as server:
        ... check a provider at 127.0.0.1:server.port, security none ...
"""

from __future__ import annotations

import socketserver
import threading

HOST = "127.0.0.1"
# Everything a test may want a server to say: an OSC title change, a colour, C1 CSI, markup.
HOSTILE_TEXT = "\x1b]0;TITLE\x07\x1b[31m red \x9b2J [b]bold[/b] [/x] [@click=app.quit]click"
MARKUP_AUTH_REPLY = "535 5.7.8 [/x] bad [b]"


class _Handler(socketserver.StreamRequestHandler):
    timeout = 10  # a test that forgets the server never hangs on it

    def handle(self) -> None:
        server: ScriptedSmtp = self.server.script  # type: ignore[attr-defined]
        self._send(server.greeting)
        while line := self.rfile.readline(4096):
            verb = line.decode("utf-8", "replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._send("250-scripted.test\r\n250 AUTH PLAIN LOGIN")
            elif verb == "AUTH":
                self._send(server.auth_reply)
            elif verb == "QUIT":
                self._send("221 bye")
                return
            elif verb in ("RSET", "NOOP", "MAIL", "RCPT"):
                self._send("250 ok")
            else:
                self._send("502 not here")

    def _send(self, reply: str) -> None:
        self.wfile.write(reply.encode("utf-8") + b"\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ScriptedSmtp:
    """Greets with `greeting`, offers AUTH PLAIN/LOGIN over plain TCP and answers every
    AUTH with `auth_reply`."""

    def __init__(self, greeting: str = f"220 scripted {HOSTILE_TEXT}", auth_reply: str = MARKUP_AUTH_REPLY):
        self.greeting = greeting
        self.auth_reply = auth_reply
        self._server = _Server((HOST, 0), _Handler)
        self._server.script = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted smtp", daemon=True)

    def __enter__(self) -> ScriptedSmtp:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
