"""Sign a saved Outlook or Gmail provider in, over SSH, with no browser on the server.

- Outlook: Microsoft's device code flow: the verification URL, the user code large, a QR
  code of the URL (a phone can scan it), a countdown to the code's expiry; polling runs in a
  worker until someone signs in.
  `p` switches to the fallback for tenants that block the device flow: the authorization
  code flow with PKCE, whose final address (a blank page) is pasted.
- Gmail: the loopback flow: mailprov listens on 127.0.0.1:PORT; the screen shows the consent
  URL, the `ssh -L` line to run on the laptop, and an input for the address the browser ended
  on (the path without a tunnel). The QR code of the long consent URL is below the input
  (scroll down), so the essential lines fit a 80x24 terminal.
- A switch marks the provider as a shared mailbox (another account may sign in); it is
  saved when flipped and again before the sign-in completes, so the account check uses it.

Escape cancels: the polling stops, the listener closes. Signed in, the screen is dismissed
with the provider's name and the list runs its check (XOAUTH2). Everything shown that came
from a server or a user is data (`markup=False`, `visible()`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static, Switch

from tui.core.oauth import DEFAULT_PORT
from tui.core.text import NO_CONTROL_CHARS, visible
from tui.ui.format import notify_text

PASTE_PLACEHOLDER = "…or paste the address the browser ended on here, then enter"
MICROSOFT_PASTE_PLACEHOLDER = "Paste the address of the blank page here, then enter"
SHARED_MAILBOX_LABEL = "Shared mailbox: the person signing in may differ from the mailbox"


@dataclass
class SignInStarted(Message):
    flow: Any  # a DeviceCodeSignIn, MicrosoftPasteSignIn or GoogleSignIn, started
    shared_mailbox: bool | None = None  # the provider's setting, read as the sign-in started


@dataclass
class SignInProblem(Message):
    text: str  # what failed and what to do


@dataclass
class SignedIn(Message):
    account: str


class SignInScreen(Screen[str | None]):
    """Dismissed with the provider's name once signed in; None when cancelled."""

    DEFAULT_CSS = """
    SignInScreen #sign-in-body { padding: 1 2; }
    SignInScreen #sign-in-columns { height: auto; }
    SignInScreen #sign-in-text { width: 1fr; height: auto; }
    SignInScreen #user-code {
        width: auto; height: auto; border: round $accent; padding: 0 2; margin: 1 0;
        text-style: bold; color: $text;
    }
    SignInScreen #sign-in-qr { width: auto; height: auto; margin-left: 2; }
    SignInScreen #sign-in-url { margin-bottom: 1; }
    SignInScreen #countdown { color: $text-muted; }
    SignInScreen #sign-in-problem { color: $error; margin-top: 1; }
    SignInScreen #paste { margin-top: 1; }
    SignInScreen #shared-mailbox-row { height: auto; margin-top: 1; }
    SignInScreen #shared-mailbox-label { width: 1fr; padding: 1 1 0 1; }
    SignInScreen #consent-qr-caption { margin-top: 1; color: $text-muted; }
    SignInScreen #consent-qr { width: auto; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Stop the sign-in (closes the listener)", id="cancel"),
        Binding("p", "paste_instead", "Paste instead",
                tooltip="For tenants that block the device code: sign in in a browser, paste the final address",
                id="paste-instead"),
    ]

    def __init__(self, provider: str, port: int = DEFAULT_PORT, start=None) -> None:
        super().__init__()
        self.provider = provider
        self.port = port
        # How to start the flow (tests of the layout give a fixed one): service -> flow.
        self.start_flow = start or (lambda service: service.oauth.start(provider, port=port))
        self.flow: Any = None
        self.finishing = False  # a code is being exchanged: the paste input is done
        self.shared_mailbox: bool | None = None  # the switch, once the provider's value is known
        self.countdown = None  # the device code's timer

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="sign-in-body"):
            with Horizontal(id="sign-in-columns"):
                with Vertical(id="sign-in-text"):
                    yield Static(f"Starting the sign-in of {visible(self.provider)}…", id="sign-in-intro",
                                 markup=False)
                    yield Static("", id="sign-in-url", markup=False)
                    yield Static("", id="user-code", markup=False)
                    yield Static("", id="sign-in-ssh", markup=False)
                    yield Static("", id="countdown", markup=False)
                    with Horizontal(id="shared-mailbox-row"):  # beside the QR code: 80x24 still fits
                        yield Switch(value=False, id="shared-mailbox")
                        yield Static(SHARED_MAILBOX_LABEL, id="shared-mailbox-label", markup=False)
                yield Static("", id="sign-in-qr", markup=False)
            yield Input(placeholder=PASTE_PLACEHOLDER, id="paste", restrict=NO_CONTROL_CHARS)
            yield Static("", id="sign-in-problem", markup=False)
            # Below the input: a long consent URL makes a QR code taller than the terminal.
            yield Static("", id="consent-qr-caption", markup=False)
            yield Static("", id="consent-qr", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Sign in '{visible(self.provider)}'"
        for selector in ("#user-code", "#sign-in-qr", "#paste", "#sign-in-problem", "#shared-mailbox-row",
                         "#consent-qr-caption", "#consent-qr"):
            self.query_one(selector).display = False
        self.start_sign_in()

    def on_unmount(self) -> None:
        if self.flow is not None:
            self.flow.cancel()  # never leave a listener open or a poll running

    # Workers ---------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="sign-in-start")
    def start_sign_in(self) -> None:
        from tui.core.oauth import AppNotSet, NotOAuth, PortTaken, SignInError

        try:
            shared = self.app.service.require(self.provider).sign_in_state.shared_mailbox
            flow = self.start_flow(self.app.service)
        except PortTaken:
            self.post_message(SignInProblem(
                f"Port {self.port} on 127.0.0.1 is in use, so the browser's answer cannot be received. "
                f"Close what uses it, or run `mailprov login {self.provider} --port OTHER`."))
        except (AppNotSet, NotOAuth) as error:
            self.post_message(SignInProblem(str(error)))
        except SignInError as error:
            self.post_message(SignInProblem(f"{error.message} {error.remedy}"))
        except Exception as error:  # the database or the secret store: said, not a crash
            self.post_message(SignInProblem(f"The sign-in could not start: {error}"))
        else:
            self.post_message(SignInStarted(flow, shared))

    @work(thread=True, exit_on_error=False, group="sign-in-start")
    def start_microsoft_paste(self) -> None:
        """The fallback of the device code flow: a URL to open, the final address to paste."""
        from tui.core.oauth import SignInError

        try:
            flow = self.app.service.oauth.start_microsoft_paste(self.provider)
        except SignInError as error:
            self.post_message(SignInProblem(f"{error.message} {error.remedy}"))
        except Exception as error:
            self.post_message(SignInProblem(f"The sign-in could not start: {error}"))
        else:
            self.post_message(SignInStarted(flow))

    @work(thread=True, exit_on_error=False, group="sign-in-shared")
    def save_shared_mailbox(self, shared: bool) -> None:
        try:
            self.app.service.oauth.set_shared_mailbox(self.provider, shared)
        except Exception as error:
            self.post_message(SignInProblem(f"The shared mailbox setting was not saved: {error}"))

    @work(thread=True, exit_on_error=False, group="sign-in-wait")
    def wait_for_browser(self, flow) -> None:
        self._finish(flow.wait)

    @work(thread=True, exit_on_error=False, group="sign-in-paste")
    def finish_with(self, flow, pasted: str) -> None:
        self._finish(lambda: flow.finish(pasted))

    def _finish(self, get_result) -> None:
        """In a worker: get the sign-in's result, check the account and store the tokens."""
        from tui.core.oauth import SignInCancelled, SignInError

        try:
            result = get_result()  # long: the switch may move meanwhile, so it is read after
            shared = self.shared_mailbox
            if shared is not None:  # the switch's value decides the account check, saved or not yet
                self.app.service.oauth.set_shared_mailbox(self.provider, shared)
            self.app.service.oauth.complete(self.provider, result)
        except SignInCancelled:
            return
        except SignInError as error:
            self.post_message(SignInProblem(f"{error.message} {error.remedy}"))
        except Exception as error:
            self.post_message(SignInProblem(f"The sign-in failed: {error}"))
        else:
            self.post_message(SignedIn(result.account))

    # What the workers said -----------------------------------------------------------------

    def on_sign_in_started(self, message: SignInStarted) -> None:
        from tui.core.oauth import DeviceCodeSignIn, MicrosoftPasteSignIn

        flow = self.flow = message.flow
        if message.shared_mailbox is not None:
            self.show_shared_mailbox(message.shared_mailbox)
        if isinstance(flow, DeviceCodeSignIn):
            self.show_device_code(flow)
            self.wait_for_browser(flow)
        elif isinstance(flow, MicrosoftPasteSignIn):
            self.show_microsoft_paste(flow)
        else:
            self.show_loopback(flow)
            if flow.listening:
                self.wait_for_browser(flow)

    def show_device_code(self, flow) -> None:
        from tui.core.qr import qr_lines

        self.query_one("#sign-in-intro", Static).update(
            f"Sign in {visible(self.provider)} with Microsoft: on any device, open")
        self.query_one("#sign-in-url", Static).update(visible(flow.verification_uri))
        code = self.query_one("#user-code", Static)
        code.update(" ".join(visible(flow.user_code)))
        code.display = True
        self.query_one("#sign-in-ssh", Static).update("and enter this code. The QR code opens the address on a phone.")
        qr = self.query_one("#sign-in-qr", Static)
        qr.update("\n".join(qr_lines(flow.verification_uri)))
        qr.display = True
        self.tick()
        self.countdown = self.set_interval(1.0, self.tick)
        self.refresh_bindings()  # `p` applies now

    def show_microsoft_paste(self, flow) -> None:
        if self.countdown is not None:
            self.countdown.stop()
        self.query_one("#sign-in-intro", Static).update(
            f"Sign in {visible(self.provider)} with Microsoft: open this address in a browser")
        self.query_one("#sign-in-url", Static).update(visible(flow.url))
        self.query_one("#user-code").display = False
        self.query_one("#sign-in-qr").display = False
        self.query_one("#sign-in-ssh", Static).update(
            "After signing in, the browser shows a blank page: copy its whole address from the address bar.")
        self.query_one("#countdown", Static).update("")
        self.query_one("#paste", Input).placeholder = MICROSOFT_PASTE_PLACEHOLDER
        self.show_paste_input()
        self.show_consent_qr(flow.url)
        self.refresh_bindings()

    def show_consent_qr(self, url: str) -> None:
        """The QR code of a long sign-in address, below everything else (scrolled to)."""
        from tui.core.qr import qr_lines

        caption = self.query_one("#consent-qr-caption", Static)
        caption.update("The same address as a QR code, for a phone (scroll down: ↓, page down):")
        caption.display = True
        qr = self.query_one("#consent-qr", Static)
        qr.update("\n".join(qr_lines(url)))
        qr.display = True

    def show_shared_mailbox(self, shared: bool) -> None:
        self.shared_mailbox = shared
        switch = self.query_one("#shared-mailbox", Switch)
        with self.prevent(Switch.Changed):  # the stored value: nothing to save
            switch.value = shared
        self.query_one("#shared-mailbox-row").display = True

    def show_loopback(self, flow) -> None:
        self.query_one("#sign-in-intro", Static).update(
            f"Sign in {visible(self.provider)} with Google: open this address in a browser")
        self.query_one("#sign-in-url", Static).update(visible(flow.url))
        if flow.listening:
            ssh = (f"The browser returns to {flow.redirect_uri} on this machine: on the laptop, first run\n"
                   f"  {flow.ssh_command()}")
        else:
            ssh = "Without a tunnel the browser ends on an error page: its address is what counts."
        self.query_one("#sign-in-ssh", Static).update(ssh)
        self.show_paste_input()
        self.show_consent_qr(flow.url)

    def show_paste_input(self) -> None:
        """Show and focus the input for the address the browser ended on. It is scrolled
        into view only after the screen is laid out with the texts just set: scrolled
        against the old layout, it could push the lines above it (the ssh line) out of view."""
        paste = self.query_one("#paste", Input)
        paste.display = True
        paste.focus(scroll_visible=False)
        self.call_after_refresh(paste.scroll_visible, animate=False)

    def tick(self) -> None:
        """The device code's countdown."""
        if self.flow is None or not hasattr(self.flow, "expires_at"):
            return
        seconds = int((self.flow.expires_at - self.app.now()).total_seconds())
        text = (f"The code expires in {seconds // 60}:{seconds % 60:02d}. Waiting for the sign-in… (esc cancels)"
                if seconds > 0 else "The code has expired: press esc and start again.")
        self.query_one("#countdown", Static).update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "paste_instead":
            from tui.core.oauth import DeviceCodeSignIn

            return isinstance(self.flow, DeviceCodeSignIn) and not self.finishing
        return True

    def action_paste_instead(self) -> None:
        """Leave the device code flow for the pasted-address one (the device code is dropped)."""
        from tui.core.oauth import DeviceCodeSignIn

        if not isinstance(self.flow, DeviceCodeSignIn):
            return
        self.flow.cancel()
        self.flow = None
        self.refresh_bindings()
        self.query_one("#countdown", Static).update("Starting the sign-in in a browser…")
        self.start_microsoft_paste()

    @on(Switch.Changed, "#shared-mailbox")
    def shared_mailbox_flipped(self, event: Switch.Changed) -> None:
        self.shared_mailbox = event.value
        self.save_shared_mailbox(event.value)

    @on(Input.Submitted, "#paste")
    def pasted(self, event: Input.Submitted) -> None:
        if self.flow is None or self.finishing or not event.value.strip():
            return
        self.finishing = True
        self.query_one("#sign-in-problem", Static).display = False
        self.finish_with(self.flow, event.value)

    def on_sign_in_problem(self, message: SignInProblem) -> None:
        self.finishing = False
        problem = self.query_one("#sign-in-problem", Static)
        problem.update(visible(message.text) + "  (esc goes back)")
        problem.display = True

    def on_signed_in(self, message: SignedIn) -> None:
        notify_text(self.app, f"Account data synchronized: signed in as {message.account}. Checking…",
                    title=self.provider)
        self.dismiss(self.provider)

    def action_cancel(self) -> None:
        if self.flow is not None:
            self.flow.cancel()
        self.dismiss(None)

