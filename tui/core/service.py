"""ProviderService: the one API both faces (CLI and TUI) call.

It joins the rules, the store, the secret store and the checks, and keeps them consistent:
a provider is never half-written (row without its password, or the other way round).
Every method blocks (database, keyring, network): the TUI calls them from workers.

How writes survive a kill at any instant, with any keyring backend (which cannot list its
secrets): a password is stored under a new secret key each time it changes, and
1. the new key is recorded in `secret_intent` (committed);
2. the password is written to the secret store;
3. one SQL transaction switches the row to the new key, settles that key's intent and
   records the old key (for a delete: removes the row and records its key);
4. the old password is deleted, then its intent.
A kill before 3 leaves the old row and an unused password; after 3, the new row and an old
password. Either way an intent names the leftover, and `sweep()` (at start-up, cheap when
there is none) deletes the passwords of intents no row uses. Every provider write, and the
sweep, holds an exclusive lock on a file next to the database, so two processes' writes
never interleave and a sweep never takes a password another process is about to commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from tui.core import rules
from tui.core.domain import ProviderDraft, ProviderSettings, ValidationError
from tui.core.filelock import LockBusy, LockError, exclusive_lock
from tui.core.report import CheckReport, Failure, FailureKind, ProtocolResult, Step, utcnow
from tui.core.secrets import SecretDamagedError, SecretStoreError
from tui.core.settings import Settings
from tui.core.store import ProviderRecord, Store, new_secret_key

log = logging.getLogger(__name__)

StepCallback = Callable[[str, Step], None]
UNSAVED_NAME = "(unsaved)"
# How long a write waits while another process writes (an import of 10,000 takes seconds).
WRITE_WAIT_SECONDS = 60.0
# An import asks whether to stop between this many entries while it validates them.
STOP_CHECK_EVERY = 200


class ImportInterrupted(Exception):
    """The import was asked to stop before its commit: nothing was imported."""


class ProviderService:
    def __init__(self, store: Store, secrets, settings: Settings):
        self.store = store
        self.secrets = secrets
        self.settings = settings
        self.lock_path = _write_lock_path(store.url, settings.data_dir)

    # Reading -------------------------------------------------------------------------

    def list(self) -> list[ProviderRecord]:
        return self.store.list()

    def get(self, name: str) -> ProviderRecord | None:
        return self.store.get(name)

    def require(self, name: str) -> ProviderRecord:
        return self.store.require(name)

    def names(self) -> list[str]:
        return self.store.names()

    def draft_for(self, name: str) -> ProviderDraft:
        """The provider as an editable draft; the password stays in keyring."""
        record = self.store.require(name)
        stored = record.settings.type.uses_password and self._has_password(record)
        return record.settings.to_draft(password_stored=stored)

    def validate(self, draft: ProviderDraft, editing: str | None = None) -> dict[str, str]:
        return rules.validate(draft, self._other_names(editing))

    # Writing -------------------------------------------------------------------------

    def create(self, draft: ProviderDraft) -> ProviderRecord:
        with self._writing():
            settings = rules.to_settings(draft, self._other_names(None))
            key = new_secret_key()
            passwords = _new_password(settings, draft.password, key)
            self._save_passwords(passwords)
            try:
                record = self.store.add(settings, secret_key=key)
            except BaseException:
                self._discard_passwords(list(passwords))
                raise
        log.info("provider %r created", record.name)
        return record

    def update(self, name: str, draft: ProviderDraft) -> ProviderRecord:
        """New settings; a new password (or a switch to OAuth) moves the row to a new secret key."""
        with self._writing():
            current = self.store.require(name)
            settings = rules.to_settings(draft, self._other_names(name))
            new_key = _key_change(current, settings, draft.password)
            passwords = _new_password(settings, draft.password, new_key) if new_key else {}
            self._save_passwords(passwords)
            try:
                record = self.store.update(name, settings, secret_key=new_key)
            except BaseException:
                self._discard_passwords(list(passwords))
                raise
            if new_key:
                self._discard_passwords([current.secret_key])
        log.info("provider %r updated", record.name)
        return record

    def delete(self, name: str) -> ProviderRecord:
        """Remove the provider and its password. When the password cannot be deleted, the
        provider is put back and the error raised: nothing is half-removed."""
        with self._writing():
            record = self.store.delete(name)  # records its key: a kill from here on is swept
            try:
                self.secrets.delete_password(record.secret_key)
            except SecretStoreError as exc:
                self.store.restore(record)
                raise SecretStoreError(
                    f"'{record.name}' was not removed: its stored password could not be deleted. {exc}"
                ) from None
            self.store.settle_intents([record.secret_key])
        log.info("provider %r deleted", record.name)
        return record

    def import_providers(
        self, items: list[tuple[ProviderSettings, str]], stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Create or update (by name) every provider, all or nothing: one batched secret
        write and one SQL transaction. `items` are settings made by the rules (the import
        plan validated every entry, names included, once) with the password ("" keeps the
        stored one). `stop()` is asked until the commit; when it says so, whatever was
        written is undone and ImportInterrupted raised."""
        with self._writing():
            current = {record.name.casefold(): record for record in self.store.list()}
            creates, updates, passwords, old_keys = [], [], {}, []
            for index, (settings, password) in enumerate(items):
                if index % STOP_CHECK_EVERY == 0:
                    _stop_if_asked(stop)
                existing = current.get(settings.name.casefold())
                key = _key_change(existing, settings, password) if existing else new_secret_key()
                if key:
                    passwords.update(_new_password(settings, password, key))
                if existing is None:
                    creates.append((settings, key))
                else:
                    updates.append((existing.name, settings, key))
                    if key:
                        old_keys.append(existing.secret_key)
            _stop_if_asked(stop)
            self._save_passwords(passwords)
            try:
                _stop_if_asked(stop)
                self.store.write_many(creates, updates)
            except BaseException:
                self._discard_passwords(list(passwords))
                raise
            self._discard_passwords(old_keys)
        log.info("imported %d provider(s): %d created, %d updated", len(items), len(creates), len(updates))

    def sweep(self) -> None:
        """Finish what a killed process left: delete the passwords of intents no provider
        uses, and mark providers whose password is missing. Never raises for a busy lock
        or a failing secret store (the intents stay for the next time)."""
        if not self.store.has_intents():
            return
        try:
            with exclusive_lock(self.lock_path, timeout=0):
                self._sweep_intents()
        except LockBusy:
            log.info("sweep skipped: another process is writing")
        except (LockError, SecretStoreError) as exc:  # reading must still work
            log.warning("sweep postponed: %s", exc)

    def _sweep_intents(self) -> None:
        keys = self.store.intents()
        users = self.store.by_secret_key(keys)
        unused = [key for key in keys if key not in users]
        self.secrets.delete_many(unused)
        with_password = [record for record in users.values() if record.settings.type.uses_password]
        found, damaged = self.secrets.get_many([record.secret_key for record in with_password])
        for record in with_password:
            if record.secret_key not in found:
                failure = _password_failure(record.name, damaged=record.secret_key in damaged)
                self.store.mark_password_problem(record.secret_key, failure)
                log.warning("provider %r: %s", record.name, failure.message)
        self.store.settle_intents(keys)
        log.info("sweep: %d unused password(s) deleted, %d provider(s) verified", len(unused), len(with_password))

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Provider writes of every process, one at a time."""
        with exclusive_lock(self.lock_path, timeout=WRITE_WAIT_SECONDS):
            yield

    def _save_passwords(self, passwords: dict[str, str]) -> None:
        """Record the new keys, then write their passwords (one batch)."""
        if not passwords:
            return
        self.store.record_intents(list(passwords))
        try:
            self.secrets.set_many(passwords)
        except BaseException:
            self._discard_passwords(list(passwords))
            raise

    def _discard_passwords(self, keys: list[str]) -> None:
        """Delete passwords no provider uses, then their intents. When the secret store
        fails, the intents stay and the next sweep deletes them."""
        if not keys:
            return
        try:
            self.secrets.delete_many(keys)
        except SecretStoreError as exc:
            log.warning("%d unused password(s) left for the next sweep: %s", len(keys), exc)
            return
        self.store.settle_intents(keys)

    # Checking ------------------------------------------------------------------------

    def check(self, name: str, on_step: StepCallback | None = None) -> CheckReport:
        """Run the activation ladders for a saved provider and save its new status (unless
        it was edited meanwhile: then the report comes back `outdated` and is not saved)."""
        from tui.core.checks import check_provider

        record = self.store.require(name)
        (credential,), problems = self._credentials([record])
        if problems:
            return self._save(record, _report_of(record, problems[record.id]))
        report = check_provider(
            record.settings,
            credential,
            timeout=self.settings.timeout,
            ca_file=self.settings.ca_file,
            on_step=on_step,
        )
        return self._save(record, report)

    def check_draft(
        self, draft: ProviderDraft, on_step: StepCallback | None = None, editing: str | None = None
    ) -> CheckReport:
        """Test settings as typed, before (or without) saving. Nothing is stored."""
        from tui.core.checks import Credential, check_provider

        named = draft if draft.name.strip() else draft.updated(name=UNSAVED_NAME)
        errors = {k: v for k, v in rules.validate(named).items() if k != "name"}
        if errors:
            raise ValidationError(errors)
        settings = rules.to_settings(named)
        password = draft.password
        if not password and editing and settings.type.uses_password:
            password = self.secrets.get_password(self.store.require(editing).secret_key)
        credential = Credential(settings.username, password=password) if password else None
        return check_provider(
            settings,
            credential,
            timeout=self.settings.timeout,
            ca_file=self.settings.ca_file,
            on_step=on_step,
        )

    def check_all(
        self,
        names: Iterable[str] | None = None,
        on_report: Callable[[CheckReport], None] | None = None,
    ) -> list[CheckReport]:
        """Check many providers concurrently (bounded); each status is saved as it arrives.
        A provider whose password is missing or unreadable fails alone, without a network
        check; the others are checked."""
        from tui.core.checks import check_many

        records = self.store.list() if names is None else [self.store.require(n) for n in names]
        credentials, problems = self._credentials(records)
        reports: dict[int, CheckReport] = {}
        jobs, checked = [], []
        for record, credential in zip(records, credentials):
            if record.id in problems:
                report = _report_of(record, problems[record.id])
                reports[record.id] = self._save_then_tell(record, report, on_report)
            else:
                jobs.append((record.settings, credential))
                checked.append(record)
        by_name = {record.name: record for record in checked}

        def save_then_tell(report: CheckReport) -> None:
            record = by_name[report.provider]
            reports[record.id] = self._save_then_tell(record, report, on_report)

        results = check_many(
            jobs,
            timeout=self.settings.timeout,
            ca_file=self.settings.ca_file,
            max_workers=self.settings.max_concurrency,
            on_report=save_then_tell,
        )
        for record, report in zip(checked, results):
            reports.setdefault(record.id, report)
        return [reports[record.id] for record in records]

    def _save_then_tell(self, record: ProviderRecord, report: CheckReport, on_report) -> CheckReport:
        report = self._save(record, report)
        if on_report:
            on_report(report)
        return report

    def _save(self, record: ProviderRecord, report: CheckReport) -> CheckReport:
        """Save the report only while the provider still has the settings and the password
        that were checked; otherwise it stays as it is and the report comes back outdated."""
        with self._writing():
            saved = self.store.save_report(record.name, report, checked=record)
        if saved is None:
            log.warning("check %r not saved: the provider was edited or removed during the check", record.name)
            return replace(report, outdated=True)
        _log_report(report)
        return report

    # Helpers -------------------------------------------------------------------------

    def _credentials(self, records: list[ProviderRecord]) -> tuple[list, dict[int, Failure]]:
        """(a Credential or None per record, {record id: `secret` failure}). The passwords
        are read in one batch; a missing or damaged one is that provider's failure alone."""
        from tui.core.checks import Credential

        with_password = [r for r in records if r.settings.type.uses_password]
        found, damaged = self.secrets.get_many([r.secret_key for r in with_password])
        credentials, problems = [], {}
        for record in records:
            credential = None  # OAuth sign-in is not available yet: the check says so
            if record.settings.type.uses_password:
                password = found.get(record.secret_key)
                if password is None:
                    problems[record.id] = _password_failure(record.name, record.secret_key in damaged)
                else:
                    credential = Credential(record.settings.username, password=password)
            credentials.append(credential)
        return credentials, problems

    def _has_password(self, record: ProviderRecord) -> bool:
        try:
            return self.secrets.get_password(record.secret_key) is not None
        except SecretDamagedError:
            return False  # unreadable: the form asks for the password again

    def _other_names(self, editing: str | None) -> list[str]:
        skip = editing.strip().casefold() if editing else None
        return [n for n in self.store.names() if n.casefold() != skip]


