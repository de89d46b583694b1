"""A campaign's queue: its provider's conversations, newest first; the highlighted one's
messages as text (HTML reduced to text) with From, To, Date and Subject. Server text is
data: every label is `markup=False` and control characters are shown as escapes."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from tui.core.campaigns import Campaign
from tui.core.queue import Conversation, QueuedMessage, QueueStore
from tui.core.text import visible

# Characters of one message's text shown (the rest: `mailprov queue list` and the raw bytes).
MAX_SHOWN_TEXT = 20_000


@dataclass
class ConversationsLoaded(Message):
    conversations: list[Conversation]


@dataclass
class MessagesLoaded(Message):
    conversation_id: int
    messages: list[QueuedMessage]


class QueueScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the campaigns", id="queue-back"),
        Binding("r", "reload", "Reload", tooltip="Read the queue again", id="queue-reload"),
    ]

    def __init__(self, campaign: Campaign) -> None:
        super().__init__()
        self.campaign = campaign
        self.conversations: list[Conversation] = []

    def compose(self) -> ComposeResult:
        provider = visible(self.campaign.provider_name or "no provider")
        yield Label(Text(f"Queue of {visible(self.campaign.name)} ({provider})"), id="queue-title")
        with Horizontal(id="queue-panes"):
            yield DataTable(id="conversations", cursor_type="row")
            with VerticalScroll(id="conversation-scroll"):
                yield Static("", id="conversation", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("Last message", "Msgs", "Subject")
        self.action_reload()

    def action_reload(self) -> None:
        self.load_conversations()

    @work(thread=True, exit_on_error=False, group="queue")
    def load_conversations(self) -> None:
        provider_id = self.campaign.provider_id
        found = QueueStore(self.app.service.store).conversations(provider_id) if provider_id else []
        self.post_message(ConversationsLoaded(found))

    def on_conversations_loaded(self, message: ConversationsLoaded) -> None:
        self.conversations = message.conversations
        table = self.query_one(DataTable)
        table.clear()
        for conversation in message.conversations:
            table.add_row(Text(conversation.last_message_at.strftime("%Y-%m-%d %H:%M")),
                          Text(str(conversation.messages)), Text(visible(conversation.subject or "(no subject)")))
        if not message.conversations:
            self.query_one("#conversation", Static).update("Nothing queued yet.")
        else:
            table.focus()
            self.show(0)

    @on(DataTable.RowHighlighted)
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show(event.cursor_row)

    def show(self, row: int) -> None:
        if 0 <= row < len(self.conversations):
            self.load_messages(self.conversations[row].id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="conversation")
    def load_messages(self, conversation_id: int) -> None:
        messages = QueueStore(self.app.service.store).conversation_messages(conversation_id)
        self.post_message(MessagesLoaded(conversation_id, messages))

    def on_messages_loaded(self, message: MessagesLoaded) -> None:
        self.query_one("#conversation", Static).update("\n\n".join(message_text(m) for m in message.messages))
        self.query_one("#conversation-scroll", VerticalScroll).scroll_home(animate=False)

    def action_back(self) -> None:
        self.dismiss()


def message_text(message: QueuedMessage) -> str:
    """One message as the reader sees it: its headers, marks, text and attachments."""
    sent = "Sent" if message.direction == "out" else "Received"
    lines = [
        f"From: {message.from_addr}",
        f"To: {', '.join(message.to_addrs)}",
        *([f"Cc: {', '.join(message.cc_addrs)}"] if message.cc_addrs else []),
        f"Date: {message.date.strftime('%Y-%m-%d %H:%M UTC') if message.date else '-'}",
        f"Subject: {message.subject}",
        f"{sent}: {message.received_at.strftime('%Y-%m-%d %H:%M UTC')}",
    ]
    if message.too_large:
        lines.append(f"Too large ({message.size:,} bytes): only the headers were kept.")
    if message.parse_error:
        lines.append(f"Could not be read ({message.parse_error}): kept as received.")
    text = message.text if len(message.text) <= MAX_SHOWN_TEXT else message.text[:MAX_SHOWN_TEXT] + "…"
    lines += ["", text.rstrip()]
    if message.attachments:
        lines.append("Attachments: " + ", ".join(f"{a.name} ({a.size:,} bytes)" for a in message.attachments))
    # Each line made visible on its own: control characters become escapes, lines stay lines.
    return "\n".join(visible(line) for part in lines for line in part.split("\n"))
