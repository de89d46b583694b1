"""What the workers tell the screens. Threads only ever post these; they never touch widgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from tui.core.report import CheckReport, Step


@dataclass
class ServiceReady(Message):
    """The store and keyring are open."""

    service: Any  # ProviderService


@dataclass
class ServiceFailed(Message):
    """The store could not be opened; `error` is the line to show."""

    error: str


@dataclass
class SecretStoreFailed(Message):
    """The secret store could not be opened (the list works without it)."""

    error: str


@dataclass
class ProvidersLoaded(Message):
    views: list[Any]  # ProviderView, built in the loading thread
    folded_names: frozenset[str] = frozenset()  # their names, folded (see view.fold_names)
    widths: dict[str, int] | None = None  # the columns' natural widths (provider_table.natural_widths)
    complete: bool = True  # False: the first rows only, the rest on its way


@dataclass
class PeekDone(Message):
    """The rows were read from the SQLite file before the store opened (`peek` is the
    connection that read them, tui.core.listing.Peek, and `version` its data_version before
    the read), or could not be (`peek` None): the store opens now."""

    peek: Any = None
    version: int | None = None


@dataclass
class ProviderReloaded(Message):
    """One provider read again (after the form saved it); `view` is None when it is gone."""
    name: str
    view: Any  # ProviderView | None


@dataclass
class DraftLoaded(Message):
    """A provider read for its edit form."""
    draft: Any  # ProviderDraft
    view: Any  # ProviderView: the provider's current status


@dataclass
class ProviderSaved(Message):
    record: Any  # ProviderRecord


@dataclass
class ProviderDeleted(Message):
    name: str


@dataclass
class ActionFailed(Message):
    """A store or keyring call raised; `what` says what was being done."""

    what: str
    error: str
    errors: dict[str, str] | None = None  # field messages, for a ValidationError


@dataclass
class CheckStepDone(Message):
    provider: str
    protocol: str
    step: Step


@dataclass
class CheckFinished(Message):
    provider: str
    report: CheckReport
    saved: bool  # False for a test of unsaved values


@dataclass
class CheckAllFinished(Message):
    reports: list[Any]  # CheckReport


@dataclass
class CheckAborted(Message):
    """The check itself raised (not a failed check: a bug or a lost database)."""

    names: list[str]


@dataclass
class ChecksStarted(Message):
    """Saved providers are being checked (by whichever screen): told to the app."""

    names: list[str]


@dataclass
class CheckProgress(Message):
    """A step of a saved provider's check ended (told to the app, whichever screen checks)."""

    provider: str
    protocol: str
    step: Step


@dataclass
class ChecksEnded(Message):
    """Checks ended: `report` is the result (None when the check itself raised)."""

    names: list[str]
    report: CheckReport | None


@dataclass
class CheckAllStarted(Message):
    """`T`: how many providers the database really holds that are now being checked."""

    count: int


@dataclass
class DatabaseChanged(Message):
    """Someone else (the CLI, another session, a check's save) committed to the database."""


@dataclass
class SendTestFinished(Message):
    """A test message was sent, or not: `result` is a tui.core.send.SendResult."""

    result: Any
