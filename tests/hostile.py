"""A hostile (or broken) mail server on 127.0.0.1, for proving that a check cannot be hung,
bloated or fooled.

One asyncio listener per server, in a thread, on a port picked by binding port 0. It speaks
one `mode` to every connection, and every conversation ends by itself after `lifetime`
seconds (floods and trickles included), so nothing outlives a test even if a check
misbehaves.

    with HostileServer("smtp-trickle-lines") as server:
        report = check_provider(settings_with(smtp_port=server.port), credential, timeout=1)
    server.received  # the lines the client sent, e.g. to prove no LOGIN went out

SMTP modes: smtp-trickle-bytes, smtp-trickle-lines, smtp-endless-reply, smtp-long-line,
smtp-fat-ehlo, smtp-markup, smtp-escapes, smtp-no-starttls, smtp-starttls-454, smtp-echo-password.
IMAP modes: imap-trickle-bytes, imap-trickle-lines, imap-endless-untagged,
imap-huge-literal, imap-escapes, imap-starttls-no, imap-starttls-bad, imap-preauth,
imap-echo-password, imap-login-only.
POP3 modes: pop3-trickle-bytes, pop3-trickle-lines, pop3-endless-capa, pop3-long-line,
pop3-escapes, pop3-no-stls, pop3-stls-err, pop3-no-capa, pop3-echo-password (USER and PASS),
pop3-echo-plain (AUTH PLAIN).
"""

from __future__ import annotations

import asyncio
import base64
import threading

HOST = "127.0.0.1"
# A third of the 0.5 s per-read timeout the trickle tests use (TRICKLE_TIMEOUT in
# tests/test_checks_hostile.py): only the overall deadline stops a trickle.
TRICKLE_INTERVAL = 0.15
LIFETIME = 10.0
# What the "escapes" modes put in their greeting: retitle the terminal, turn it red, and a
# C1 CSI (U+009B) that some terminals take as ESC [.
TERMINAL_ATTACK = "\x1b]0;TITLE\x07\x1b[31m hostile \u009b2J"
MARKUP_ATTACK = "[/x] [@click=app.quit]Click me[/] [b]bold"


# Before the echoed password: long enough that a message cut to 200 characters (as failure
# messages quote a reply) would cut the spaced-out password in the middle.
CHATTER = {"smtp": "Authentication failed, and here is why:" + " really" * 13,
           "imap": "Authentication failed, and here is why:" + " really" * 10,
           "pop3": "Authentication failed, and here is why:" + " really" * 12}


def echoes(password: str) -> list[str]:
    """The forms a careless server echoes a password back in: raw, base64, spaced out,
    dashed, and base64 of the AUTH PLAIN string (with the user as authorization id)."""
    raw = password.encode()
    return [
        password,
        base64.b64encode(raw).decode(),
        " ".join(password),
        "-".join(password),
        base64.b64encode(b"someone\0someone\0" + raw).decode(),
    ]


