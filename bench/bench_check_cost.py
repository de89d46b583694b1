"""What a check costs next to the raw libraries doing the same conversation.

    python -m bench.bench_check_cost        (one: `check NAME` alone)

Against the real local servers (aiosmtpd with STARTTLS, Dovecot over SSL), measured in the
same run, each figure with its baseline and the ratio:
- `mailprov check NAME` (a whole process) against a raw script doing the same with smtplib and
  imaplib (EHLO, STARTTLS, AUTH, MAIL FROM, RCPT TO, RSET, QUIT; LOGIN, EXAMINE, LOGOUT);
  target <= 2x. Measured with the default key source, the key file mailprov generates (its
  secrets file keyed with HKDF), and also with a passphrase in MAILPROV_MASTER_KEY (scrypt,
  ~0.1 s per process on purpose);
- `check --all` of 200 providers (ProviderService.check_all, statuses saved) against a raw
  thread pool of the same raw checks with the same number of threads: wall time (target
  <= 1.2x) and CPU time (target <= 1.5x); once trusting the test CA alone, once with a full CA
  bundle (the system's bundle plus the test CA), where each TLS context costs more to make;
  on the Store (the UI's check-all), and with the test CA also on the quick path's reader
  (what `mailprov check --all` runs on a current SQLite database).
"""

from __future__ import annotations

import imaplib
import logging
import os
import resource
import smtplib
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.servers import start_mail_servers, stop_mail_servers

PROVIDERS = 200
WORKERS = 50
RUNS = 5  # check --all: rounds of ours and the raw pool, in turns
CHECK_RUNS = 9  # check NAME: short processes, noisier on a shared machine
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

RAW_CHECK = '''
import imaplib, smtplib, ssl, sys
host, smtp_port, imap_port, user, password, ca_file = sys.argv[1:7]
context = ssl.create_default_context(cafile=ca_file)
with smtplib.SMTP(host, int(smtp_port), timeout=10) as smtp:
    smtp.ehlo(); smtp.starttls(context=context); smtp.ehlo(); smtp.login(user, password)
    smtp.mail(user); smtp.rcpt(user); smtp.rset()
imap = imaplib.IMAP4_SSL(host, int(imap_port), ssl_context=context, timeout=10)
imap.login(user, password); imap.select("INBOX", readonly=True); imap.logout()
'''


