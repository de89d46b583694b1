"""Export providers to TOML and import them back: no secrets out, all-or-nothing in.

An entry has the shape of `provider show --json`: the keys of `tui.core.fields`, with the
servers nested (`outbound = {host, port, security}`, `inbound = {protocol, host, port,
security}`, no inbound table when Receive emails is off). The flat keys the previous release
wrote (`smtp_host`, `imap_host`, ...) are still read, so its export files import as they are.

An imported SMTP-IMAP provider takes its password from an environment variable named by
`password_env = "VAR"`, so files can live in version control without a secret in them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from tui.core import rules
from tui.core.domain import ProviderDraft, ProviderSettings, ValidationError, repr_hiding
from tui.core.fields import EXPORTED, FieldKind, FieldSpec, field_label
from tui.core.protocols import Protocol
from tui.core.records import ProviderRecord
from tui.core.text import escaped_in_quotes, visible

EXPORT_HEADER = (
    "# mailprov providers. No secrets are exported: to import a provider that logs in with a\n"
    '# password, add password_env = "VARIABLE" and set that variable when you import.\n\n'
)
EXPORT_HEADER_WITH_ENV = (
    "# mailprov providers. No secrets are exported: set each password_env variable to that\n"
    "# provider's password when you import this file.\n\n"
)
# What `export --password-env-prefix` accepts: the start of an environment variable's name.
ENV_PREFIX_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
NO_PASSWORD_HINT = 'add password_env = "VARIABLE", naming an environment variable that holds the password'
PASSWORD_ENV = "password_env"
# The keys of an entry: each field's top key (a nested table's name, like "inbound"), the
# previous release's flat keys ("imap_host"), and password_env.
TOP_KEYS = frozenset(spec.export_path[0] for spec in EXPORTED)
OLD_KEYS = {old: spec for spec in EXPORTED for old in spec.old_names}
KNOWN_KEYS = TOP_KEYS | frozenset(OLD_KEYS) | {PASSWORD_ENV}
# The nested tables and the keys each may hold: {"outbound": {"host", "port", "security"}, ...}
TABLE_KEYS = {
    table: frozenset(spec.export_path[1] for spec in EXPORTED if spec.export_path[0] == table)
    for table in TOP_KEYS
    if any(len(spec.export_path) > 1 and spec.export_path[0] == table for spec in EXPORTED)
}


def export_toml(records: list[ProviderRecord], password_env_prefix: str | None = None) -> str:
    """The providers as TOML. With `password_env_prefix` each provider that logs in with a
    password gets `password_env = "<PREFIX><NAME>"`, so the file imports elsewhere as it is,
    once those variables are set."""
    import tomli_w

    entries = [settings_tree(record.settings) for record in records]
    header = EXPORT_HEADER
    if password_env_prefix is not None:
        variables = password_env_names([record.settings for record in records], password_env_prefix)
        for entry, variable in zip(entries, variables):
            if variable:
                entry[PASSWORD_ENV] = variable
        header = EXPORT_HEADER_WITH_ENV
    return header + escaped_in_quotes(tomli_w.dumps({"provider": entries}))


def password_env_names(settings: list[ProviderSettings], prefix: str) -> list[str | None]:
    """One variable name per password provider (None for the others): the prefix and the name
    upper-cased, every character but A-Z and 0-9 as `_`; made unique with `_2`, `_3`..."""
    taken: set[str] = set()
    names: list[str | None] = []
    for provider in settings:
        if not provider.sign_in.uses_password:
            names.append(None)
            continue
        base = prefix + re.sub(r"[^A-Z0-9]", "_", provider.name.upper())
        name, number = base, 1
        while name in taken:
            number += 1
            name = f"{base}_{number}"
        taken.add(name)
        names.append(name)
    return names


def settings_tree(settings: ProviderSettings, *, full: bool = False) -> dict[str, Any]:
    """The provider as its export keys, nested: `outbound = {host, port, security}`,
    `inbound = {protocol, host, port, security}`. The TOML export and `--json` share it.

    For TOML (`full` false) what an import would fill in by itself is left out: the
    username when it is the account, the inbound table when Receive emails is off. With
    `full` (JSON) the username is always the login and `inbound` is null when off."""
    draft = settings.to_draft()
    tree: dict[str, Any] = {}
    for spec in EXPORTED:
        path = spec.export_path
        if path[0] == "inbound" and settings.inbound is None:
            continue
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _export_value(spec, getattr(draft, spec.name))
    if full:
        tree["username"] = settings.username
        tree.setdefault("inbound", None)
        return tree
    if not tree.get("username"):
        del tree["username"]
    if settings.smtp_logs_in:  # the usual case, as an import reads a file without it
        del tree["outbound"]["sign_in"]
    return tree


def _export_value(spec: FieldSpec, text: Any) -> Any:
    """A draft's value as TOML and JSON hold it: ports are numbers, switches true/false,
    addresses a list."""
    if spec.kind is FieldKind.PORT:
        return int(text)
    if spec.kind is FieldKind.ADDRESSES:
        return [address.strip() for address in text.split(";") if address.strip()]
    return text


@dataclass
class ImportEntry:
    label: str  # how messages name the entry: "provider 2 ('Support')"
    draft: ProviderDraft  # its repr hides the password
    password_env: str | None = None  # the variable's name, not a secret
    # Fields whose value was already refused (wrong type, given twice): the rules do not
    # report them a second time as missing.
    refused: frozenset[str] = frozenset()


@dataclass
class ImportPlan:
    entries: list[ImportEntry] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (entry, field, message)
    unreadable: str | None = None  # why the file could not be read as TOML at all
    inbound: dict[str, Protocol] = field(default_factory=dict)  # entry -> its inbound protocol, for labels
    positions: dict[str, int] = field(default_factory=dict)  # entry -> its place in the file

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, entry: str, field_name: str, message: str) -> None:
        self.errors.append((entry, field_name, message))

    def sort_errors(self) -> None:
        """File order: the file's own problems, then entry by entry (stable within one)."""
        self.errors.sort(key=lambda error: self.positions.get(error[0], 0))

    def error_lines(self) -> list[str]:
        return [f"{entry}: {field_label(name, self.inbound.get(entry))}: {message}"
                for entry, name, message in self.errors]


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
        plan.positions[f"provider {index}"] = index
        plan.errors.append((f"provider {index}", "provider", "must be a table of settings"))
        return
    name = table.get("name")
    label = f"provider {index} ('{visible(name)}')" if isinstance(name, str) and name else f"provider {index}"
    plan.positions[label] = index
    errors = _unknown_keys(table)
    values: dict[str, Any] = {}
    for spec in EXPORTED:
        found = _given(spec, table)
        if len(found) > 1:
            errors.append((spec.name, f"given twice, as {' and '.join(key for key, _ in found)}: keep one"))
        elif found:
            value, error = _convert(spec, found[0][1])
            if error:
                errors.append((spec.name, error))
            else:
                values[spec.name] = value
    password_env = table.get(PASSWORD_ENV)
    if password_env is not None and (not isinstance(password_env, str) or not password_env.strip()):
        errors.append((PASSWORD_ENV, "must be the name of an environment variable"))
        password_env = None
    plan.inbound[label] = rules.parse_inbound_protocol(values.get("inbound_protocol", "")) or Protocol.IMAP
    plan.errors.extend((label, key, message) for key, message in errors)
    # Kept even with errors, so the rules, the ports and the names are checked in the same
    # pass: every problem of the file is reported at once.
    refused = {key for key, _ in errors}
    refused |= {spec.name for spec in EXPORTED if spec.export_path[0] in refused}  # a table's fields
    if "receive_emails" in refused:  # whether the inbound server is needed is not known
        refused |= {spec.name for spec in EXPORTED if spec.export_path[0] == "inbound"}
    refused = frozenset(refused)
    plan.entries.append(ImportEntry(label, ProviderDraft(**values), password_env, refused))


