"""Campaigns: the list (name, kind, provider, queued count), a new campaign, attaching a
provider, and each campaign's queue (tui/ui/screens/queue.py).

Reading and writing go through tui.core.campaigns and tui.core.queue in thread workers;
results come back as messages. Names are data: cells are `Text`, labels `markup=False`."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Select

from tui.core.campaigns import Campaign, CampaignKind, CampaignStore
from tui.core.domain import Status, ValidationError
from tui.core.text import visible


@dataclass
class CampaignsLoaded(Message):
    campaigns: list[Campaign]
    queued: dict[int, int]  # provider id -> messages received


@dataclass
class CampaignSaved(Message):
    name: str


@dataclass
class CampaignRefused(Message):
    errors: dict[str, str]  # field -> message


class CampaignsScreen(Screen):
    BINDINGS = [
        Binding("n", "new", "New campaign", tooltip="Add a campaign", id="campaign-new"),
        Binding("a", "attach", "Attach provider", tooltip="Use another active provider", id="campaign-attach"),
        Binding("enter", "queue", "Queue", tooltip="Read the selected campaign's mail", id="campaign-queue"),
        Binding("escape", "back", "Back", tooltip="Back to the providers", id="campaigns-back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.campaigns: list[Campaign] = []

    def compose(self) -> ComposeResult:
        yield Label("Campaigns", id="campaigns-title")
        yield DataTable(id="campaigns-table", cursor_type="row", zebra_stripes=True)
        yield Label("", id="campaigns-empty", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "Kind", "Provider", "Queued")
        self.load()

    @work(thread=True, exit_on_error=False, group="campaigns")
    def load(self) -> None:
        from tui.core.queue import QueueStore

        store = self.app.service.store
        self.post_message(CampaignsLoaded(CampaignStore(store).list(), QueueStore(store).queued_counts()))

    def on_campaigns_loaded(self, message: CampaignsLoaded) -> None:
        self.campaigns = message.campaigns
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for campaign in message.campaigns:
            queued = message.queued.get(campaign.provider_id, 0) if campaign.provider_id else 0
            table.add_row(Text(visible(campaign.name)), Text(campaign.kind.value),
                          Text(visible(campaign.provider_name or "-")), Text(str(queued)), key=campaign.name)
        if message.campaigns:
            table.move_cursor(row=min(row, len(message.campaigns) - 1))
        empty = self.query_one("#campaigns-empty", Label)
        empty.update("" if message.campaigns else "No campaigns yet. Press n to add one.")
        table.display = bool(message.campaigns)

    @property
    def selected(self) -> Campaign | None:
        table = self.query_one(DataTable)
        if not self.campaigns or table.cursor_row is None or table.cursor_row >= len(self.campaigns):
            return None
        return self.campaigns[table.cursor_row]

    def action_new(self) -> None:
        self.app.push_screen(CampaignFormScreen(), self.form_closed)

    def action_attach(self) -> None:
        if self.selected is not None:
            self.app.push_screen(CampaignFormScreen(attach_to=self.selected.name), self.form_closed)

    def form_closed(self, saved: str | None) -> None:
        if saved:
            self.load()

    @on(DataTable.RowSelected)
    def action_queue(self) -> None:
        from tui.ui.screens.queue import QueueScreen

        campaign = self.selected
        if campaign is not None:
            self.app.push_screen(QueueScreen(campaign))

    def action_back(self) -> None:
        self.dismiss()


class CampaignFormScreen(ModalScreen[str | None]):
    """A new campaign (name, kind, provider), or with `attach_to` another provider for one.
    Only active providers are offered; the store refuses anything else as well."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Save the campaign", id="campaign-save"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without saving", id="campaign-cancel"),
    ]

    def __init__(self, attach_to: str | None = None) -> None:
        super().__init__()
        self.attach_to = attach_to

    def compose(self) -> ComposeResult:
        providers = [record.name for record in self.app.service.list() if record.status is Status.GREEN]
        with Vertical(id="campaign-dialog"):
            if self.attach_to is None:
                yield Label("New campaign", classes="dialog-title")
                yield Label("Name")
                yield Input(id="campaign-name", placeholder="e.g. Spring sale")
                yield Label("", id="campaign-name-error", classes="field-error", markup=False)
                yield Label("Kind")
                yield Select([(Text(kind.value), kind.value) for kind in CampaignKind], value=CampaignKind.EMAIL.value,
                             allow_blank=False, id="campaign-kind")
            else:
                yield Label(Text(f"Attach a provider to {visible(self.attach_to)}"), classes="dialog-title")
            yield Label("Provider (active ones)")
            yield Select([(Text(visible(name)), name) for name in providers], id="campaign-provider",
                         prompt="Pick an active provider")
            yield Label("" if providers else "No active provider: check one first (t in the list).",
                        id="campaign-provider-error", classes="field-error", markup=False)
            with Horizontal(id="campaign-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="campaign-save")
                yield Button("Cancel (esc)", id="campaign-cancel")

    @on(Button.Pressed, "#campaign-save")
    def action_save(self) -> None:
        provider = self.query_one("#campaign-provider", Select).value
        provider_name = provider if isinstance(provider, str) else ""  # Select.NULL: none picked
        if self.attach_to is None:
            name = self.query_one("#campaign-name", Input).value
            kind = str(self.query_one("#campaign-kind", Select).value)
            self.save(name, kind, provider_name)
        else:
            self.save(self.attach_to, None, provider_name)

    @work(thread=True, exit_on_error=False, group="campaign-save")
    def save(self, name: str, kind: str | None, provider: str) -> None:
        campaigns = CampaignStore(self.app.service.store)
        if not provider:
            self.post_message(CampaignRefused({"provider": "Pick the provider the campaign uses."}))
            return
        try:
            if kind is None:
                campaign = campaigns.attach(name, provider)
            else:
                campaign = campaigns.add(name, provider=provider, kind=kind)
        except ValidationError as exc:
            self.post_message(CampaignRefused(exc.errors))
        else:
            self.post_message(CampaignSaved(campaign.name))

    def on_campaign_refused(self, message: CampaignRefused) -> None:
        for field in ("name", "provider"):
            for error in self.query(f"#campaign-{field}-error").results(Label):
                error.update(message.errors.get(field, ""))
        if "kind" in message.errors:
            self.notify(message.errors["kind"], severity="error", markup=False)

    def on_campaign_saved(self, message: CampaignSaved) -> None:
        self.dismiss(message.name)

    @on(Button.Pressed, "#campaign-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
