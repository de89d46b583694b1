"""The CLI end to end, in-process, on a real SQLite file and the encrypted secret file."""

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import migrated_database
from tui.cli import main
from tui.core.store import HEAD_REVISION

PASSWORD = "Zebra-Tr0ub4dor&3"  # distinctive, so a leak anywhere can be found


class Cli:
    def __init__(self, home: Path, monkeypatch, capsys):
        self.home = home
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.env = {
            "MAILPROV_DB": str(home / "data" / "mailprov.db"),
            "MAILPROV_DATA_DIR": str(home / "data"),
            "MAILPROV_CONFIG_DIR": str(home / "config"),
            "MAILPROV_LOG_DIR": str(home / "log"),
            "MAILPROV_TIMEOUT": "5",
        }
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        for key in ("PYTHON_KEYRING_BACKEND", "MAILPROV_MASTER_KEY", "DBUS_SESSION_BUS_ADDRESS",
                    "CREDENTIALS_DIRECTORY", "MAILPROV_CA_FILE"):
            monkeypatch.delenv(key, raising=False)
        migrated_database(self.env["MAILPROV_DB"])  # these tests are not about a first run

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    def every_file_byte(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.home.rglob("*") if p.is_file())


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    return Cli(tmp_path, monkeypatch, capsys)


def add_support(cli, *extra: str, password: str = PASSWORD):
    return cli("provider", "add", "--name", "Support", "--type", "smtp-imap",
               "--account", "support@example.com", "--smtp-host", "smtp.example.com",
               "--inbound-host", "imap.example.com", "--password-stdin", *extra, stdin=password + "\n")


def add_real(cli, name: str, draft, password: str):
    """Add a provider for the real test servers through the CLI, flag by flag."""
    return cli("provider", "add", "--name", name, "--type", "smtp-imap", "--account", draft.account,
               "--smtp-host", draft.smtp_host, "--smtp-port", draft.smtp_port,
               "--smtp-security", draft.smtp_security, "--inbound-host", draft.inbound_host,
               "--inbound-port", draft.inbound_port, "--inbound-security", draft.inbound_security,
               "--password-stdin", stdin=password + "\n")


def test_add_list_show_edit_rm(cli):
    code, out, _ = add_support(cli, "--reply-to", "a@example.com;b@example.com")
    assert code == 0 and "Support" in out and "not checked" in out

    code, out, _ = cli("provider", "list", "--json")
    listed = json.loads(out)
    assert [p["name"] for p in listed] == ["Support"]
    assert listed[0]["status"] == "grey" and listed[0]["reply_to"] == ["a@example.com", "b@example.com"]

    code, out, _ = cli("provider", "edit", "support", "--smtp-port", "2525", "--rename", "Help desk",
                       "--from-name", "Help Desk Team")
    assert code == 0
    shown = json.loads(cli("provider", "show", "help desk", "--json")[1])
    assert (shown["name"], shown["outbound"]["port"], shown["from_name"]) == ("Help desk", 2525, "Help Desk Team")
    assert shown["outbound"]["security"] == "starttls" and shown["inbound"]["port"] == 993

    code, out, _ = cli("provider", "list")
    assert "○ not checked" in out and "Help desk" in out

    assert cli("provider", "rm", "Help desk")[0] == 0
    assert json.loads(cli("provider", "list", "--json")[1]) == []


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--smtp-port", "abc"], "--smtp-port (SMTP port)"),
        (["--smtp-host", "smtps://smtp.example.com"], "--smtp-host (SMTP host)"),
        (["--account", "nope"], "--account (Account)"),
        (["--smtp-security", "quantum"], "--smtp-security (SMTP security)"),
        (["--inbound-host", ""], "--inbound-host (IMAP host)"),
        (["--imap-host", ""], "--inbound-host (IMAP host)"),
        (["--inbound-protocol", "pop3", "--inbound-host", ""], "--inbound-host (POP3 host)"),
        (["--inbound-protocol", "smtp"], "--inbound-protocol (Protocol)"),
    ],
)
def test_bad_input_names_the_flag_exits_2_and_writes_nothing(cli, flags, names):
    code, out, err = add_support(cli, *flags)
    assert code == 2
    assert names in err and err.count("\n") == 1
    assert json.loads(cli("provider", "list", "--json")[1]) == []


