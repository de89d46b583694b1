"""Text from users and servers is data: it never reaches the terminal as control codes, never
splits an error line, and no repr shows a password.

The CLI runs as a real process of its own (a fork of one that imported mailprov:
tests/forked_cli.py; its bytes are what a terminal would get) against a
scripted SMTP server on 127.0.0.1 whose greeting and replies carry escapes; hypothesis feeds
control characters into every field of every printed thing in-process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.databases import migrated_database
from tests.forked_cli import run_forked
from tests.scripted_smtp import HOSTILE_TEXT, MARKUP_AUTH_REPLY, ScriptedSmtp
from tui.cli import build_parser
from tui.output import print_json
from tui.commands import print_record, print_report, record_to_json, report_to_json
from tui.core.bootstrap import LOG_FORMAT, VisibleFormatter
from tui.core.domain import (
    INBOUND_PROTOCOLS,
    InboundSettings,
    ProviderDraft,
    ProviderSettings,
    ProviderType,
    Security,
    ServerSettings,
    SignIn,
    Status,
)
from tui.core.exchange import ImportAction, ImportEntry, export_toml, parse_import, plan_actions
from tui.core.report import CheckReport, Failure, FailureKind, ProtocolResult, Step
from tui.core.store import ProviderRecord
from tui.core.text import visible

# Raw terminal control: C0 but tab and LF (LF ends the lines a program prints), DEL, C1.
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ESCAPES = "\x1b]0;TITLE\x07\x1b[31m\x9b"
WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def assert_no_raw_control(text: str, what: str = "output") -> None:
    found = RAW.search(text)
    assert found is None, f"raw {found.group()!r} in {what}: {text[max(0, found.start() - 40):found.end() + 40]!r}"


# --- the CLI as a process of its own -----------------------------------------------------


class Mailprov:
    """`mailprov` (forked) in a private home; output kept as the bytes a terminal would get."""

    def __init__(self, home: Path):
        self.home = home
        self.env = {
            "PATH": "/usr/bin:/bin", "PYTHONUTF8": "1",
            "MAILPROV_DB": str(home / "data" / "mailprov.db"), "MAILPROV_DATA_DIR": str(home / "data"),
            "MAILPROV_CONFIG_DIR": str(home / "config"), "MAILPROV_LOG_DIR": str(home / "log"),
            "MAILPROV_TIMEOUT": "5",
        }
        migrated_database(self.env["MAILPROV_DB"])  # these tests are about text, not a first run

    def __call__(self, *argv: str, stdin: str = "", env: dict | None = None) -> tuple[int, str, str]:
        done = run_forked(list(argv), env=self.env | (env or {}), folder=self.home, stdin=stdin, timeout=60,
                          text=False)
        # Bytes decoded by hand: text mode would turn a raw CR into a line feed and hide it.
        return done.returncode, done.stdout.decode("utf-8", "surrogateescape"), done.stderr.decode(
            "utf-8", "surrogateescape")

    def log_text(self) -> str:
        return (self.home / "log" / "mailprov.log").read_text("utf-8", "surrogateescape")


@pytest.fixture
def mailprov(tmp_path) -> Mailprov:
    return Mailprov(tmp_path)


def add_flags(**values: str) -> list[str]:
    flags = {"name": "Scripted", "type": "smtp-imap", "account": "user@example.com",
             "smtp-host": "127.0.0.1", "smtp-security": "none"} | values
    return ["provider", "add", *[part for flag, value in flags.items() for part in (f"--{flag}", value)],
            "--no-receive", "--password-stdin"]


@pytest.mark.parametrize(
    "flag", ["name", "type", "account", "smtp-host", "smtp-security", "smtp-port", "reply-to", "from-name"]
)
def test_a_bad_value_is_named_with_its_escapes_visible_on_one_line(mailprov, flag):
    code, out, err = mailprov(*add_flags(**{flag: f"bad{ESCAPES}\r\nmailprov: forged line"}), stdin="pw\n")
    assert code == 2
    assert_no_raw_control(out + err)
    assert f"--{flag}" in err
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("mailprov: ")  # the CR/LF split nothing
    if "bad" in err:  # the message quotes the value: its escapes are shown as text
        assert "bad\\x1b]0" in err
        assert "\\x0d\\x0amailprov: forged line" in err or flag == "reply-to"  # reply-to splits at ';'


def test_argparse_and_not_found_messages_show_escapes(mailprov):
    code, out, err = mailprov("provider", "list", "--bogus", ESCAPES)
    assert code == 2 and "\\x1b]0;TITLE" in err
    assert_no_raw_control(out + err)
    code, out, err = mailprov("provider", "show", f"nobody{ESCAPES}")
    assert code == 2 and "No provider named 'nobody\\x1b]0;TITLE\\x07" in err
    assert_no_raw_control(out + err)
    code, out, err = mailprov("check", f"nobody{ESCAPES}\nmailprov: forged")
    assert code == 2 and err.count("\n") == 1
    assert_no_raw_control(out + err)


def test_a_hostile_server_never_reaches_the_terminal_or_the_log_raw(mailprov):
    with ScriptedSmtp(greeting=f"220 scripted {HOSTILE_TEXT}",
                      auth_reply=f"{MARKUP_AUTH_REPLY} {ESCAPES}") as server:
        code, _, err = mailprov(*add_flags(**{"smtp-port": str(server.port)}), stdin="pw\n")
        assert code == 0, err
        code, out, err = mailprov("check", "Scripted")
        assert code == 1
        assert "\\x1b]0;TITLE\\x07\\x1b[31m" in out  # the greeting step, shown as escapes
        assert f"{MARKUP_AUTH_REPLY} \\x1b]0;TITLE" in out  # the failure names the reply
        assert_no_raw_control(out + err, "check")
        code, out, err = mailprov("check", "Scripted", "--json")
        assert code == 1
        assert_no_raw_control(out + err, "check --json")
        (report,) = json.loads(out)
        greeting = next(step for step in report["steps"] if step["name"] == "greeting")
        assert "TITLE" in greeting["detail"] and "\x9b" not in out

    outputs = {
        "show": mailprov("provider", "show", "Scripted"),
        "show --json": mailprov("provider", "show", "Scripted", "--json"),
        "list": mailprov("provider", "list"),
        "list --json": mailprov("provider", "list", "--json"),
    }
    for what, (code, out, err) in outputs.items():
        assert code == 0, (what, err)
        assert_no_raw_control(out + err, what)
    assert "\\x1b]0;TITLE" in outputs["show"][1]  # the stored report, escapes visible
    shown = json.loads(outputs["show --json"][1])
    assert MARKUP_AUTH_REPLY in shown["message"]
    log = mailprov.log_text()
    assert "Scripted" in log and MARKUP_AUTH_REPLY in log
    assert_no_raw_control(log, "the log file")


def test_import_labels_and_values_with_escapes_are_shown_not_obeyed(mailprov, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(tomli_w.dumps({"provider": [{
        "name": f"Sales{ESCAPES}", "type": f"smtp{ESCAPES}", "account": "a@example.com",
        "smtp_host": f"\x9bmail{ESCAPES}", f"typo{ESCAPES}": 1, "password_env": f"PW{ESCAPES}",
    }]}))
    code, out, err = mailprov("import", str(bad))
    assert code == 2
    assert_no_raw_control(out + err)
    assert "provider 1 ('Sales\\x1b]0;TITLE\\x07\\x1b[31m\\x9b')" in err
    assert "unknown field 'typo\\x1b]0;TITLE" in err
    assert all(line.startswith("mailprov: ") for line in err.rstrip("\n").split("\n"))


@pytest.mark.parametrize(
    ("content", "says"),
    [("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
     ("provider = " + "{a = " * 3000 + "1" + "}" * 3000, "nested too deeply"),
     ("x = " + "1" * 5000, "not valid TOML"),
     ("[[provider]]\nname = \"\x1b[31m\"\n", "not valid TOML"),
     ("[[provider]\n", "not valid TOML")],
)
def test_an_unreadable_import_file_is_one_line_and_exit_2(mailprov, tmp_path, content, says):
    path = tmp_path / "deep.toml"
    path.write_text(content)
    code, out, err = mailprov("import", str(path))
    assert code == 2
    assert "Traceback" not in err
    assert err.count("\n") == 1 and str(path) in err and says in err and "nothing imported" in err
    assert_no_raw_control(out + err)


# --- every printing face, fed control characters by hypothesis -------------------------

hostile = st.text(st.sampled_from(list("\x1b\x07\x9b\x7f\x85\r\n\x00\t[/]")) | st.characters(), max_size=16)
steps = st.builds(Step, name=hostile, ok=st.booleans(), duration_ms=st.floats(0, 1e4), detail=hostile)
failures = st.builds(Failure, kind=st.sampled_from(FailureKind), message=hostile, remedy=hostile,
                     fields=st.lists(st.sampled_from(["password", "smtp_host"]) | hostile, max_size=2).map(tuple),
                     transient=st.booleans())
results = st.builds(ProtocolResult, protocol=st.sampled_from(["smtp", "imap"]) | hostile, host=hostile,
                    port=st.integers(1, 65535), steps=st.lists(steps, max_size=3),
                    failure=st.none() | failures, transcript=st.lists(hostile, max_size=3), summary=hostile)
reports = st.builds(CheckReport, provider=hostile, started_at=st.just(WHEN), outbound=results,
                    inbound=st.none() | results, duration_ms=st.floats(0, 1e5))
servers = st.builds(ServerSettings, host=hostile, port=st.integers(1, 65535), security=st.sampled_from(Security))
provider_settings = st.builds(
    ProviderSettings, name=hostile, type=st.sampled_from(ProviderType), sign_in=st.sampled_from(SignIn),
    account=hostile, username=hostile, from_name=hostile, active_reference=st.booleans(),
    reply_to=st.lists(hostile, max_size=2).map(tuple), outbound=servers,
    inbound=st.none() | st.builds(InboundSettings, protocol=st.sampled_from(INBOUND_PROTOCOLS), server=servers),
)
records = st.builds(ProviderRecord, id=st.just(1), secret_key=st.just("key"), settings=provider_settings,
                    status=st.sampled_from(Status), last_checked_at=st.none() | st.just(WHEN),
                    last_ok_at=st.none(), failure=st.none() | failures, report=st.none() | reports,
                    created_at=st.just(WHEN), updated_at=st.just(WHEN))


def printed(function, *args) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        function(*args)
    return buffer.getvalue()


def made_visible(value):
    """The same object with visible() applied to every string in it: the same lines, none split."""
    if type(value) is str:  # not the str enums (kind, status, type)
        return visible(value)
    if isinstance(value, (list, tuple)):
        return type(value)(made_visible(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: made_visible(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value


@settings(max_examples=150, deadline=None)
@given(records)
def test_show_never_prints_a_raw_control_character_nor_splits_a_line(record):
    out = printed(print_record, record)
    assert_no_raw_control(out)
    assert out.count("\n") == printed(print_record, made_visible(record)).count("\n")


@settings(max_examples=150, deadline=None)
@given(reports)
def test_check_output_never_prints_a_raw_control_character_nor_splits_a_line(report):
    out = printed(print_report, report)
    assert_no_raw_control(out)
    assert out.count("\n") == printed(print_report, made_visible(report)).count("\n")


@settings(max_examples=150, deadline=None)
@given(records, reports)
def test_json_escapes_every_control_character_and_keeps_the_data(record, report):
    for data in (record_to_json(record), report_to_json(report)):
        out = printed(print_json, data)
        assert_no_raw_control(out)
        assert json.loads(out) == json.loads(json.dumps(data, default=str))  # nothing lost


@settings(max_examples=100, deadline=None)
@given(st.lists(records, min_size=1, max_size=3))
def test_export_escapes_every_control_character_and_keeps_the_data(exported):
    import tomllib

    text = export_toml(exported)
    assert_no_raw_control(text)
    tables = tomllib.loads(text)["provider"]
    assert [t["name"] for t in tables] == [r.settings.name for r in exported]
    assert [t["outbound"]["host"] for t in tables] == [r.settings.outbound.host for r in exported]
    assert [t.get("inbound", {}).get("host") for t in tables] == [
        r.settings.inbound.server.host if r.settings.inbound else None for r in exported
    ]


import_values = hostile | st.integers(-5, 70000) | st.booleans() | st.lists(hostile, max_size=2)
import_keys = st.sampled_from(["name", "type", "account", "username", "from_name", "reply_to", "smtp_host",
                               "smtp_port", "smtp_security", "imap_host", "password_env"]) | hostile
server_tables = st.dictionaries(st.sampled_from(["protocol", "host", "port", "security"]) | hostile, import_values,
                                max_size=4)
import_tables = st.builds(
    lambda flat, inbound: {**flat, "inbound": inbound} if inbound is not None else flat,
    st.dictionaries(import_keys, import_values, max_size=6), st.none() | server_tables | import_values,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(import_tables, min_size=1, max_size=3))
def test_import_messages_never_carry_a_raw_control_character(tables):
    plan = parse_import(tomli_w.dumps({"provider": tables}))
    plan_actions(plan, existing_names=[], env={"PW": "secret"})
    for line in plan.error_lines():
        assert_no_raw_control(line)
        assert "\n" not in line


@settings(max_examples=100, deadline=None)
@given(hostile, hostile)
def test_the_log_line_shows_escapes_and_stays_one_line(name, reply):
    record = logging.LogRecord("tui.core.service", logging.WARNING, __file__, 1, "check %r: %s", (name, reply), None)
    line = VisibleFormatter(LOG_FORMAT).format(record)
    assert_no_raw_control(line)
    assert "\n" not in line


def test_a_logged_traceback_keeps_its_lines_and_escapes_them():
    try:
        raise ValueError(f"server said {ESCAPES}")
    except ValueError:
        record = logging.LogRecord("tui", logging.ERROR, __file__, 1, "failed %s", (ESCAPES,), sys.exc_info())
    text = VisibleFormatter(LOG_FORMAT).format(record)
    assert_no_raw_control(text)
    assert "Traceback (most recent call last):" in text.split("\n")[1]
    assert "server said \\x1b]0;TITLE" in text


@settings(max_examples=50, deadline=None)
@given(hostile)
def test_argparse_echoes_what_was_typed_as_escapes(value):
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), pytest.raises(SystemExit):
        build_parser().parse_args(["provider", "list", "--no-such-flag", value])
    assert_no_raw_control(errors.getvalue())


# --- reprs never show a password ----------------------------------------------------------


def test_reprs_hide_the_password():
    draft = ProviderDraft(name="Support", password="Zebra-Tr0ub4dor&3")
    entry = ImportEntry("provider 1 ('Support')", draft, "SUPPORT_PW")
    action = ImportAction("create", entry, "Zebra-Tr0ub4dor&3")
    for shown in (repr(draft), repr(entry), repr(action), str([action]), f"{draft!r}"):
        assert "Zebra" not in shown
        assert "password=<hidden>" in shown
    assert "name='Support'" in repr(draft) and "password_env='SUPPORT_PW'" in repr(entry)
    assert "password=''" in repr(ProviderDraft())  # nothing set: nothing to hide
    assert "password=None" in repr(ImportAction("update", entry, None))


def test_the_reprs_of_planned_imports_hide_the_password_from_the_environment():
    plan = parse_import('[[provider]]\nname = "S"\ntype = "smtp-imap"\naccount = "s@example.com"\n'
                        'smtp_host = "smtp.example.com"\nreceive_emails = false\npassword_env = "PW"\n')
    actions = plan_actions(plan, existing_names=[], env={"PW": "Zebra-Tr0ub4dor&3"})
    assert actions and actions[0].password == "Zebra-Tr0ub4dor&3"
    assert "Zebra" not in repr(actions) and "Zebra" not in repr(plan)
