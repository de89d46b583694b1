"""`mailprov oauth-app` and `mailprov login` end to end: in-process for the device code flow
and bad input, as a real process where the test must read what it prints (the consent URL)
while it runs, and for Ctrl+C. Against the test identity provider and the OAuth-checking
Dovecot and aiosmtpd (tests/servers.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.oauth_server import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, MICROSOFT_CLIENT_ID, browser_redirect
from tests.servers import HOST, USER, free_port
from tests.test_cli import cli  # noqa: F401  (the fixture)
from tests.test_oauth import port_is_free

OTHER = "bob@example.test"


@pytest.fixture
def ocli(cli, oauth_mail_servers, monkeypatch):
    """The CLI, trusting the test CA through MAILPROV_CA_FILE (REQUESTS_CA_BUNDLE, set on
    these machines, pointing elsewhere: mailprov's setting must win)."""
    monkeypatch.setenv("MAILPROV_CA_FILE", str(oauth_mail_servers.ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca-bundle.crt")
    cli.env["MAILPROV_CA_FILE"] = str(oauth_mail_servers.ca_file)
    return cli


def set_apps(cli, idp) -> None:
    assert cli("oauth-app", "set", "microsoft", "--client-id", MICROSOFT_CLIENT_ID,
               "--authority-host", idp.base_url)[0] == 0
    assert cli("oauth-app", "set", "google", "--client-id", GOOGLE_CLIENT_ID, "--client-secret-stdin",
               "--auth-uri", idp.google_auth_uri, "--token-uri", idp.google_token_uri,
               stdin=GOOGLE_CLIENT_SECRET + "\n")[0] == 0


def add_oauth_provider(cli, servers, type_: str, name: str = "Sales") -> None:
    code, _, err = cli("provider", "add", "--name", name, "--type", type_, "--account", USER,
                       "--smtp-host", HOST, "--smtp-port", str(servers.smtp.port("starttls")),
                       "--smtp-security", "starttls", "--inbound-host", HOST,
                       "--inbound-port", str(servers.dovecot.imaps_port), "--inbound-security", "ssl")
    assert code == 0, err


def approve_next_code(idp, user: str) -> threading.Thread:
    """The person at the browser: waits for a new device code and approves it as `user`."""
    known = set(idp.pending_user_codes())

    def approve() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            fresh = [code for code in idp.pending_user_codes() if code not in known]
            if fresh:
                idp.approve(fresh[0], user)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    return thread


# --- oauth-app -----------------------------------------------------------------------------


def test_oauth_app_set_and_show_never_print_the_secret(ocli, idp):
    code, out, _ = ocli("oauth-app", "show")
    assert code == 0 and "Microsoft: not set" in out and "Google: not set" in out
    set_apps(ocli, idp)
    code, out, _ = ocli("oauth-app", "show")
    assert code == 0 and MICROSOFT_CLIENT_ID in out and GOOGLE_CLIENT_ID in out
    code, out, _ = ocli("oauth-app", "show", "--json")
    shown = json.loads(out)
    assert shown["microsoft"]["authority"] == f"{idp.base_url}/organizations"
    assert shown["google"]["client_secret_stored"] is True and shown["google"]["token_uri"] == idp.google_token_uri
    every_output = "".join(ocli(*args)[1] for args in (("oauth-app", "show"), ("oauth-app", "show", "--json"),
                                                          ("doctor",), ("export",)))
    assert GOOGLE_CLIENT_SECRET not in every_output
    assert GOOGLE_CLIENT_SECRET.encode() not in ocli.every_file_byte()  # the secret file is encrypted


def test_oauth_app_set_refuses_bad_values_naming_the_option(ocli):
    code, _, err = ocli("oauth-app", "set", "microsoft", "--client-id", "nope", "--tenant", "a b",
                        "--authority-host", "http://login.example.com")
    assert code == 2
    for option in ("--client-id", "--tenant", "--authority-host"):
        assert f"mailprov: {option}:" in err
    code, _, err = ocli("oauth-app", "set", "google", "--client-id", GOOGLE_CLIENT_ID)
    assert code == 2 and "--client-secret-stdin" in err
    assert "not set" in ocli("oauth-app", "show")[1]


# --- login: exit codes ------------------------------------------------------------------------


def test_login_bad_input_exits_2(ocli, idp, oauth_mail_servers):
    code, _, err = ocli("login", "Nobody")
    assert code == 2 and "No provider named 'Nobody'" in err
    assert ocli("provider", "add", "--name", "Plain", "--type", "smtp-imap", "--account", USER,
                "--smtp-host", HOST, "--inbound-host", HOST, "--password-stdin", stdin="pw\n")[0] == 0
    code, _, err = ocli("login", "Plain")
    assert code == 2 and "password, not OAuth" in err
    add_oauth_provider(ocli, oauth_mail_servers, "outlook")
    code, _, err = ocli("login", "Sales")
    assert code == 2 and "oauth-app set microsoft" in err
    add_oauth_provider(ocli, oauth_mail_servers, "gmail", name="Mail")
    code, _, err = ocli("login", "Mail")
    assert code == 2 and "oauth-app set google" in err
    set_apps(ocli, idp)
    code, _, err = ocli("login", "Mail", "--port", "70000")
    assert code == 2 and "--port 70000" in err
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, _, err = ocli("login", "Mail", "--port", str(port))
    assert code == 2 and f"--port {port}" in err and "in use" in err


def test_login_outlook_device_code_ends_active(ocli, idp, oauth_mail_servers):
    set_apps(ocli, idp)
    add_oauth_provider(ocli, oauth_mail_servers, "outlook")
    approve_next_code(idp, USER)
    code, out, err = ocli("login", "Sales")
    assert code == 0, err
    assert f"{idp.base_url}/devicelogin" in out and "enter the code" in out
    assert f"Signed in as {USER}" in out and "Sales: ● active" in out
    assert json.loads(ocli("provider", "show", "Sales", "--json")[1])["status"] == "green"
    code, out, _ = ocli("doctor")
    assert f"Sales: signed in as {USER}; access token expires in" in out and "refresh token" in out


def test_login_with_the_wrong_account_exits_1_naming_both(ocli, idp, oauth_mail_servers):
    set_apps(ocli, idp)
    add_oauth_provider(ocli, oauth_mail_servers, "outlook")
    approve_next_code(idp, OTHER)
    code, out, err = ocli("login", "Sales")
    assert code == 1
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1 and OTHER in lines[0] and USER in lines[0]
    shown = json.loads(ocli("provider", "show", "Sales", "--json")[1])
    assert shown["status"] == "red" and shown["kind"] == "oauth"
    code, out, _ = ocli("doctor")
    assert code == 1 and "✖ sign-in" in out and "login Sales" in out


def test_login_declined_exits_1(ocli, idp, oauth_mail_servers):
    set_apps(ocli, idp)
    add_oauth_provider(ocli, oauth_mail_servers, "outlook")
    known = set(idp.pending_user_codes())

    def decline() -> None:
        for _ in range(200):
            fresh = [code for code in idp.pending_user_codes() if code not in known]
            if fresh:
                idp.deny(fresh[0])
                return
            time.sleep(0.05)

    threading.Thread(target=decline, daemon=True).start()
    code, _, err = ocli("login", "Sales")
    assert code == 1 and "declined" in err


# --- login as a real process: Gmail, and Ctrl+C ---------------------------------------------------


def mailprov_process(cli, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHON_KEYRING_BACKEND", "MAILPROV_MASTER_KEY", "DBUS_SESSION_BUS_ADDRESS",
                        "CREDENTIALS_DIRECTORY")}
    env.update(cli.env)
    env["REQUESTS_CA_BUNDLE"] = "/nonexistent/ca-bundle.crt"
    return subprocess.Popen([sys.executable, "-m", "tui", *args], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until(process: subprocess.Popen, marker: str) -> list[str]:
    lines = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    process.kill()
    raise AssertionError(f"{marker!r} never printed: {lines} {process.stderr.read()}")


def consent_url(lines: list[str]) -> str:
    return next(line.strip() for line in lines if line.strip().startswith("https://"))


def test_login_gmail_through_the_loopback_listener(ocli, idp, oauth_mail_servers):
    set_apps(ocli, idp)
    add_oauth_provider(ocli, oauth_mail_servers, "gmail")
    port = free_port()
    process = mailprov_process(ocli, "login", "Sales", "--port", str(port))
    lines = read_until(process, "Waiting for the browser")
    assert any(f"ssh -L {port}:127.0.0.1:{port} " in line for line in lines)
    landed = browser_redirect(consent_url(lines), oauth_mail_servers.ca_file)
    assert "Signed in" in urllib.request.urlopen(landed, timeout=5).read().decode()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"Signed in as {USER}" in out and "● active" in out
    assert port_is_free(port)


def test_login_gmail_with_a_pasted_url(ocli, idp, oauth_mail_servers):
    set_apps(ocli, idp)
    add_oauth_provider(ocli, oauth_mail_servers, "gmail")
    process = mailprov_process(ocli, "login", "Sales", "--paste", "--port", str(free_port()))
    lines = read_until(process, "paste it here")
    landed = browser_redirect(consent_url(lines), oauth_mail_servers.ca_file)
    out, err = process.communicate(landed + "\n", timeout=60)
    assert process.returncode == 0, err
    assert "● active" in out


def test_ctrl_c_cancels_the_login_and_closes_the_listener(ocli, idp, oauth_mail_servers):
    set_apps(ocli, idp)
    add_oauth_provider(ocli, oauth_mail_servers, "gmail")
    port = free_port()
    process = mailprov_process(ocli, "login", "Sales", "--port", str(port))
    read_until(process, "Waiting for the browser")
    assert not port_is_free(port)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert port_is_free(port)
    assert json.loads(ocli("provider", "show", "Sales", "--json")[1])["status"] == "grey"