def test_duplicate_name_and_unknown_provider_are_bad_input(cli):
    add_support(cli)
    code, _, err = add_support(cli)
    assert code == 2 and "already exists" in err
    code, _, err = cli("provider", "show", "nobody")
    assert code == 2 and "No provider named 'nobody'" in err


def test_a_password_is_required_for_smtp_imap(cli):
    code, _, err = cli("provider", "add", "--name", "X", "--type", "smtp-imap", "--account",
                       "x@example.com", "--smtp-host", "smtp.example.com", "--no-receive")
    assert code == 2 and "Password" in err


def test_oauth_types_take_their_presets(cli):
    code, _, _ = cli("provider", "add", "--name", "G", "--type", "gmail", "--account", "g@example.com")
    assert code == 0
    shown = json.loads(cli("provider", "show", "G", "--json")[1])
    assert shown["outbound"] == {"host": "smtp.gmail.com", "port": 587, "security": "starttls", "sign_in": "login"}
    assert shown["inbound"] == {"protocol": "imap", "host": "imap.gmail.com", "port": 993, "security": "ssl"}
    assert shown["sign_in"] == "google"


def test_inbound_flags_choose_pop3_and_the_imap_flags_are_aliases(cli):
    code, _, _ = add_support(cli, "--inbound-protocol", "pop3", "--inbound-host", "pop.example.com")
    assert code == 0
    shown = json.loads(cli("provider", "show", "Support", "--json")[1])
    assert shown["inbound"] == {"protocol": "pop3", "host": "pop.example.com", "port": 995, "security": "ssl"}
    assert "POP3" in cli("provider", "list")[1]  # the RECEIVE column names the protocol

    # --imap-* change the inbound server, whatever its protocol: POP3 stays POP3.
    assert cli("provider", "edit", "Support", "--imap-security", "starttls", "--imap-host", "mail.example.com")[0] == 0
    inbound = json.loads(cli("provider", "show", "Support", "--json")[1])["inbound"]
    assert inbound == {"protocol": "pop3", "host": "mail.example.com", "port": 110, "security": "starttls"}

    # A standard port follows the protocol; a port someone chose stays.
    cli("provider", "edit", "Support", "--inbound-protocol", "imap")
    assert json.loads(cli("provider", "show", "Support", "--json")[1])["inbound"]["port"] == 143
    cli("provider", "edit", "Support", "--inbound-protocol", "pop3", "--inbound-port", "143")
    assert json.loads(cli("provider", "show", "Support", "--json")[1])["inbound"]["port"] == 143  # as given
    cli("provider", "edit", "Support", "--inbound-port", "1143")
    cli("provider", "edit", "Support", "--inbound-protocol", "pop3", "--inbound-security", "ssl")
    assert json.loads(cli("provider", "show", "Support", "--json")[1])["inbound"]["port"] == 1143

    cli("provider", "edit", "Support", "--no-receive")
    shown = json.loads(cli("provider", "show", "Support", "--json")[1])
    assert shown["inbound"] is None and shown["receive_emails"] is False


def test_export_then_import_elsewhere(cli, tmp_path, monkeypatch):
    add_support(cli)
    out_file = tmp_path / "providers.toml"
    assert cli("export", "-o", str(out_file))[0] == 0
    text = out_file.read_text()
    assert PASSWORD not in text

    # A fresh database: the import needs the password from the environment.
    monkeypatch.setenv("MAILPROV_DB", str(tmp_path / "second.db"))
    code, _, err = cli("import", str(out_file))
    assert code == 2 and "password_env" in err and "nothing imported" in err
    out_file.write_text(text.replace('name = "Support"', 'name = "Support"\npassword_env = "PW"'))
    monkeypatch.setenv("PW", "imported-password")
    code, out, _ = cli("import", str(out_file), "--dry-run")
    assert code == 0 and "would create Support" in out
    assert json.loads(cli("provider", "list", "--json")[1]) == []
    code, out, _ = cli("import", str(out_file))
    assert code == 0 and "Imported 1" in out
    assert json.loads(cli("provider", "show", "Support", "--json")[1])["account"] == "support@example.com"


