"""Export providers to TOML and import them back: no secrets out, all-or-nothing in.

An imported SMTP-IMAP provider takes its password from an environment variable named by
`password_env = "VAR"`, so files can live in version control without a secret in them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from tui.core import rules
from tui.core.domain import FIELD_LABELS, ProviderDraft, ProviderSettings, ValidationError, repr_hiding
from tui.core.store import ProviderRecord
from tui.core.text import escaped_in_quotes, visible

EXPORT_HEADER = (
    "# mailprov providers. No secrets are exported: to import a provider that logs in with a\n"
    '# password, add password_env = "VARIABLE" and set that variable when you import.\n\n'
)
_BOOL_FIELDS = ("receive_emails", "active_reference")
_TEXT_FIELDS = (
    "name", "type", "account", "username", "from_name",
    "smtp_host", "smtp_port", "smtp_security", "imap_host", "imap_port", "imap_security",
)
NO_PASSWORD_HINT = 'add password_env = "VARIABLE", naming an environment variable that holds the password'
KNOWN_KEYS = frozenset(_TEXT_FIELDS + _BOOL_FIELDS + ("reply_to", "password_env"))


def export_toml(records: list[ProviderRecord]) -> str:
    import tomli_w

    entries = [_settings_to_table(record.settings) for record in records]
    return EXPORT_HEADER + escaped_in_quotes(tomli_w.dumps({"provider": entries}))


def _settings_to_table(settings: ProviderSettings) -> dict[str, Any]:
    table: dict[str, Any] = {"name": settings.name, "type": settings.type.value, "account": settings.account}
    if settings.username != settings.account:
        table["username"] = settings.username
    table.update(
        from_name=settings.from_name,
        receive_emails=settings.receive_emails,
        active_reference=settings.active_reference,
        reply_to=list(settings.reply_to),
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_security=settings.smtp_security.value,
    )
    if settings.receive_emails or settings.imap_host:
        table.update(
            imap_host=settings.imap_host,
            imap_port=settings.imap_port,
            imap_security=settings.imap_security.value,
        )
    return table


@dataclass
class ImportEntry:
    label: str  # how messages name the entry: "provider 2 ('Support')"
    draft: ProviderDraft  # its repr hides the password
    password_env: str | None = None  # the variable's name, not a secret


@dataclass
class ImportPlan:
    entries: list[ImportEntry] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (entry, field, message)
    unreadable: str | None = None  # why the file could not be read as TOML at all

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_lines(self) -> list[str]:
        return [f"{entry}: {FIELD_LABELS.get(name, name)}: {message}" for entry, name, message in self.errors]


def parse_import(text: str) -> ImportPlan:
    """Read an export file into drafts. Never raises on bad content: every problem becomes
    an (entry, field, message) error, so the whole file can be reported at once."""
    plan = ImportPlan()
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer too long to convert
        plan.unreadable = f"not valid TOML: {visible(' '.join(str(exc).split()))}"
    except RecursionError:  # tomllib recurses once per nested array or inline table
        plan.unreadable = "not a provider file: its values are nested too deeply"
    if plan.unreadable:
        plan.errors.append(("file", "file", plan.unreadable))
        return plan
    unknown_top = sorted(set(data) - {"provider"})
    if unknown_top:
        sections = ", ".join(visible(key) for key in unknown_top)
        plan.errors.append(("file", "file", f"unknown section(s): {sections}"))
    tables = data.get("provider", [])
    if not isinstance(tables, list):
        plan.errors.append(("file", "provider", "use [[provider]] tables, one per provider"))
        return plan
    for index, table in enumerate(tables, start=1):
        _parse_entry(index, table, plan)
    return plan


def _parse_entry(index: int, table: Any, plan: ImportPlan) -> None:
    if not isinstance(table, dict):
        plan.errors.append((f"provider {index}", "provider", "must be a table of settings"))
        return
    name = table.get("name")
    label = f"provider {index} ('{visible(name)}')" if isinstance(name, str) and name else f"provider {index}"
    errors: list[tuple[str, str]] = []
    for key in sorted(set(table) - KNOWN_KEYS):
        errors.append((visible(key), f"unknown field '{visible(key)}'"))
    values: dict[str, Any] = {}
    for key in KNOWN_KEYS - {"password_env"}:
        if key not in table:
            continue
        value, error = _convert(key, table[key])
        if error:
            errors.append((key, error))
        else:
            values[key] = value
    password_env = table.get("password_env")
    if password_env is not None and (not isinstance(password_env, str) or not password_env.strip()):
        errors.append(("password_env", "must be the name of an environment variable"))
        password_env = None
    plan.errors.extend((label, key, message) for key, message in errors)
    if not errors:
        plan.entries.append(ImportEntry(label, ProviderDraft(**values), password_env))


def _convert(key: str, value: Any) -> tuple[Any, str | None]:
    if key in _BOOL_FIELDS:
        return (value, None) if isinstance(value, bool) else (None, "must be true or false")
    if key == "reply_to":
        return _as_address_list(value)
    return _as_text(value)


def _as_text(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None, "must be text"
    return str(value), None


def _as_address_list(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, str):
        return value, None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "; ".join(value), None
    return None, "must be a list of addresses, or addresses separated by ';'"


@dataclass
class ImportAction:
    kind: str  # "create" or "update"
    entry: ImportEntry
    password: str | None
    settings: ProviderSettings | None = None  # what the rules made of the entry

    def __repr__(self) -> str:
        return repr_hiding(self, "password")


def plan_actions(plan: ImportPlan, existing_names: list[str], env: dict[str, str]) -> list[ImportAction]:
    """Check every entry against the rules, the existing providers and the environment.
    Adds errors to `plan`; returns the actions only when the whole file is good."""
    existing = {name.casefold() for name in existing_names}
    seen_in_file: set[str] = set()
    actions: list[ImportAction] = []
    for entry in plan.entries:
        key = entry.draft.name.strip().casefold()
        if key in seen_in_file:
            plan.errors.append((entry.label, "name", "appears more than once in this file"))
            continue
        seen_in_file.add(key)
        password = _password_from_env(entry, env, plan)
        kind = "update" if key in existing else "create"
        # A missing variable was reported above: do not report the password a second time.
        keeps_password = kind == "update" or bool(entry.password_env)
        draft = entry.draft.updated(password=password or "", password_stored=keeps_password)
        settings, errors = _validated(draft)
        for field_name, message in errors.items():
            if field_name == "password" and not entry.password_env:
                field_name, message = "password_env", NO_PASSWORD_HINT
            plan.errors.append((entry.label, field_name, message))
        actions.append(ImportAction(kind, ImportEntry(entry.label, draft, entry.password_env), password, settings))
    return actions if plan.ok else []


def _validated(draft: ProviderDraft) -> tuple[ProviderSettings | None, dict[str, str]]:
    """The rules run once per entry: their settings when the entry is good, else its errors."""
    try:
        return rules.to_settings(draft), {}
    except ValidationError as exc:
        return None, exc.errors


def _password_from_env(entry: ImportEntry, env: dict[str, str], plan: ImportPlan) -> str | None:
    if not entry.password_env:
        return None
    password = env.get(entry.password_env)
    if not password:
        plan.errors.append((entry.label, "password_env", f"the variable {visible(entry.password_env)} is not set"))
    return password


def apply_actions(service, actions: list[ImportAction], stop=lambda: False) -> None:
    """Import through the service, all or nothing: one batched secret write and one SQL
    transaction. `stop()` is asked until the commit (ImportInterrupted: nothing imported)."""
    service.import_providers([(action.settings, action.password or "") for action in actions], stop=stop)
