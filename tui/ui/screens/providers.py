"""The home screen: the provider list, a filter, and the selected provider's status."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from tui.core.domain import Status
from tui.core.text import NO_CONTROL_CHARS, visible
from tui.ui.commands import ScreenActionsProvider
from tui.ui.format import notify_text
from tui.ui.messages import (
    ActionFailed,
    CheckAborted,
    CheckAllFinished,
    CheckFinished,
    CheckStepDone,
    ProviderDeleted,
    ProvidersLoaded,
)
from tui.ui.view import ProviderView
from tui.ui.widgets.provider_table import ProviderTable
from tui.ui.widgets.status_pane import StatusPane

EMPTY_TEXT = (
    "No providers yet.\n\n"
    "A provider is one mailbox the platform sends from (SMTP) and, if you want, "
    "reads from (IMAP or POP3): its servers, its account and how it signs in.\n\n"
    "Press n to add one, or ? for help."
)
LOADING_TEXT = "Loading providers…"
NEEDS_SELECTION = {"edit", "check", "delete", "transcript"}
NEEDS_SERVICE = {"new", "edit", "check", "check_all", "delete", "filter", "transcript"}


class ProvidersScreen(Screen[None]):
    AUTO_FOCUS = "#providers"
    COMMANDS = {ScreenActionsProvider}
    BINDINGS = [
        Binding("n", "new", "New", tooltip="Add a provider", id="new"),
        Binding("t", "check", "Check", tooltip="Check the selected provider", id="check"),
        Binding("T", "check_all", "Check all", tooltip="Check every provider", id="check-all"),
        Binding("d", "delete", "Delete", tooltip="Delete the selected provider", id="delete"),
        Binding("slash", "filter", "Filter", key_display="/", id="filter"),
        # Kept out of the footer so the rest fits 80 columns; the status pane names the key.
        Binding("l", "transcript", "Transcript", tooltip="Show the last check's transcript",
                id="transcript", show=False),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("escape", "close_filter", "Close filter", show=False, id="close-filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.views: dict[str, ProviderView] = {}  # by name, in list order
        self.filter_text = ""
        self.checking: set[str] = set()
        self.checking_all = False
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="list-body"):
            yield Input(placeholder="Filter by name, account or type", id="filter", restrict=NO_CONTROL_CHARS)
            yield Static(LOADING_TEXT, id="empty-help", markup=False)
            table = ProviderTable(id="providers")
            table.display = False  # until the providers are loaded
            yield table
            with VerticalScroll(id="status-scroll") as status_scroll:
                status_scroll.display = False
                yield StatusPane(id="status-pane")
        yield Footer()

    def on_mount(self) -> None:
        # The first paint shows only "Loading providers…": nothing to restyle before it.
        if self.app.service is not None:
            self.reload()

    # Loading -------------------------------------------------------------------------

    def reload(self) -> None:
        self.load_providers()

    @work(thread=True, exit_on_error=False, group="load", exclusive=True)
    def load_providers(self) -> None:
        try:
            records = self.app.service.list()
        except Exception as error:
            self.post_message(ActionFailed("loading the providers", str(error)))
        else:
            self.post_message(ProvidersLoaded(records))

    def on_providers_loaded(self, message: ProvidersLoaded) -> None:
        self.views = {r.name: ProviderView.from_record(r) for r in message.records}
        self.query_one(ProviderTable).fit_columns(list(self.views.values()))
        self.loaded = True
        self.refresh_rows()
        self.refresh_bindings()

    def show_problem(self, text: str) -> None:
        self.query_one("#empty-help", Static).update(visible(text))

    def set_loaded_state(self) -> None:
        empty = self.loaded and not self.views
        self.set_class(empty, "-empty")
        help_text = self.query_one("#empty-help", Static)
        help_text.display = not self.loaded or empty
        if self.loaded:
            help_text.update(EMPTY_TEXT)

    # The table -----------------------------------------------------------------------

    def refresh_rows(self) -> None:
        table = self.query_one(ProviderTable)
        needle = self.filter_text.strip().casefold()
        visible = [v for v in self.views.values() if needle in v.search_text]
        table.show_views(visible, self.app.now(), checking=self.checking)
        self.set_loaded_state()
        table.display = bool(self.views)
        self.show_selected()

    @property
    def selected(self) -> ProviderView | None:
        name = self.query_one(ProviderTable).selected_name
        return self.views.get(name) if name else None

    def show_selected(self) -> None:
        pane = self.query_one(StatusPane)
        self.query_one("#status-scroll").display = bool(self.views)
        selected = self.selected
        check_shown = pane.live_steps is not None and pane.view is not None
        if not (check_shown and selected is not None and pane.view.name == selected.name):
            pane.show(selected, self.app.now())

    @on(ProviderTable.Highlighted)
    def row_highlighted(self) -> None:
        self.show_selected()
        self.refresh_bindings()

    @on(ProviderTable.Selected)
    def row_selected(self) -> None:
        self.action_edit()

    # Filter --------------------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.add_class("-shown")
        field.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_rows()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        self.query_one(ProviderTable).focus()

    def action_close_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if field.has_class("-shown"):
            field.value = ""
            field.remove_class("-shown")
            self.query_one(ProviderTable).focus()

    # Actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in NEEDS_SERVICE and (self.app.service is None or not self.loaded):
            return None
        if action in NEEDS_SELECTION and self.selected is None:
            return None
        if action == "check_all" and not self.views:
            return None
        return True

    def action_new(self) -> None:
        from tui.ui.screens.form import ProviderFormScreen

        self.app.push_screen(ProviderFormScreen(None, list(self.views)), self.form_closed)

    def action_edit(self) -> None:
        from tui.ui.screens.form import ProviderFormScreen

        view = self.selected
        if view is not None:
            self.app.push_screen(ProviderFormScreen(view.name, list(self.views)), self.form_closed)

    def form_closed(self, _result: object) -> None:
        self.reload()

    def action_help(self) -> None:
        from tui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_transcript(self) -> None:
        pane = self.query_one(StatusPane)
        pane.toggle_transcript()
        if pane.show_transcript:
            scroll = self.query_one("#status-scroll", VerticalScroll)
            self.call_after_refresh(scroll.scroll_end, animate=False)

    def action_quit(self) -> None:
        self.app.exit()

    def action_delete(self) -> None:
        from tui.ui.screens.confirm import ConfirmScreen

        view = self.selected
        if view is None:
            return
        question = (f"Delete the provider '{visible(view.name)}' ({visible(view.account)})?\n"
                    "Its stored password goes too.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_provider(view.name)

        self.app.push_screen(ConfirmScreen(question, "Delete"), answered)

    @work(thread=True, exit_on_error=False, group="write")
    def delete_provider(self, name: str) -> None:
        try:
            self.app.service.delete(name)
        except Exception as error:
            self.post_message(ActionFailed(f"deleting '{name}'", str(error)))
        else:
            self.post_message(ProviderDeleted(name))

    def on_provider_deleted(self, message: ProviderDeleted) -> None:
        self.views.pop(message.name, None)
        self.refresh_rows()
        notify_text(self, f"Deleted '{message.name}'.", title="Provider deleted")

    def on_action_failed(self, message: ActionFailed) -> None:
        notify_text(self, f"Failed {message.what}: {message.error}", severity="error", timeout=10)

    # Checks --------------------------------------------------------------------------

    def action_check(self) -> None:
        view = self.selected
        if view is None or view.name in self.checking:
            return
        self.checking.add(view.name)
        self.query_one(ProviderTable).mark_checking(view.name)
        self.query_one(StatusPane).start_check(view, self.app.now())
        self.check_one(view.name)

    @work(thread=True, exit_on_error=False, group="check")
    def check_one(self, name: str) -> None:
        def step_done(protocol, step) -> None:
            self.post_message(CheckStepDone(name, protocol, step))

        try:
            report = self.app.service.check(name, on_step=step_done)
        except Exception as error:
            self.post_message(ActionFailed(f"checking '{name}'", str(error)))
            self.post_message(CheckAborted([name]))
        else:
            self.post_message(CheckFinished(name, report, saved=True))

    def action_check_all(self) -> None:
        names = [n for n in self.views if n not in self.checking]
        if not names:
            return
        self.checking.update(names)
        self.checking_all = True
        table = self.query_one(ProviderTable)
        for name in names:
            table.mark_checking(name)
        notify_text(self, f"Checking {len(names)} providers…", title="Check all")
        self.check_many(names)

    @work(thread=True, exit_on_error=False, group="check")
    def check_many(self, names: list[str]) -> None:
        def report_ready(report) -> None:
            self.post_message(CheckFinished(report.provider, report, saved=True))

        try:
            reports = self.app.service.check_all(names, on_report=report_ready)
        except Exception as error:
            self.post_message(ActionFailed("checking all providers", str(error)))
            self.post_message(CheckAborted(names))
        else:
            self.post_message(CheckAllFinished(reports))

    def on_check_step_done(self, message: CheckStepDone) -> None:
        pane = self.query_one(StatusPane)
        if pane.view is not None and pane.view.name == message.provider:
            pane.add_step(message.protocol, message.step)

    def on_check_finished(self, message: CheckFinished) -> None:
        name = message.provider
        self.checking.discard(name)
        view = self.views.get(name)
        if view is None:
            return
        outdated = message.report.outdated  # edited during the check: the result was not saved
        if not outdated:
            view = self.views[name] = view.with_report(message.report)
        self.query_one(ProviderTable).update_view(view, self.app.now())
        pane = self.query_one(StatusPane)
        if pane.view is not None and pane.view.name == name:
            pane.show(view, self.app.now())
        if outdated:
            self.notify(f"'{name}' was changed during the check; its result was not saved. Check it again.",
                        title="Check not saved", severity="warning", markup=False)
            self.reload()
            return
        if not self.checking_all:
            self.tell_result(view)

    def tell_result(self, view: ProviderView) -> None:
        if view.status is Status.GREEN:
            notify_text(self, f"'{view.name}' is active.", title="Check passed")
        elif view.failure is not None:
            notify_text(self, f"'{view.name}': {view.failure.message}", title="Check failed", severity="error")

    def on_check_aborted(self, message: CheckAborted) -> None:
        self.checking.difference_update(message.names)
        self.checking_all = False
        self.refresh_rows()

    def on_check_all_finished(self, message: CheckAllFinished) -> None:
        self.checking.clear()
        self.checking_all = False
        self.refresh_rows()
        if len(message.reports) > 1:
            failed = sum(1 for r in message.reports if not r.ok)
            summary = f"{len(message.reports) - failed} active, {failed} with errors."
            notify_text(self, summary, title="Check all finished", severity="warning" if failed else "information")