def test_a_bad_import_file_changes_nothing(cli, tmp_path):
    add_support(cli)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[provider]]\nname = "Support"\ntype = "smtp-imap"\naccount = "support@example.com"\n'
                   'smtp_host = "smtp.example.com"\nimap_host = "imap.example.com"\nsmtp_port = 2525\n'
                   '[[provider]]\nname = "Other"\ntype = "smtp-imap"\naccount = "bad"\n')
    code, _, err = cli("import", str(bad))
    assert code == 2
    assert "provider 2 ('Other'): Account" in err
    assert json.loads(cli("provider", "show", "Support", "--json")[1])["outbound"]["port"] == 587


def test_doctor_reports_database_and_secret_store(cli):
    add_support(cli)
    code, out, _ = cli("doctor")
    assert code == 0
    assert f"schema {HEAD_REVISION}" in out and "1 providers" in out
    assert "encrypted file" in out and "CA source" in out


def test_check_requires_names_or_all(cli):
    code, _, err = cli("check")
    assert code == 2 and "--all" in err


def test_check_json_against_real_servers(cli, mail_servers, monkeypatch):
    monkeypatch.setenv("MAILPROV_CA_FILE", str(mail_servers.ca_file))
    draft = mail_servers.draft()
    code, _, err = add_real(cli, "Real", draft, draft.password)
    assert code == 0, err
    code, out, _ = cli("check", "Real", "--json")
    assert code == 0
    (result,) = json.loads(out)
    assert result["status"] == "green" and result["kind"] is None
    assert {s["protocol"] for s in result["steps"]} == {"smtp", "imap"}
    assert all(step["ok"] for step in result["steps"])

    cli("provider", "edit", "Real", "--password-stdin", stdin=PASSWORD + "\n")
    code, out, _ = cli("check", "--all")
    assert code == 1
    assert "✖ auth" in out and "fix:" in out
    listed = json.loads(cli("provider", "list", "--json")[1])
    assert listed[0]["status"] == "red" and listed[0]["kind"] == "auth"


@pytest.mark.parametrize(("security", "port_attr"), [("ssl", "pop3_ssl_port"), ("starttls", "pop3_starttls_port")])
def test_a_pop3_provider_from_the_command_line_to_green_and_red(cli, mail_servers, monkeypatch, security, port_attr):
    monkeypatch.setenv("MAILPROV_CA_FILE", str(mail_servers.ca_file))
    draft = mail_servers.draft()
    code, _, err = cli("provider", "add", "--name", "Pop", "--type", "smtp-imap", "--account", draft.account,
                       "--smtp-host", draft.smtp_host, "--smtp-port", draft.smtp_port,
                       "--inbound-protocol", "pop3", "--inbound-host", draft.inbound_host,
                       "--inbound-port", str(getattr(mail_servers, port_attr)), "--inbound-security", security,
                       "--password-stdin", stdin=draft.password + "\n")
    assert code == 0, err
    shown = json.loads(cli("provider", "show", "Pop", "--json")[1])
    assert shown["inbound"]["protocol"] == "pop3"

    code, out, err = cli("check", "Pop", "--json")
    assert code == 0, out + err
    (result,) = json.loads(out)
    assert result["status"] == "green"
    pop3_steps = [step["name"] for step in result["steps"] if step["protocol"] == "pop3"]
    assert "stat" in pop3_steps and "login" in pop3_steps
    assert "message" in result["summary"]["pop3"]

    cli("provider", "edit", "Pop", "--password-stdin", stdin="not-the-password\n")
    code, out, _ = cli("check", "Pop", "--json")
    (result,) = json.loads(out)
    assert code == 1 and result["kind"] == "auth" and "password" in result["fields"]


