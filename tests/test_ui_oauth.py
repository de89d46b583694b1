"""Outlook and Gmail sign-in through the UI (Pilot), end to end against the test identity
provider and the OAuth-checking Dovecot and aiosmtpd: `s` on the list opens the sign-in
screen, the test "user" signs in, the list checks the provider over XOAUTH2."""

from __future__ import annotations

import threading
import urllib.request

import pytest

from tests.oauth_server import browser_redirect
from tests.servers import USER, free_port
from tests.test_oauth import OTHER, oauth_draft, port_is_free, set_apps, short_lived_tokens
from tests.ui_helpers import make_app, settle, visible_text, wait_until
from tui.core.domain import Status
from tui.core.report import FailureKind
from tui.ui.screens.providers import ProvidersScreen
from tui.ui.screens.sign_in import SignInScreen


@pytest.fixture
def oauth_app(tmp_path, oauth_mail_servers, idp, monkeypatch):
    """The app over a database with the apps set; MAILPROV_CA_FILE trusts the test CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca-bundle.crt")
    app = make_app(tmp_path, ca_file=oauth_mail_servers.ca_file)
    set_apps(app.service, idp)
    return app


def status_of(app, name: str = "Sales") -> Status:
    return app.service.require(name).status


async def open_sign_in(pilot) -> SignInScreen:
    await settle(pilot)
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen) and pilot.app.screen.flow is not None)
    return pilot.app.screen


async def open_gmail_sign_in(pilot, port: int) -> SignInScreen:
    """The sign-in screen of the Gmail provider "Sales", its listener on `port` (a free
    port: tests running in parallel must not share one)."""
    await settle(pilot)
    pilot.app.push_screen(SignInScreen("Sales", port=port), pilot.app.screen.signed_in)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen) and pilot.app.screen.flow is not None)
    return pilot.app.screen


async def test_outlook_device_code_screen_then_green(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "outlook"))
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_sign_in(pilot)
        await wait_until(pilot, lambda: screen.flow.verification_uri in visible_text(app))
        text = visible_text(app)
        assert screen.flow.verification_uri in text and " ".join(screen.flow.user_code) in text
        assert "█" in text and "The code expires in" in text  # the QR code and the countdown
        idp.approve(screen.flow.user_code, USER)
        await wait_until(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        await wait_until(pilot, lambda: status_of(app) is Status.GREEN, limit=20)
        # The status pane follows the database (who signed in, the token's expiry).
        await wait_until(pilot, lambda: "signed in as alice@example.test" in visible_text(app))


async def test_outlook_wrong_account_turns_red_naming_both(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "outlook"))
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_sign_in(pilot)
        idp.approve(screen.flow.user_code, OTHER)
        await wait_until(pilot, lambda: screen.query_one("#sign-in-problem").display)
        # Shown, then painted: wait for the words, not for one frame.
        await wait_until(pilot, lambda: OTHER in visible_text(app) and USER in visible_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        await wait_until(pilot, lambda: status_of(app) is Status.RED)
        await wait_until(pilot, lambda: OTHER in visible_text(app))  # the list follows the database
        assert app.service.require("Sales").failure.kind is FailureKind.OAUTH


async def test_revoked_token_red_then_sign_in_again_is_one_key(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    short_lived_tokens(idp)
    app.service.create(oauth_draft(oauth_mail_servers, "outlook"))
    flow = app.service.oauth.start("Sales")
    threading.Timer(0.2, idp.approve, (flow.user_code, USER)).start()
    app.service.oauth.complete("Sales", flow.wait())
    idp.revoke(USER)
    async with app.run_test(size=(100, 36)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: status_of(app) is Status.RED, limit=20)
        await settle(pilot)
        assert "Press s to sign in again" in visible_text(app)
        screen = await open_sign_in(pilot)
        idp.approve(screen.flow.user_code, USER)
        await wait_until(pilot, lambda: status_of(app) is Status.GREEN, limit=20)


async def test_gmail_loopback_screen_then_green(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "gmail"))
    port = free_port()
    async with app.run_test(size=(100, 36)) as pilot:
        await open_gmail_sign_in(pilot, port)
        screen = app.screen
        await wait_until(pilot, lambda: f"ssh -L {port}:127.0.0.1:{port}" in visible_text(app))
        landed = browser_redirect(screen.flow.url, oauth_mail_servers.ca_file)
        threading.Thread(target=lambda: urllib.request.urlopen(landed, timeout=5).read()).start()
        await wait_until(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        await wait_until(pilot, lambda: status_of(app) is Status.GREEN, limit=20)
        assert port_is_free(port)
        assert any("Account data synchronized" in n.message for n in app._notifications)


async def test_gmail_pasted_url_then_green(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "gmail"))
    async with app.run_test(size=(100, 36)) as pilot:
        await open_gmail_sign_in(pilot, free_port())
        landed = browser_redirect(app.screen.flow.url, oauth_mail_servers.ca_file)
        app.screen.query_one("#paste").value = landed
        await pilot.press("enter")
        await wait_until(pilot, lambda: status_of(app) is Status.GREEN, limit=20)


async def test_cancel_closes_the_listener(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "gmail"))
    port = free_port()
    async with app.run_test(size=(100, 36)) as pilot:
        await open_gmail_sign_in(pilot, port)
        assert not port_is_free(port)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        await wait_until(pilot, lambda: port_is_free(port))
        assert status_of(app) is Status.GREY


async def test_missing_app_is_said_on_the_sign_in_screen(tmp_path):
    app = make_app(tmp_path)
    from tests.ui_helpers import example_draft

    app.service.create(example_draft("Sales", type="outlook", password="", smtp_host="", inbound_host=""))
    async with app.run_test(size=(100, 36)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen))
        await wait_until(pilot, lambda: app.screen.query_one("#sign-in-problem").display)
        assert "oauth-app set microsoft" in visible_text(app)


async def test_oauth_app_settings_screen(tmp_path):
    from tests.oauth_server import GOOGLE_CLIENT_ID, MICROSOFT_CLIENT_ID
    from tui.ui.screens.oauth_apps import OAuthAppsScreen

    app = make_app(tmp_path)
    async with app.run_test(size=(100, 36)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, OAuthAppsScreen))
        await settle(pilot)
        screen = app.screen
        screen.query_one("#ms-client-id").value = "not a guid"
        screen.query_one("#google-client-id").value = GOOGLE_CLIENT_ID
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.query_one("#apps-problem").display)
        assert "Microsoft app not saved. Client ID:" in visible_text(app)
        assert app.service.oauth.microsoft_app() is None

        screen.query_one("#ms-client-id").value = MICROSOFT_CLIENT_ID
        await pilot.press("ctrl+s")  # Google still lacks its secret
        await wait_until(pilot, lambda: "Google app not saved. Client secret:" in visible_text(app))
        assert app.service.oauth.microsoft_app().client_id == MICROSOFT_CLIENT_ID

        screen.query_one("#google-client-secret").value = "s3cret-in-the-ui"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        google = app.service.oauth.google_app(with_secret=True)
        assert google.client_id == GOOGLE_CLIENT_ID and google.client_secret == "s3cret-in-the-ui"

        await pilot.press("o")  # the secret is never shown again: the field says it is stored
        await wait_until(pilot, lambda: isinstance(app.screen, OAuthAppsScreen))
        await settle(pilot)
        secret = app.screen.query_one("#google-client-secret")
        assert secret.value == "" and "stored" in secret.placeholder
        assert "s3cret-in-the-ui" not in visible_text(app)


async def test_form_sign_in_panel_names_the_missing_app_then_signs_in(tmp_path, oauth_mail_servers, idp, monkeypatch):
    from tui.ui.screens.form import ProviderFormScreen

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca-bundle.crt")
    app = make_app(tmp_path, ca_file=oauth_mail_servers.ca_file)
    app.service.create(oauth_draft(oauth_mail_servers, "outlook"))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ProviderFormScreen) and app.screen.loaded)
        await settle(pilot)
        assert "oauth-app set microsoft" in visible_text(app)
        assert app.screen.query_one("#sign_in").disabled
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ProvidersScreen))

        set_apps(app.service, idp)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ProviderFormScreen) and app.screen.loaded)
        await settle(pilot)
        form = app.screen
        assert "sign in (ctrl+o" in visible_text(app) and not form.query_one("#sign_in").disabled
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, SignInScreen) and app.screen.flow is not None)
        idp.approve(app.screen.flow.user_code, USER)
        await wait_until(pilot, lambda: app.screen is form)
        await wait_until(pilot, lambda: status_of(app) is Status.GREEN, limit=20)
        await wait_until(pilot, lambda: not form.busy)
        await wait_until(pilot, lambda: "signed in as alice@example.test" in visible_text(app))

        # A new account drops the sign-in: asked first.
        from tui.ui.screens.confirm import ConfirmScreen

        form.query_one("#account").value = OTHER
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "drops the sign-in of alice@example.test" in app.screen.question
        await pilot.press("n")
        assert app.service.require("Sales").token_key is not None
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.service.require("Sales").settings.account == OTHER)
        assert app.service.require("Sales").token_key is None


# --- the paste fallback of Outlook, the shared mailbox switch, Gmail's QR code ------------------


async def test_outlook_paste_fallback_through_the_ui_then_green(oauth_app, idp, oauth_mail_servers):
    from tui.core.oauth import MicrosoftPasteSignIn

    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "outlook"))
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_sign_in(pilot)
        device_flow = screen.flow
        assert "Paste instead" in visible_text(app)  # the key is in the footer
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(screen.flow, MicrosoftPasteSignIn))
        await settle(pilot)
        text = visible_text(app)
        assert "Paste the address of the blank page" in text and "The code expires" not in text
        assert " ".join(device_flow.user_code) not in text and "Paste instead" not in text
        assert "code_challenge=" in screen.flow.url
        landed = browser_redirect(screen.flow.url, oauth_mail_servers.ca_file)  # the person at the browser
        screen.query_one("#paste").value = landed
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        await wait_until(pilot, lambda: status_of(app) is Status.GREEN, limit=20)
        assert app.service.require("Sales").sign_in_state.account == USER


async def test_shared_mailbox_switch_accepts_another_account(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "outlook"))
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_sign_in(pilot)
        switch = screen.query_one("#shared-mailbox")
        await wait_until(pilot, lambda: screen.query_one("#shared-mailbox-row").display)
        assert "Shared mailbox" in visible_text(app) and switch.value is False
        await pilot.click("#shared-mailbox")
        assert switch.value is True
        await wait_until(pilot, lambda: app.service.require("Sales").sign_in_state.shared_mailbox)
        idp.mailbox_of[OTHER] = USER  # the mail servers let bob use alice's mailbox
        idp.approve(screen.flow.user_code, OTHER)
        await wait_until(pilot, lambda: isinstance(app.screen, ProvidersScreen) or screen.query_one("#sign-in-problem").display)
        assert isinstance(app.screen, ProvidersScreen), visible_text(app)
        await wait_until(pilot, lambda: status_of(app) is Status.GREEN, limit=20)
        state = app.service.require("Sales").sign_in_state
        assert state.account == OTHER and state.shared_mailbox


async def test_shared_mailbox_switch_preset_then_off_rejects_another_account(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "outlook"))
    app.service.oauth.set_shared_mailbox("Sales", True)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_sign_in(pilot)
        switch = screen.query_one("#shared-mailbox")
        assert switch.value is True  # the provider's current setting
        switch.value = False
        await wait_until(pilot, lambda: not app.service.require("Sales").sign_in_state.shared_mailbox)
        idp.approve(screen.flow.user_code, OTHER)
        await wait_until(pilot, lambda: screen.query_one("#sign-in-problem").display)
        # The problem's words are painted a frame after it shows: wait for them, not a frame.
        await wait_until(pilot, lambda: OTHER in visible_text(app) and USER in visible_text(app))
        assert not app.service.require("Sales").sign_in_state.shared_mailbox
        await pilot.press("escape")
        await wait_until(pilot, lambda: status_of(app) is Status.RED)
        assert app.service.require("Sales").token_key is None


async def test_gmail_screen_shows_the_qr_code_and_fits_80x24(oauth_app, idp, oauth_mail_servers):
    app = oauth_app
    app.service.create(oauth_draft(oauth_mail_servers, "gmail"))
    port = free_port()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_gmail_sign_in(pilot, port)
        await pilot.pause()  # not settle(): the listener's worker waits for the browser
        screen = app.screen
        # Pushed, then painted: wait for the tunnel line before reading the first view.
        await wait_until(pilot, lambda: f"ssh -L {port}:127.0.0.1:{port}" in visible_text(app))
        first_view = visible_text(app)
        # The essential lines are on screen without scrolling: the tunnel and the paste input.
        assert "Sign in Sales with Google" in first_view and f"ssh -L {port}:127.0.0.1:{port}" in first_view
        assert "paste the address the browser ended on" in first_view
        assert screen.query_one("#paste").has_focus
        qr = screen.query_one("#consent-qr")
        assert qr.display and qr.region.y >= screen.query_one("#paste").region.bottom
        # The QR code is below: the page keys scroll to it while the input has the focus.
        for _ in range(4):
            await pilot.press("pagedown")
        await pilot.pause()
        scrolled = visible_text(app)
        assert "▀" in scrolled and "▄" in scrolled and "█" in scrolled
        assert sum("▀" in line or "▄" in line for line in scrolled.splitlines()) >= 15  # a whole code
        assert screen.query_one("#paste").has_focus
        await pilot.press("escape")
        await wait_until(pilot, lambda: port_is_free(port))
