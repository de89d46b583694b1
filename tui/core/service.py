"""ProviderService: the one API both faces (CLI and TUI) call.

It joins the rules, the store, the secret store and the checks, and keeps them consistent:
a provider is never half-written (row without its password, or the other way round).
Every method blocks (database, keyring, network): the TUI calls them from workers.

How writes survive a kill at any instant, with any keyring backend (which cannot list its
secrets): a provider keeps each secret in a slot of its own (the password; the OAuth token
cache), each under a key of its own; a secret is stored under a new key each time it
changes, and
1. the new key is recorded in `secret_intent` (committed);
2. the secret is written to the secret store;
3. one SQL transaction switches the row to the new key, settles that key's intent and
   records the old key (for a delete: removes the row and records its keys);
4. the old secret is deleted, then its intent.
A kill before 3 leaves the old row and an unused secret; after 3, the new row and an old
secret. Either way an intent names the leftover, and `sweep()` (at start-up, cheap when
there is none) deletes the secrets of intents no row uses. Every provider write, and the
sweep, holds an exclusive lock on a file next to the database, so two processes' writes
never interleave and a sweep never takes a secret another process is about to commit.

A save changes only the slots its sign-in method owns: editing an Outlook or Gmail provider
never touches its token cache; a switch to another sign-in method empties the slot of the
old one (a password provider moving to OAuth loses its password, and nothing else).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core import rules
from tui.core.domain import UNSAVED_NAME, ProviderDraft, ProviderSettings, ValidationError
from tui.core.filelock import LockBusy, LockError, exclusive_lock
from tui.core.report import CheckReport, Failure, ProtocolResult, StepCallback, utcnow
from tui.core.secrets import SecretDamagedError, SecretStoreError
from tui.core.settings import Settings, sqlite_file

if TYPE_CHECKING:
    from tui.core.reader import Reader
    from tui.core.store import Store
from tui.core.records import OAuthAppRecord, ProviderRecord, ProviderSummary, SignInState, new_secret_key

log = logging.getLogger(__name__)

# How long a write waits while another process writes (an import of 10,000 takes seconds).
WRITE_WAIT_SECONDS = 60.0
# An import asks whether to stop between this many entries while it validates them.
STOP_CHECK_EVERY = 200


@dataclass(frozen=True, repr=False)
class TokenUpdate:
    """What a token refresh leaves: the new cache to store (None: nothing changed), the
    access token's expiry, and when the refresh token was issued (None: the same one)."""

    cache: str | None = None
    expires_at: datetime | None = None
    refresh_token_at: datetime | None = None


class ImportInterrupted(Exception):
    """The import was asked to stop before its commit: nothing was imported."""


