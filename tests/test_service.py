"""ProviderService keeps the database and the secret store consistent."""

import pytest

from tui.core.domain import ProviderDraft, Status, ValidationError
from tui.core.report import CheckReport, ProtocolResult, Step, utcnow
from tui.core.secrets import EncryptedFileKeyring, MemoryKeyring, SecretStore, SecretStoreError
from tui.core.service import ProviderService
from tui.core.settings import load_settings
from tui.core.store import Store


def make_service(tmp_path, backend=None) -> ProviderService:
    settings = load_settings(env={"MAILPROV_DB": str(tmp_path / "m.db"), "MAILPROV_DATA_DIR": str(tmp_path),
                                  "MAILPROV_CONFIG_DIR": str(tmp_path), "MAILPROV_LOG_DIR": str(tmp_path)})
    return ProviderService(Store.open(settings.db_url), SecretStore(backend or MemoryKeyring()), settings)


def draft(**changes) -> ProviderDraft:
    return ProviderDraft(name="Support", account="support@example.com", password="first",
                         smtp_host="smtp.example.com", imap_host="imap.example.com").updated(**changes)


def stored_password(service, name):
    return service.secrets.get_password(service.require(name).secret_key)


def test_create_keeps_the_password_in_the_secret_store_only(tmp_path):
    service = make_service(tmp_path)
    record = service.create(draft())
    assert stored_password(service, "Support") == "first"
    assert b"first" not in (tmp_path / "m.db").read_bytes()
    assert service.draft_for("support") == draft(password="", password_stored=True, smtp_port="587", imap_port="993")
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
    service.update("Support", draft(type="gmail", password="", smtp_host="", imap_host=""))
    assert service.secrets.get_password(key) is None
    service.update("Support", draft(password="again"))
    service.delete("Support")
    assert service.secrets.get_password(key) is None and service.names() == []


def test_validate_while_editing_ignores_the_providers_own_name(tmp_path):
    service = make_service(tmp_path)
    service.create(draft())
    assert service.validate(draft(name="SUPPORT"), editing="Support") == {}
    assert "name" in service.validate(draft(name="SUPPORT"))
