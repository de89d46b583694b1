"""The one rule set: every type and field, and fuzzing that it never raises."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.domain import PRESETS, Protocol, ProviderDraft, ProviderType, Security, SignIn, ValidationError
from tui.core.rules import check_host, parse_port, parse_reply_to, to_settings, validate


def smtp_imap(**changes) -> ProviderDraft:
    base = ProviderDraft(
        name="Support",
        type="smtp-imap",
        account="support@example.com",
        password="secret",
        smtp_host="smtp.example.com",
        inbound_host="imap.example.com",
    )
    return base.updated(**changes)


def oauth(kind: str, **changes) -> ProviderDraft:
    return ProviderDraft(name="Sales", type=kind, account="sales@example.com").updated(**changes)


def test_a_complete_smtp_imap_draft_is_valid_and_normalised():
    settings = to_settings(smtp_imap(name="  Support  ", account="Support@Example.com"))
    assert settings.name == "Support"
    assert settings.account == "Support@example.com"  # domain lower-cased, local part kept
    assert settings.username == settings.account
    assert (settings.outbound.port, settings.outbound.security) == (587, Security.STARTTLS)
    assert settings.inbound.protocol is Protocol.IMAP
    assert (settings.inbound.server.port, settings.inbound.server.security) == (993, Security.SSL)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"type": "exchange"}, "type"),
        ({"account": ""}, "account"),
        ({"account": "not-an-address"}, "account"),
        ({"account": "a b@example.com"}, "account"),
        ({"username": "has space"}, "username"),
        ({"from_name": "Line\r\nBcc: victim@example.com"}, "from_name"),
        ({"from_name": "x" * 121}, "from_name"),
        ({"reply_to": "ok@example.com; nope"}, "reply_to"),
        ({"password": ""}, "password"),
        ({"smtp_host": ""}, "smtp_host"),
        ({"smtp_host": "smtps://smtp.example.com"}, "smtp_host"),
        ({"smtp_host": "smtp.example.com:587"}, "smtp_host"),
        ({"smtp_host": "smtp.example.com/path"}, "smtp_host"),
        ({"smtp_host": "smtp example.com"}, "smtp_host"),
        ({"smtp_port": "abc"}, "smtp_port"),
        ({"smtp_port": "0"}, "smtp_port"),
        ({"smtp_port": "65536"}, "smtp_port"),
        ({"smtp_port": "-1"}, "smtp_port"),
        ({"smtp_port": "5e2"}, "smtp_port"),
        ({"smtp_security": "quantum"}, "smtp_security"),
        ({"inbound_host": ""}, "inbound_host"),
        ({"inbound_port": "99999"}, "inbound_port"),
        ({"inbound_security": "tls1.3"}, "inbound_security"),
        ({"inbound_protocol": "smtp"}, "inbound_protocol"),
        ({"inbound_protocol": "pop4"}, "inbound_protocol"),
    ],
)
def test_each_bad_smtp_imap_field_is_named(changes, field):
    errors = validate(smtp_imap(**changes))
    assert field in errors, errors
    assert errors[field].strip()


def test_the_same_name_in_another_case_is_taken():
    assert "name" in validate(smtp_imap(name="SUPPORT"), existing_names=["support"])
    assert validate(smtp_imap(name="Support 2"), existing_names=["support"]) == {}


def test_receive_off_makes_imap_optional_and_on_makes_it_required():
    assert validate(smtp_imap(inbound_host="", receive_emails=False)) == {}
    assert "inbound_host" in validate(smtp_imap(inbound_host="", receive_emails=True))


def test_a_stored_password_satisfies_the_password_rule():
    assert validate(smtp_imap(password="", password_stored=True)) == {}


@pytest.mark.parametrize("kind", ["outlook", "gmail"])
def test_oauth_types_need_no_password_and_get_their_presets(kind):
    settings = to_settings(oauth(kind))
    preset = PRESETS[ProviderType(kind)]
    assert settings.outbound == preset.outbound
    assert settings.inbound.server == preset.inbound[Protocol.IMAP]


def test_presets_are_the_documented_servers():
    def where(server):
        return server.host, server.port, server.security.value

    gmail, outlook = PRESETS[ProviderType.GMAIL], PRESETS[ProviderType.OUTLOOK]
    assert where(gmail.outbound) == ("smtp.gmail.com", 587, "starttls")
    assert where(gmail.inbound[Protocol.IMAP]) == ("imap.gmail.com", 993, "ssl")
    assert where(gmail.inbound[Protocol.POP3]) == ("pop.gmail.com", 995, "ssl")
    assert where(outlook.outbound) == ("smtp-mail.outlook.com", 587, "starttls")
    assert where(outlook.inbound[Protocol.IMAP]) == ("outlook.office365.com", 993, "ssl")
    assert where(outlook.inbound[Protocol.POP3]) == ("outlook.office365.com", 995, "ssl")


@pytest.mark.parametrize("kind", ["outlook", "gmail"])
def test_oauth_types_refuse_a_password_and_accept_server_overrides(kind):
    assert "password" in validate(oauth(kind, password="hunter2"))
    settings = to_settings(oauth(kind, smtp_host="relay.example.com", smtp_port="2525"))
    assert (settings.outbound.host, settings.outbound.port) == ("relay.example.com", 2525)
    assert "smtp_host" in validate(oauth(kind, smtp_host="https://relay.example.com"))


@pytest.mark.parametrize(
    ("protocol", "security", "port"),
    [("smtp", "starttls", 587), ("smtp", "ssl", 465), ("smtp", "none", 25),
     ("imap", "starttls", 143), ("imap", "ssl", 993), ("imap", "none", 143),
     ("pop3", "starttls", 110), ("pop3", "ssl", 995), ("pop3", "none", 110)],
)
def test_default_port_follows_protocol_and_security_unless_set(protocol, security, port):
    def server(**changes):
        if protocol == "smtp":
            return to_settings(smtp_imap(smtp_security=security, **changes)).outbound
        changes = {f"inbound_{k.removeprefix('smtp_')}": v for k, v in changes.items()}
        return to_settings(smtp_imap(inbound_protocol=protocol, inbound_security=security, **changes)).inbound.server

    assert server(smtp_port="").port == port
    assert server(smtp_port="2525").port == 2525


def test_security_accepts_the_labels_people_know():
    assert to_settings(smtp_imap(smtp_security="TLS")).outbound.security is Security.STARTTLS
    assert to_settings(smtp_imap(smtp_security="SSL")).outbound.security is Security.SSL


def test_reply_to_splits_validates_and_drops_duplicates():
    addresses, error = parse_reply_to("a@example.com; b@example.com, A@example.com;; ")
    assert error is None
    assert addresses == ("a@example.com", "b@example.com")
    assert to_settings(smtp_imap(reply_to="a@example.com;b@example.com")).reply_to == (
        "a@example.com", "b@example.com")


@pytest.mark.parametrize(
    "host", ["mail.example.com", "127.0.0.1", "::1", "[::1]", "bücher.example", "MAIL.Example.COM."]
)
def test_valid_hosts(host):
    assert check_host(host) is None


@pytest.mark.parametrize(
    ("host", "says"),
    [("imaps://mail.example.com", "imaps://"), ("mail.example.com:993", "port field"),
     ("mail.example.com/x", "path"), ("mail example.com", "spaces"), ("-bad.example.com", "valid"),
     ("support@example.com", "address")],
)
def test_invalid_hosts_say_what_is_wrong(host, says):
    assert says in check_host(host)


def test_ports_are_integers_in_range_only():
    assert parse_port("993") == (993, None)
    assert parse_port(" 25 ") == (25, None)
    assert parse_port("") == (None, None)
    for bad in ("0", "65536", "9.5", "１２３", "0x19", "+25"):
        assert parse_port(bad)[1], bad


def test_username_is_kept_when_it_differs_from_the_account():
    settings = to_settings(smtp_imap(username="DOMAIN\\support"))
    assert settings.username == "DOMAIN\\support"
    assert settings.to_draft().username == "DOMAIN\\support"
    assert to_settings(smtp_imap()).to_draft().username == ""


def test_to_settings_raises_with_every_error():
    with pytest.raises(ValidationError) as caught:
        to_settings(ProviderDraft())
    assert {"name", "account", "password", "smtp_host"} <= set(caught.value.errors)


def test_changing_a_connection_field_changes_the_connection_key():
    base = to_settings(smtp_imap())
    assert base.connection_key() == to_settings(smtp_imap(from_name="Help desk")).connection_key()
    assert base.connection_key() != to_settings(smtp_imap(smtp_port="2525")).connection_key()


text = st.text(max_size=40)
drafts = st.builds(
    ProviderDraft,
    name=text, type=st.sampled_from(["smtp-imap", "outlook", "gmail", "x", ""]) | text,
    account=st.emails().map(str) | text, username=text, from_name=text,
    receive_emails=st.booleans(), active_reference=st.booleans(), reply_to=text,
    password=text, password_stored=st.booleans(),
    smtp_host=st.sampled_from(["smtp.example.com", "127.0.0.1", ""]) | text,
    smtp_port=st.integers(-5, 70000).map(str) | text,
    smtp_security=st.sampled_from(["starttls", "ssl", "none", "TLS"]) | text,
    inbound_protocol=st.sampled_from(["imap", "pop3", "POP", ""]) | text,
    inbound_host=st.sampled_from(["imap.example.com", "::1", ""]) | text,
    inbound_port=st.integers(-5, 70000).map(str) | text,
    inbound_security=st.sampled_from(["starttls", "ssl", "none"]) | text,
)


@settings(max_examples=300, deadline=None)
@given(drafts)
def test_rules_never_raise_and_valid_means_settings(draft):
    errors = validate(draft)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in errors.items())
    if not errors:
        settings = to_settings(draft)
        assert 1 <= settings.outbound.port <= 65535
        assert settings.inbound is None or 1 <= settings.inbound.server.port <= 65535
        assert "\n" not in settings.from_name and "\r" not in settings.from_name


# Passwords: sent inside one protocol line, so what would break that line is refused ------


@pytest.mark.parametrize(
    ("password", "says"),
    [("Qz\r\nA2 DELETE INBOX", "(this one has CR and LF)"), ("Qz\nSECRET", "has LF"),
     ("Qz\rSECRET", "has CR"), ("Qz\0SECRET", "has NUL"), ("x" * 1025, "1024 bytes"),
     ("ä" * 513, "1024 bytes (this one has 1026)")],
)
def test_a_password_that_would_break_the_protocol_line_is_refused(password, says):
    errors = validate(smtp_imap(password=password))
    assert set(errors) == {"password"}
    assert says in errors["password"]
    assert not any(part in errors["password"] for part in ("Qz", "SECRET", "DELETE", "xx", "ää"))  # never quoted


@pytest.mark.parametrize("password", ["x" * 1024, "ä" * 512, "tab\tand spaces ok", "p@ss:w0rd;\"'[/]"])
def test_a_long_or_unusual_password_within_the_limit_is_fine(password):
    assert validate(smtp_imap(password=password)) == {}


def test_the_password_rule_reaches_the_cli_and_import_through_validation():
    with pytest.raises(ValidationError) as caught:
        to_settings(smtp_imap(password="a\nb"))
    assert "Password" in str(caught.value) and "a\nb" not in str(caught.value)


# Hosts: a resolver reads numbers in many forms; invisible characters make look-alikes -----


@pytest.mark.parametrize(
    "host",
    ["1.2.3", "999999999", "256.1.1.1", "0x7f.1", "0x7f000001", "127.1", "01.2.3.4", "1.2.3.4.5",
     "mail.example.123", "１.２.３.４", "1.2.3.4."],
)
def test_numeric_hosts_that_are_not_dotted_quad_ipv4_are_refused(host):
    message = check_host(host)
    assert message and "IPv4" in message, message


@pytest.mark.parametrize(
    "host",
    ["mail.exa\u200bmple.com", "mail.exa\u00admple.com", "mail.example.com\u2060", "mail.exa\ufe0fmple.com",
     "mail.\u202eexample.com", "mail\x1b[31m.example.com", "mail\x9b.example.com"],
)
def test_hosts_with_invisible_or_control_characters_are_refused(host):
    message = check_host(host)
    assert message and "invisible" in message, message


@pytest.mark.parametrize(
    "host",
    ["mail.bücher.de", "xn--bcher-kva.example", "192.0.2.10", "10.0.0.1", "[2001:db8::1]", "2001:db8::1",
     "mail1.example.com", "123.example.com", "0x7f.example.com"],
)
def test_idna_names_ipv4_and_ipv6_literals_stay_fine(host):
    assert check_host(host) is None


# Messages that quote input show its control characters, never obey them ------------------

CONTROLS = "\x1b]0;TITLE\x07\x1b[31m\x9b\x7f\r\n"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # what must never be in a message


@pytest.mark.parametrize(
    "field", ["type", "account", "smtp_host", "smtp_security", "reply_to", "smtp_port", "inbound_protocol"]
)
def test_a_message_quoting_a_value_shows_its_control_characters_as_escapes(field):
    errors = validate(smtp_imap(**{field: f"bad{CONTROLS}value"}))
    assert field in errors
    assert not RAW_CONTROL.search(errors[field])
    if "bad" in errors[field]:  # the message quotes the value: its ESC is shown as an escape
        assert "\\x1b" in errors[field]
    else:
        assert field == "smtp_host"  # "cannot contain spaces": nothing quoted


control_text = st.text(st.sampled_from(CONTROLS + "\x00\x85\t") | st.characters(), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.builds(
    ProviderDraft, name=control_text, type=control_text, account=control_text, username=control_text,
    from_name=control_text, reply_to=control_text, password=control_text, smtp_host=control_text,
    smtp_port=control_text, smtp_security=control_text, inbound_protocol=control_text, inbound_host=control_text,
    inbound_port=control_text, inbound_security=control_text,
))
def test_no_message_ever_carries_a_control_character(draft):
    for message in validate(draft).values():
        assert not RAW_CONTROL.search(message), message


# POP3 inbound and the sign-in method ---------------------------------------------------


def test_a_pop3_draft_becomes_pop3_inbound_settings():
    settings = to_settings(smtp_imap(inbound_protocol="POP3", inbound_host="pop.example.com"))
    assert settings.inbound.protocol is Protocol.POP3
    assert (settings.inbound.server.host, settings.inbound.server.port) == ("pop.example.com", 995)
    assert settings.protocols == (Protocol.SMTP, Protocol.POP3)
    assert to_settings(smtp_imap(inbound_protocol="pop", inbound_security="starttls")).inbound.server.port == 110
    # The draft it gives back for the form says POP3 again.
    draft = settings.to_draft()
    assert (draft.inbound_protocol, draft.inbound_host, draft.inbound_port) == ("pop3", "pop.example.com", "995")


def test_messages_name_the_inbound_protocol_in_use():
    pop3 = validate(smtp_imap(inbound_protocol="pop3", inbound_host=""))
    assert "POP3 server" in pop3["inbound_host"]
    assert "IMAP server" in validate(smtp_imap(inbound_host=""))["inbound_host"]
    with pytest.raises(ValidationError) as caught:
        to_settings(smtp_imap(inbound_protocol="pop3", inbound_host=""))
    assert str(caught.value).startswith("POP3 host: ")


@pytest.mark.parametrize(("kind", "host"), [("gmail", "pop.gmail.com"), ("outlook", "outlook.office365.com")])
def test_an_oauth_type_on_pop3_takes_the_preset_pop3_server(kind, host):
    settings = to_settings(oauth(kind, inbound_protocol="pop3"))
    assert settings.inbound == to_settings(oauth(kind, inbound_protocol="pop3", inbound_host=host)).inbound
    assert (settings.inbound.protocol, settings.inbound.server.host) == (Protocol.POP3, host)
    assert (settings.inbound.server.port, settings.inbound.server.security) == (995, Security.SSL)


@pytest.mark.parametrize(
    ("kind", "sign_in"), [("smtp-imap", SignIn.PASSWORD), ("outlook", SignIn.MICROSOFT), ("gmail", SignIn.GOOGLE)]
)
def test_the_sign_in_method_is_set_by_the_type(kind, sign_in):
    draft = smtp_imap(type=kind, password="secret" if kind == "smtp-imap" else "")
    settings = to_settings(draft)
    assert settings.sign_in is sign_in
    assert settings.sign_in.uses_password is (kind == "smtp-imap")


def test_an_edit_in_one_go_lets_standard_ports_and_preset_hosts_follow_the_new_choice():
    from tui.core.rules import with_defaults_followed

    pop3 = to_settings(smtp_imap(inbound_protocol="pop3")).to_draft()
    to_imap = with_defaults_followed(pop3, pop3.updated(inbound_protocol="imap"))
    assert to_settings(to_imap.updated(password="x")).inbound.server.port == 993
    chosen = pop3.updated(inbound_port="2995")
    assert with_defaults_followed(chosen, chosen.updated(inbound_protocol="imap")).inbound_port == "2995"

    gmail = to_settings(oauth("gmail")).to_draft()
    on_pop3 = to_settings(with_defaults_followed(gmail, gmail.updated(inbound_protocol="pop3")))
    assert (on_pop3.inbound.server.host, on_pop3.inbound.server.port) == ("pop.gmail.com", 995)
    to_outlook = to_settings(with_defaults_followed(gmail, gmail.updated(type="outlook")))
    assert to_outlook.outbound.host == "smtp-mail.outlook.com"
    to_password = with_defaults_followed(gmail, gmail.updated(type="smtp-imap", password="x"))
    assert to_settings(to_password).outbound.host == "smtp.gmail.com"  # no preset to follow: kept
    assert with_defaults_followed(gmail, gmail.updated(inbound_protocol="nope")).inbound_host == "imap.gmail.com"


def test_bytes_that_are_not_utf8_are_refused_by_name_never_crash():
    """An argument or environment variable with bytes that are not UTF-8 reaches Python as
    lone surrogates: they cannot be stored or sent, so the rules name the field."""
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")
    errors = validate(smtp_imap(name=bad, password=bad, inbound_host=bad))
    assert set(errors) == {"name", "password", "inbound_host"}
    assert all("not UTF-8" in message for message in errors.values())
    assert all(not any("\ud800" <= ch <= "\udfff" for ch in message) for message in errors.values())
