"""ProviderService keeps the database and the secret store consistent."""

import pytest

from tests.databases import migrated_database
from tui.core.domain import ProviderDraft, Status, ValidationError
from tui.core.report import CheckReport, ProtocolResult, Step, utcnow
from tui.core.secrets import EncryptedFileKeyring, MemoryKeyring, SecretStore, SecretStoreError
from tui.core.service import ProviderService
from tui.core.settings import load_settings
from tui.core.store import Store


def make_service(tmp_path, backend=None, **env) -> ProviderService:
    settings = load_settings(env={"MAILPROV_DB": str(tmp_path / "m.db"), "MAILPROV_DATA_DIR": str(tmp_path),
                                  "MAILPROV_CONFIG_DIR": str(tmp_path), "MAILPROV_LOG_DIR": str(tmp_path), **env})
    migrated_database(settings.db_path)  # a migrated copy (tests/databases.py): the service is the subject
    return ProviderService(Store.open(settings.db_url), SecretStore(backend or MemoryKeyring()), settings)


def draft(**changes) -> ProviderDraft:
    return ProviderDraft(name="Support", account="support@example.com", password="first",
                         smtp_host="smtp.example.com", inbound_host="imap.example.com").updated(**changes)


def stored_password(service, name):
    return service.secrets.get_password(service.require(name).secret_key)


def test_create_keeps_the_password_in_the_secret_store_only(tmp_path):
    service = make_service(tmp_path)
    record = service.create(draft())
    assert stored_password(service, "Support") == "first"
    assert b"first" not in (tmp_path / "m.db").read_bytes()
    assert service.draft_for("support") == draft(password="", password_stored=True, smtp_port="587", inbound_port="993")
    assert record.status is Status.GREY


def test_a_secret_store_failure_leaves_no_row_behind(tmp_path):
    secrets_file = tmp_path / "secrets.enc"
    EncryptedFileKeyring(secrets_file, "right key", "test").set_password("mailprov", "other", "x")
    wrong_key = EncryptedFileKeyring(secrets_file, "wrong key", "test")
    service = make_service(tmp_path, wrong_key)
    with pytest.raises(SecretStoreError):
        service.create(draft())
    assert service.names() == []


def test_invalid_drafts_write_nothing(tmp_path):
    service = make_service(tmp_path)
    with pytest.raises(ValidationError) as caught:
        service.create(draft(smtp_port="abc"))
    assert set(caught.value.errors) == {"smtp_port"}
    assert service.names() == []


def test_editing_without_a_password_keeps_it_and_a_new_one_resets_status(tmp_path):
    service = make_service(tmp_path)
    service.create(draft())
    ok = ProtocolResult("smtp", "smtp.example.com", 587, steps=[Step("resolve", True, 1.0)])
    service.store.save_report("Support", CheckReport("Support", utcnow(), ok))

    record = service.update("Support", service.draft_for("Support").updated(from_name="Desk"))
    assert record.status is Status.GREEN and stored_password(service, "Support") == "first"

    record = service.update("Support", service.draft_for("Support").updated(password="second"))
    assert record.status is Status.GREY and stored_password(service, "Support") == "second"


def test_switching_to_oauth_forgets_the_password_and_delete_removes_it(tmp_path):
    service = make_service(tmp_path)
    key = service.create(draft()).secret_key
    service.update("Support", draft(type="gmail", password="", smtp_host="", inbound_host=""))
    assert service.secrets.get_password(key) is None
    service.update("Support", draft(password="again"))
    service.delete("Support")
    assert service.secrets.get_password(key) is None and service.names() == []


def test_validate_while_editing_ignores_the_providers_own_name(tmp_path):
    service = make_service(tmp_path)
    service.create(draft())
    assert service.validate(draft(name="SUPPORT"), editing="Support") == {}
    assert "name" in service.validate(draft(name="SUPPORT"))


# --------------------------------------------------------------------------- ordered writes

from keyring.errors import KeyringError  # noqa: E402

from tui.core.filelock import exclusive_lock  # noqa: E402
from tui.core.report import FailureKind  # noqa: E402
from tui.core.rules import to_settings  # noqa: E402
from tui.core.service import ImportInterrupted  # noqa: E402


def stored_keys(service) -> set[str]:
    """Every secret key with a secret in the in-memory backend (read from inside it: a
    keyring cannot list its entries)."""
    return {username.removeprefix("provider/") for _, username in service.secrets._backend._passwords}


