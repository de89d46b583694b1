"""New / edit provider: live validation with the core's rules, save then activation check.

The list builds one form screen and shows it again for every new or edited provider
(`reopen`): composing its ~130 widgets and styling them took 0.5-1 s a time. Each showing is
an "opening"; what a worker of an earlier opening says afterwards is dropped, as it was when
every opening had a screen of its own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, ContentSwitcher, Header, Input, Select, Static, Switch

from tui.core import rules
from tui.core.domain import ProviderDraft, ProviderType, SmtpSignIn, ValidationError
from tui.core.fields import canonical, field_label
from tui.core.text import visible
from tui.ui.commands import ScreenActionsProvider
from tui.ui.format import notify_text
from tui.ui.messages import (
    ActionFailed,
    CheckFinished,
    CheckStepDone,
    DraftLoaded,
    ProviderSaved,
    SendTestFinished,
)
from tui.ui.view import ProviderView, fold_names
from tui.ui.widgets.footer import SteadyFooter
from tui.ui.widgets.form_field import FormField, field_name_of, text_input, update_text
from tui.ui.widgets.server_section import ServerSection
from tui.ui.widgets.status_pane import StatusPane
from tui.ui.widgets.type_panels import OAuthPanel, PasswordPanel, TypePanel

TRANSCRIPT_KEY = "ctrl+l"


@dataclass
class AppProblem(Message):
    """Whether the OAuth app of a type's sign-in is set (`problem`: the setting to fill)."""

    provider_type: ProviderType
    problem: str | None


@dataclass
class ViewReloaded(Message):
    view: ProviderView
SEND_TEST_KEY = "ctrl+n"  # a control key: a letter would be typed into the focused field
NOT_SAVED = "Not saved yet"
NOT_TESTED = "Not tested yet"
TYPE_OPTIONS = [(t.label, t.value) for t in ProviderType]
TEXT_FIELDS = ("name", "account", "username", "from_name", "reply_to")  # the common ones


def panel_of(provider_type: ProviderType) -> str:
    """The panel of the type's sign-in method: a password, or an OAuth sign-in."""
    return "panel-password" if provider_type.sign_in.uses_password else "panel-oauth"


class TakenNames:
    """The other providers' names, for the "already exists" rule on every keystroke.

    The rule folds the names it is given each time; with 100,000 providers that cost 44 ms a
    keystroke. The names are folded once (by the list, when it loads) and the rule is given
    only the name typed, when it is taken."""

    def __init__(self, folded: frozenset[str], editing: str | None = None) -> None:
        self.folded = folded
        self.own = editing.strip().casefold() if editing else None  # the provider edited: not "taken"

    def clashing(self, name: str) -> tuple[str, ...]:
        key = name.strip().casefold()
        return (name,) if key != self.own and key in self.folded else ()


class FormBody(VerticalScroll, can_focus=False):
    """The fields, scrolled as the focus moves through them. Not itself focusable: focusing
    it restyles its ~130 widgets twice (gained, then lost when Tab moves on), about 90 ms each,
    and a scroll container in the Tab chain is only a stop with nothing to type into."""