class ProviderService:
    def __init__(self, store: Store | Reader, secrets, settings: Settings):
        """`store`: a Store, or for checking alone (`check_all`, `check`... see
        tui.core.reader) the quick path's Reader."""
        self.store = store
        self.secrets = secrets
        self.settings = settings
        self.lock_path = _write_lock_path(store.url, settings.data_dir)
        self._oauth = None

    @property
    def oauth(self):
        """The OAuth sign-in API over this service (tui.core.oauth.OAuth), made on first use."""
        if self._oauth is None:
            from tui.core.oauth import OAuth

            self._oauth = OAuth(self)
        return self._oauth

    # Reading -------------------------------------------------------------------------

    def list(self, reports: bool = True) -> list[ProviderRecord]:
        """Every provider, by name (without the last reports when `reports` is False)."""
        return self.store.list(reports=reports)

    def records(self, reports: bool = True) -> Iterator[ProviderRecord]:
        """Every provider, by name, read a slice at a time: memory stays flat in the count."""
        return self.store.records(reports=reports)

    def summaries(self) -> list[ProviderSummary]:
        """What a provider list shows, one light row per provider (see Store.summaries)."""
        return self.store.summaries()

    def report(self, name: str) -> CheckReport | None:
        """The last saved report of one provider (None: never checked, or no such provider)."""
        return self.store.report(name)

    def get(self, name: str) -> ProviderRecord | None:
        return self.store.get(name)

    def require(self, name: str) -> ProviderRecord:
        return self.store.require(name)

    def names(self) -> list[str]:
        return self.store.names()

    def draft_for(self, name: str) -> ProviderDraft:
        """The provider as an editable draft; the password stays in keyring."""
        record = self.store.require(name)
        stored = record.settings.sign_in.uses_password and self._has_password(record)
        return record.settings.to_draft(password_stored=stored)

    def validate(self, draft: ProviderDraft, editing: str | None = None) -> dict[str, str]:
        return rules.validate(draft, self._other_names(editing))

    # Writing -------------------------------------------------------------------------

    def create(self, draft: ProviderDraft) -> ProviderRecord:
        with self._writing():
            settings = rules.to_settings(draft, self._other_names(None))
            key = new_secret_key()
            passwords = _new_password(settings, draft.password, key)
            self._save_secrets(passwords)
            try:
                record = self.store.add(settings, secret_key=key)
            except BaseException:
                self._discard_secrets(list(passwords))
                raise
        log.info("provider %r created", record.name)
        return record

    def update(self, name: str, draft: ProviderDraft) -> ProviderRecord:
        """New settings; a new password (or a switch to OAuth) moves the row to a new secret
        key; a switch to another sign-in method empties the token slot."""
        with self._writing():
            current = self.store.require(name)
            settings = rules.to_settings(draft, self._other_names(name))
            new_key = _key_change(current, settings, draft.password)
            drop_token = _drops_token(current, settings)
            passwords = _new_password(settings, draft.password, new_key) if new_key else {}
            self._save_secrets(passwords)
            try:
                record = self.store.update(name, settings, secret_key=new_key, drop_token=drop_token)
            except BaseException:
                self._discard_secrets(list(passwords))
                raise
            self._discard_secrets(_released_keys(current, record))
        log.info("provider %r updated", record.name)
        return record

    def delete(self, name: str, force: bool = False) -> ProviderRecord:
        """Remove the provider, its queue and its secrets. When a secret cannot be deleted,
        the provider is put back and the error raised: nothing is half-removed. When
        campaigns use it, raises campaigns.ProviderInUse naming them, unless `force` (they
        are detached then; see `campaigns_using` to ask first)."""
        with self._writing():
            # records its keys: a kill from here on is swept
            record, detached = self.store.delete_detaching(name, force)
            try:
                self.secrets.delete_many(record.secret_keys)
            except SecretStoreError as exc:
                self.store.restore(record)
                from tui.core.campaigns import CampaignStore

                CampaignStore(self.store).reattach(detached, record.id)
                raise SecretStoreError(
                    f"'{record.name}' was not removed: its stored password could not be deleted. {exc}"
                ) from None
            self.store.settle_intents(record.secret_keys)
        log.info("provider %r deleted", record.name)
        return record

    def campaigns_using(self, name: str) -> list[str]:
        """The names of the campaigns that use the provider: what deleting it would detach."""
        from tui.core.campaigns import CampaignStore

        return CampaignStore(self.store).using(self.store.require(name).id)

    def save_token_cache(self, name: str, token_cache: str, state: SignInState | None = None) -> ProviderRecord:
        """Keep an OAuth sign-in's token cache in the provider's token slot, under a new key
        (the same write order as a password); the old cache is deleted after the commit.
        `state` (who signed in, the tokens' times) goes into the row with the new key.
        A password provider has no token slot."""
        with self._writing():
            current = self.store.require(name)
            if not current.settings.sign_in.uses_oauth:
                raise ValidationError({"type": f"{current.settings.type.label} signs in with a password, not OAuth."})
            key = new_secret_key()
            self._save_secrets({key: token_cache})
            try:
                record = self.store.set_token_key(name, key, state)
            except BaseException:
                self._discard_secrets([key])
                raise
            self._discard_secrets(_released_keys(current, record))
        log.info("provider %r: sign-in saved", record.name)
        return record

    def token_cache(self, name: str) -> str | None:
        """The provider's stored OAuth token cache; None when nobody signed in."""
        record = self.store.require(name)
        return self.secrets.get_password(record.token_key) if record.token_key else None

    def with_token_cache(self, name: str, use: Callable[[ProviderRecord, str], TokenUpdate]) -> ProviderRecord:
        """Refresh a sign-in's tokens, one process at a time: under the write lock, call
        `use(record, cache)` with the stored cache; when it returns a new cache (a refresh
        rotated the tokens), that cache replaces the old one in place, under the same key
        (the same sign-in: a check running meanwhile stays valid), then the row's token
        times are updated. Refreshing under the lock means two processes never spend the
        same refresh token. Raises LookupError when nobody signed in."""
        with self._writing():
            record = self.store.require(name)
            cache = self.secrets.get_password(record.token_key) if record.token_key else None
            if cache is None:
                raise LookupError(f"'{record.name}' is not signed in.")
            update = use(record, cache)
            if update.cache is None:
                return record
            self.secrets.set_password(record.token_key, update.cache)
            noted = self.store.note_token_refresh(name, record.token_key, update.expires_at, update.refresh_token_at)
        return noted or record

    def save_failure(self, name: str, failure: Failure) -> ProviderRecord | None:
        """Red with `failure`, found outside a check (an OAuth sign-in that failed)."""
        record = self.store.require(name)
        with self._writing():
            return self.store.save_report(record.name, _report_of(record, failure))

    def set_shared_mailbox(self, name: str, shared: bool) -> ProviderRecord:
        """Allow (or not) a sign-in account other than the mailbox (a shared mailbox)."""
        with self._writing():
            return self.store.set_shared_mailbox(name, shared)

    def save_oauth_app(self, app: OAuthAppRecord, client_secret: str | None = None) -> OAuthAppRecord:
        """Save an OAuth app registration; a `client_secret` is stored in the secret store
        under a new key, written in the same order as a password (the old one is deleted
        after the commit). Without one, the stored secret (if any) is kept."""
        with self._writing():
            before = self.store.oauth_app(app.method)
            key = new_secret_key() if client_secret else (before.secret_key if before else None)
            secrets = {key: client_secret} if client_secret else {}
            self._save_secrets(secrets)
            try:
                self.store.set_oauth_app(replace(app, secret_key=key))
            except BaseException:
                self._discard_secrets(list(secrets))
                raise
            if before and before.secret_key and before.secret_key != key:
                self._discard_secrets([before.secret_key])
            saved = self.store.oauth_app(app.method)
        log.info("OAuth app for %s saved", app.method)
        return saved

    def import_providers(
        self, items: list[tuple[ProviderSettings, str]], stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Create or update (by name) every provider, all or nothing: one batched secret
        write and one SQL transaction. `items` are settings made by the rules (the import
        plan validated every entry, names included, once) with the password ("" keeps the
        stored one). `stop()` is asked until the commit; when it says so, whatever was
        written is undone and ImportInterrupted raised."""
        with self._writing():
            current = {record.name.casefold(): record for record in self.store.list(reports=False)}
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
                    drop_token = _drops_token(existing, settings)
                    updates.append((existing.name, settings, key, drop_token))
                    old_keys += [existing.secret_key] if key else []
                    old_keys += [existing.token_key] if drop_token and existing.token_key else []
            _stop_if_asked(stop)
            self._save_secrets(passwords)
            try:
                _stop_if_asked(stop)
                self.store.write_many(creates, updates)
            except BaseException:
                self._discard_secrets(list(passwords))
                raise
            self._discard_secrets(old_keys)
        log.info("imported %d provider(s): %d created, %d updated", len(items), len(creates), len(updates))

    def sweep(self) -> None:
        """Finish what a killed process left: delete the secrets of intents no provider
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
        in_use = self.store.keys_in_use(keys)
        unused = [key for key in keys if key not in in_use]
        self.secrets.delete_many(unused)
        users = self.store.by_secret_key([key for key in keys if key in in_use])
        with_password = [record for record in users.values() if record.settings.needs_password]
        found, damaged = self.secrets.get_many([record.secret_key for record in with_password])
        for record in with_password:
            if record.secret_key not in found:
                from tui.core.credentials import password_failure

                failure = password_failure(record.name, damaged=record.secret_key in damaged)
                self.store.mark_password_problem(record.secret_key, failure)
                log.warning("provider %r: %s", record.name, failure.message)
        self.store.settle_intents(keys)
        log.info("sweep: %d unused secret(s) deleted, %d provider(s) verified", len(unused), len(with_password))

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Provider writes of every process, one at a time."""
        with exclusive_lock(self.lock_path, timeout=WRITE_WAIT_SECONDS):
            yield

    def _save_secrets(self, secrets: dict[str, str]) -> None:
        """Record the new keys, then write their secrets (one batch)."""
        if not secrets:
            return
        self.store.record_intents(list(secrets))
        try:
            self.secrets.set_many(secrets)
        except BaseException:
            self._discard_secrets(list(secrets))
            raise

    def _discard_secrets(self, keys: list[str]) -> None:
        """Delete secrets no provider uses, then their intents. When the secret store
        fails, the intents stay and the next sweep deletes them."""
        if not keys:
            return
        try:
            self.secrets.delete_many(keys)
        except SecretStoreError as exc:
            log.warning("%d unused secret(s) left for the next sweep: %s", len(keys), exc)
            return
        self.store.settle_intents(keys)

    # Checking ------------------------------------------------------------------------

    def check(self, name: str, on_step: StepCallback | None = None) -> CheckReport:
        """Run the activation ladders for a saved provider and save its new status (unless
        it was edited meanwhile: then the report comes back `outdated` and is not saved)."""
        from tui.core import credentials
        from tui.core.checks import check_provider

        record = self.store.require(name)
        try:
            credential = credentials.for_provider(record, self.secrets, self._tokens(record))
        except credentials.SecretMissing as missing:
            return self._save(record, _report_of(record, missing.failure))
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
        from tui.core import credentials
        from tui.core.checks import check_provider

        named = draft if draft.name.strip() else draft.updated(name=UNSAVED_NAME)
        errors = {k: v for k, v in rules.validate(named).items() if k != "name"}
        if errors:
            raise ValidationError(errors, inbound=rules.parse_inbound_protocol(draft.inbound_protocol))
        settings = rules.to_settings(named)
        saved = self.store.require(editing) if editing and not draft.password else None
        credential = credentials.for_draft(settings, draft.password, saved, self.secrets, self._tokens(saved))
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
        from tui.core import credentials
        from tui.core.checks import check_many

        if names is None:  # read a page at a time: the first checks start after the first page
            records: Iterable[ProviderRecord] = self.store.records(reports=False)
            keys = self.store.password_keys()
        else:
            records = self.store.named(list(names))
            keys = [record.secret_key for record in records if record.settings.sign_in.uses_password]
        batch = self.secrets.get_many(keys) if keys else ({}, set())  # every password, one read
        asked = set(keys)
        every: list[ProviderRecord] = []
        checked: list[ProviderRecord] = []
        missing: list[tuple[ProviderRecord, CheckReport]] = []
        reports: dict[int, CheckReport] = {}

        def jobs() -> Iterator[tuple]:
            for record in records:
                every.append(record)
                if record.settings.sign_in.uses_password and record.secret_key not in asked:
                    # Added since the keys were read: its password is read on its own.
                    found, damaged = self.secrets.get_many([record.secret_key])
                    batch[0].update(found)
                    batch[1].update(damaged)
                credential, failure = credentials.from_batch(record, batch, self._tokens(record))
                if failure is not None:
                    missing.append((record, _report_of(record, failure)))
                else:
                    checked.append(record)
                    yield record.settings, credential

        def save_then_tell(saved: list[tuple[ProviderRecord, CheckReport]]) -> None:
            pending = [*missing, *saved]  # missing passwords first: known before any check
            missing.clear()
            for record, report in zip([record for record, _ in pending], self._save_many(pending)):
                reports[record.id] = report
                if on_report:
                    on_report(report)

        results = check_many(
            jobs(),
            timeout=self.settings.timeout,
            ca_file=self.settings.ca_file,
            max_workers=self.settings.max_concurrency,
            per_account=self.settings.account_concurrency,
            on_batch=lambda done: save_then_tell([(checked[index], report) for index, report in done]),
        )
        if missing:
            save_then_tell([])
        for record, report in zip(checked, results):
            reports.setdefault(record.id, report)
        return [reports[record.id] for record in every]

    # Sending -------------------------------------------------------------------------

    def send(self, name: str, message, on_step: StepCallback | None = None):
        """Send `message` (a `mail.compose.OutgoingMessage`, built with `compose()` from this
        provider's settings) through the provider: its login (password, or XOAUTH2 token, or
        none for a trusted relay), its timeouts. -> `send.SendResult`; a missing password
        is its failure (nothing sent). Nothing is stored here."""
        from tui.core import credentials
        from tui.core.send import send_message

        record = self.store.require(name)
        try:
            credential = credentials.for_provider(record, self.secrets)
        except credentials.SecretMissing as missing:
            return _unsent(record, message, missing.failure)
        result = send_message(
            record.settings, credential, message,
            timeout=self.settings.timeout, ca_file=self.settings.ca_file, on_step=on_step,
        )
        if result.sent:
            log.info("sent %s through %r (queue id %s)", result.message_id, record.name, result.queue_id or "none")
        else:
            log.warning("send through %r failed: %s", record.name, result.failure.message if result.failure else "?")
        return result

    def send_test(self, name: str, to: str, on_step: StepCallback | None = None):
        """Send the short test message (`mail.compose.compose_test_message`) to `to`. Raises
        `mail.compose.UnsafeMessage` for an address that is not one (nothing sent)."""
        from tui.core.mail.compose import compose_test_message

        record = self.store.require(name)
        return self.send(record.name, compose_test_message(record.settings, to), on_step=on_step)

    def _save_many(self, batch: list[tuple[ProviderRecord, CheckReport]]) -> list[CheckReport]:
        """Save many reports in one transaction, each only while its provider still has the
        settings and the password it was checked with (see _save)."""
        with self._writing():
            saved = self.store.save_reports(batch)
        return [_saved_or_outdated(record, report, ok) for (record, report), ok in zip(batch, saved)]

    def _save(self, record: ProviderRecord, report: CheckReport) -> CheckReport:
        """Save the report only while the provider still has the settings and the password
        that were checked; otherwise it stays as it is and the report comes back outdated."""
        with self._writing():
            saved = self.store.save_report(record.name, report, checked=record)
        return _saved_or_outdated(record, report, saved is not None)

    # Helpers -------------------------------------------------------------------------

    def _tokens(self, *records: ProviderRecord | None):
        """The OAuth token source, when one of these providers has signed in (so that
        password-only checks never load the OAuth libraries)."""
        return self.oauth if any(record is not None and record.token_key for record in records) else None

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
    database = sqlite_file(db_url)
    if database is not None:
        return database.with_name(database.name + ".lock")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return data_dir / "mailprov-writes.lock"


def _new_password(settings: ProviderSettings, password: str, key: str) -> dict[str, str]:
    return {key: password} if settings.sign_in.uses_password and password else {}


def _key_change(current: ProviderRecord, settings: ProviderSettings, password: str) -> str | None:
    """A new key for the password slot when the password changes, or when the provider
    stops signing in with one (its password goes); None when the row keeps its key."""
    if settings.sign_in.uses_password and password:
        return new_secret_key()
    if not settings.sign_in.uses_password and current.settings.sign_in.uses_password:
        return new_secret_key()
    return None


def _drops_token(current: ProviderRecord, settings: ProviderSettings) -> bool:
    """A token cache belongs to its sign-in method and its mailbox: it goes when the provider
    switches to another method (a Microsoft token means nothing to Google, nor to a password
    login), or to another account (whose mailbox needs its own sign-in)."""
    if current.token_key is None:
        return False
    other_account = settings.account.casefold() != current.settings.account.casefold()
    return settings.sign_in is not current.settings.sign_in or other_account


def _released_keys(before: ProviderRecord, after: ProviderRecord) -> list[str]:
    """The slot keys a write stopped using: their secrets are deleted next."""
    return [key for key in before.secret_keys if key not in after.secret_keys]


def _stop_if_asked(stop: Callable[[], bool]) -> None:
    if stop():
        raise ImportInterrupted("import interrupted: nothing imported")


def _report_of(record: ProviderRecord, failure: Failure) -> CheckReport:
    """The report of a check that could not start: the password it needs is not there."""
    server = record.settings.outbound
    outbound = ProtocolResult("smtp", server.host, server.port, failure=failure)
    return CheckReport(provider=record.name, started_at=utcnow(), outbound=outbound)


def _unsent(record: ProviderRecord, message, failure: Failure):
    """The result of a send that could not start (its password is missing)."""
    from tui.core.send import SendResult

    server = record.settings.outbound
    result = ProtocolResult("smtp", server.host, server.port, failure=failure)
    return SendResult(record.name, message.message_id, message.recipients, result)

def _saved_or_outdated(record: ProviderRecord, report: CheckReport, saved: bool) -> CheckReport:
    if not saved:
        log.warning("check %r not saved: the provider was edited or removed during the check", record.name)
        return replace(report, outdated=True)
    _log_report(report)
    return report


def _log_report(report: CheckReport) -> None:
    failure = report.failure
    if failure:
        log.warning("check %r: %s (%s)", report.provider, failure.kind.value, failure.message)
    else:
        log.info("check %r: active", report.provider)
