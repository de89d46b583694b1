"""Pilot tests of the provider form: live validation, type switching, ports, leaving."""

from textual.widgets import Button, ContentSwitcher, Input, Select, Switch

from tests.ui_helpers import example_draft, fill_demo, make_app, notifications, settle, type_into, visible_text
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.form import ProviderFormScreen
from tui.ui.screens.providers import ProvidersScreen
from tui.ui.widgets.form_field import FormField
from tui.ui.widgets.status_pane import StatusPane


def field(app, name: str) -> FormField:
    return app.screen.query_one(f"#{name.replace('_', '-')}-field", FormField)


def error_of(app, name: str) -> str:
    return str(field(app, name).query_one(".field-error").render())


async def open_new_form(pilot):
    await settle(pilot)
    await pilot.press("n")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ProviderFormScreen)


async def test_a_fresh_form_is_not_a_wall_of_red_but_counts_what_is_missing(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        assert not any(f.has_class("-invalid") for f in app.screen.query(FormField))
        assert "5 fields need attention" in visible_text(app)
        assert app.screen.query_one("#save", Button).disabled


async def test_messages_appear_as_you_type_and_clear_when_fixed(tmp_path):
    app = make_app(tmp_path)
    app.service.create(example_draft("Support"))
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        await type_into(pilot, "#account", "support@")
        assert field(app, "account").has_class("-invalid")
        assert "not a valid address" in error_of(app, "account")
        await pilot.press(*"example.com")
        assert not field(app, "account").has_class("-invalid")
        assert error_of(app, "account") == ""
        await type_into(pilot, "#name", "SUPPORT")  # names are unique, case-insensitively
        assert "already exists" in error_of(app, "name")
        await pilot.press("backspace")
        assert error_of(app, "name") == ""
        await type_into(pilot, "#smtp-host", "https://mail.example.com")
        assert "without 'https://'" in error_of(app, "smtp_host")


async def test_save_with_errors_shows_every_message_and_focuses_the_first(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        await type_into(pilot, "#name", "Support")
        await pilot.press("ctrl+s")
        await pilot.pause()
        for name in ("account", "password", "smtp_host", "inbound_host"):
            assert field(app, name).has_class("-invalid"), name
        assert app.focused is app.screen.query_one("#account", Input)
        assert app.service.list() == []  # nothing saved


async def test_ports_take_digits_only_and_follow_the_security(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        port = app.screen.query_one("#smtp-port", Input)
        assert port.value == "587"
        await type_into(pilot, "#smtp-port", "4x6y5")
        assert port.value == "465"
        app.screen.query_one("#smtp-security", Select).value = "starttls"
        await pilot.pause()
        assert port.value == "465"  # typed by the user: kept
        await type_into(pilot, "#smtp-port", "")
        app.screen.query_one("#smtp-security", Select).value = "ssl"
        await pilot.pause()
        assert port.value == "465"  # empty: filled with the standard port
        app.screen.query_one("#smtp-security", Select).value = "none"
        await pilot.pause()
        assert port.value == "25"


async def test_switching_type_swaps_fields_and_keeps_what_was_typed(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        await type_into(pilot, "#name", "Sales")
        await type_into(pilot, "#password", "typed-secret")
        await type_into(pilot, "#smtp-host", "smtp.example.org")
        type_select = app.screen.query_one("#type", Select)
        type_select.focus()
        await pilot.press("enter", "down", "down", "enter")  # SMTP-IMAP -> Outlook -> Gmail
        await pilot.pause()
        assert type_select.value == "gmail"
        switcher = app.screen.query_one("#type-panels", ContentSwitcher)
        assert switcher.current == "panel-oauth"
        text = visible_text(app)
        assert "The Google app is not set: run `mailprov oauth-app set google" in text
        assert "Password" not in text
        draft = app.screen.draft()
        assert draft.password == "" and draft.smtp_host == ""  # the preset's
        assert "Password" not in " ".join(app.screen.errors)
        app.screen.query_one("#type", Select).value = "smtp-imap"
        await pilot.pause()
        assert switcher.current == "panel-password"
        assert app.screen.query_one("#password", Input).value == "typed-secret"
        assert app.screen.query_one("#smtp-host", Input).value == "smtp.example.org"
        assert app.screen.query_one("#name", Input).value == "Sales"


async def test_receive_off_hides_the_inbound_section(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        assert "IMAP host *" in visible_text(app)
        app.screen.query_one("#receive-emails", Switch).focus()
        await pilot.press("space")
        await pilot.pause()
        assert "IMAP host" not in visible_text(app)
        assert "inbound_host" not in app.screen.errors
        assert "4 fields need attention" in visible_text(app)


async def test_the_password_is_masked_until_revealed(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        await type_into(pilot, "#password", "hunter2")
        assert "hunter2" not in visible_text(app)
        await pilot.press("ctrl+r")
        assert "hunter2" in visible_text(app)


async def test_escape_with_unsaved_changes_asks_first(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        await pilot.press("escape")  # nothing typed: leaves at once
        await pilot.pause()
        assert isinstance(app.screen, ProvidersScreen)
        await pilot.press("n")
        await type_into(pilot, "#name", "Draft")
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, ProviderFormScreen)
        await pilot.press("escape", "y")
        await pilot.pause()
        assert isinstance(app.screen, ProvidersScreen)


async def test_editing_loads_the_provider_and_keeps_the_stored_password(tmp_path):
    app = make_app(tmp_path)
    app.service.create(example_draft("Support"))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one("#account", Input).value == "support@example.com"
        assert app.screen.errors == {}  # the stored password counts
        assert "stored" in app.screen.query_one("#password", Input).placeholder
        await type_into(pilot, "#from-name", "Support Team")
        await pilot.press("ctrl+s")
        await settle(pilot)
        record = app.service.get("Support")
        assert record.settings.from_name == "Support Team"
        assert app.service.secrets.get_password(record.secret_key) == "not-a-real-password"


async def test_editing_a_checked_provider_shows_its_last_result(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)  # Billing failed its last check
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        pane = app.screen.query_one("#form-status", StatusPane)
        assert pane.view is not None and pane.view.name == "Billing"
        assert "Error: auth" in visible_text(app)


def inbound(app, control: str):
    """A control of the visible panel's inbound section ('protocol', 'host', 'port', 'security')."""
    return app.screen.active_panel.query_one(f"#inbound-{control}")


async def test_the_inbound_protocol_sets_the_standard_port_and_keeps_a_typed_one(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        port = inbound(app, "port")
        assert port.value == "993" and "Receiving (IMAP)" in visible_text(app)
        inbound(app, "protocol").value = "pop3"
        await pilot.pause()
        assert port.value == "995"
        text = visible_text(app)
        assert "Receiving (POP3)" in text and "POP3 host *" in text and "IMAP host" not in text
        inbound(app, "security").value = "starttls"
        await pilot.pause()
        assert port.value == "110"
        inbound(app, "protocol").value = "imap"
        await pilot.pause()
        assert port.value == "143"  # the standard port follows both choices

        await type_into(pilot, "#inbound-port", "1143")
        inbound(app, "protocol").value = "pop3"
        await pilot.pause()
        assert port.value == "1143"  # typed by the user: kept
        assert app.screen.draft().inbound_protocol == "pop3"
        await pilot.press("ctrl+s")  # shows every message
        await pilot.pause()
        assert "Enter the POP3 server name" in error_of(app, "inbound_host")
        assert any("POP3 host" in note for note in notifications(app))  # "check ..., POP3 host"


async def test_a_gmail_provider_on_pop3_takes_the_preset_pop3_server(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        app.screen.query_one("#type", Select).value = "gmail"
        await pilot.pause()
        await type_into(pilot, "#name", "Sales")
        await type_into(pilot, "#account", "sales@example.com")
        inbound(app, "protocol").value = "pop3"
        await pilot.pause()
        assert inbound(app, "host").placeholder == "pop.gmail.com (preset)"
        assert inbound(app, "port").placeholder == "995 (standard)"
        await pilot.press("ctrl+s")
        await settle(pilot)
        server = app.service.require("Sales").settings.inbound
        assert (server.protocol.value, server.server.host, server.server.port) == ("pop3", "pop.gmail.com", 995)


async def test_editing_a_pop3_provider_shows_pop3(tmp_path):
    app = make_app(tmp_path)
    app.service.create(example_draft("Support", inbound_protocol="pop3", inbound_host="pop.example.com"))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ProviderFormScreen)
        assert inbound(app, "protocol").value == "pop3"
        assert (inbound(app, "host").value, inbound(app, "port").value) == ("pop.example.com", "995")
        assert "Receiving (POP3)" in visible_text(app)
        assert app.screen.draft() == app.screen.saved_draft  # loading is not an unsaved change


async def test_keys_typed_while_the_edit_form_loads_go_after_the_loaded_name(tmp_path):
    from tests.ui_helpers import burst

    app = make_app(tmp_path)
    app.service.create(example_draft("Support"))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await burst(pilot, "enter", "XY")  # typed before the form has read the provider
        await settle(pilot)
        assert isinstance(app.screen, ProviderFormScreen)
        assert app.screen.query_one("#name", Input).value == "SupportXY"


async def test_ctrl_l_shows_the_transcript_in_the_form_and_l_stays_typed(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)  # Billing failed its last check
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert "Press ctrl+l to show the transcript." in visible_text(app)
        assert app.focused is app.screen.query_one("#name", Input)
        await pilot.press("ctrl+l")
        await pilot.pause()
        pane = app.screen.query_one("#form-status", StatusPane)
        assert pane.show_transcript
        assert app.screen.query_one("#name", Input).value == "Billing"
        await pilot.press("l")
        assert app.screen.query_one("#name", Input).value == "Billingl"  # a letter is typed, not a key


async def test_a_failed_recheck_keeps_the_records_last_success(tmp_path, closed_port):
    app = make_app(tmp_path)
    fill_demo(app.service)  # Support passed 3 minutes ago
    last_ok = app.service.get("Support").last_ok_at
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#providers").focus()
        await pilot.press("down", "down")  # by name: Billing, Sales, Support
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one("#name", Input).value == "Support"
        await type_into(pilot, "#smtp-host", "127.0.0.1")
        await type_into(pilot, "#smtp-port", str(closed_port))
        await pilot.press("ctrl+s")
        await pilot.pause()
        pane = app.screen.query_one("#form-status", StatusPane)
        assert pane.view is not None and pane.view.name == "Support"  # not "Unsaved settings"
        await settle(pilot)
        assert app.service.get("Support").status.value == "red"
        assert pane.view.last_ok_at == last_ok == app.service.get("Support").last_ok_at
        assert "Last success: never" not in visible_text(app)


async def test_saving_an_incomplete_form_says_so_in_a_sentence(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        await type_into(pilot, "#name", "Support")
        await pilot.press("ctrl+s")
        await pilot.pause()
        note = notifications(app)[-1]
        assert note.startswith("Not saved yet: check Account") and "sav yet" not in note.replace("saved yet", "")
        assert "not a valid address" in error_of(app, "account") or error_of(app, "account")


async def test_placeholders_read_as_examples(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await open_new_form(pilot)
        for control in ("#name", "#account", "#from-name", "#smtp-host", "#inbound-host"):
            assert app.screen.query_one(control, Input).placeholder.startswith("e.g. "), control


async def test_wrapped_lines_in_the_status_pane_continue_under_their_text(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)  # Billing failed: "Fix: Check the password; some providers want an app password."
    async with app.run_test(size=(120, 40)) as pilot:  # the pane beside the fields: about 57 columns
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        pane = app.screen.query_one("#form-status", StatusPane)
        lines = str(pane.render()).splitlines()
        fix = next(i for i, line in enumerate(lines) if line.startswith("  Fix: "))
        assert all(len(line) <= pane.size.width for line in lines[: fix + 2])
        continued = lines[fix + 1]
        assert continued.startswith(" " * len("  Fix: ")) and continued.strip() in "app password.", lines[fix:fix + 2]