class ProviderFormScreen(Screen[str | None]):
    """Dismissed with the saved provider's name (None when nothing was saved)."""

    COMMANDS = {ScreenActionsProvider}
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Save, then run the activation check", id="save"),
        Binding("ctrl+t", "test", "Test", tooltip="Test the values as typed, without saving", id="test"),
        Binding("ctrl+r", "reveal", "Show password", tooltip="Show or hide the password", id="reveal"),
        Binding("ctrl+o", "sign_in", "Sign in", tooltip="Sign in (Outlook, Gmail)", id="sign-in"),
        # Not `l` as in the list: a letter would be typed into the focused field.
        Binding(TRANSCRIPT_KEY, "transcript", "Transcript", tooltip="Show or hide the last check's transcript",
                id="transcript", show=False),
        Binding(SEND_TEST_KEY, "send_test", "Send test message", id="send-test", show=False,
                tooltip="Send a real test message"),
        Binding("escape", "back", "Back", tooltip="Back to the list", id="back"),
    ]

    def __init__(
        self,
        editing: str | None = None,
        names: Iterable[str] | frozenset[str] = frozenset(),
        loaded: DraftLoaded | None = None,
    ) -> None:
        """`editing`: the provider edited (None: a new one), whose values the list has read
        (`loaded`); `names`: every provider's name, folded (see view.fold_names) or not."""
        super().__init__()
        self.opening = 0  # which showing of this screen the workers' answers belong to
        self.stylesheet_seen: object = None  # the rules its widgets were last styled with
        self.built_oauth_panel: OAuthPanel | None = None  # built when an OAuth type is first chosen
        self._reset_state(editing, names, loaded)

    def _reset_state(self, editing: str | None, names: Iterable[str] | frozenset[str],
                     loaded: DraftLoaded | None) -> None:
        self.editing = editing
        folded = names if isinstance(names, frozenset) else fold_names(names)
        self.taken = TakenNames(folded, editing)
        self.to_fill = loaded
        self.saved_draft: ProviderDraft | None = None  # what "no unsaved changes" means
        self.touched: set[str] = set()
        self.save_attempted = False
        self.errors: dict[str, str] = {}
        self.busy = False
        self.saved_name: str | None = None
        self.password_stored = False  # editing a provider whose password is in keyring
        self.record_view: ProviderView | None = None  # the saved provider, as the list shows it
        # Keys typed while the form opens wait until its values are in and Name has the
        # focus (see tui.ui.keys): typed into the empty Name, they would be lost.
        self.ready_for_keys = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="form-layout"):
            with FormBody(id="form-body"):
                yield from self._common_fields()
                # The OAuth panel is built the first time an OAuth type is chosen (see show_type):
                # most providers never need it, and it costs as much as a third of the form.
                with ContentSwitcher(initial="panel-password", id="type-panels"):
                    yield PasswordPanel(id="panel-password")
                yield Static("", id="form-summary")
                with Horizontal(id="form-buttons"):
                    yield Button("Save (ctrl+s)", variant="primary", id="save")
                    yield Button("Test (ctrl+t)", id="test")
                    yield Button("Back (esc)", id="back")
            with VerticalScroll(id="form-status-scroll"):
                yield StatusPane(id="form-status", transcript_key=TRANSCRIPT_KEY)
        yield SteadyFooter()

    def _common_fields(self) -> ComposeResult:
        yield Static("Fields marked * are required.", id="form-intro")
        yield FormField(text_input("name", "e.g. Support desk"), required=True)
        yield FormField(
            Select(TYPE_OPTIONS, value=ProviderType.SMTP_IMAP.value, allow_blank=False, compact=True, id="type")
        )
        yield FormField(text_input("account", "e.g. support@example.com"), required=True)
        yield FormField(text_input("username", "optional: the login, if not the account"))
        yield FormField(text_input("from-name", "e.g. Example Support"))
        yield FormField(Switch(value=True, id="receive-emails"))
        yield FormField(Switch(value=True, id="active-reference"))
        yield FormField(text_input("reply-to", "e.g. a@example.com; b@example.com"))

    async def on_mount(self) -> None:
        # Its widgets were styled as they were mounted: the first ScreenResume need not
        # restyle them all again (see on_screen_resume).
        self.stylesheet_seen = self._styles_now()
        self.query_one("#form-status-scroll").display = False
        await self._start()

    async def _start(self) -> None:
        self.sub_title = f"Edit '{visible(self.editing)}'" if self.editing else "New provider"
        self.set_busy(False)
        if self.to_fill is not None:
            await self.fill(self.to_fill)
        else:
            self.saved_draft = self.draft()
            self.revalidate()
        self.accept_keys()

    async def reopen(
        self, editing: str | None, names: Iterable[str] | frozenset[str], loaded: DraftLoaded | None = None
    ) -> None:
        """Show the form again (same arguments as a new screen): every field as composed,
        then filled as a new screen would be. Called before it is pushed."""
        self.opening += 1
        self._reset_state(editing, names, loaded)
        with self.prevent(Input.Blurred):  # leaving the field focused last time is not touching it
            self.set_focus(self.query_one("#name", Input), scroll_visible=False)
        with self.app.batch_update():
            self._clear_fields()
            self.query_one("#form-status-scroll").display = False
            self.query_one("#form-status", StatusPane).clear()
            self.query_one("#form-body", VerticalScroll).scroll_home(animate=False)
            await self._start()

    def _clear_fields(self) -> None:
        """Every control as composed: empty texts, switches on, SMTP-IMAP, no message."""
        with self.prevent(Input.Changed, Select.Changed, Switch.Changed):
            for field_input in self.text_inputs.values():
                field_input.value = ""
            self.query_one("#receive-emails", Switch).value = True
            self.query_one("#active-reference", Switch).value = True
            self.query_one("#type", Select).value = ProviderType.SMTP_IMAP.value
            for panel in self.query(TypePanel):
                panel.clear()
        self.query_one("#type-panels", ContentSwitcher).current = panel_of(ProviderType.SMTP_IMAP)
        self.set_receive(True)
        for form_field in self.query(FormField):
            form_field.sync_switch_state()
            form_field.set_error(None)
            form_field.set_blamed(False)

    def dismiss(self, result: str | None = None):
        self.opening += 1  # from now on, what this opening's workers say is dropped
        return super().dismiss(result)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Shown, first or again: Textual restyles every widget of a resumed screen (~140 of
        them), in case the stylesheet changed meanwhile. Skip that when it has not (same rules,
        same theme as when they were mounted or last shown): the classes that changed were
        restyled as they changed."""
        seen = self._styles_now()
        if self.stylesheet_seen is not None and _same(seen, self.stylesheet_seen):
            event.refresh_styles = False
        self.stylesheet_seen = seen

    def _styles_now(self) -> tuple:
        return (self.app.stylesheet.rules_map, self.app.theme)

    def _post(self, opening: int, message: Message) -> None:
        """A worker's answer, marked with the opening it belongs to (see `is_current`)."""
        message.opening = opening
        self.post_message(message)

    def is_current(self, message: Message) -> bool:
        """False for an answer to an earlier opening of this form (closed since)."""
        return getattr(message, "opening", self.opening) == self.opening

    @property
    def loaded(self) -> bool:
        """The form shows its values."""
        return self.saved_draft is not None

    # Loading -------------------------------------------------------------------------

    async def fill(self, loaded: DraftLoaded) -> None:
        """An edited provider's values (read by the list before it opened the form)."""
        self.password_stored = loaded.draft.password_stored
        self.record_view = loaded.view
        await self.set_draft(loaded.draft)
        self.saved_draft = self.draft()
        self.revalidate()
        if loaded.view is not None and loaded.view.last_checked_at is not None:
            self.query_one("#form-status-scroll").display = True
            self.query_one("#form-status", StatusPane).show(loaded.view, self.app.now())

    def accept_keys(self) -> None:
        """Open (or failed): keys typed meanwhile go to Name now."""
        if not self.ready_for_keys:
            self.query_one("#name", Input).focus()
            # Once the focus asked for above is applied (through the app's queue).
            self.app.call_later(setattr, self, "ready_for_keys", True)

    async def set_draft(self, draft: ProviderDraft) -> None:
        """Fill the form from a draft; loading is not typing, so no Changed messages."""
        with self.prevent(Input.Changed, Select.Changed, Switch.Changed):
            for field, field_input in self.text_inputs.items():
                field_input.value = getattr(draft, field)
            self.query_one("#receive-emails", Switch).value = draft.receive_emails
            self.query_one("#active-reference", Switch).value = draft.active_reference
            self.query_one("#type", Select).value = draft.type
        await self.show_type(ProviderType(draft.type))
        self.active_panel.set_values(draft)
        self.set_receive(draft.receive_emails)
        for form_field in self.query(FormField):
            form_field.sync_switch_state()

    # Reading the form ----------------------------------------------------------------

    @property
    def provider_type(self) -> ProviderType:
        return ProviderType(self.query_one("#type", Select).value)

    @property
    def active_panel(self) -> TypePanel:
        return self.query_one(f"#{panel_of(self.provider_type)}", TypePanel)

    def draft(self) -> ProviderDraft:
        values = {field: text_input.value for field, text_input in self.text_inputs.items()}
        return ProviderDraft(
            type=self.provider_type.value,
            receive_emails=self.query_one("#receive-emails", Switch).value,
            active_reference=self.query_one("#active-reference", Switch).value,
            password_stored=self.password_stored and self.provider_type.sign_in.uses_password,
            **values,
            **self.active_panel.get_values(),
        )

    def visible_fields(self) -> list[FormField]:
        return self.common_fields + self.active_panel.fields()

    @cached_property
    def text_inputs(self) -> dict[str, Input]:
        """The common text fields' inputs (composed once: queried once, not per keystroke)."""
        return {field: self.query_one(f"#{field.replace('_', '-')}", Input) for field in TEXT_FIELDS}

    @cached_property
    def common_fields(self) -> list[FormField]:
        """The fields outside the type panels (composed once: queried once, not per keystroke)."""
        return [f for f in self.query(FormField) if not _inside_panel(f)]

    def control_for(self, field: str) -> Widget | None:
        for form_field in self.visible_fields():
            if form_field.field == field:
                return self.active_panel.control_for(field) or form_field.control
        return None

    # Live validation -----------------------------------------------------------------

    def revalidate(self) -> None:
        """The core's rules on the whole draft; a field shows its message once touched."""
        draft = self.draft()
        self.errors = rules.validate(draft, self.taken.clashing(draft.name))
        self._mark_password_required(draft)
        for form_field in self.visible_fields():
            shown = form_field.field in self.touched or self.save_attempted
            form_field.set_error(self.errors.get(form_field.field) if shown else None)
        count = len(self.errors)
        summary = self.query_one("#form-summary", Static)
        update_text(
            summary,
            "" if not count else f"{count} field{'s' if count > 1 else ''} need{'' if count > 1 else 's'} attention",
        )
        summary.set_class(bool(count), "-invalid")
        self.query_one("#save", Button).disabled = bool(count) or self.busy
        self.update_sign_in_button()  # a change not saved yet: sign in after saving it

    def _mark_password_required(self, draft: ProviderDraft) -> None:
        """'*' on Password while a server needs it: not for a relay without SMTP login that
        does not receive, nor when a password is stored."""
        if not self.provider_type.sign_in.uses_password:
            return
        needed = not draft.password_stored and (draft.smtp_sign_in != SmtpSignIn.NONE.value or draft.receive_emails)
        password_field = self.query_one("#password-field", FormField)
        if password_field.required != needed:
            password_field.set_required(needed)

    def touch(self, widget: Widget) -> None:
        field = field_name_of(widget)
        if field:
            self.touched.add(field)
            for form_field in self.visible_fields():
                if form_field.field == field:
                    form_field.set_blamed(False)
        self.revalidate()

    @on(Input.Changed)
    @on(Switch.Changed)
    def value_changed(self, event: Input.Changed | Switch.Changed) -> None:
        if event.control.id == "receive-emails":
            self.set_receive(event.value)
        self.touch(event.control)

    @on(Select.Changed)
    async def select_changed(self, event: Select.Changed) -> None:
        # The Select's value now, not the event's: a Changed posted when the Select mounted
        # can arrive after the form was filled, and must not switch back to its first type.
        if event.control.id == "type" and event.control.value != Select.NULL:
            await self.show_type(ProviderType(event.control.value))
        self.touch(event.control)

    @on(Input.Blurred)
    def field_left(self, event: Input.Blurred) -> None:
        self.touch(event.input)

    async def show_type(self, provider_type: ProviderType) -> None:
        if provider_type.sign_in.uses_oauth:
            await self.oauth_panel(provider_type)
            self.update_sign_in_button()
            self.ask_app_problem(provider_type)
        self.query_one("#type-panels", ContentSwitcher).current = panel_of(provider_type)
        self.refresh_bindings()

    async def oauth_panel(self, provider_type: ProviderType) -> OAuthPanel:
        """The OAuth panel set to `provider_type`, built on first use."""
        panels = self.query(OAuthPanel)
        if panels:
            panel = panels.first()
            panel.set_type(provider_type)
            return panel
        panel = OAuthPanel(provider_type, id="panel-oauth")
        await self.query_one("#type-panels", ContentSwitcher).mount(panel)
        self.built_oauth_panel = panel
        panel.set_receive(self.query_one("#receive-emails", Switch).value)
        return panel

    def set_receive(self, receive: bool) -> None:
        for panel in self.query(TypePanel):
            panel.set_receive(receive)

    # OAuth sign-in -------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="form-oauth-app")
    def ask_app_problem(self, provider_type: ProviderType) -> None:
        """Whether the app this type signs in with is set (the panel names the setting if not)."""
        try:
            problem = self.app.service.oauth.app_missing(provider_type.sign_in)
        except Exception as error:
            problem = f"The OAuth app settings cannot be read: {error}"
        self.post_message(AppProblem(provider_type, problem))

    def on_app_problem(self, message: AppProblem) -> None:
        panels = self.query(OAuthPanel)
        if panels and panels.first().provider_type is message.provider_type:
            panels.first().set_app_problem(message.problem)
            self.update_sign_in_button()

    def update_sign_in_button(self) -> None:
        panel = self.built_oauth_panel  # not looked for in the whole form on every keystroke
        if panel is not None:
            panel.set_can_sign_in(self.can_sign_in() and not panel.app_problem)

    def can_sign_in(self) -> bool:
        """Saved as shown (a sign-in belongs to the saved provider), and not busy."""
        return (self.provider_type.sign_in.uses_oauth and self.editing is not None and not self.busy
                and not self.has_unsaved_changes())

    def action_sign_in(self) -> None:
        if not self.provider_type.sign_in.uses_oauth:
            return
        if not self.can_sign_in():
            notify_text(self, "Save the provider first (ctrl+s): a sign-in belongs to the saved provider.",
                        severity="warning", title="Sign in")
            return
        from tui.ui.screens.sign_in import SignInScreen

        self.app.push_screen(SignInScreen(self.editing), self.signed_in)

    def signed_in(self, name: str | None) -> None:
        """Signed in: the provider is checked at once (XOAUTH2), as after a save."""
        if name is None:
            return
        self.set_busy(True)
        self.start_check_display(self.draft(), self.record_view)
        self.check_saved(name, self.opening, reload=True)

    def on_view_reloaded(self, message: ViewReloaded) -> None:
        if self.is_current(message):
            self.record_view = message.view

    # Actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reveal":
            return self.provider_type.sign_in.uses_password
        if action == "sign_in":
            return self.provider_type.sign_in.uses_oauth
        if action in ("save", "test", "send_test") and self.busy:
            return None
        return True

    @on(Button.Pressed)
    def button_pressed(self, event: Button.Pressed) -> None:
        self.run_action(event.button.id or "")

    def action_transcript(self) -> None:
        pane = self.query_one("#form-status", StatusPane)
        pane.toggle_transcript()
        if pane.show_transcript:
            scroll = self.query_one("#form-status-scroll", VerticalScroll)
            self.call_after_refresh(scroll.scroll_end, animate=False)

    def action_reveal(self) -> None:
        self.query_one(PasswordPanel).toggle_reveal()

    def action_back(self) -> None:
        if self.saved_draft is None or self.draft() == self.saved_draft:
            self.dismiss(self.saved_name)
            return
        from tui.ui.screens.confirm import ConfirmScreen

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(self.saved_name)

        self.app.push_screen(ConfirmScreen("Discard your unsaved changes?", "Discard"), answered)

    def refuse(self, errors: dict[str, str], what: str) -> None:
        """Show every message and go to the first field that needs attention."""
        self.save_attempted = True
        self.revalidate()
        first = next((f for f in self.visible_fields() if f.field in errors), None)
        if first is not None:
            self.focus_field(first.field)
        for form_field in self.visible_fields():  # a message only the service found (a name taken meanwhile)
            if form_field.field in errors and form_field.field not in self.errors:
                form_field.set_error(errors[form_field.field])
        inbound = self.draft().inbound_protocol
        labels = ", ".join(field_label(f, inbound) for f in errors)
        notify_text(self, f"{what}: check {labels} (the reason is under each).", severity="warning",
                    title="Fix the form")

    def focus_field(self, field: str) -> None:
        control = self.control_for(field)
        if control is not None:
            control.focus()
            control.scroll_visible(animate=False)

    def action_save(self) -> None:
        draft = self.draft()
        errors = rules.validate(draft, self.taken.clashing(draft.name))
        if errors:
            self.refuse(errors, NOT_SAVED)
            return
        if self.drops_sign_in(draft):
            from tui.ui.screens.confirm import ConfirmScreen

            opening = self.opening

            def answered(save: bool | None) -> None:
                if save and opening == self.opening:
                    self.set_busy(True)
                    self.save_provider(draft, opening)

            who = self.record_view.sign_in.account if self.record_view and self.record_view.sign_in else ""
            question = (f"A new account needs a new sign-in: saving drops the sign-in of {who} "
                        f"for {self.saved_draft.account}. Save?")
            self.app.push_screen(ConfirmScreen(question, "Save"), answered)
            return
        self.set_busy(True)
        self.save_provider(draft, self.opening)

    def drops_sign_in(self, draft: ProviderDraft) -> bool:
        """Saving would drop the provider's sign-in: a signed-in OAuth provider whose account changes."""
        view, saved = self.record_view, self.saved_draft
        return (view is not None and view.sign_in is not None and view.sign_in.signed_in and saved is not None
                and draft.type == saved.type and draft.account.strip().casefold() != saved.account.strip().casefold())

    def action_test(self) -> None:
        draft = self.draft()
        errors = {k: v for k, v in rules.validate(draft).items() if k != "name"}
        if errors:
            self.refuse(errors, NOT_TESTED)
            return
        self.set_busy(True)
        self.start_check_display(draft)
        self.test_draft(draft, self.editing, self.opening)

    def action_send_test(self) -> None:
        """Ask for a recipient, then send the test message through the saved provider."""
        if self.editing is None or self.has_unsaved_changes():
            notify_text(self, "Save the provider first (ctrl+s): the test message goes through the saved settings.",
                        severity="warning", title="Send test message")
            return
        from tui.ui.screens.send_test import SendTestScreen

        name, opening = self.editing, self.opening

        def answered(address: str | None) -> None:
            if address and opening == self.opening:
                self.set_busy(True)
                notify_text(self, f"Sending a test message to {address}…", title=name)
                self.send_test_message(name, address, opening)

        self.app.push_screen(SendTestScreen(name, self.draft().account.strip()), answered)

    @work(thread=True, exit_on_error=False, group="form-send")
    def send_test_message(self, name: str, address: str, opening: int) -> None:
        try:
            result = self.app.service.send_test(name, address)
        except Exception as error:
            self._post(opening, ActionFailed(f"sending a test message through '{name}'", str(error)))
        else:
            self._post(opening, SendTestFinished(result))

    def on_send_test_finished(self, message: SendTestFinished) -> None:
        if not self.is_current(message):
            return
        self.set_busy(False)
        result = message.result
        self.query_one("#form-status-scroll").display = True
        self.query_one("#form-status", StatusPane).show_send(result)
        to = ", ".join(result.recipients)
        if result.sent:
            queued = f"queued as {result.queue_id}" if result.queue_id else "the server gave no queue id"
            notify_text(self, f"Test message sent to {to}: {queued}.", title=result.provider, timeout=10)
            return
        failure = result.failure
        reason = f"{failure.message} Fix: {failure.remedy}" if failure else "the server did not accept it."
        notify_text(self, f"Test message to {to} not sent: {reason}", severity="warning",
                    title=result.provider, timeout=15)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.query_one("#test", Button).disabled = busy
        self.query_one("#save", Button).disabled = busy or bool(self.errors)
        self.update_sign_in_button()
        self.refresh_bindings()  # the keys depend on the type and on `busy` only (check_action)

    # Saving and checking -------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="form-write")
    def save_provider(self, draft: ProviderDraft, opening: int) -> None:
        service = self.app.service
        try:
            record = service.update(self.editing, draft) if self.editing else service.create(draft)
        except ValidationError as error:
            self._post(opening, ActionFailed("saving", str(error), errors=error.errors))
        except Exception as error:
            self._post(opening, ActionFailed("saving", str(error)))
        else:
            self._post(opening, ProviderSaved(record))

    def on_provider_saved(self, message: ProviderSaved) -> None:
        if not self.is_current(message):
            return
        name = message.record.name
        self.editing = self.saved_name = name
        self.sub_title = f"Edit '{visible(name)}'"
        draft = self.draft()
        self.saved_draft = draft
        self.record_view = ProviderView.from_record(message.record)
        self.start_check_display(draft, self.record_view)
        self.check_saved(name, self.opening)

    def on_action_failed(self, message: ActionFailed) -> None:
        if not self.is_current(message):
            return
        self.set_busy(False)
        self.accept_keys()
        if message.errors:
            self.refuse(message.errors, NOT_TESTED if message.what == "testing" else NOT_SAVED)
        else:
            notify_text(self, f"Failed {message.what}: {message.error}", severity="error", timeout=10)

    def start_check_display(self, draft: ProviderDraft, saved: ProviderView | None = None) -> None:
        """`saved`: the provider just saved is checked (its name heads the pane); None: a
        test of the values as typed ("Unsaved settings")."""
        self.query_one("#form-status-scroll").display = True
        pane = self.query_one("#form-status", StatusPane)
        pane.start_check(saved, self.app.now())

    @work(thread=True, exit_on_error=False, group="form-check")
    def check_saved(self, name: str, opening: int, reload: bool = False) -> None:
        """`reload`: read the provider again first (a sign-in changed it)."""
        try:
            if reload:
                self._post(opening, ViewReloaded(ProviderView.from_record(self.app.service.require(name))))
            report = self.app.service.check(name, on_step=self._step_poster(name, opening))
        except Exception as error:
            self._post(opening, ActionFailed(f"checking '{name}'", str(error)))
        else:
            # Outdated: another process edited the provider during the check; nothing saved.
            self._post(opening, CheckFinished(name, report, saved=not report.outdated))

    @work(thread=True, exit_on_error=False, group="form-check")
    def test_draft(self, draft: ProviderDraft, editing: str | None, opening: int) -> None:
        service = self.app.service
        try:
            report = service.check_draft(draft, on_step=self._step_poster(draft.name, opening), editing=editing)
        except ValidationError as error:
            self._post(opening, ActionFailed("testing", str(error), errors=error.errors))
        except Exception as error:
            self._post(opening, ActionFailed("testing", str(error)))
        else:
            self._post(opening, CheckFinished(draft.name, report, saved=False))

    def _step_poster(self, name: str, opening: int):
        def step_done(protocol, step) -> None:
            self._post(opening, CheckStepDone(name, protocol, step))

        return step_done

    def on_check_step_done(self, message: CheckStepDone) -> None:
        if not self.is_current(message):
            return
        self.query_one("#form-status", StatusPane).add_step(message.protocol, message.step)

    def on_check_finished(self, message: CheckFinished) -> None:
        if not self.is_current(message):
            return
        self.set_busy(False)
        report = message.report
        draft = self.draft()
        if message.saved and self.record_view is not None:
            # As the list shows it: the last success stays the record's when this check failed.
            view = self.record_view = self.record_view.with_report(report)
        else:
            view = ProviderView.for_report(draft, report)
            if not message.saved:
                view = replace(view, name=f"{view.name} (test, not saved)")
        self.query_one("#form-status", StatusPane).show(view, self.app.now())
        offered = {result.protocol for result in report.results if result.starttls_offered}
        for section in self.active_panel.query(ServerSection):
            section.show_security_warning(starttls_offered=section.protocol in offered)
        failure = report.failure
        if failure is None:
            text = "Saved and active." if message.saved else "Test passed: these settings work."
            notify_text(self, text, title=draft.name or "Test")
            return
        prefix = "Saved, but activation failed: " if message.saved else "Test failed: "
        notify_text(self, prefix + failure.message, severity="warning", title=draft.name or "Test", timeout=10)
        if failure.fields:
            self.blame(failure.fields[0])

    def has_unsaved_changes(self) -> bool:
        """Asked by the app before it quits (ctrl+q)."""
        return self.saved_draft is not None and self.draft() != self.saved_draft

    def blame(self, field: str) -> None:
        field = canonical(field)  # a check may blame a field by its former name ("imap_host")
        for form_field in self.visible_fields():
            form_field.set_blamed(form_field.field == field)
        self.focus_field(field)


def _same(a: tuple, b: tuple) -> bool:
    """The same rules object (a reparse makes a new one) and the same theme."""
    return a[0] is b[0] and a[1] == b[1]


def _inside_panel(widget: Widget) -> bool:
    return any(isinstance(ancestor, TypePanel) for ancestor in widget.ancestors)
