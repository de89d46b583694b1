"""ProviderService: the one API both faces (CLI and TUI) call.

It joins the rules, the store, the secret store and the checks, and keeps them consistent:
a provider is never half-written (row without its password, or the other way round).
Every method blocks (database, keyring, network): the TUI calls them from workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from tui.core import rules
from tui.core.domain import ProviderDraft, ProviderSettings, ValidationError
from tui.core.report import CheckReport, Step
from tui.core.settings import Settings
from tui.core.store import NotFoundError, ProviderRecord, Store

log = logging.getLogger(__name__)

StepCallback = Callable[[str, Step], None]
UNSAVED_NAME = "(unsaved)"


class ProviderService:
    def __init__(self, store: Store, secrets, settings: Settings):
        self.store = store
        self.secrets = secrets
        self.settings = settings

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
        settings = rules.to_settings(draft, self._other_names(None))
        record = self.store.add(settings)
        if settings.type.uses_password and draft.password:
            try:
                self.secrets.set_password(record.secret_key, draft.password)
            except Exception:
                self.store.delete(record.name)  # no row without its password
                raise
        log.info("provider %r created", record.name)
        return record

    def update(self, name: str, draft: ProviderDraft) -> ProviderRecord:
        current = self.store.require(name)
        settings = rules.to_settings(draft, self._other_names(name))
        key = current.secret_key
        if not settings.type.uses_password:
            record = self.store.update(name, settings)
            self.secrets.delete_password(key)  # OAuth providers keep no password
        elif draft.password:
            record = self._update_with_password(name, settings, key, draft.password)
        else:
            record = self.store.update(name, settings)
        log.info("provider %r updated", record.name)
        return record

    def _update_with_password(self, name: str, settings: ProviderSettings, key: str, password: str):
        previous = self.secrets.get_password(key)
        self.secrets.set_password(key, password)
        try:
            record = self.store.update(name, settings)
        except Exception:
            self._restore_password(key, previous)
            raise
        if previous != password:
            record = self.store.reset_status(record.name)
        return record

    def _restore_password(self, key: str, previous: str | None) -> None:
        if previous is None:
            self.secrets.delete_password(key)
        else:
            self.secrets.set_password(key, previous)

    def delete(self, name: str) -> ProviderRecord:
        record = self.store.delete(name)
        self.secrets.delete_password(record.secret_key)
        log.info("provider %r deleted", record.name)
        return record

    # Checking ------------------------------------------------------------------------

    def check(self, name: str, on_step: StepCallback | None = None) -> CheckReport:
        """Run the activation ladders for a saved provider and save its new status."""
        from tui.core.checks import check_provider

        record = self.store.require(name)
        report = check_provider(
            record.settings,
            self._credential(record.settings, record.secret_key),
            timeout=self.settings.timeout,
            ca_file=self.settings.ca_file,
            on_step=on_step,
        )
        self.store.save_report(record.name, report)
        _log_report(report)
        return report

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
        """Check many providers concurrently (bounded); each status is saved as it arrives."""
        from tui.core.checks import check_many

        records = self.store.list() if names is None else [self.store.require(n) for n in names]
        jobs = [(r.settings, self._credential(r.settings, r.secret_key)) for r in records]

        def save_then_tell(report: CheckReport) -> None:
            try:
                self.store.save_report(report.provider, report)
            except NotFoundError:
                return  # deleted or renamed while it was being checked
            _log_report(report)
            if on_report:
                on_report(report)

        return check_many(
            jobs,
            timeout=self.settings.timeout,
            ca_file=self.settings.ca_file,
            max_workers=self.settings.max_concurrency,
            on_report=save_then_tell,
        )

    # Helpers -------------------------------------------------------------------------

    def _credential(self, settings: ProviderSettings, secret_key: str):
        from tui.core.checks import Credential

        if not settings.type.uses_password:
            return None  # OAuth sign-in is not available yet: the check says so
        password = self.secrets.get_password(secret_key)
        return Credential(settings.username, password=password) if password else None

    def _has_password(self, record: ProviderRecord) -> bool:
        return self.secrets.get_password(record.secret_key) is not None

    def _other_names(self, editing: str | None) -> list[str]:
        skip = editing.strip().casefold() if editing else None
        return [n for n in self.store.names() if n.casefold() != skip]


def _log_report(report: CheckReport) -> None:
    failure = report.failure
    if failure:
        log.warning("check %r: %s (%s)", report.provider, failure.kind.value, failure.message)
    else:
        log.info("check %r: active", report.provider)
