"""Campaigns: a name, a kind (email or dialer) and the provider it uses.

Only a green (active) provider can be attached. A provider that campaigns use is not
deleted unless the caller says so (`force`): `ProviderInUse` names the campaigns, so the
CLI can refuse and the UI can ask. Campaigns read their queue through their provider (the
mailbox's messages, tui.core.queue): two campaigns on one provider share its queue.

    campaigns = CampaignStore(store)
    campaigns.add("Support", provider="Support mailbox", kind=CampaignKind.EMAIL)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, select

from tui.core.domain import Status, ValidationError
from tui.core.records import CampaignNotFound, ProviderInUse  # noqa: F401 (ProviderInUse: its home for callers)
from tui.core.report import as_utc, utcnow

MAX_NAME_LENGTH = 80


class CampaignKind(StrEnum):
    EMAIL = "email"
    DIALER = "dialer"


class CampaignRow(SQLModel, table=True):
    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    name_key: str = Field(unique=True)  # name.casefold()
    kind: str = CampaignKind.EMAIL.value
    provider_id: int | None = None  # the provider's id; None: no provider attached
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    kind: CampaignKind
    provider_id: int | None
    provider_name: str | None  # None: no provider attached
    created_at: datetime


class CampaignStore:
    """Campaign rows in the providers' database (`store` is a tui.core.store.Store)."""

    def __init__(self, store):
        self.store = store
        self.engine = store.engine

    def list(self) -> list[Campaign]:
        with Session(self.engine) as session:
            rows = session.exec(select(CampaignRow).order_by(CampaignRow.name_key)).all()
            return [self._to_campaign(session, row) for row in rows]

    def get(self, name: str) -> Campaign | None:
        with Session(self.engine) as session:
            row = _find(session, name)
            return self._to_campaign(session, row) if row else None

    def require(self, name: str) -> Campaign:
        campaign = self.get(name)
        if campaign is None:
            raise CampaignNotFound(name)
        return campaign

    def using(self, provider_id: int) -> list[str]:
        """The names of the campaigns that use the provider."""
        with Session(self.engine) as session:
            return names_using(session, provider_id)

    def add(self, name: str, provider: str, kind: CampaignKind | str = CampaignKind.EMAIL) -> Campaign:
        """A new campaign using `provider` (a provider's name), which must be green."""
        clean_name = _valid_name(name)
        campaign_kind = _valid_kind(kind)
        with Session(self.engine) as session:
            if _find(session, clean_name) is not None:
                raise ValidationError({"name": f"A campaign named '{clean_name}' already exists."})
            provider_id = self._attachable(provider)
            row = CampaignRow(name=clean_name, name_key=clean_name.casefold(), kind=campaign_kind.value,
                              provider_id=provider_id)
            session.add(row)
            session.commit()
            session.refresh(row)
            return self._to_campaign(session, row)

    def attach(self, name: str, provider: str) -> Campaign:
        """The campaign uses `provider` (green) from now on, instead of the one it had."""
        return self._set_provider(name, self._attachable(provider))

    def detach(self, name: str) -> Campaign:
        """The campaign uses no provider any more."""
        return self._set_provider(name, None)

    def _set_provider(self, name: str, provider_id: int | None) -> Campaign:
        with Session(self.engine) as session:
            row = _find(session, name)
            if row is None:
                raise CampaignNotFound(name)
            row.provider_id = provider_id
            row.updated_at = utcnow()
            session.add(row)
            session.commit()
            session.refresh(row)
            return self._to_campaign(session, row)

    def remove(self, name: str) -> Campaign:
        """Delete the campaign. Its provider and the provider's queue stay."""
        with Session(self.engine) as session:
            row = _find(session, name)
            if row is None:
                raise CampaignNotFound(name)
            campaign = self._to_campaign(session, row)
            session.delete(row)
            session.commit()
            return campaign

    def reattach(self, campaign_ids: list[int], provider_id: int) -> None:
        """Put back the provider of campaigns a failed provider delete had detached."""
        if not campaign_ids:
            return
        with Session(self.engine) as session:
            session.exec(update(CampaignRow).where(CampaignRow.id.in_(campaign_ids)).values(provider_id=provider_id))
            session.commit()

    def _attachable(self, provider: str) -> int:
        record = self.store.get(provider)
        if record is None:
            raise ValidationError({"provider": f"No provider named '{provider}'."})
        if record.status is not Status.GREEN:
            raise ValidationError({"provider": (
                f"'{record.name}' is not active ({record.status_text}): only an active provider can be "
                f"attached. Run `mailprov check` on it first."
            )})
        return record.id

    def _to_campaign(self, session: Session, row: CampaignRow) -> Campaign:
        provider_name = None
        if row.provider_id is not None:
            from tui.core.store import ProviderRow

            provider_name = session.exec(select(ProviderRow.name).where(ProviderRow.id == row.provider_id)).first()
        return Campaign(
            id=row.id,
            name=row.name,
            kind=CampaignKind(row.kind),
            provider_id=row.provider_id if provider_name is not None else None,
            provider_name=provider_name,
            created_at=as_utc(row.created_at),
        )


def names_using(session: Session, provider_id: int) -> list[str]:
    rows = session.exec(select(CampaignRow.name).where(CampaignRow.provider_id == provider_id).order_by(CampaignRow.name_key))
    return list(rows.all())


def detach_all(session: Session, provider_id: int) -> list[int]:
    """Detach every campaign from the provider (in the caller's transaction); their ids."""
    ids = list(session.exec(select(CampaignRow.id).where(CampaignRow.provider_id == provider_id)).all())
    if ids:
        session.exec(update(CampaignRow).where(CampaignRow.id.in_(ids)).values(provider_id=None))
    return ids


def _find(session: Session, name: str) -> CampaignRow | None:
    key = name.strip().casefold()
    if any("\ud800" <= ch <= "\udfff" for ch in key):
        return None  # bytes that were not UTF-8: no stored name has them
    return session.exec(select(CampaignRow).where(CampaignRow.name_key == key)).first()


def _valid_name(name: str) -> str:
    clean = name.strip()
    if not clean:
        raise ValidationError({"name": "A campaign needs a name."})
    if len(clean) > MAX_NAME_LENGTH:
        raise ValidationError({"name": f"At most {MAX_NAME_LENGTH} characters ({len(clean)} given)."})
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 or "\ud800" <= ch <= "\udfff" for ch in clean):
        raise ValidationError({"name": "A campaign name cannot contain control characters."})
    return clean


def _valid_kind(kind: CampaignKind | str) -> CampaignKind:
    try:
        return CampaignKind(kind)
    except ValueError:
        choices = " or ".join(k.value for k in CampaignKind)
        raise ValidationError({"kind": f"'{kind}' is not a campaign kind: use {choices}."}) from None
