"""Every field of the draft is declared once (tui.core.fields) and reaches every face: the form,
the CLI, TOML (export and import), JSON (`provider show --json`) and the database.

Each field gets a sample value unlike its default, so a face that drops or confuses a field
fails here; a new draft field that is not declared fails the first test."""

import json
from dataclasses import fields as dataclass_fields

import pytest

from tests.databases import migrated_database
from tests.test_cli import cli  # noqa: F401  (the fixture)
from tests.ui_helpers import make_app, settle
from tui.cli import build_parser
from tui.core.domain import ProviderDraft
from tui.core.exchange import export_toml, parse_import, plan_actions
from tui.core.fields import EXPORTED, FIELD_BY_NAME, FIELDS, FieldKind
from tui.core.rules import to_settings
from tui.core.store import Store

SAMPLE = {
    "name": "Every field",
    "type": "smtp-imap",
    "account": "every@example.com",
    "username": "login-name",
    "from_name": "Every Desk",
    "receive_emails": True,  # False would hide the inbound fields: see the last test
    "active_reference": False,
    "reply_to": "r1@example.com; r2@example.com",
    "password": "pw-every-field",
    "smtp_host": "relay.example.com",
    "smtp_port": "2525",
    "smtp_security": "ssl",
    "smtp_sign_in": "none",  # a trusted relay: SMTP-IMAP only (Outlook and Gmail log in)
    "inbound_protocol": "pop3",
    "inbound_host": "pop.example.com",
    "inbound_port": "1995",
    "inbound_security": "starttls",
}
DRAFT_ONLY = {"password_stored"}  # a flag of the form's state, not a field of a provider


def sample_draft(**changes) -> ProviderDraft:
    return ProviderDraft(**SAMPLE).updated(**changes)


def expected_export(spec, value):
    """How TOML and JSON hold a draft's text."""
    if spec.kind is FieldKind.PORT:
        return int(value)
    if spec.kind is FieldKind.ADDRESSES:
        return value.split("; ")
    return value


def at(tree: dict, path: tuple[str, ...]):
    for part in path:
        tree = tree[part]
    return tree


def test_every_draft_field_is_declared_once_with_a_sample_unlike_its_default():
    draft_fields = [f.name for f in dataclass_fields(ProviderDraft) if f.name not in DRAFT_ONLY]
    assert [spec.name for spec in FIELDS] == draft_fields
    assert set(SAMPLE) == set(draft_fields)
    default = ProviderDraft()
    unlike_default = {name for name in SAMPLE if getattr(default, name) != SAMPLE[name]}
    assert set(SAMPLE) - unlike_default == {"type", "receive_emails"}  # both covered apart below
    for spec in FIELDS:
        assert spec.label and spec.help and spec.flags, spec.name
        assert (spec.export_key is None) == (spec.kind is FieldKind.SECRET), spec.name


async def test_every_field_reaches_the_form_and_comes_back(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        for spec in FIELDS:
            assert form.query(f"#{spec.widget_id}"), spec.widget_id
        await form.set_draft(sample_draft())
        await pilot.pause()
        assert form.draft() == sample_draft()
        gmail = sample_draft(type="gmail", password="", smtp_sign_in="login")
        await form.set_draft(gmail)
        await pilot.pause()
        assert form.draft() == gmail  # the OAuth panel has every field but the password and SMTP sign-in


def test_every_field_has_its_flag_and_its_aliases():
    parser = build_parser()
    argv = ["provider", "add"]
    for spec in FIELDS:
        if spec.kind is FieldKind.SWITCH:
            argv.append(spec.flag if SAMPLE[spec.name] else f"--no-{spec.flag.removeprefix('--')}")
        elif spec.kind is FieldKind.SECRET:
            argv.append(spec.flag)
        else:
            argv += [spec.flag, SAMPLE[spec.name]]
    args = parser.parse_args(argv)
    for spec in FIELDS:
        if spec.kind is not FieldKind.SECRET:
            assert getattr(args, spec.name) == SAMPLE[spec.name], spec.flag
    assert args.password_stdin
    for spec in FIELDS:
        for alias in spec.flags[1:]:
            aliased = parser.parse_args(["provider", "edit", "X", alias, "993"])
            assert getattr(aliased, spec.name) == "993", alias


def test_every_field_reaches_the_cli_json_and_the_database(cli):  # noqa: F811
    argv = ["provider", "add"]
    for spec in FIELDS:
        if spec.kind is FieldKind.SWITCH:
            argv.append(spec.flag if SAMPLE[spec.name] else f"--no-{spec.flag.removeprefix('--')}")
        elif spec.kind is FieldKind.SECRET:
            argv.append(spec.flag)
        else:
            argv += [spec.flag, SAMPLE[spec.name]]
    code, _, err = cli(*argv, stdin=SAMPLE["password"] + "\n")
    assert code == 0, err
    code, out, _ = cli("provider", "show", SAMPLE["name"], "--json")
    shown = json.loads(out)
    for spec in EXPORTED:
        assert at(shown, spec.export_path) == expected_export(spec, SAMPLE[spec.name]), spec.export_key
    assert SAMPLE["password"] not in out

    store = Store.open(f"sqlite:///{cli.env['MAILPROV_DB']}")
    record = store.require(SAMPLE["name"])
    store.close()
    assert record.settings.to_draft(password_stored=True) == sample_draft(password="", password_stored=True)


def test_every_field_goes_through_toml_and_back():
    settings = to_settings(sample_draft())
    text = export_toml([type("Exported", (), {"settings": settings})()])
    assert SAMPLE["password"] not in text
    plan = parse_import(text.replace(f'name = "{SAMPLE["name"]}"', f'name = "{SAMPLE["name"]}"\npassword_env = "PW"'))
    (action,) = plan_actions(plan, existing_names=[], env={"PW": SAMPLE["password"]})
    assert plan.errors == []
    assert action.entry.draft == sample_draft(password_stored=True)
    assert action.settings == settings


def test_every_field_goes_through_the_database(tmp_path):
    store = Store.open(f"sqlite:///{migrated_database(tmp_path / 'fields.db')}")
    drafts = (sample_draft(), sample_draft(name="Outlook", type="outlook", password="", smtp_sign_in="login"),
              sample_draft(name="Off", receive_emails=False))
    for draft in drafts:
        settings = to_settings(draft)
        store.add(settings)
        assert store.require(draft.name).settings == settings
    store.close()


@pytest.mark.parametrize("receive", [True, False])
def test_receive_emails_reaches_every_face(receive, cli):  # noqa: F811
    flag = FIELD_BY_NAME["receive_emails"].flag
    cli("provider", "add", "--name", "R", "--type", "gmail", "--account", "r@example.com",
        flag if receive else f"--no-{flag.removeprefix('--')}")
    shown = json.loads(cli("provider", "show", "R", "--json")[1])
    assert shown["receive_emails"] is receive and (shown["inbound"] is None) is not receive
    exported = cli("export")[1]
    assert ("[provider.inbound]" in exported) is receive and f"receive_emails = {str(receive).lower()}" in exported
