"""OAuth sign-in end to end, offline: msal and google-auth-oauthlib against the test identity
provider (tests/oauth_server.py) over https with the tests' CA, then the XOAUTH2 activation
against a Dovecot whose oauth2 passdb asks that provider, and aiosmtpd checking the tokens
with it. Nothing is mocked."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.databases import migrated_database
from tests.oauth_server import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, MICROSOFT_CLIENT_ID, browser_redirect
from tests.servers import HOST, USER, free_port
from tui.core.domain import ProviderDraft, Status
from tui.core.oauth import (
    AccountMismatch, AppNotSet, AppSettingsError, NotOAuth, PortTaken, SignInCancelled, SignInError,
)
from tui.core.oauth.tokens import TokenCache
from tui.core.report import FailureKind
from tui.core.secrets import MemoryKeyring, SecretStore
from tui.core.service import ProviderService
from tui.core.settings import load_settings
from tui.core.store import Store

OTHER = "bob@example.test"


def short_lived_tokens(idp) -> None:
    """Access tokens that expire within mailprov's refresh margin: each use refreshes."""
    idp.access_token_lifetime = 60


@pytest.fixture
def service(tmp_path, oauth_mail_servers, monkeypatch) -> ProviderService:
    # REQUESTS_CA_BUNDLE is set on these machines: MAILPROV_CA_FILE must win over it.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca-bundle.crt")
    settings = load_settings(env={
        "MAILPROV_DB": str(tmp_path / "m.db"), "MAILPROV_DATA_DIR": str(tmp_path),
        "MAILPROV_CONFIG_DIR": str(tmp_path), "MAILPROV_LOG_DIR": str(tmp_path), "MAILPROV_TIMEOUT": "5",
        "MAILPROV_CA_FILE": str(oauth_mail_servers.ca_file),
    })
    migrated_database(settings.db_path)  # these tests are about signing in, not a first run
    return ProviderService(Store.open(settings.db_url), SecretStore(MemoryKeyring()), settings)


def oauth_draft(servers, type_: str, name: str = "Sales", account: str = USER) -> ProviderDraft:
    return ProviderDraft(
        name=name, type=type_, account=account, receive_emails=True,
        smtp_host=HOST, smtp_port=str(servers.smtp.port("starttls")), smtp_security="starttls",
        inbound_host=HOST, inbound_port=str(servers.dovecot.imaps_port), inbound_security="ssl",
    )


def set_apps(service, idp) -> None:
    service.oauth.set_microsoft_app(MICROSOFT_CLIENT_ID, "organizations", idp.base_url)
    service.oauth.set_google_app(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, idp.google_auth_uri, idp.google_token_uri)


def approve_when_shown(idp, flow, user: str) -> threading.Thread:
    """The person at the browser: types the code shown and signs in as `user`."""
    thread = threading.Thread(target=lambda: (time.sleep(0.3), idp.approve(flow.user_code, user)))
    thread.start()
    return thread