def test_the_password_is_nowhere_but_in_the_secret_store(cli, mail_servers, monkeypatch):
    """Not in the SQLite file (or its WAL), the logs, the export or any output."""
    monkeypatch.setenv("MAILPROV_CA_FILE", str(mail_servers.ca_file))
    _, add_out, _ = add_real(cli, "Leak", mail_servers.draft(), PASSWORD)
    outputs = [add_out]
    outputs += [cli("check", "Leak")[1], cli("provider", "show", "Leak", "--json")[1], cli("export")[1]]
    everything = cli.every_file_byte() + "".join(outputs).encode()
    auth_plain = base64.b64encode(f"\0{mail_servers.draft().account}\0{PASSWORD}".encode())
    for secret in (PASSWORD.encode(), auth_plain, base64.b64encode(PASSWORD.encode())):
        assert secret not in everything
    assert (cli.home / "log" / "mailprov.log").read_text().count("Leak") >= 2  # the log was written


def test_console_script_runs_as_a_module(tmp_path):
    env = {"MAILPROV_DB": str(tmp_path / "m.db"), "MAILPROV_DATA_DIR": str(tmp_path),
           "MAILPROV_CONFIG_DIR": str(tmp_path), "MAILPROV_LOG_DIR": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    migrated_database(tmp_path / "m.db")  # first runs: tests/test_environment.py
    done = subprocess.run([sys.executable, "-m", "tui", "provider", "list"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "No providers yet" in done.stdout
    done = subprocess.run([sys.executable, "-m", "tui", "provider", "add", "--name", "x"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--type" in done.stderr


def test_a_provider_whose_password_is_gone_says_password_missing(cli):
    from tui.core.secrets import EncryptedFileKeyring, SecretStore
    from tui.core.store import Store

    add_support(cli)
    store = Store.open(f"sqlite:///{cli.home / 'data' / 'mailprov.db'}")
    key = store.require("Support").secret_key
    store.close()
    key_file = (cli.home / "config" / "master.key").read_text().strip()
    SecretStore(EncryptedFileKeyring(cli.home / "data" / "secrets.enc", key_file, "test")).delete_password(key)

    code, out, err = cli("check", "Support")
    assert code == 1
    assert "✖ secret: The stored password of provider 'Support' is missing." in out
    assert "--password-stdin" in out  # the remedy: enter it again
    code, listed, _ = cli("provider", "list")
    assert "✖ password missing" in listed and "not checked" not in listed
    shown = json.loads(cli("provider", "show", "Support", "--json")[1])
    assert shown["password_missing"] is True and shown["status_text"] == "✖ password missing"
    assert key not in out + err + listed + json.dumps(shown)

    cli("provider", "edit", "Support", "--password-stdin", stdin="a new one\n")
    shown = json.loads(cli("provider", "show", "Support", "--json")[1])
    assert (shown["password_missing"], shown["status_text"]) == (False, "○ not checked")


def test_arguments_with_bytes_that_are_not_utf8_are_bad_input(cli):
    bad = b"Caf\xe9".decode("utf-8", "surrogateescape")  # what Python makes of `--name $'Caf\xe9'`
    code, _, err = cli("provider", "add", "--name", bad, "--type", "gmail", "--account", "c@example.com")
    assert code == 2 and "--name (Name): This is not valid text" in err
    code, _, err = cli("provider", "show", bad)
    assert code == 2 and "No provider named 'Caf\\udce9'" in err
    assert json.loads(cli("provider", "list", "--json")[1]) == []


def test_check_names_are_deduplicated_case_insensitively_in_order(cli, mail_servers, monkeypatch):
    monkeypatch.setenv("MAILPROV_CA_FILE", str(mail_servers.ca_file))
    draft = mail_servers.draft()
    assert add_real(cli, "Alice", draft, draft.password)[0] == 0
    assert add_real(cli, "Bob", draft, draft.password)[0] == 0
    code, out, err = cli("check", "bob", "alice", "ALICE", "Bob", "--json")
    assert code == 0, out + err
    assert [result["name"] for result in json.loads(out)] == ["Bob", "Alice"]


def test_check_all_on_an_empty_database_says_so(cli):
    code, out, err = cli("check", "--all")
    assert (code, out, err) == (0, "No providers to check.\n", "")
    code, out, err = cli("check", "--all", "--json")
    assert code == 0 and json.loads(out) == [] and "No providers to check." in err


def test_transcripts_only_in_show_json_or_on_request_and_show_prints_the_steps(cli, mail_servers, monkeypatch):
    monkeypatch.setenv("MAILPROV_CA_FILE", str(mail_servers.ca_file))
    draft = mail_servers.draft()
    assert add_real(cli, "Real", draft, draft.password)[0] == 0
    assert cli("check", "Real")[0] == 0

    (listed,) = json.loads(cli("provider", "list", "--json")[1])
    assert listed["last_report"]["outbound"]["steps"] and "transcript" not in listed["last_report"]["outbound"]
    assert "transcript" not in listed["last_report"]["inbound"]
    (full,) = json.loads(cli("provider", "list", "--json", "--transcripts")[1])
    assert any(line.startswith("C: ehlo") for line in full["last_report"]["outbound"]["transcript"])
    shown = json.loads(cli("provider", "show", "Real", "--json")[1])
    assert shown["last_report"]["inbound"]["transcript"]

    code, out, _ = cli("provider", "show", "Real")
    assert code == 0
    assert "Real: ● active" in out and "✓ ehlo" in out and "✓ examine" in out


def test_a_rename_clash_names_the_rename_flag(cli):
    add_support(cli)
    cli("provider", "add", "--name", "Other", "--type", "gmail", "--account", "o@example.com")
    code, _, err = cli("provider", "edit", "Other", "--rename", "SUPPORT")
    assert code == 2 and err.startswith("mailprov: --rename (Name): ") and "already exists" in err
    assert "--name" not in err
    code, _, err = cli("provider", "edit", "Other", "--rename", "")
    assert code == 2 and "--rename (Name)" in err


def test_reimporting_identical_entries_reports_unchanged(cli, tmp_path, monkeypatch):
    add_support(cli)
    exported = tmp_path / "same.toml"
    assert cli("export", "-o", str(exported))[0] == 0
    code, out, _ = cli("import", str(exported), "--dry-run")
    assert code == 0 and out.startswith("unchanged Support\n")
    code, out, _ = cli("import", str(exported))
    assert code == 0 and "unchanged Support" in out and "Imported 0 provider(s) (1 unchanged)" in out

    with_password = exported.read_text().replace('name = "Support"', 'name = "Support"\npassword_env = "PW"')
    exported.write_text(with_password)
    monkeypatch.setenv("PW", PASSWORD)  # the stored one: still nothing to change
    assert cli("import", str(exported))[1].startswith("unchanged Support")
    monkeypatch.setenv("PW", "a new password")
    assert cli("import", str(exported))[1].startswith("update Support")
    exported.write_text(with_password.replace("port = 587", "port = 2525"))
    assert cli("import", str(exported))[1].startswith("update Support")
    assert json.loads(cli("provider", "show", "Support", "--json")[1])["outbound"]["port"] == 2525


def test_an_import_reports_every_problem_at_once_in_file_order(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[provider]]\nname = "A"\ntype = "gmail"\naccount = "a@example.com"\n'
                   'outbound = { port = 70000 }\n'
                   '[[provider]]\nname = "B"\ntype = "gmail"\naccount = 5\nreceive_emails = "yes"\n'
                   '[[provider]]\nname = "a"\ntype = "gmail"\naccount = "a2@example.com"\n')
    code, _, err = cli("import", str(bad))
    lines = err.splitlines()
    assert code == 2 and lines[-1] == f"mailprov: nothing imported: 4 problem(s) in {bad}."
    assert [line.split(": ")[1] for line in lines[:-1]] == [
        "provider 1 ('A')", "provider 2 ('B')", "provider 2 ('B')", "provider 3 ('a')"]
    assert "SMTP port" in lines[0] and "Receive emails" in lines[1] and "Account" in lines[2]
    assert "more than once" in lines[3]


def test_export_with_a_password_env_prefix_imports_elsewhere_in_one_command(cli, mail_servers, tmp_path, monkeypatch):
    monkeypatch.setenv("MAILPROV_CA_FILE", str(mail_servers.ca_file))
    draft = mail_servers.draft()
    assert add_real(cli, "Help desk", draft, draft.password)[0] == 0
    assert add_real(cli, "Help-desk", draft, draft.password)[0] == 0  # the same variable name: made unique
    cli("provider", "add", "--name", "G", "--type", "gmail", "--account", "g@example.com")
    exported = tmp_path / "move.toml"
    assert cli("export", "--password-env-prefix", "MAILPROV_PW_", "-o", str(exported))[0] == 0
    text = exported.read_text()
    assert 'password_env = "MAILPROV_PW_HELP_DESK"' in text and 'password_env = "MAILPROV_PW_HELP_DESK_2"' in text
    assert text.count("password_env =") == 2  # not for the Gmail provider
    assert f'"{draft.password}"' not in text  # never a password, only the variables' names

    monkeypatch.setenv("MAILPROV_DB", str(tmp_path / "other-machine.db"))
    monkeypatch.setenv("MAILPROV_PW_HELP_DESK", draft.password)
    monkeypatch.setenv("MAILPROV_PW_HELP_DESK_2", "not-the-password")
    code, out, err = cli("import", str(exported))
    assert code == 0, err
    assert "Imported 3 provider(s)" in out
    code, out, _ = cli("check", "Help desk", "Help-desk", "--json")
    assert [result["kind"] for result in json.loads(out)] == [None, "auth"]  # each its own password


def test_a_bad_password_env_prefix_is_bad_input(cli):
    code, _, err = cli("export", "--password-env-prefix", "PW-")
    assert code == 2 and "--password-env-prefix" in err


def test_the_same_account_twice_is_allowed_with_a_warning(cli):
    code, _, err = add_support(cli)
    assert code == 0 and err == ""
    code, _, err = cli("provider", "add", "--name", "Second", "--type", "gmail", "--account", "SUPPORT@example.com")
    assert code == 0
    assert err == ("mailprov: warning: the account SUPPORT@example.com is also used by 'Support': "
                   "allowed (campaigns may share a mailbox), but check that this is intended.\n")
    assert len(json.loads(cli("provider", "list", "--json")[1])) == 2
    code, _, err = cli("provider", "edit", "Second", "--account", "other@example.com")
    assert code == 0 and err == ""
    code, _, err = cli("provider", "edit", "Second", "--account", "support@example.com")
    assert code == 0 and "also used by 'Support'" in err


@pytest.mark.parametrize("variable", ["MAILPROV_CA_FILE", "SSL_CERT_FILE"])
def test_doctor_says_when_the_ca_file_is_missing(cli, tmp_path, monkeypatch, variable):
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv(variable, str(missing))
    code, out, _ = cli("doctor")
    assert code == 1
    (row,) = [line for line in out.splitlines() if "CA source" in line]
    assert row.startswith("✖") and variable in row and str(missing) in row and "does not exist" in row
    missing.write_text("")  # exists now (whether it is a good PEM file the check will say)
    code, out, _ = cli("doctor")
    assert code == 0 and "✓ CA source" in out


@pytest.mark.parametrize("variable", ["MAILPROV_CA_FILE", "SSL_CERT_FILE"])
def test_a_check_with_a_missing_ca_file_says_the_file_is_missing(cli, mail_servers, tmp_path, monkeypatch, variable):
    draft = mail_servers.draft()
    assert add_real(cli, "Real", draft, draft.password)[0] == 0
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv(variable, str(missing))
    code, out, _ = cli("check", "Real", "--json")
    (result,) = json.loads(out)
    assert code == 1 and result["kind"] == "certificate"
    assert str(missing) in result["message"] and variable in result["message"] and variable in result["remedy"]
    assert "trust" not in result["message"]  # not "issued by a CA this machine does not trust"


def test_starttls_on_an_implicit_tls_port_blames_the_security(cli, mail_servers, monkeypatch):
    """The server waits for a TLS handshake, the client for a greeting: the port is probed
    with a ClientHello, and the security field is blamed, not the host and port."""
    monkeypatch.setenv("MAILPROV_CA_FILE", str(mail_servers.ca_file))
    monkeypatch.setenv("MAILPROV_TIMEOUT", "1")
    draft = mail_servers.draft(smtp_port=str(mail_servers.smtp_ssl_port), smtp_security="starttls",
                               inbound_port=str(mail_servers.imap_ssl_port), inbound_security="starttls")
    assert add_real(cli, "Mixed up", draft, draft.password)[0] == 0
    code, out, _ = cli("check", "Mixed up", "--json")
    (result,) = json.loads(out)
    assert code == 1 and result["kind"] == "tls" and result["fields"] == ["smtp_security"]
    assert "Pick SSL" in result["remedy"] and not result["transient"]

    cli("provider", "edit", "Mixed up", "--smtp-port", str(mail_servers.smtp_starttls_port))
    (result,) = json.loads(cli("check", "Mixed up", "--json")[1])
    assert result["kind"] == "tls" and result["fields"] == ["inbound_security"]  # Dovecot's IMAPS port


def test_refused_on_a_port_no_mail_service_uses_is_not_called_transient(cli, mail_servers, monkeypatch):
    from tests.servers import free_port

    draft = mail_servers.draft(smtp_port=str(free_port()))
    assert add_real(cli, "Nothing there", draft, draft.password)[0] == 0
    code, out, _ = cli("check", "Nothing there")
    assert code == 1 and "✖ refused" in out
    assert "may pass by itself" not in out


def test_make_run_says_it_installs_before_pip_and_shows_pip_progress(tmp_path):
    """`make -n` prints what the first `make run` would do, with a venv not made yet."""
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(["make", "-n", "run", f"VENV={tmp_path / 'venv'}"], cwd=root,
                          capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    announce = next(i for i, line in enumerate(lines) if "installing mailprov into" in line and "first run only" in line)
    pip = next(i for i, line in enumerate(lines) if " pip " in line and "install -e ." in line)
    assert announce < pip and "--quiet" not in lines[pip]
    assert any("python3-venv" in line for line in lines)  # said when `python3 -m venv` fails


@pytest.mark.parametrize("argv", [
    ["check", "Support", "--json"],
    ["--db", "x.db", "check", "--all"],
    ["--db=x.db", "provider", "list", "--json"],
    ["provider", "add", "--name", "S", "--type", "smtp-imap", "--account", "a@b.c", "--smtp-port", "465"],
    ["provider", "edit", "S", "--no-receive", "--rename", "T", "--db", "y.db"],
    ["campaign", "add", "C", "--provider", "S"],
    ["oauth-app", "set", "google", "--client-id", "x", "--client-secret-stdin"],
    ["login", "S", "--paste", "--no-shared-mailbox"],
    ["worker", "--once", "--batch-size", "5"],
    ["doctor"],
])
def test_the_parser_of_the_command_typed_reads_it_as_the_whole_parser_does(argv):
    """build_parser(argv) builds only that command's flags (start-up speed): same result."""
    from tui.cli import COMMAND_NAMES, build_parser

    whole = build_parser()
    assert tuple(whole._subparsers._group_actions[0].choices) == COMMAND_NAMES
    assert vars(build_parser(argv).parse_args(argv)) == vars(whole.parse_args(argv))


def test_a_flag_of_another_command_is_refused_as_before(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["check", "Support", "--password-stdin"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --password-stdin" in capsys.readouterr().err