def _unknown_keys(table: dict) -> list[tuple[str, str]]:
    """Keys no field has, at the top or inside a nested table; a nested table given as
    something else than a table."""
    errors = [(visible(key), f"unknown field '{visible(key)}'") for key in sorted(set(table) - KNOWN_KEYS)]
    for name, keys in TABLE_KEYS.items():
        if name not in table:
            continue
        value = table[name]
        if not isinstance(value, dict):
            example = ", ".join(f"{key} = ..." for key in sorted(keys))
            errors.append((name, f"must be a table: {name} = {{ {example} }}"))
            continue
        for key in sorted(set(value) - keys):
            path = f"{name}.{visible(key)}"
            errors.append((path, f"unknown field '{path}'"))
    return errors


def _given(spec: FieldSpec, table: dict) -> list[tuple[str, Any]]:
    """Where the entry gives this field: its nested key, and the previous release's flat key."""
    found = []
    node: Any = table
    for part in spec.export_path:
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None:
        found.append((spec.export_key, node))
    found += [(old, table[old]) for old in spec.old_names if old in table and old != spec.export_key]
    return found


def _convert(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    if spec.kind is FieldKind.SWITCH:
        return (value, None) if isinstance(value, bool) else (None, "must be true or false")
    if spec.kind is FieldKind.ADDRESSES:
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
    kind: str  # "create", "update", or "unchanged" (the provider already is exactly this)
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
        if key and key in seen_in_file:
            plan.add_error(entry.label, "name", "appears more than once in this file")
        seen_in_file.add(key)
        password = _password_from_env(entry, env, plan)
        kind = "update" if key in existing else "create"
        # A missing variable was reported above: do not report the password a second time.
        keeps_password = kind == "update" or bool(entry.password_env)
        draft = entry.draft.updated(password=password or "", password_stored=keeps_password)
        settings, errors = _validated(draft)
        for field_name, message in errors.items():
            if field_name in entry.refused or (field_name == "password" and PASSWORD_ENV in entry.refused):
                continue  # its value was refused above: "required" would say it twice
            if field_name == "password" and not entry.password_env:
                field_name, message = "password_env", NO_PASSWORD_HINT
            plan.add_error(entry.label, field_name, message)
        actions.append(ImportAction(kind, ImportEntry(entry.label, draft, entry.password_env), password, settings))
    plan.sort_errors()
    return actions if plan.ok else []


def mark_unchanged(actions: list[ImportAction], current: dict[str, ProviderRecord],
                   stored_password: Callable[[ProviderRecord], str | None]) -> None:
    """An update that would change nothing (same settings, no password or the stored one)
    becomes "unchanged". `current` is keyed by case-folded name."""
    for action in actions:
        record = current.get(action.settings.name.casefold()) if action.kind == "update" else None
        if record is None or record.settings != action.settings:
            continue
        if not action.password or action.password == stored_password(record):
            action.kind = "unchanged"


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
        plan.add_error(entry.label, "password_env", f"the variable {visible(entry.password_env)} is not set")
    return password


def apply_actions(service, actions: list[ImportAction], stop=lambda: False) -> None:
    """Import through the service, all or nothing: one batched secret write and one SQL
    transaction. `stop()` is asked until the commit (ImportInterrupted: nothing imported)."""
    changes = [(action.settings, action.password or "") for action in actions if action.kind != "unchanged"]
    service.import_providers(changes, stop=stop)
