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
    records: list[Any]  # ProviderRecord


@dataclass
class DraftLoaded(Message):
    draft: Any  # ProviderDraft
    other_names: list[str]
    view: Any = None  # ProviderView: the provider's current status


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