def raw_check(servers, context: ssl.SSLContext) -> None:
    """The same conversation as a check, with the standard library alone (what the raw
    thread pool runs)."""
    with smtplib.SMTP(servers.host, servers.smtp_starttls_port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.starttls(context=context)
        smtp.ehlo()
        smtp.login(servers.user, servers.password)
        smtp.mail(servers.user)
        smtp.rcpt(servers.user)
        smtp.rset()
    imap = imaplib.IMAP4_SSL(servers.host, servers.imap_ssl_port, ssl_context=context, timeout=10)
    imap.login(servers.user, servers.password)
    imap.select("INBOX", readonly=True)
    imap.logout()


PASSPHRASE = "benchmark-only-passphrase"


def env_for(folder: Path, ca_file: Path, passphrase: str | None = None) -> dict[str, str]:
    """The environment of a mailprov process on `folder`. Without a passphrase, the default key
    source: the key file mailprov generates in the config folder on first use."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAILPROV_", "PYTHON_KEYRING"))}
    env.update(MAILPROV_DATA_DIR=str(folder), MAILPROV_CONFIG_DIR=str(folder / "config"),
               MAILPROV_LOG_DIR=str(folder / "log"),
               MAILPROV_CA_FILE=str(ca_file), MAILPROV_DB=str(folder / "mailprov.db"),
               MAILPROV_CONCURRENCY=str(WORKERS), MAILPROV_ACCOUNT_CONCURRENCY=str(WORKERS),
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # the encrypted file, never a desktop keyring
    # As an installed mailprov runs: its bytecode cached (the first run writes it).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if passphrase is not None:
        env["MAILPROV_MASTER_KEY"] = passphrase
    return env


def one_check_process(servers, folder: Path) -> None:
    draft = servers.draft(name="Bench")
    add = [sys.executable, "-m", "tui", "provider", "add", "--name", "Bench", "--type", "smtp-imap",
           "--account", draft.account, "--smtp-host", draft.smtp_host, "--smtp-port", draft.smtp_port,
           "--inbound-host", draft.inbound_host, "--inbound-port", draft.inbound_port,
           "--inbound-security", "ssl", "--password-stdin"]
    key_file_env = env_for(folder / "key-file", servers.ca_file)
    passphrase_env = env_for(folder / "passphrase", servers.ca_file, PASSPHRASE)
    for env in (key_file_env, passphrase_env):
        subprocess.run(add, env=env, input=servers.password + "\n", text=True, check=True, capture_output=True)
    mailprov = [sys.executable, "-m", "tui", "check", "Bench"]
    raw = [sys.executable, "-c", RAW_CHECK, servers.host, str(servers.smtp_starttls_port),
           str(servers.imap_ssl_port), servers.user, servers.password, str(servers.ca_file)]
    commands = {"key file": (mailprov, key_file_env), "passphrase": (mailprov, passphrase_env),
                "raw": (raw, key_file_env)}
    times: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(CHECK_RUNS):  # in turns, so that a load spike hits all alike
        for label, (argv, env) in commands.items():
            before, started = _children_cpu(), time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            times[label].append(time.perf_counter() - started)
            cpu[label].append(_children_cpu() - before)
            assert done.returncode == 0, done.stdout + done.stderr
    medians = {label: statistics.median(values) for label, values in times.items()}
    cpu_medians = {label: statistics.median(values) for label, values in cpu.items()}
    baseline, cpu_baseline = medians["raw"], cpu_medians["raw"]
    print(f"raw smtplib + imaplib script {baseline * 1000:6.0f} ms"
          f" (spread {min(times['raw']) * 1000:.0f}-{max(times['raw']) * 1000:.0f}), CPU {cpu_baseline * 1000:.0f} ms"
          f" (medians of {CHECK_RUNS}, in turns)")
    for label, source in (("key file", "generated key file, HKDF; the default"),
                          ("passphrase", "passphrase in MAILPROV_MASTER_KEY, scrypt")):
        ours = medians[label]
        print(f"check NAME (a process), {source}: {ours * 1000:6.0f} ms"
              f" (spread {min(times[label]) * 1000:.0f}-{max(times[label]) * 1000:.0f});"
              f" ratio {ours / baseline:4.2f}x (target <= 2x); CPU {cpu_medians[label] * 1000:.0f} ms,"
              f" {cpu_medians[label] / cpu_baseline:4.2f}x")


def _children_cpu() -> float:
    """User + system CPU seconds of the children waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_all_against_raw_pool(servers, folder: Path, ca_file: Path, label: str, quick: bool = False) -> None:
    """`quick`: on the stdlib-sqlite3 reader, as `mailprov check --all` runs on a current
    database; otherwise on the Store (SQLAlchemy), as the UI's check-all runs."""
    from tui.core.reader import Reader
    from tui.core.secret_file import new_generated_key
    from tui.core.secrets import EncryptedFileKeyring, SecretStore
    from tui.core.service import ProviderService
    from tui.core.settings import load_settings
    from tui.core.store import Store

    env = env_for(folder, ca_file)
    env["MAILPROV_DB"] = str(folder / f"all-{label}.db")
    settings = load_settings(env=env)
    key = new_generated_key()  # the default: a key mailprov generated
    secrets = SecretStore(EncryptedFileKeyring(folder / f"secrets-{label}.enc", key, "benchmark"))
    service = ProviderService(Store.open(settings.db_url), secrets, settings)
    service.import_providers([(servers.settings(name=f"P{n:03d}"), servers.password) for n in range(PROVIDERS)])
    if quick:
        service.store.close()
        reader = Reader.open(settings)
        assert reader is not None, "the quick path does not apply to the benchmark's database"
        service = ProviderService(reader, secrets, settings)
    context = ssl.create_default_context(cafile=str(ca_file))

    def raw_pool() -> None:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for future in [pool.submit(raw_check, servers, context) for _ in range(PROVIDERS)]:
                future.result()

    def ours() -> None:
        reports = service.check_all()
        failed = [r.failure for r in reports if not r.ok]
        assert not failed, failed[0]

    measured: dict[str, list[tuple[float, float]]] = {"mailprov": [], "raw": []}
    for _ in range(RUNS):
        for name, run in (("mailprov", ours), ("raw", raw_pool)):
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            measured[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    (wall, cpu), (raw_wall, raw_cpu) = (
        (statistics.median(w for w, _ in measured[n]), statistics.median(c for _, c in measured[n])) for n in ("mailprov", "raw")
    )
    # Each round's ratio against the raw pool run right after it: the spread a busy machine makes.
    cpu_ratios = sorted(mine[1] / theirs[1] for mine, theirs in zip(measured["mailprov"], measured["raw"]))
    print(f"check --all, {PROVIDERS} providers, {label}: {wall:5.2f} s, CPU {cpu:5.2f} s;"
          f" raw thread pool ({WORKERS} threads) {raw_wall:5.2f} s, CPU {raw_cpu:5.2f} s;"
          f" ratio {wall / raw_wall:4.2f}x (target <= 1.2x), CPU {cpu / raw_cpu:4.2f}x (target <= 1.5x;"
          f" per round {cpu_ratios[0]:.2f}-{cpu_ratios[-1]:.2f}; medians of {RUNS}, in turns)")
    service.store.close()


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # aiosmtpd's chatter, not ours
    logging.getLogger("tui").setLevel(logging.WARNING)
    servers = start_mail_servers()
    try:
        with tempfile.TemporaryDirectory(prefix="mailprov-bench-") as temp:
            folder = Path(temp)
            one_check_process(servers, folder)
            if sys.argv[1:] == ["one"]:  # `python -m bench.bench_check_cost one`: check NAME alone
                return
            check_all_against_raw_pool(servers, folder, servers.ca_file, "test CA only")
            check_all_against_raw_pool(servers, folder, servers.ca_file, "test CA only, quick path (the CLI's)",
                                       quick=True)
            if SYSTEM_BUNDLE.is_file():
                bundle = folder / "bundle.pem"
                bundle.write_bytes(SYSTEM_BUNDLE.read_bytes() + servers.ca_file.read_bytes())
                check_all_against_raw_pool(servers, folder, bundle, "full CA bundle")
    finally:
        stop_mail_servers(servers)


if __name__ == "__main__":
    main()