def test_a_new_password_gets_a_new_secret_key_and_the_old_password_goes(tmp_path):
    service = make_service(tmp_path)
    first = service.create(draft())
    second = service.update("Support", service.draft_for("Support").updated(password="second", smtp_port="2525"))
    assert second.secret_key != first.secret_key
    assert stored_keys(service) == {second.secret_key}
    assert service.store.intents() == []
    kept = service.update("Support", service.draft_for("Support").updated(from_name="Desk"))
    assert kept.secret_key == second.secret_key  # no new password: the key stays


class DeleteFails(MemoryKeyring):
    def delete_password(self, service, username):
        raise KeyringError("the keyring daemon went away")

    def delete_many(self, service, usernames):
        raise KeyringError("the keyring daemon went away")


def test_rm_with_a_failing_secret_store_keeps_the_provider_and_its_password(tmp_path):
    service = make_service(tmp_path, DeleteFails())
    record = service.create(draft())
    with pytest.raises(SecretStoreError) as error:
        service.delete("Support")
    assert "'Support' was not removed" in str(error.value)
    assert record.secret_key not in str(error.value)
    kept = service.require("Support")
    assert (kept.id, kept.secret_key, kept.settings) == (record.id, record.secret_key, record.settings)
    assert stored_password(service, "Support") == "first"
    assert service.store.intents() == []


def test_the_sweep_finishes_what_killed_writes_left(tmp_path):
    service = make_service(tmp_path)
    kept = service.create(draft(name="Kept"))
    legacy = service.create(draft(name="Legacy"))
    # Killed after writing a new password, before the row was committed:
    service.store.record_intents(["unused-new"])
    service.secrets.set_password("unused-new", "never committed")
    # Killed after the row moved to a new key, before the old password was deleted:
    service.store.record_intents(["old-key"])
    service.secrets.set_password("old-key", "replaced")
    # A row of an older version whose password was never written (migration 0003 records it):
    service.secrets.delete_password(legacy.secret_key)
    service.store.record_intents([legacy.secret_key, kept.secret_key])

    service.sweep()

    assert stored_keys(service) == {kept.secret_key}
    assert service.store.intents() == []
    missing = service.require("Legacy")
    assert missing.failure.kind is FailureKind.SECRET
    assert missing.status_text == "✖ password missing"
    assert "'Legacy'" in missing.failure.message and "is missing" in missing.failure.message
    assert service.require("Kept").status is Status.GREY and service.require("Kept").failure is None
    # Entering the password again is the remedy:
    fixed = service.update("Legacy", service.draft_for("Legacy").updated(password="again"))
    assert fixed.status is Status.GREY and fixed.failure is None


def test_the_sweep_leaves_alone_what_another_process_is_writing(tmp_path):
    service = make_service(tmp_path)
    service.store.record_intents(["being-written"])
    service.secrets.set_password("being-written", "about to be committed")
    with exclusive_lock(service.lock_path):  # as a writing process holds it
        service.sweep()
    assert service.store.intents() == ["being-written"]
    assert service.secrets.get_password("being-written") == "about to be committed"


def test_an_interrupted_import_leaves_nothing(tmp_path):
    service = make_service(tmp_path)
    existing = service.create(draft(name="Existing"))
    items = [(to_settings(draft(name=f"P{n}")), f"pw-{n}") for n in range(500)]
    items.append((to_settings(draft(name="Existing", smtp_port="2525")), "changed"))

    def stop_once_the_passwords_are_written() -> bool:
        return len(stored_keys(service)) > 1  # the last moment before the commit

    with pytest.raises(ImportInterrupted):
        service.import_providers(items, stop=stop_once_the_passwords_are_written)
    assert service.names() == ["Existing"]
    assert service.require("Existing").settings.outbound.port == 587
    assert stored_keys(service) == {existing.secret_key}
    assert service.store.intents() == []

    service.import_providers(items)
    assert len(service.names()) == 501
    assert service.require("Existing").settings.outbound.port == 2525
    assert stored_password(service, "Existing") == "changed" and stored_password(service, "P7") == "pw-7"
    assert stored_keys(service) == {r.secret_key for r in service.list()}
    assert service.store.intents() == []


def test_a_check_finishing_after_an_edit_is_not_saved(tmp_path, smtp_servers, test_certificates):
    from tests.servers import HOST, PASSWORD, USER

    service = make_service(tmp_path, MAILPROV_CA_FILE=str(test_certificates.ca_file))
    service.create(draft(account=USER, password=PASSWORD, smtp_host=HOST, smtp_port=str(smtp_servers.port("starttls")),
                         receive_emails=False, inbound_host=""))
    edited = []

    def edit_during_the_check(protocol, step) -> None:
        if not edited:  # another process edits the provider while the check is on its way
            edited.append(service.update("Support", service.draft_for("Support").updated(smtp_port="1")))

    report = service.check("Support", on_step=edit_during_the_check)
    assert report.ok and report.outdated  # it passed, for settings that are no longer current
    record = service.require("Support")
    assert record.status is Status.GREY and record.settings.outbound.port == 1 and record.report is None

    assert not service.check("Support").outdated  # nothing edited now: saved
    assert service.require("Support").status is Status.RED


