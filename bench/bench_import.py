"""How long does importing 10,000 providers take, next to inserting the same rows bare?

    python -m bench.bench_import

The import runs the real code path of `mailprov import` (parse the TOML, plan and validate
every entry, then one batched write of the passwords to the encrypted secrets file and one
SQL transaction) on a SQLite file and an EncryptedFileKeyring in a temp folder.
The baseline inserts the same rows into an empty database with plain SQLAlchemy (one
executemany in one transaction, no validation, no secrets). Target: under 10 s.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from pathlib import Path

ENTRIES = 10_000
TARGET_SECONDS = 10.0


def import_file_text(count: int) -> tuple[str, dict[str, str]]:
    """An import file of `count` SMTP-IMAP providers and the environment with their passwords."""
    import tomli_w

    tables, env = [], {}
    for i in range(count):
        variable = f"MAILPROV_BENCH_PW_{i}"
        env[variable] = f"password-{i}-{uuid.uuid4().hex[:8]}"
        tables.append({
            "name": f"Provider {i:05d}", "type": "smtp-imap", "account": f"mailbox{i}@example.com",
            "from_name": f"Desk {i}", "reply_to": [f"reply{i}@example.com"],
            "outbound": {"host": "smtp.example.com", "port": 587, "security": "starttls"},
            "inbound": {"protocol": "imap", "host": "imap.example.com", "port": 993, "security": "ssl"},
            "password_env": variable,
        })
    return tomli_w.dumps({"provider": tables}), env


def timed_import(folder: Path, text: str, env: dict[str, str]) -> tuple[float, int]:
    from tui.core.exchange import apply_actions, parse_import, plan_actions
    from tui.core.secrets import EncryptedFileKeyring, SecretStore
    from tui.core.service import ProviderService
    from tui.core.settings import load_settings
    from tui.core.store import Store

    settings = load_settings(env={"MAILPROV_DB": str(folder / "mailprov.db"), "MAILPROV_DATA_DIR": str(folder),
                                  "MAILPROV_CONFIG_DIR": str(folder), "MAILPROV_LOG_DIR": str(folder)})
    backend = EncryptedFileKeyring(folder / "secrets.enc", "benchmark-only-key", "benchmark")
    service = ProviderService(Store.open(settings.db_url), SecretStore(backend), settings)
    started = time.perf_counter()
    plan = parse_import(text)
    actions = plan_actions(plan, service.names(), env)
    assert plan.ok, plan.error_lines()[:3]
    apply_actions(service, actions)
    elapsed = time.perf_counter() - started
    imported = len(service.names())
    sample = service.require("Provider 00042")
    assert service.secrets.get_password(sample.secret_key) == env["MAILPROV_BENCH_PW_42"]
    service.store.close()
    return elapsed, imported


def timed_bare_insert(folder: Path, count: int) -> float:
    """The same rows through plain SQLAlchemy: the floor of what writing them costs."""
    from sqlalchemy import insert

    from tui.core.store import ProviderRow, Store

    store = Store.open(f"sqlite:///{folder / 'bare.db'}")  # the schema, made outside the timing
    rows = [
        {"secret_key": uuid.uuid4().hex, "name": f"Provider {i:05d}", "name_key": f"provider {i:05d}",
         "type": "smtp-imap", "account": f"mailbox{i}@example.com", "from_name": f"Desk {i}",
         "reply_to": f'["reply{i}@example.com"]', "smtp_host": "smtp.example.com", "smtp_port": 587,
         "smtp_security": "starttls", "inbound_protocol": "imap", "inbound_host": "imap.example.com",
         "inbound_port": 993, "inbound_security": "ssl"}
        for i in range(count)
    ]
    started = time.perf_counter()
    with store.engine.begin() as connection:
        connection.execute(insert(ProviderRow), rows)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def main() -> None:
    logging.getLogger("tui").setLevel(logging.WARNING)
    text, env = import_file_text(ENTRIES)
    with tempfile.TemporaryDirectory(prefix="mailprov-bench-") as temp:
        folder = Path(temp)
        baseline = timed_bare_insert(folder, ENTRIES)
        elapsed, imported = timed_import(folder, text, env)
    assert imported == ENTRIES, imported
    verdict = "met" if elapsed < TARGET_SECONDS else "MISSED"
    print(f"import of {ENTRIES} providers (with passwords): {elapsed:7.2f} s")
    print(f"bare SQLAlchemy insert of the same rows:       {baseline:7.2f} s")
    print(f"ratio: {elapsed / baseline:.1f}x the bare insert; target < {TARGET_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
