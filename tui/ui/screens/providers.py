"""The home screen: the provider list, a filter, and the selected provider's status.

What it shows follows the truth while it is open: the rows are reloaded when the database
changes (the CLI, another session, a check's save), every check of a saved provider shows
as "◌ checking…" and then its result whichever screen started it (the app passes the
service's check messages on), and relative times tick."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from functools import partial

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Input, Static
from textual.worker import get_current_worker

from tui.core.domain import Status
from tui.core.text import NO_CONTROL_CHARS, visible
from tui.ui.commands import ScreenActionsProvider
from tui.ui.format import notify_text
from tui.ui.messages import (
    ActionFailed,
    CheckAborted,
    CheckAllFinished,
    CheckAllStarted,
    CheckFinished,
    DatabaseChanged,
    DraftLoaded,
    PeekDone,
    ProviderDeleted,
    ProviderReloaded,
    ProvidersLoaded,
)
from tui.ui.view import ProviderView, fold_names, prepare_search
from tui.ui.widgets.footer import SteadyFooter
from tui.ui.widgets.form_field import FormInput
from tui.ui.widgets.provider_table import ProviderTable, natural_widths
from tui.ui.widgets.status_pane import StatusPane

EMPTY_TEXT = (
    "No providers yet.\n\n"
    "A provider is one mailbox the platform sends from (SMTP) and, if you want, "
    "reads from (IMAP or POP3): its servers, its account and how it signs in.\n\n"
    "Press n to add one, or ? for help."
)
LOADING_TEXT = "Loading providers…"
# Keys for these, pressed while the list is still loading, are kept and acted on once it is.
NEEDS_LIST = {"edit", "check", "check_all", "delete", "transcript", "zoom", "sign_in"}
NEEDS_SELECTION = {"edit", "check", "delete", "transcript", "zoom", "sign_in"}
# Read and painted before the rest of a long list: more rows than a screen shows.
FIRST_ROWS = 200
TIME_TICK_SECONDS = 10.0  # relative times ("2 min ago") are redrawn this often
WATCH_SECONDS = 1.0  # how often the database is asked whether someone committed

log = logging.getLogger(__name__)


def loaded_message(views: list[ProviderView], complete: bool = True) -> ProvidersLoaded:
    """The rows, with what the list needs of all of them (computed in the loading thread)."""
    return ProvidersLoaded(views, fold_names(view.name for view in views), natural_widths(views), complete)


class ProvidersScreen(Screen[None]):
    AUTO_FOCUS = "#providers"
    COMMANDS = {ScreenActionsProvider}
    BINDINGS = [
        Binding("n", "new", "New", tooltip="Add a provider", id="new"),
        Binding("t", "check", "Check", tooltip="Check the selected provider", id="check"),
        Binding("T", "check_all", "Check all", tooltip="Check every provider", id="check-all"),
        Binding("d", "delete", "Delete", tooltip="Delete the selected provider", id="delete"),
        Binding("slash", "filter", "Filter", key_display="/",
                tooltip="Filter by name, account, type or status", id="filter"),
        # Kept out of the footer so the rest fits 80 columns; the status pane names the key.
        Binding("l", "transcript", "Transcript", tooltip="Show or hide the transcript",
                id="transcript", show=False),
        Binding("z", "zoom", "Zoom status", tooltip="Enlarge the status pane, or restore it",
                id="zoom", show=False),
        Binding("c", "campaigns", "Campaigns", tooltip="Campaigns and their queues", id="campaigns", show=False),
        # Outlook and Gmail only; the status pane names the key when a sign-in is needed.
        Binding("s", "sign_in", "Sign in", tooltip="Sign in (Outlook, Gmail)",
                id="sign-in", show=False),
        Binding("o", "oauth_apps", "OAuth apps", tooltip="OAuth app settings",
                id="oauth-apps", show=False),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="Keys and what a provider is",
                id="help"),
        Binding("q", "app.quit", "Quit", tooltip="Quit mailprov", id="quit"),
        # In the footer only when there is something to leave; last, so it never pushes Quit out.
        Binding("escape", "back", "Back", tooltip="Leave the filter or the enlarged pane", id="back"),
        # The table has its own enter; this one also works before the table is there.
        Binding("enter", "edit", "Edit", tooltip="Edit the selected provider", show=False, id="edit-selected"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.views: dict[str, ProviderView] = {}  # by name, in list order
        self.folded_names: frozenset[str] = frozenset()  # for the form's "already exists"
        self.form = None  # the form screen, built once and shown again (see form.py)
        self.ready_for_keys = True  # False while an edit form's values are read (tui.ui.keys)
        self.reading_report: str | None = None  # the provider whose report is being read
        self.filter_text = ""
        self.loaded = False
        self.complete = True  # False while only the first rows are read (FIRST_ROWS)
        self.problem: str | None = None  # the database could not be opened
        self.pending_actions: list[str] = []  # keys pressed while the list was loading
        self.select_after_load: str | None = None
        self.starting: set[str] = set()  # `t` pressed; the service has not said "started" yet
        self.progress: dict[str, list] = {}  # steps so far of each check running
        self.checking_all = False
        self.watching: threading.Event | None = None  # set: the watcher thread stops
        self.peek = None  # tui.core.listing.Peek: the connection the rows were first read with
        self.peek_version: int | None = None  # its data_version before that read

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="list-body"):
            # A FormInput: a keystroke repaints it without laying the whole screen out again.
            yield FormInput(placeholder="Filter by name, account, type or status (esc closes)", id="filter",
                            restrict=NO_CONTROL_CHARS)
            yield Static(LOADING_TEXT, id="empty-help", markup=False)
            yield Static("", id="no-match", markup=False)
            yield ProviderTable(id="providers")
            with VerticalScroll(id="status-scroll"):
                yield StatusPane(id="status-pane")
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self.watch(self.query_one("#filter", Input), "value", self.filter_changed, init=False)
        self.show_list_state()
        self.set_interval(TIME_TICK_SECONDS, self.tick_times)
        if self.app.service is not None:
            self.service_ready()
        elif self.app.peek_list:
            self.peek_providers()

    def peek_providers(self) -> None:
        """The rows read straight from the SQLite file before the store is opened (its
        imports and schema check take longer than the read): the first screenful now, on
        this thread (a few milliseconds), so that the first frame shows them; the rest in a
        worker. The list is there to read, move in and filter; what needs the store waits
        for it (`run_when_loaded`), and it opens once the rows are read."""
        from tui.core.listing import Peek

        peek = Peek.open(self.app.settings.db_url)
        if peek is None:
            self.call_after_refresh(self.post_message, PeekDone())
            return
        version = peek.data_version()  # before reading: a commit after it means a reload
        first = peek.rows(ProviderView.from_row, limit=FIRST_ROWS)
        if first is None:
            peek.close()
            self.call_after_refresh(self.post_message, PeekDone())
            return
        complete = len(first) < FIRST_ROWS
        self.on_providers_loaded(loaded_message(first, complete))
        if complete:  # the store opens once the first frame is painted
            self.call_after_refresh(self.post_message, PeekDone(peek, version))
        else:  # the rest once the first frame is painted
            self.call_after_refresh(self.peek_the_rest, peek, version)

    @work(thread=True, exit_on_error=False, group="load")
    def peek_the_rest(self, peek, version: int) -> None:
        views = None
        try:
            views = peek.rows(ProviderView.from_row)
            if views is not None and self.app.service is None:
                self.post_message(loaded_message(views))
        finally:
            if views is None:
                peek.close()
            self.post_message(PeekDone(peek, version) if views is not None else PeekDone())

    def on_peek_done(self, message: PeekDone) -> None:
        self.peek, self.peek_version = message.peek, message.version
        if self.problem is None:
            self.app.open_service()

    def service_ready(self) -> None:
        if self.peek is not None and self.loaded:
            # The rows read from the file are the store's: read again only if someone
            # committed since (the watcher compares the same connection's data_version).
            self.run_pending_actions()
            self.refresh_bindings()
        else:
            self.reload()
        self.watch_database()

    # Loading and following the database ----------------------------------------------

    def reload(self, select: str | None = None) -> None:
        if select is not None:
            self.select_after_load = select
        self.load_providers()

    @work(thread=True, exit_on_error=False, group="load", exclusive=True)
    def load_providers(self) -> None:
        """Light rows (no report: the selected provider's is read when shown), and what the
        list needs of all of them, computed here rather than on the screen's thread."""
        try:
            views = self.app.service.store.list_rows(ProviderView.from_row)
        except Exception as error:
            self.post_message(ActionFailed("loading the providers", str(error)))
            return
        if self.filter_text.strip():  # shown filtered: the texts built here, not on the screen's thread
            prepare_search(views)
        if not get_current_worker().is_cancelled:  # a newer load is on its way
            self.post_message(loaded_message(views))

    def watch_database(self) -> None:
        """Reload when another connection commits: the CLI, another session, a worker, or a
        check's save in this app. One cheap PRAGMA a second, in a daemon thread of its own
        (not a Textual worker: it never ends by itself, and must not hold the process)."""
        if self.watching is None:
            self.watching = threading.Event()
            thread = threading.Thread(target=self._watch, args=(self.watching,), name="mailprov-watch", daemon=True)
            thread.start()

    def on_unmount(self) -> None:
        if self.watching is not None:
            self.watching.set()

    def _watch(self, stop: threading.Event) -> None:
        try:
            if self.peek is not None:
                try:
                    self._follow(self.peek.data_version, self.peek_version, stop)
                finally:
                    self.peek.close()
                return
            with self.app.service.store.commit_counter() as commits:
                if commits is None:
                    return  # not SQLite: the list is reloaded after our own changes only
                self._follow(commits, commits(), stop)
        except Exception:
            log.exception("watching the database for changes failed; the list no longer follows it")

    def _follow(self, commits, seen: int, stop: threading.Event) -> None:
        """Post DatabaseChanged whenever `commits()` is no longer `seen`."""
        while not stop.wait(WATCH_SECONDS):
            try:
                now = commits()
            except Exception:  # busy or gone for a moment: ask again next time
                continue
            if now != seen:
                seen = now
                self.post_message(DatabaseChanged())

    def on_database_changed(self) -> None:
        self.reload()

    def on_providers_loaded(self, message: ProvidersLoaded) -> None:
        if self.problem is not None:
            return  # the store could not be opened: rows peeked before are not shown
        self.views = {view.name: view for view in message.views}
        self.folded_names = message.folded_names
        table = self.query_one(ProviderTable)
        table.fit_columns(message.widths or natural_widths(message.views))
        first_load = not self.loaded
        self.loaded = True
        self.complete = message.complete
        self.refresh_rows(keep_row=True)
        if self.select_after_load is not None:
            table.select_name(self.select_after_load)
            self.select_after_load = None
        if first_load and self.focused is None and table.display:
            table.focus()
        if self.app.service is not None:  # rows peeked before the store opened: keys wait for it
            self.run_pending_actions()
        self.refresh_bindings()

    def run_pending_actions(self) -> None:
        pending, self.pending_actions = self.pending_actions, []
        for action in pending:
            self.call_later(self.run_action, action)

    def show_problem(self, text: str) -> None:
        self.problem = text
        self.pending_actions.clear()
        if self.loaded:  # rows peeked before the store failed to open: the problem comes first
            self.loaded = False
            self.views = {}
            self.refresh_rows()
        self.query_one("#empty-help", Static).update(visible(text))
        self.refresh_bindings()

    def tick_times(self) -> None:
        self.query_one(ProviderTable).set_now(self.app.now())

    # The table -----------------------------------------------------------------------

    def refresh_rows(self, keep_row: bool = False) -> None:
        table = self.query_one(ProviderTable)
        needle = self.filter_text.strip().casefold()
        if needle:
            shown = [v for v in self.views.values() if needle in v.search_text]
        else:  # no filter: no search text to build (100,000 of them on the first load)
            shown = list(self.views.values())
        table.show_views(shown, self.app.now(), checking=self.checking(), keep_row=keep_row, complete=self.complete)
        self.show_list_state()
        self.show_selected()

    def show_list_state(self) -> None:
        """Which parts show: loading or empty help, the rows, "nothing matches", the pane."""
        table = self.query_one(ProviderTable)
        empty = self.loaded and not self.views
        no_match = self.loaded and self.complete and bool(self.views) and table.row_count == 0
        zoomed = self.has_class("-zoomed")
        self.set_class(empty, "-empty")
        help_text = self.query_one("#empty-help", Static)
        help_text.display = not self.loaded or empty
        if self.loaded and help_text.content != EMPTY_TEXT:  # an update lays the screen out again
            help_text.update(EMPTY_TEXT)
        no_match_text = self.query_one("#no-match", Static)
        no_match_text.display = no_match and not zoomed
        if no_match:
            no_match_text.update(
                f"No provider matches the filter “{visible(self.filter_text.strip())}”: no name, account, "
                "type or status contains it. Esc clears the filter."
            )
        table.display = table.row_count > 0 and not zoomed
        self.query_one("#status-scroll").display = table.row_count > 0

    def checking(self) -> set[str]:
        """The providers being checked now, whichever screen started the check."""
        checking = getattr(self.app.service, "checking", None)
        return (checking() if checking else set()) | self.starting

    @property
    def selected(self) -> ProviderView | None:
        table = self.query_one(ProviderTable)
        name = table.selected_name if table.row_count else None
        return self.views.get(name) if name else None

    def show_selected(self) -> None:
        pane = self.query_one(StatusPane)
        selected = self.selected
        if (selected is not None and selected.needs_report and self.reading_report != selected.name
                and self.app.service is not None):
            self.reading_report = selected.name
            self.reload_row(selected.name)  # its report; the pane shows the rest meanwhile
        if selected is not None and selected.name in self.checking():
            if pane.live_steps is None or pane.view is None or pane.view.name != selected.name:
                pane.show_progress(selected, self.app.now(), self.progress.get(selected.name, []))
        else:
            pane.show(selected, self.app.now())

    @on(ProviderTable.Highlighted)
    def row_highlighted(self) -> None:
        self.show_selected()
        self.refresh_bindings()

    # Filter and zoom -----------------------------------------------------------------

    def action_filter(self) -> None:
        if self.has_class("-zoomed"):
            self.action_zoom()
        field = self.query_one("#filter", Input)
        field.add_class("-shown")
        field.focus()
        self.build_search_texts(list(self.views.values()))

    @work(thread=True, exit_on_error=False, group="search", exclusive=True)
    def build_search_texts(self, views: list[ProviderView]) -> None:
        """What the filter matches, built for every row while the first key is typed, not
        by it (20-60 ms with 10,000 providers)."""
        worker = get_current_worker()
        prepare_search(views, lambda: worker.is_cancelled)

    def filter_changed(self, value: str) -> None:
        """Called as the filter's value changes (a watch, not its Changed message: that one
        reaches the screen a few message hops later, often after a frame painted the new
        text over the old rows; this way the text and the rows are painted together)."""
        self.filter_text = value
        self.refresh_rows()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        """Enter: on to the rows. While they load, the next keys go to the list's keys
        (the table gets the focus when it is there)."""
        table = self.query_one(ProviderTable)
        if table.display:
            table.focus()
        elif not self.loaded:
            self.set_focus(None)

    def action_back(self) -> None:
        if self.has_class("-zoomed"):
            self.action_zoom()
            return
        field = self.query_one("#filter", Input)
        if field.has_class("-shown"):
            field.value = ""
            field.remove_class("-shown")
            self.query_one(ProviderTable).focus()

    def action_zoom(self) -> None:
        """The status pane takes the whole screen (the table steps aside), or gives it back."""
        if not self.run_when_loaded("zoom"):
            return
        zoomed = not self.has_class("-zoomed")
        self.set_class(zoomed, "-zoomed")
        self.show_list_state()
        if zoomed:
            self.query_one("#status-scroll").focus()
        elif self.query_one(ProviderTable).display:
            self.query_one(ProviderTable).focus()

    # Actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.problem is not None and (action in NEEDS_LIST or action == "new"):
            return None
        if action in NEEDS_LIST and not self.loaded:
            return True  # kept until the list is there
        if action in NEEDS_SELECTION and self.selected is None:
            return None
        if action == "check_all" and not self.views:
            return None
        if action == "back":
            return self.has_class("-zoomed") or self.query_one("#filter").has_class("-shown")
        return True

    def run_when_loaded(self, action: str) -> bool:
        """True when the list and the store are there; else the action waits for them (a key
        typed early)."""
        if self.loaded and self.app.service is not None:
            return True
        if self.problem is None:
            self.pending_actions.append(action)
        return False

    async def action_new(self) -> None:
        if self.problem is None:  # a new form needs no list: it opens while the list loads
            await self.open_form(None)

    def action_edit(self) -> None:
        if not self.run_when_loaded("edit"):
            return
        view = self.selected
        if view is not None:
            # The form opens with its values in: keys typed meanwhile wait for it (tui.ui.keys).
            self.ready_for_keys = False
            self.read_for_edit(view.name)

    @work(thread=True, exit_on_error=False, group="form-load")
    def read_for_edit(self, name: str) -> None:
        service = self.app.service
        try:
            view = ProviderView.from_record(service.require(name))
            draft = service.draft_for(name)
        except Exception as error:
            self.post_message(ActionFailed(f"loading '{name}'", str(error)))
        else:
            self.post_message(DraftLoaded(draft, view))

    async def on_draft_loaded(self, message: DraftLoaded) -> None:
        try:
            await self.open_form(message.view.name, message)
        finally:
            self.ready_for_keys = True

    async def open_form(self, editing: str | None, loaded: DraftLoaded | None = None) -> None:
        """The form, built the first time and shown again after (see form.py)."""
        from tui.ui.screens.form import ProviderFormScreen

        if self.form is None:
            self.form = ProviderFormScreen(editing, self.folded_names, loaded)
            self.app.install_screen(self.form, "provider-form")
        else:
            await self.form.reopen(editing, self.folded_names, loaded)
        self.app.push_screen(self.form, partial(self.form_closed, editing))

    def form_closed(self, editing: str | None, saved_name: str | None) -> None:
        """Back from the form: the cursor goes to the provider just saved (else stays).
        Nothing saved: nothing to read again. An edit saved under the same name: that row
        alone is read again; a new or renamed provider: the whole list (its order changes)."""
        if saved_name is None:
            return
        if saved_name == editing and saved_name in self.views:
            self.reload_row(saved_name)
        else:
            self.reload(select=saved_name)

    @work(thread=True, exit_on_error=False, group="row")
    def reload_row(self, name: str) -> None:
        try:
            record = self.app.service.get(name)
        except Exception as error:
            self.post_message(ActionFailed(f"loading '{name}'", str(error)))
            return
        self.post_message(ProviderReloaded(name, ProviderView.from_record(record) if record else None))

    def on_provider_reloaded(self, message: ProviderReloaded) -> None:
        if self.reading_report == message.name:
            self.reading_report = None
        if message.view is None or message.name not in self.views:
            self.reload()  # gone meanwhile: the whole list, as the database has it
            return
        # A record read alone has no queued count: the list's stays until the next reload.
        view = self.views[message.name] = replace(message.view, queued=self.views[message.name].queued)
        table = self.query_one(ProviderTable)
        table.update_view(view, self.app.now())
        table.set_checking(self.checking())  # the check that follows a save may still run
        self.show_selected()

    def action_campaigns(self) -> None:
        from tui.ui.screens.campaigns import CampaignsScreen

        if self.run_when_loaded("campaigns"):
            self.app.push_screen(CampaignsScreen())

    def action_help(self) -> None:
        from tui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_transcript(self) -> None:
        if not self.run_when_loaded("transcript"):
            return
        pane = self.query_one(StatusPane)
        pane.toggle_transcript()
        if pane.show_transcript:
            scroll = self.query_one("#status-scroll", VerticalScroll)
            self.call_after_refresh(scroll.scroll_end, animate=False)

    def action_delete(self) -> None:
        from tui.ui.screens.confirm import ConfirmScreen

        if not self.run_when_loaded("delete"):
            return
        view = self.selected
        if view is None:
            return
        question = (f"Delete the provider '{visible(view.name)}' ({visible(view.account)})?\n"
                    "Its stored password goes too.")
        campaigns = self.campaigns_using(view.name)
        if campaigns:
            names = ", ".join(f"'{visible(name)}'" for name in campaigns)
            question += f"\nUsed by the campaign(s) {names}: they are left without a provider."

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_provider(view.name, force=bool(campaigns))

        self.app.push_screen(ConfirmScreen(question, "Delete"), answered)

    def campaigns_using(self, name: str) -> list[str]:
        """The campaigns the confirmation names (one indexed query). If it cannot be asked,
        none are named and the delete itself refuses a provider in use (ProviderInUse)."""
        try:
            return self.app.service.campaigns_using(name)
        except Exception:
            return []

    @work(thread=True, exit_on_error=False, group="write")
    def delete_provider(self, name: str, force: bool = False) -> None:
        try:
            self.app.service.delete(name, force=force)
        except Exception as error:
            self.post_message(ActionFailed(f"deleting '{name}'", str(error)))
        else:
            self.post_message(ProviderDeleted(name))

    def on_provider_deleted(self, message: ProviderDeleted) -> None:
        self.views.pop(message.name, None)
        self.folded_names = self.folded_names - fold_names([message.name])
        self.refresh_rows(keep_row=True)
        notify_text(self, f"Deleted '{message.name}'.", title="Provider deleted")

    def on_action_failed(self, message: ActionFailed) -> None:
        self.ready_for_keys = True  # an edit form that could not be read: keys go to the list
        notify_text(self, f"Failed {message.what}: {message.error}", severity="error", timeout=10)

    # Checks --------------------------------------------------------------------------

    def action_sign_in(self) -> None:
        if not self.run_when_loaded("sign_in"):
            return
        view = self.selected
        if view is None:
            return
        if not view.signs_in_with_oauth:
            notify_text(self, f"'{view.name}' signs in with a password: edit it to change the password.",
                        title="No sign-in")
            return
        from tui.ui.screens.sign_in import SignInScreen

        self.app.push_screen(SignInScreen(view.name), self.signed_in)

    def action_oauth_apps(self) -> None:
        if self.app.service is None:
            return
        from tui.ui.screens.oauth_apps import OAuthAppsScreen

        self.app.push_screen(OAuthAppsScreen())

    def signed_in(self, name: str | None) -> None:
        """Back from the sign-in: a provider signed in is checked at once (XOAUTH2)."""
        if name is not None:
            self.check_named(name)

    def action_check(self) -> None:
        if not self.run_when_loaded("check"):
            return
        view = self.selected
        if view is not None:
            self.check_named(view.name)

    def check_named(self, name: str) -> None:
        view = self.views.get(name)
        if view is None or view.name in self.checking():
            return
        self.starting.add(view.name)  # "◌ checking…" at once, before the worker starts
        self.progress[view.name] = []
        self.query_one(ProviderTable).set_checking(self.checking())
        self.show_selected()
        self.check_one(view.name)

    @work(thread=True, exit_on_error=False, group="check")
    def check_one(self, name: str) -> None:
        try:
            report = self.app.service.check(name)
        except Exception as error:
            self.post_message(ActionFailed(f"checking '{name}'", str(error)))
            self.post_message(CheckAborted([name]))
        else:
            self.post_message(CheckFinished(name, report, saved=not report.outdated))

    def action_check_all(self) -> None:
        if not self.run_when_loaded("check_all") or self.checking_all:
            return
        self.checking_all = True
        self.check_many()

    @work(thread=True, exit_on_error=False, group="check")
    def check_many(self) -> None:
        """Every provider the database holds now (not only those listed), but those
        being checked already."""
        service = self.app.service
        reports = []
        try:
            busy = service.checking()
            names = [name for name in service.names() if name not in busy]
            self.post_message(CheckAllStarted(len(names)))
            if names:
                reports = service.check_all(names)
        except Exception as error:
            self.post_message(ActionFailed("checking all providers", str(error)))
        self.post_message(CheckAllFinished(reports))

    def on_check_all_started(self, message: CheckAllStarted) -> None:
        if message.count:
            plural = "provider" if message.count == 1 else "providers"
            notify_text(self, f"Checking {message.count} {plural}…", title="Check all")
        else:
            notify_text(self, "Every provider is being checked already.", title="Check all")

    def on_check_all_finished(self, message: CheckAllFinished) -> None:
        self.checking_all = False
        if len(message.reports) > 1:
            failed = sum(1 for r in message.reports if not r.ok)
            summary = f"{len(message.reports) - failed} active, {failed} with errors."
            notify_text(self, summary, title="Check all finished", severity="warning" if failed else "information")

    def on_check_finished(self, message: CheckFinished) -> None:
        """The end of a check started here with `t` (the row itself follows `checks_ended`)."""
        report = message.report
        if report.outdated:
            notify_text(self, f"'{message.provider}' was changed during the check; its result was not saved. "
                        "Check it again.", title="Check not saved", severity="warning")
        elif report.status is Status.GREEN:
            notify_text(self, f"'{message.provider}' is active.", title="Check passed")
        elif report.failure is not None:
            notify_text(self, f"'{message.provider}': {report.failure.message}", title="Check failed",
                        severity="error")

    def on_check_aborted(self, message: CheckAborted) -> None:
        self.starting.difference_update(message.names)
        self.refresh_rows(keep_row=True)

    # What the app tells about every check (whichever screen started it) ---------------

    def checks_started(self, names: list[str]) -> None:
        self.starting.difference_update(names)
        for name in names:
            self.progress.setdefault(name, [])
        self.query_one(ProviderTable).set_checking(self.checking())
        self.show_selected()

    def check_progress(self, name: str, protocol: str, step) -> None:
        self.progress.setdefault(name, []).append((protocol, step))
        pane = self.query_one(StatusPane)
        if pane.live_steps is not None and pane.view is not None and pane.view.name == name:
            pane.add_step(protocol, step)

    def checks_ended(self, names: list[str], report) -> None:
        checking = self.checking()
        for name in names:
            if name not in checking:
                self.progress.pop(name, None)
        table = self.query_one(ProviderTable)
        view = self.views.get(names[0]) if report is not None else None
        if view is not None and not report.outdated:
            view = self.views[view.name] = view.with_report(report)
            table.update_view(view, self.app.now())
        table.set_checking(checking)
        if report is not None and report.outdated:  # edited meanwhile: show what is saved
            self.reload()
        self.show_selected()