def test_a_damaged_password_fails_its_provider_alone(tmp_path, closed_port):
    from tests.test_secrets import damage_entry

    backend = EncryptedFileKeyring(tmp_path / "secrets.enc", "a master key", "test")
    service = make_service(tmp_path, backend)
    for name in ("Damaged", "Fine"):
        service.create(draft(name=name, smtp_host="127.0.0.1", smtp_port=str(closed_port), receive_emails=False,
                             inbound_host=""))
    damaged_key = service.require("Damaged").secret_key
    damage_entry(tmp_path / "secrets.enc", damaged_key)

    reports = {r.provider: r for r in service.check_all()}
    failure = reports["Damaged"].failure
    assert failure.kind is FailureKind.SECRET and "'Damaged'" in failure.message
    assert "cannot be read" in failure.message and "password again" in failure.remedy
    assert damaged_key not in failure.message + failure.remedy
    assert reports["Fine"].failure.kind is FailureKind.REFUSED  # checked, on its own
    assert service.require("Damaged").status_text == "✖ password missing"
    assert service.draft_for("Damaged").password_stored is False  # the form asks for it again


def test_a_write_waits_for_another_writer_then_says_busy(tmp_path, monkeypatch):
    from tui.core.filelock import LockBusy

    monkeypatch.setattr("tui.core.service.WRITE_WAIT_SECONDS", 0.2)
    service = make_service(tmp_path)
    with exclusive_lock(service.lock_path):  # another process is writing, for too long
        with pytest.raises(LockBusy, match="another mailprov process"):
            service.create(draft())
    assert service.names() == [] and stored_keys(service) == set()
    service.create(draft())  # free again
    assert service.names() == ["Support"]


# --------------------------------------------------------------------------- secret slots

from tui.core import credentials  # noqa: E402
from tui.core.domain import SignIn  # noqa: E402


def gmail(**changes) -> ProviderDraft:
    return draft(name="Sales", type="gmail", account="sales@example.com", password="", smtp_host="",
                 inbound_host="").updated(**changes)


def test_saving_an_oauth_provider_keeps_its_token_slot(tmp_path):
    service = make_service(tmp_path)
    created = service.create(gmail())
    assert created.token_key is None and service.token_cache("Sales") is None
    signed_in = service.save_token_cache("Sales", "token-cache-1")
    assert signed_in.token_key and service.token_cache("Sales") == "token-cache-1"

    # Edits of every kind, the sign-in method unchanged: the token slot is not touched.
    for changes in ({"from_name": "Sales team"}, {"smtp_host": "relay.example.com"},
                    {"inbound_protocol": "pop3"}, {"receive_emails": False}):
        edited = service.update("Sales", service.draft_for("Sales").updated(**changes))
        assert edited.token_key == signed_in.token_key
        assert service.token_cache("Sales") == "token-cache-1"
    imported = to_settings(gmail(from_name="Imported"))
    service.import_providers([(imported, "")])
    assert service.require("Sales").token_key == signed_in.token_key

    # A new sign-in replaces the cache under a new key; the old one goes.
    again = service.save_token_cache("Sales", "token-cache-2")
    assert again.token_key != signed_in.token_key
    assert stored_keys(service) == {again.token_key}  # an OAuth provider keeps no password
    assert service.store.intents() == []


def test_switching_sign_in_method_drops_only_the_old_methods_slot(tmp_path):
    service = make_service(tmp_path)
    password_key = service.create(draft()).secret_key
    assert stored_keys(service) == {password_key}

    to_google = service.update("Support", gmail(name="Support"))
    assert to_google.settings.sign_in is SignIn.GOOGLE
    assert stored_keys(service) == set()  # the password went with the password sign-in
    token_key = service.save_token_cache("Support", "google cache").token_key

    to_microsoft = service.update("Support", gmail(name="Support", type="outlook"))
    assert to_microsoft.token_key is None  # a Google token means nothing to Microsoft
    assert stored_keys(service) == set() and token_key not in stored_keys(service)
    token_key = service.save_token_cache("Support", "microsoft cache").token_key

    back = service.update("Support", draft(password="again"))
    assert back.token_key is None and service.token_cache("Support") is None
    assert stored_keys(service) == {back.secret_key} and stored_password(service, "Support") == "again"
    assert service.store.intents() == []