def port_is_free(port: int) -> bool:
    """Nothing listens (a connection is refused) and a new listener can take the port (as
    mailprov's own does, with SO_REUSEADDR: the browser's closed connection may linger)."""
    try:
        socket.create_connection((HOST, port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        pass
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


# --- Outlook: device code flow ------------------------------------------------------------


def test_outlook_device_flow_signs_in_and_activates_over_xoauth2(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    flow = service.oauth.start("Sales")
    assert flow.user_code and flow.verification_uri.startswith("https://")
    approve_when_shown(idp, flow, USER.upper())  # the account check ignores case
    result = flow.wait()
    record = service.oauth.complete("Sales", result)
    assert record.token_key and record.sign_in_state.account == USER.upper()
    assert record.status is Status.GREY

    mark = oauth_mail_servers.smtp.recorder.mark()
    report = service.check("Sales")
    assert report.ok, report.failure
    auth = [e for e in oauth_mail_servers.smtp.recorder.events[mark:] if e.command == "AUTH"]
    assert [e.argument for e in auth] == ["XOAUTH2"]  # the token, checked by the identity provider
    assert "login" in [step.name for step in report.inbound.steps]  # Dovecot's oauth2 passdb
    assert service.require("Sales").status is Status.GREEN
    status = service.oauth.token_status(service.require("Sales"))
    assert status.signed_in and status.expires_in().total_seconds() > 3000
    assert "signed in as" in status.describe()
    # No token in the report, the database row or the log.
    stored = service.token_cache("Sales")
    assert TokenCache.loads(stored).msal_cache
    assert result.access_token not in str(report.to_dict())


def test_wrong_account_is_refused_naming_both_and_turns_red(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    flow = service.oauth.start("Sales")
    approve_when_shown(idp, flow, OTHER)
    result = flow.wait()
    with pytest.raises(AccountMismatch) as raised:
        service.oauth.complete("Sales", result)
    assert OTHER in raised.value.message and USER in raised.value.message
    record = service.require("Sales")
    assert record.token_key is None and record.status is Status.RED
    assert record.failure.kind is FailureKind.OAUTH and OTHER in record.failure.message

    # Marked as a shared mailbox, the same sign-in is accepted.
    service.oauth.set_shared_mailbox("Sales", True)
    assert service.oauth.complete("Sales", result).sign_in_state.account == OTHER


def test_revoked_refresh_token_turns_red_kind_oauth_then_signing_in_again_is_green(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    short_lived_tokens(idp)
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    flow = service.oauth.start("Sales")
    approve_when_shown(idp, flow, USER)
    service.oauth.complete("Sales", flow.wait())
    assert service.check("Sales").ok

    idp.revoke(USER)  # the next use refreshes, which the provider refuses
    service.check("Sales")
    record = service.require("Sales")
    assert record.status is Status.RED and record.failure.kind is FailureKind.OAUTH
    assert "login Sales" in record.failure.remedy

    flow = service.oauth.start("Sales")
    approve_when_shown(idp, flow, USER)
    service.oauth.complete("Sales", flow.wait())
    assert service.check("Sales").ok and service.require("Sales").status is Status.GREEN


def test_refresh_before_use_stores_the_rotated_refresh_token(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    short_lived_tokens(idp)
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    flow = service.oauth.start("Sales")
    approve_when_shown(idp, flow, USER)
    service.oauth.complete("Sales", flow.wait())
    before = service.token_cache("Sales")
    key = service.require("Sales").token_key

    refreshes = idp.refreshes
    assert service.check("Sales").ok  # refreshed before the login
    assert idp.refreshes == refreshes + 1
    after = service.token_cache("Sales")
    assert after != before and service.require("Sales").token_key == key  # rewritten in place
    # The old refresh token is spent (rotation): only the stored new one can refresh again.
    assert service.check("Sales").ok and idp.refreshes == refreshes + 2


def test_device_flow_cancel_from_another_thread(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    flow = service.oauth.start("Sales")
    threading.Timer(0.3, flow.cancel).start()
    started = time.monotonic()
    with pytest.raises(SignInCancelled):
        flow.wait()
    assert time.monotonic() - started < 3


def test_microsoft_pasted_url_fallback(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    flow = service.oauth.start("Sales", paste=True)
    assert "code_challenge=" in flow.url and "login_hint=" in flow.url
    landed = browser_redirect(flow.url, oauth_mail_servers.ca_file)
    service.oauth.complete("Sales", flow.finish(landed))
    assert service.check("Sales").ok


# --- Gmail: loopback listener and pasted URL -------------------------------------------------


def test_gmail_loopback_listener_signs_in_and_activates(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "gmail"))
    port = free_port()
    flow = service.oauth.start("Sales", port=port)
    for expected in ("code_challenge=", "prompt=consent", "access_type=offline", "login_hint=", "mail.google.com"):
        assert expected in flow.url
    assert flow.ssh_command("admin@server") == f"ssh -L {port}:127.0.0.1:{port} admin@server"
    landed = browser_redirect(flow.url, oauth_mail_servers.ca_file)
    assert landed.startswith(f"http://127.0.0.1:{port}/")
    # The browser, through the tunnel, follows the redirect to the listener.
    threading.Thread(target=lambda: __import__("urllib.request").request.urlopen(landed, timeout=5).read()).start()
    result = flow.wait(timeout=10)
    assert port_is_free(port)
    service.oauth.complete("Sales", result)
    assert service.check("Sales").ok

    # Google access tokens are refreshed (here: forced) and the rotated refresh token kept.
    cache = TokenCache.loads(service.token_cache("Sales"))
    refreshes = idp.refreshes
    credential = service.oauth.credential(service.require("Sales"), force_refresh=True)
    assert credential.oauth_token != cache.access_token and idp.refreshes == refreshes + 1
    assert TokenCache.loads(service.token_cache("Sales")).refresh_token != cache.refresh_token


def test_gmail_pasted_url(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "gmail"))
    flow = service.oauth.start("Sales", port=free_port(), paste=True)
    assert not flow.listening
    landed = browser_redirect(flow.url, oauth_mail_servers.ca_file)
    service.oauth.complete("Sales", flow.finish(landed))
    assert service.check("Sales").ok


@pytest.mark.parametrize("type_", ["outlook", "gmail"])
def test_an_oversized_token_answer_is_refused_and_nothing_is_stored(service, idp, oauth_mail_servers, type_):
    from tui.core.oauth.http import MAX_RESPONSE_BYTES

    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, type_))
    flow = service.oauth.start("Sales", port=free_port(), paste=True)
    idp.pad_next_token(MAX_RESPONSE_BYTES + 1)
    with pytest.raises(SignInError) as refused:
        flow.finish(browser_redirect(flow.url, oauth_mail_servers.ca_file))
    assert "too large" in str(refused.value) and "oauth-app show" in refused.value.remedy
    assert service.token_cache("Sales") is None
    # A normal answer right after is taken: the bound is on the answer, not the provider.
    flow = service.oauth.start("Sales", port=free_port(), paste=True)
    service.oauth.complete("Sales", flow.finish(browser_redirect(flow.url, oauth_mail_servers.ca_file)))
    assert service.check("Sales").ok


def test_gmail_cancel_closes_the_listener(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "gmail"))
    port = free_port()
    flow = service.oauth.start("Sales", port=port)
    assert not port_is_free(port)
    threading.Timer(0.3, flow.cancel).start()
    with pytest.raises(SignInCancelled):
        flow.wait(timeout=10)
    assert port_is_free(port)


def test_gmail_port_taken(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "gmail"))
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen(1)
        with pytest.raises(PortTaken):
            service.oauth.start("Sales", port=busy.getsockname()[1])


def test_revoked_google_refresh_token_names_the_testing_mode_expiry(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "gmail"))
    flow = service.oauth.start("Sales", paste=True)
    service.oauth.complete("Sales", flow.finish(browser_redirect(flow.url, oauth_mail_servers.ca_file)))
    idp.revoke(USER)
    # The stored access token still looks valid to mailprov: force the refresh path.
    record = service.require("Sales")
    from tui.core.oauth import SignInError

    with pytest.raises(SignInError) as raised:
        service.oauth.credential(record, force_refresh=True)
    assert raised.value.code == "invalid_grant" and "7 days" in raised.value.message


# --- app settings and bad input --------------------------------------------------------------


def test_sign_in_needs_its_app_and_an_oauth_provider(service, idp, oauth_mail_servers):
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    service.create(oauth_draft(oauth_mail_servers, "gmail", name="Mail"))
    assert "oauth-app set microsoft" in service.oauth.app_missing(service.require("Sales").settings.sign_in)
    with pytest.raises(AppNotSet, match="oauth-app set microsoft"):
        service.oauth.start("Sales")
    with pytest.raises(AppNotSet, match="oauth-app set google"):
        service.oauth.start("Mail")
    service.create(oauth_draft(oauth_mail_servers, "smtp-imap", name="Plain").updated(password="pw"))
    with pytest.raises(NotOAuth):
        service.oauth.start("Plain")


def test_app_settings_are_validated_and_the_secret_stays_in_the_secret_store(service):
    with pytest.raises(AppSettingsError) as raised:
        service.oauth.set_microsoft_app("not-a-guid", "bad tenant!", "http://login.example.com")
    assert set(raised.value.errors) == {"--client-id", "--tenant", "--authority-host"}
    with pytest.raises(AppSettingsError) as raised:
        service.oauth.set_google_app("id", None)
    assert "--client-secret-stdin" in raised.value.errors
    service.oauth.set_google_app("id.apps.googleusercontent.com", "s3cret-value")
    app = service.oauth.google_app()
    assert app.has_secret and app.client_secret is None and "s3cret-value" not in repr(app)
    assert "s3cret-value" not in str(service.oauth.apps().to_json())
    # A new client id keeps the stored secret; a new secret replaces it (the old one is deleted).
    service.oauth.set_google_app("other.apps.googleusercontent.com")
    assert service.oauth.google_app(with_secret=True).client_secret == "s3cret-value"
    service.oauth.set_google_app("other.apps.googleusercontent.com", "n3w-secret")
    assert service.oauth.google_app(with_secret=True).client_secret == "n3w-secret"
    assert service.store.intents() == []
    db = (service.settings.data_dir / "m.db").read_bytes()
    assert b"s3cret-value" not in db and b"n3w-secret" not in db


# --- error remedies, through the real libraries -------------------------------------------------


def test_device_flow_error_codes_get_their_remedy(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    from tui.core.oauth import SignInError

    for code, words in (("AADSTS7000218", "Allow public client flows"), ("AADSTS65001", "admin consent"),
                        ("AADSTS50194", "--tenant TENANT_ID")):
        flow = service.oauth.start("Sales")
        idp.fail_next_token("invalid_client" if code == "AADSTS7000218" else "invalid_request",
                            f"{code}: words from Microsoft")
        with pytest.raises(SignInError) as raised:
            flow.wait()
        assert raised.value.code == code and words in raised.value.remedy


def test_expired_microsoft_refresh_token_turns_red_with_sign_in_again(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    short_lived_tokens(idp)
    service.create(oauth_draft(oauth_mail_servers, "outlook"))
    flow = service.oauth.start("Sales")
    approve_when_shown(idp, flow, USER)
    service.oauth.complete("Sales", flow.wait())
    idp.fail_next_token("invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity.")
    report = service.check("Sales")
    failure = service.require("Sales").failure
    assert not report.ok and failure.kind is FailureKind.OAUTH
    assert "expired" in failure.message and "mailprov login Sales" in failure.remedy
    doctor_line = service.oauth.token_status(service.require("Sales")).describe()
    assert doctor_line.startswith(f"signed in as {USER}")


def test_smtp_refusals_of_a_token_name_the_exchange_fix():
    from tui.core.checks.failures import auth_rejected
    from tui.core.checks.target import Target
    from tui.core.domain import ServerSettings, SignIn
    from tui.core.protocols import Protocol, Security

    target = Target(Protocol.SMTP, ServerSettings("smtp.office365.com", 587, Security.STARTTLS),
                    "sales@example.com", "sales@example.com", SignIn.MICROSOFT, 10)
    failure = auth_rejected(target, True, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                                          "is disabled for the Mailbox")
    assert "Set-CASMailbox -Identity sales@example.com -SmtpClientAuthenticationDisabled $false" in failure.remedy
    password = auth_rejected(target, False, "550 5.7.30 Basic authentication is not supported for Client Submission")
    assert "type to Outlook" in password.remedy


def test_a_new_account_drops_the_sign_in(service, idp, oauth_mail_servers):
    set_apps(service, idp)
    service.create(oauth_draft(oauth_mail_servers, "gmail"))
    flow = service.oauth.start("Sales", paste=True)
    service.oauth.complete("Sales", flow.finish(browser_redirect(flow.url, oauth_mail_servers.ca_file)))
    kept = service.update("Sales", service.draft_for("Sales").updated(account=USER.upper()))
    assert kept.token_key is not None  # the same mailbox, written otherwise
    moved = service.update("Sales", service.draft_for("Sales").updated(account=OTHER))
    assert moved.token_key is None and moved.sign_in_state.account is None
    assert service.store.intents() == [] and service.secrets.get_password(kept.token_key) is None
    assert service.oauth.credential(moved).oauth_token is None


def test_qr_lines_draw_the_code_module_for_module():
    import segno

    from tui.core.qr import QUIET_ZONE, qr_lines

    url = "https://microsoft.com/devicelogin"
    lines = qr_lines(url)
    matrix = segno.make(url, error="l", micro=False).matrix
    size = len(matrix) + 2 * QUIET_ZONE
    assert all(len(line) == size for line in lines) and len(lines) == (size + 1) // 2
    # Read the half blocks back: the top half of a cell is light for █ and ▀.
    light = [[line[x] in "█▀" for x in range(size)] for line in lines]
    for y, row in enumerate(matrix):
        if (y + QUIET_ZONE) % 2 == 0:
            assert [light[(y + QUIET_ZONE) // 2][x + QUIET_ZONE] for x in range(len(row))] == [not m for m in row]