class HostileServer:
    def __init__(self, mode: str, lifetime: float = LIFETIME):
        self.mode = mode
        self.lifetime = lifetime
        self.received: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"hostile {mode}", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._script = getattr(self, "_" + mode.replace("-", "_"))

    # --- life cycle --------------------------------------------------------------------

    def __enter__(self) -> HostileServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError(f"hostile server {self.mode} did not start")
        return self

    def __exit__(self, *exc_info) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, HOST, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            conversations = asyncio.all_tasks(self._loop)
            for task in conversations:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*conversations, return_exceptions=True))
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(self._script(reader, writer), self.lifetime)
        except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # its time is up, the client left, or the server is stopping: end quietly
        finally:
            writer.close()

    async def _readline(self, reader: asyncio.StreamReader) -> str:
        line = (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n")
        if line:
            self.received.append(line)
        return line

    @staticmethod
    async def _say(writer: asyncio.StreamWriter, text: str) -> None:
        writer.write(text.encode("utf-8"))
        await writer.drain()

    @staticmethod
    async def _flood(writer: asyncio.StreamWriter, line: str) -> None:
        """The same line, forever, as fast as the client takes it."""
        chunk = line.encode() * 1000
        while True:
            writer.write(chunk)
            await writer.drain()

    @staticmethod
    async def _trickle(writer: asyncio.StreamWriter, pieces) -> None:
        for piece in pieces:
            writer.write(piece.encode())
            await writer.drain()
            await asyncio.sleep(TRICKLE_INTERVAL)

    @staticmethod
    def _forever(template: str):
        number = 0
        while True:
            number += 1
            yield template.format(number)

    # --- SMTP ----------------------------------------------------------------------------

    async def _smtp_trickle_bytes(self, reader, writer) -> None:
        await self._say(writer, "220 ")
        await self._trickle(writer, self._forever("x"))

    async def _smtp_trickle_lines(self, reader, writer) -> None:
        await self._trickle(writer, self._forever("220-still starting {}\r\n"))

    async def _smtp_endless_reply(self, reader, writer) -> None:
        await self._say(writer, "220 hostile.test ESMTP\r\n")
        await self._readline(reader)  # EHLO
        await self._flood(writer, "250-FLOOD flood flood flood flood flood\r\n")

    async def _smtp_long_line(self, reader, writer) -> None:
        await self._say(writer, "220 ")
        await self._flood(writer, "x" * 100)

    async def _smtp_fat_ehlo(self, reader, writer) -> None:
        # Within every bound (400 lines of 4,000 bytes), but far more than a report should keep.
        await self._smtp_dialog(reader, writer, ehlo=[f"X-FAT-{n} " + "f" * 4000 for n in range(400)] + ["AUTH PLAIN"])

    async def _smtp_markup(self, reader, writer) -> None:
        await self._smtp_dialog(
            reader, writer, greeting=f"220 {MARKUP_ATTACK} ESMTP", ehlo=[MARKUP_ATTACK, "AUTH PLAIN LOGIN"],
            auth_reply=lambda line: f"535 5.7.8 {MARKUP_ATTACK}",
        )

    async def _smtp_escapes(self, reader, writer) -> None:
        await self._smtp_dialog(
            reader, writer, greeting=f"220 {TERMINAL_ATTACK} ESMTP", ehlo=[TERMINAL_ATTACK, "AUTH PLAIN LOGIN"],
            auth_reply=lambda line: f"535 5.7.8 {TERMINAL_ATTACK}",
        )

    async def _smtp_no_starttls(self, reader, writer) -> None:
        # Would even take a plaintext login: the check must not send one.
        await self._smtp_dialog(reader, writer, ehlo=["AUTH PLAIN LOGIN"])

    async def _smtp_starttls_454(self, reader, writer) -> None:
        await self._smtp_dialog(
            reader, writer, ehlo=["STARTTLS", "AUTH PLAIN LOGIN"],
            replies={"STARTTLS": "454 4.7.0 TLS not available due to temporary reason"},
        )

    async def _smtp_echo_password(self, reader, writer) -> None:
        def echo_the_password(line: str) -> str:
            plain = base64.b64decode(line.split()[-1]).split(b"\0")
            return f"535 5.7.8 {CHATTER['smtp']} {', '.join(echoes(plain[-1].decode()))}"

        await self._smtp_dialog(reader, writer, ehlo=["AUTH PLAIN"], auth_reply=echo_the_password)

    async def _smtp_dialog(
        self, reader, writer, *, greeting="220 hostile.test ESMTP", ehlo=(), replies=None, auth_reply=None
    ) -> None:
        """A plain SMTP server: EHLO answered with `ehlo` lines, AUTH with `auth_reply(line)`
        (default: refused), other verbs from `replies` (default: 250)."""
        await self._say(writer, greeting + "\r\n")
        replies = replies or {}
        while line := await self._readline(reader):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                lines = ["hostile.test", *ehlo]
                text = "".join(f"250-{item}\r\n" for item in lines[:-1]) + f"250 {lines[-1]}"
            elif verb == "AUTH":
                text = auth_reply(line) if auth_reply else "535 5.7.8 Authentication failed"
            elif verb == "QUIT":
                await self._say(writer, "221 bye\r\n")
                return
            else:
                text = replies.get(verb, "250 OK")
            await self._say(writer, text + "\r\n")

    # --- IMAP ----------------------------------------------------------------------------

    async def _imap_trickle_bytes(self, reader, writer) -> None:
        await self._trickle(writer, "* OK hostile IMAP ready, very slowly" + "." * 1000)

    async def _imap_trickle_lines(self, reader, writer) -> None:
        async def trickle_untagged(tag: str) -> None:
            await self._trickle(writer, self._forever("* OK still thinking {}\r\n"))

        await self._imap_dialog(reader, writer, on={"CAPABILITY": trickle_untagged})

    async def _imap_endless_untagged(self, reader, writer) -> None:
        async def flood(tag: str) -> None:
            await self._flood(writer, "* OK flood flood flood flood flood\r\n")

        await self._imap_dialog(reader, writer, on={"CAPABILITY": flood})

    async def _imap_huge_literal(self, reader, writer) -> None:
        async def announce_two_gigabytes(tag: str) -> None:
            await self._say(writer, "* CAPABILITY {2000000000}\r\n")
            await asyncio.sleep(self.lifetime)  # and never send them

        await self._imap_dialog(reader, writer, on={"CAPABILITY": announce_two_gigabytes})

    async def _imap_escapes(self, reader, writer) -> None:
        await self._imap_dialog(reader, writer, greeting=f"* OK {TERMINAL_ATTACK} {MARKUP_ATTACK} ready")

    async def _imap_starttls_no(self, reader, writer) -> None:
        async def refuse(tag: str) -> None:
            await self._say(writer, f"{tag} NO STARTTLS is switched off here\r\n")

        await self._imap_dialog(reader, writer, capabilities="IMAP4rev1 STARTTLS AUTH=PLAIN", on={"STARTTLS": refuse})

    async def _imap_starttls_bad(self, reader, writer) -> None:
        async def refuse(tag: str) -> None:
            await self._say(writer, f"{tag} BAD unknown command\r\n")

        await self._imap_dialog(reader, writer, capabilities="IMAP4rev1 STARTTLS AUTH=PLAIN", on={"STARTTLS": refuse})

    async def _imap_preauth(self, reader, writer) -> None:
        # A man in the middle's trick: "already logged in", so STARTTLS may not be asked for.
        await self._imap_dialog(
            reader, writer, greeting="* PREAUTH IMAP4rev1 logged in as you", capabilities="IMAP4rev1 STARTTLS"
        )

    async def _imap_echo_password(self, reader, writer) -> None:
        async def echo_the_password(tag: str, password: str) -> None:
            await self._say(writer, f"{tag} NO [AUTHENTICATIONFAILED] {CHATTER['imap']} {', '.join(echoes(password))}\r\n")

        await self._imap_dialog(reader, writer, capabilities="IMAP4rev1", on_login=echo_the_password)

    async def _imap_login_only(self, reader, writer) -> None:
        await self._imap_dialog(reader, writer, capabilities="IMAP4rev1")

    async def _imap_dialog(
        self, reader, writer, *, greeting="* OK hostile IMAP ready", capabilities="IMAP4rev1 AUTH=PLAIN",
        on=None, on_login=None,
    ) -> None:
        """A plain IMAP server: CAPABILITY and LOGOUT answered, LOGIN refused (or passed to
        `on_login(tag, password)`), other commands from `on` (default: BAD)."""
        await self._say(writer, greeting + "\r\n")
        on = on or {}
        while line := await self._readline(reader):
            tag, _, rest = line.partition(" ")
            command, _, arguments = rest.partition(" ")
            command = command.upper()
            if command in on:
                await on[command](tag)
            elif command == "CAPABILITY":
                await self._say(writer, f"* CAPABILITY {capabilities}\r\n{tag} OK done\r\n")
            elif command == "LOGOUT":
                await self._say(writer, f"* BYE\r\n{tag} OK bye\r\n")
                return
            elif command == "LOGIN" and on_login:
                password = arguments.split(" ", 1)[-1].strip('"').replace('\\"', '"').replace("\\\\", "\\")
                await on_login(tag, password)
            elif command == "LOGIN":
                await self._say(writer, f"{tag} NO [AUTHENTICATIONFAILED] wrong password\r\n")
            else:
                await self._say(writer, f"{tag} BAD not here\r\n")

    # --- POP3 ----------------------------------------------------------------------------

    async def _pop3_trickle_bytes(self, reader, writer) -> None:
        await self._trickle(writer, "+OK hostile POP3 ready, very slowly" + "." * 1000)

    async def _pop3_trickle_lines(self, reader, writer) -> None:
        async def trickle_capabilities(arguments: str) -> None:
            await self._say(writer, "+OK capabilities follow, slowly\r\n")
            await self._trickle(writer, self._forever("X-STILL-THINKING-{}\r\n"))

        await self._pop3_dialog(reader, writer, on={"CAPA": trickle_capabilities})

    async def _pop3_endless_capa(self, reader, writer) -> None:
        async def flood(arguments: str) -> None:
            await self._say(writer, "+OK capabilities follow\r\n")
            await self._flood(writer, "X-FLOOD flood flood flood flood flood\r\n")

        await self._pop3_dialog(reader, writer, on={"CAPA": flood})

    async def _pop3_long_line(self, reader, writer) -> None:
        await self._say(writer, "+OK ")
        await self._flood(writer, "x" * 100)

    async def _pop3_escapes(self, reader, writer) -> None:
        await self._pop3_dialog(reader, writer, greeting=f"+OK {TERMINAL_ATTACK} {MARKUP_ATTACK} ready")

    async def _pop3_no_stls(self, reader, writer) -> None:
        # Would even take a plaintext login: the check must not send one.
        await self._pop3_dialog(reader, writer, capabilities=("USER", "SASL PLAIN"),
                                on_pass=lambda password: "+OK logged in, in the clear")

    async def _pop3_stls_err(self, reader, writer) -> None:
        async def refuse(arguments: str) -> None:
            await self._say(writer, "-ERR STLS is switched off here\r\n")

        await self._pop3_dialog(reader, writer, capabilities=("STLS", "USER"), on={"STLS": refuse})

    async def _pop3_no_capa(self, reader, writer) -> None:
        await self._pop3_dialog(reader, writer, capabilities=None)

    async def _pop3_echo_password(self, reader, writer) -> None:
        def echo_the_password(password: str) -> str:
            return f"-ERR [AUTH] {CHATTER['pop3']} {', '.join(echoes(password))}"

        await self._pop3_dialog(reader, writer, capabilities=("USER",), on_pass=echo_the_password)

    async def _pop3_echo_plain(self, reader, writer) -> None:
        def echo_the_password(arguments: str) -> str:
            password = base64.b64decode(arguments.split()[-1]).split(b"\0")[-1].decode()
            return f"-ERR [AUTH] {CHATTER['pop3']} {', '.join(echoes(password))}"

        await self._pop3_dialog(reader, writer, capabilities=("USER", "SASL PLAIN"), on_auth=echo_the_password)

    async def _pop3_dialog(
        self, reader, writer, *, greeting="+OK hostile POP3 ready", capabilities=("USER", "SASL PLAIN"),
        on=None, on_pass=None, on_auth=None,
    ) -> None:
        """A plain POP3 server: CAPA answered with `capabilities` (None: -ERR), USER taken,
        PASS and AUTH refused (or answered by `on_pass(password)` / `on_auth(arguments)`),
        other commands from `on` (default: -ERR)."""
        await self._say(writer, greeting + "\r\n")
        on = on or {}
        while line := await self._readline(reader):
            command, _, arguments = line.partition(" ")
            command = command.upper()
            if command in on:
                await on[command](arguments)
            elif command == "CAPA" and capabilities is None:
                await self._say(writer, "-ERR unknown command\r\n")
            elif command == "CAPA":
                await self._say(writer, "+OK\r\n" + "".join(f"{c}\r\n" for c in capabilities) + ".\r\n")
            elif command == "USER":
                await self._say(writer, "+OK\r\n")
            elif command == "PASS":
                await self._say(writer, (on_pass(arguments) if on_pass else "-ERR [AUTH] wrong password") + "\r\n")
            elif command == "AUTH":
                await self._say(writer, (on_auth(arguments) if on_auth else "-ERR [AUTH] wrong password") + "\r\n")
            elif command == "QUIT":
                await self._say(writer, "+OK bye\r\n")
                return
            else:
                await self._say(writer, "-ERR not here\r\n")
