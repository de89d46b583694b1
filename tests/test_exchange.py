"""TOML export/import: no secrets out, every bad entry listed, all-or-nothing in."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.domain import Protocol, ProviderDraft
from tui.core.exchange import export_toml, parse_import, plan_actions
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
        password="never-exported", smtp_host="smtp.example.com", inbound_host="imap.example.com",
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
server_keys = st.sampled_from(["protocol", "host", "port", "security", "bogus"])
servers = st.dictionaries(server_keys, toml_values, max_size=5)
entries = st.builds(
    lambda flat, outbound, inbound: {**flat, **({"outbound": outbound} if outbound is not None else {}),
                                     **({"inbound": inbound} if inbound is not None else {})},
    st.dictionaries(keys, toml_values, max_size=8), st.none() | servers | toml_values, st.none() | servers | toml_values,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(entries, max_size=4))
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


# The previous release's flat files, and the nested shape ---------------------------------

# What `mailprov export` of the previous release wrote (flat keys, the IMAP server even with
# receiving off), with password_env added as its header says.
OLD_RELEASE_EXPORT = """
# mailprov providers. No secrets are exported: to import a provider that logs in with a
# password, add password_env = "VARIABLE" and set that variable when you import.

[[provider]]
name = "Desk"
type = "smtp-imap"
account = "desk@example.com"
username = "DOMAIN\\\\desk"
from_name = "Help desk"
receive_emails = true
active_reference = false
reply_to = ["reply@example.com"]
smtp_host = "smtp.example.com"
smtp_port = 465
smtp_security = "ssl"
imap_host = "imap.example.com"
imap_port = 143
imap_security = "starttls"
password_env = "DESK_PW"

[[provider]]
name = "Sender"
type = "gmail"
account = "sender@example.com"
from_name = ""
receive_emails = false
active_reference = true
reply_to = []
smtp_host = "smtp.gmail.com"
smtp_port = 587
smtp_security = "starttls"
imap_host = "imap.gmail.com"
imap_port = 993
imap_security = "ssl"
"""


def test_an_export_of_the_previous_release_imports_as_it_is():
    plan = parse_import(OLD_RELEASE_EXPORT)
    actions = plan_actions(plan, existing_names=[], env={"DESK_PW": "pw"})
    assert plan.errors == []
    desk, sender = (action.settings for action in actions)
    assert (desk.username, desk.from_name, desk.active_reference) == ("DOMAIN\\desk", "Help desk", False)
    assert (desk.outbound.host, desk.outbound.port, desk.outbound.security.value) == ("smtp.example.com", 465, "ssl")
    assert desk.inbound.protocol is Protocol.IMAP
    assert (desk.inbound.server.host, desk.inbound.server.port) == ("imap.example.com", 143)
    assert actions[0].password == "pw"
    assert sender.inbound is None and sender.outbound.host == "smtp.gmail.com"
    # Exported again, it is the nested shape, and it reads back to the same settings.
    text = export_toml([Exported(desk), Exported(sender)])
    assert "imap_host" not in text and "[provider.inbound]" in text and 'protocol = "imap"' in text
    assert text.count("[provider.inbound]") == 1  # none for the provider that does not receive
    again = parse_import(text)
    assert [action.settings for action in plan_actions(again, ["Desk", "Sender"], {})] == [desk, sender]


def test_a_pop3_provider_round_trips_with_its_protocol():
    settings = to_settings(ProviderDraft(name="Pop", account="p@example.com", password="x",
                                         smtp_host="smtp.example.com", inbound_protocol="pop3",
                                         inbound_host="pop.example.com", inbound_security="starttls"))
    plan = parse_import(export_toml([Exported(settings)]))
    assert plan_actions(plan, ["Pop"], {})[0].settings == settings


def test_nested_tables_are_checked_key_by_key():
    text = """
[[provider]]
name = "Mixed"
type = "smtp-imap"
account = "m@example.com"
smtp_host = "smtp.example.com"
outbound = { host = "relay.example.com", prot = 25 }
inbound = "imap.example.com"
"""
    plan = parse_import(text)
    messages = {field: message for _, field, message in plan.errors}
    assert "given twice" in messages["smtp_host"] and "outbound.host and smtp_host" in messages["smtp_host"]
    assert messages["outbound.prot"] == "unknown field 'outbound.prot'"
    assert messages["inbound"].startswith("must be a table")
    assert plan_actions(plan, [], {}) == []  # nothing to import
    # The refused values are not reported again as missing by the rules.
    assert [field for _, field, _ in plan.errors].count("smtp_host") == 1
    assert not any(field.startswith("inbound_") for _, field, _ in plan.errors)


def test_messages_name_the_inbound_protocol_of_the_entry():
    text = """
[[provider]]
name = "Pop"
type = "smtp-imap"
account = "p@example.com"
outbound = { host = "smtp.example.com" }
inbound = { protocol = "pop3", port = "x" }
password_env = "PW"
"""
    plan = parse_import(text)
    plan_actions(plan, [], {"PW": "pw"})
    lines = plan.error_lines()
    assert "provider 1 ('Pop'): POP3 host: Enter the POP3 server name, like mail.example.com." in lines
    assert any(line.startswith("provider 1 ('Pop'): POP3 port: ") for line in lines)


ROUNDS = """
[[provider]]
name = "First"
type = "smtp-imap"
account = "first@example.com"
outbound = { host = "smtp.example.com", port = 70000 }
receive_emails = false
password_env = "PW"

[[provider]]
name = "Second"
type = "smtp-imap"
account = "second@example.com"
outbound = { host = ["not", "text"] }
receive_emails = "yes"
password_env = "PW"

[[provider]]
name = "FIRST"
type = "gmail"
account = "other@example.com"
"""


def test_every_problem_of_every_entry_in_one_pass_and_in_file_order():
    """Type errors, ports and duplicate names together: no rounds."""
    plan = parse_import(ROUNDS)
    assert plan_actions(plan, [], {"PW": "pw"}) == []
    problems = [(entry, field) for entry, field, _ in plan.errors]
    assert problems == [
        ("provider 1 ('First')", "smtp_port"),
        ("provider 2 ('Second')", "receive_emails"),
        ("provider 2 ('Second')", "smtp_host"),
        ("provider 3 ('FIRST')", "name"),
    ]
    assert "more than once" in plan.errors[-1][2]


def test_an_entry_that_is_not_a_table_takes_its_place_in_the_file_order():
    plan = parse_import('provider = [{ name = "A", type = "gmail", account = "bad" }, 5, '
                        '{ name = "C", type = "gmail", account = "also bad" }]')
    assert plan_actions(plan, [], {}) == []
    assert [(entry, field) for entry, field, _ in plan.errors] == [
        ("provider 1 ('A')", "account"), ("provider 2", "provider"), ("provider 3 ('C')", "account")]
