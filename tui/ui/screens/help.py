"""What a provider is, and the keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_TEXT = """\
# mailprov

A **provider** is one mailbox the contact-center platform sends from (SMTP) and,
if *Receive emails* is on, reads from (IMAP or POP3). Saving a provider runs an **activation
check**: each step (DNS, connect, TLS, login, mailbox) is shown with its result, and the
first failing one says what to fix.

## Provider list

| Key | Action |
|-----|--------|
| `n` | New provider |
| `enter` | Edit the selected provider |
| `t` | Check the selected provider |
| `T` | Check all providers |
| `d` | Delete the selected provider |
| `/` | Filter by name, account or type |
| `l` | Show or hide the last check's transcript |
| `ctrl+p` | Command palette |
| `q` | Quit |

## Provider form

| Key | Action |
|-----|--------|
| `tab` / `shift+tab` | Next / previous field |
| `ctrl+s` | Save, then run the activation check |
| `ctrl+t` | Test the values as typed, without saving |
| `ctrl+r` | Show or hide the password |
| `escape` | Back (asks before dropping unsaved changes) |

Press `escape` to close this help.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Markdown(HELP_TEXT)

    def action_close(self) -> None:
        self.dismiss(None)