def test_an_import_switching_sign_in_drops_the_token_and_delete_removes_every_slot(tmp_path):
    service = make_service(tmp_path)
    service.create(gmail())
    token_key = service.save_token_cache("Sales", "cache").token_key
    service.import_providers([(to_settings(gmail(type="outlook")), "")])
    assert service.require("Sales").token_key is None and token_key not in stored_keys(service)

    token_key = service.save_token_cache("Sales", "cache").token_key
    service.delete("Sales")
    assert stored_keys(service) == set() and service.store.intents() == []


def test_the_sweep_keeps_a_token_a_provider_uses_and_deletes_a_lost_one(tmp_path):
    service = make_service(tmp_path)
    service.create(gmail())
    token_key = service.save_token_cache("Sales", "cache").token_key
    service.store.record_intents([token_key, "lost-token"])  # as a killed sign-in would leave them
    service.secrets.set_password("lost-token", "never committed")
    service.sweep()
    assert stored_keys(service) == {token_key} and service.store.intents() == []
    assert service.require("Sales").failure is None  # an OAuth provider is not missing a password


def test_a_password_provider_has_no_token_slot(tmp_path):
    service = make_service(tmp_path)
    service.create(draft())
    with pytest.raises(ValidationError):
        service.save_token_cache("Support", "cache")
    assert service.require("Support").token_key is None


def test_the_credential_source(tmp_path):
    backend = EncryptedFileKeyring(tmp_path / "secrets.enc", "a master key", "test")
    service = make_service(tmp_path, backend)
    service.create(draft(username="login"))
    service.create(draft(name="Gone"))
    service.create(draft(name="Damaged"))
    service.create(gmail())
    service.secrets.delete_password(service.require("Gone").secret_key)
    from tests.test_secrets import damage_entry

    damage_entry(tmp_path / "secrets.enc", service.require("Damaged").secret_key)
    records = {record.name: record for record in service.list()}

    found, failures = credentials.for_providers(list(records.values()), service.secrets)
    support = found[records["Support"].id]
    assert (support.username, support.password, support.oauth_token) == ("login", "first", None)
    sales = found[records["Sales"].id]  # OAuth: not signed in yet, so no secret at all
    assert (sales.username, sales.secrets) == ("sales@example.com", ())
    assert set(failures) == {records["Gone"].id, records["Damaged"].id}
    assert "is missing" in failures[records["Gone"].id].message
    assert "cannot be read" in failures[records["Damaged"].id].message
    assert all(f.kind is FailureKind.SECRET and f.fields == ("password",) for f in failures.values())

    assert credentials.for_provider(records["Support"], service.secrets).password == "first"
    with pytest.raises(credentials.SecretMissing) as missing:
        credentials.for_provider(records["Gone"], service.secrets)
    assert missing.value.failure.kind is FailureKind.SECRET
    typed = credentials.for_draft(records["Support"].settings, "typed", records["Support"], service.secrets)
    stored = credentials.for_draft(records["Support"].settings, "", records["Support"], service.secrets)
    assert (typed.password, stored.password) == ("typed", "first")


def test_an_oauth_provider_checks_up_to_its_login_and_says_not_signed_in(tmp_path, smtp_servers, test_certificates):
    from tests.servers import HOST

    service = make_service(tmp_path, MAILPROV_CA_FILE=str(test_certificates.ca_file))
    service.create(gmail(smtp_host=HOST, smtp_port=str(smtp_servers.port("starttls")), receive_emails=False))
    report = service.check("Sales")
    steps = [step.name for step in report.outbound.steps]
    assert "auth" in steps and all(step.ok for step in report.outbound.steps[:-1])
    assert report.failure.kind is FailureKind.AUTH and report.failure.message.startswith("Not signed in")
    assert service.require("Sales").status is Status.RED


def test_a_refused_connection_on_an_odd_port_is_not_called_transient_once_stored(tmp_path, closed_port):
    """The check knows that nothing will start listening on a port no mail service uses;
    the provider read back from the database (and its status pane) must say the same."""
    service = make_service(tmp_path)
    service.create(draft(smtp_host="127.0.0.1", smtp_port=str(closed_port), receive_emails=False, inbound_host=""))
    [report] = service.check_all()
    assert report.failure.kind is FailureKind.REFUSED and not report.failure.transient
    stored = service.require("Support")
    assert stored.failure.kind is FailureKind.REFUSED and not stored.failure.transient
