"""TOML export/import: no secrets out, every bad entry listed, all-or-nothing in."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.exchange import export_toml, parse_import, plan_actions
from tui.core.domain import ProviderDraft
from tui.core.rules import to_settings

GOOD = """
[[provider]]
name = "Support"
type = "smtp-imap"
account = "support@example.com"
smtp_host = "smtp.example.com"
smtp_port = 587
smtp_security = "starttls"
imap_host = "imap.example.com"
reply_to = ["a@example.com", "b@example.com"]
password_env = "SUPPORT_PASSWORD"

[[provider]]
name = "Sales"
type = "gmail"
account = "sales@example.com"
receive_emails = false
"""


def test_a_good_file_plans_creates_with_passwords_from_the_environment():
    plan = parse_import(GOOD)
    actions = plan_actions(plan, existing_names=[], env={"SUPPORT_PASSWORD": "from-env"})
    assert plan.errors == []
    assert [(a.kind, a.entry.draft.name) for a in actions] == [("create", "Support"), ("create", "Sales")]
    assert actions[0].entry.draft.password == "from-env"
    assert actions[0].entry.draft.reply_to == "a@example.com; b@example.com"


def test_existing_names_become_updates_that_keep_the_stored_password():
    text = GOOD.replace('password_env = "SUPPORT_PASSWORD"\n', "")
    plan = parse_import(text)
    actions = plan_actions(plan, existing_names=["SUPPORT"], env={})
    assert plan.errors == []
    assert actions[0].kind == "update" and actions[0].entry.draft.password_stored


def test_every_bad_entry_is_listed_with_its_field():
    text = GOOD + """
[[provider]]
name = "Broken"
type = "smtp-imap"
account = "not an address"
smtp_host = "smtps://smtp.example.com"
smtp_port = "abc"
receive_emails = "yes"
smtp_hots = "typo"
"""
    plan = parse_import(text)
    fields = {(entry, field) for entry, field, _ in plan.errors}
    assert ("provider 3 ('Broken')", "receive_emails") in fields
    assert ("provider 3 ('Broken')", "smtp_hots") in fields
    plan = parse_import(text.replace('receive_emails = "yes"\n', "").replace('smtp_hots = "typo"\n', ""))
    actions = plan_actions(plan, existing_names=[], env={})
    assert actions == []  # all or nothing
    fields = {(entry, field) for entry, field, _ in plan.errors}
    assert {("provider 3 ('Broken')", f) for f in ("account", "smtp_host", "smtp_port")} <= fields
    assert ("provider 1 ('Support')", "password_env") in fields  # the variable is not set
    assert all(line.count(":") >= 2 for line in plan.error_lines())


def test_a_new_password_provider_without_password_env_says_how_to_give_one():
    plan = parse_import(GOOD.replace('password_env = "SUPPORT_PASSWORD"\n', ""))
    plan_actions(plan, existing_names=[], env={})
    assert any(field == "password_env" and "password_env" in message for _, field, message in plan.errors)


def test_duplicate_names_in_one_file_are_refused():
    plan = parse_import(GOOD + GOOD.replace("Support", "SUPPORT"))
    plan_actions(plan, existing_names=[], env={"SUPPORT_PASSWORD": "x"})
    assert any("more than once" in message for _, _, message in plan.errors)


def test_invalid_toml_is_one_error_with_the_position():
    plan = parse_import("[[provider]\nname = ")
    assert len(plan.errors) == 1 and "line" in plan.errors[0][2]


class Exported:
    def __init__(self, settings):
        self.settings = settings


def test_export_round_trips_through_import_without_secrets():
    settings = to_settings(ProviderDraft(
        name="Support", account="support@example.com", username="DOMAIN\\support",
        password="never-exported", smtp_host="smtp.example.com", imap_host="imap.example.com",
        reply_to="a@example.com", from_name="Help desk"))
    text = export_toml([Exported(settings)])
    assert "never-exported" not in text and "password_env" in text  # the header says how
    plan = parse_import(text)
    actions = plan_actions(plan, existing_names=["Support"], env={})
    assert plan.errors == []
    assert to_settings(actions[0].entry.draft) == settings


toml_values = st.one_of(st.text(max_size=20), st.integers(-10, 70000), st.booleans(),
                        st.lists(st.text(max_size=10), max_size=3))
keys = st.sampled_from(["name", "type", "account", "username", "from_name", "receive_emails",
                        "reply_to", "smtp_host", "smtp_port", "smtp_security", "imap_host",
                        "imap_port", "imap_security", "password_env", "bogus"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(keys, toml_values, max_size=8), max_size=4))
def test_import_never_raises_on_any_content(tables):
    import tomli_w

    text = tomli_w.dumps({"provider": tables})
    plan = parse_import(text)
    actions = plan_actions(plan, existing_names=["Existing"], env={"X": "pw"})
    if plan.errors:
        assert actions == []
        assert all(isinstance(m, str) and m for _, _, m in plan.errors)
    else:
        assert len(actions) == len(tables)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_import_of_arbitrary_text_never_raises(text):
    plan = parse_import(text)
    plan_actions(plan, existing_names=[], env={})