def _write_lock_path(db_url: str, data_dir: Path) -> Path:
    """The lock file next to a SQLite database file; in the data folder for other URLs."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".lock")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return data_dir / "mailprov-writes.lock"


def _new_password(settings: ProviderSettings, password: str, key: str) -> dict[str, str]:
    return {key: password} if settings.type.uses_password and password else {}


def _key_change(current: ProviderRecord, settings: ProviderSettings, password: str) -> str | None:
    """A new secret key when the password changes, or when the provider stops using one
    (OAuth keeps no password); None when the row keeps its key."""
    if settings.type.uses_password and password:
        return new_secret_key()
    if not settings.type.uses_password and current.settings.type.uses_password:
        return new_secret_key()
    return None


def _stop_if_asked(stop: Callable[[], bool]) -> None:
    if stop():
        raise ImportInterrupted("import interrupted: nothing imported")


def _password_failure(name: str, damaged: bool) -> Failure:
    why = "cannot be read (its entry in the secret store is damaged)" if damaged else "is missing"
    return Failure(
        FailureKind.SECRET,
        f"The stored password of provider '{name}' {why}.",
        "Enter the password again: edit the provider in the app, or run "
        "`mailprov provider edit NAME --password-stdin`.",
        ("password",),
    )


def _report_of(record: ProviderRecord, failure: Failure) -> CheckReport:
    """The report of a check that could not start: the password it needs is not there."""
    settings = record.settings
    outbound = ProtocolResult("smtp", settings.smtp_host, settings.smtp_port, failure=failure)
    return CheckReport(provider=settings.name, started_at=utcnow(), outbound=outbound)


def _log_report(report: CheckReport) -> None:
    failure = report.failure
    if failure:
        log.warning("check %r: %s (%s)", report.provider, failure.kind.value, failure.message)
    else:
        log.info("check %r: active", report.provider)
