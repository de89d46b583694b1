"""The provider list's rows, read light: a few columns per provider, no ORM object, no report.

The list shows one status word per provider; reading full records for it (an ORM object
each, every saved check report parsed) took 6.6 s and 353 MB with 100,000 providers. These
rows carry what the list shows and filters on; the report is read when one provider is
opened (`Store.get`). Plain DB-API (sqlite3): nothing here imports SQLAlchemy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui.core.domain import Protocol, ProviderType, Security, Status
from tui.core.report import Failure, as_utc

_COLUMNS = (
    "name, type, account, inbound_protocol, smtp_security, inbound_security, status, "
    "last_checked_at, last_ok_at, error_kind, error_message, error_remedy, error_fields"
)
_NONE = Security.NONE.value


@dataclass(frozen=True, slots=True)
class ListRow:
    name: str
    type: ProviderType
    account: str
    inbound: Protocol | None  # None: Receive emails is off
    status: Status
    last_checked_at: datetime | None
    last_ok_at: datetime | None
    failure: Failure | None
    encrypted: bool  # False when a server in use has security none


def read_rows(connection: Any) -> list[ListRow]:
    """Every provider, by name (as `Store.list`), from a DB-API connection to the store."""
    cursor = connection.cursor()
    try:
        cursor.execute(f"SELECT {_COLUMNS} FROM provider ORDER BY name_key")
        return [_row(values) for values in cursor.fetchall()]
    finally:
        cursor.close()


def _row(values: tuple) -> ListRow:
    (name, type_, account, inbound, smtp_security, inbound_security, status,
     checked, ok, error_kind, error_message, error_remedy, error_fields) = values
    failure = None
    if error_kind:
        failure = Failure.from_dict({"kind": error_kind, "message": error_message or "",
                                     "remedy": error_remedy or "", "fields": json.loads(error_fields or "[]")})
    return ListRow(
        name=name,
        type=ProviderType(type_),
        account=account,
        inbound=Protocol(inbound) if inbound else None,
        status=Status(status),
        last_checked_at=_when(checked),
        last_ok_at=_when(ok),
        failure=failure,
        encrypted=smtp_security != _NONE and inbound_security != _NONE,
    )


def _when(value: Any) -> datetime | None:
    """A timestamp column as SQLAlchemy wrote it ("2025-03-14 09:30:00.000000", UTC)."""
    if value is None:
        return None
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))

