"""Shared fixtures. Real servers (Dovecot, aiosmtpd) come from tests/servers.py.

Markers are given here from what a test uses, so a new test gets them without asking
(see README, Tests): `network` (real mail servers on 127.0.0.1), `ui` (Pilot), `snapshot`,
`terminal` (tmux) and `slow` (left out of `make test-fast`). `make test` runs them all.
Also here: the slow tests are run first, and the cycle collector is tuned for Pilot tests.
"""

import atexit
import gc
import os
import signal
import sys

import pytest

pytest_plugins = ["tests.servers"]

# Fixtures that start or use the real mail servers.
NETWORK_FIXTURES = {"mail_servers", "dovecot", "smtp_servers", "oauth_dovecot", "silent_port"}

# Slow, from the longest: many real processes killed or racing, the app in tmux, mailprov
# in processes of its own, snapshots. Run first in this order.
SLOW_FILES = ["test_writes.py", "test_ui_terminal.py"]
SLOW_FIXTURES = ["home", "terminal", "mailprov", "snap_compare"]


def pytest_configure(config):
    """Started in the background by a shell script (`pytest ... &`), pytest inherits SIGINT
    ignored, and so would every process a test starts: the Ctrl+C tests would then see their
    SIGINT ignored. Handled here, a child starts with the default again."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    _one_final_collection(config)


def _leave_without_teardown() -> None:
    """A test process of pytest-xdist (`make test`) has reported everything to the main one
    when its interpreter shuts down; tearing down its modules and heap then took 1.5 s at the
    end of every run, which the main process waits for. The exit handlers registered after
    this one (pytest's, multiprocessing's fork server) run first; then the process ends."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if os.environ.get("PYTEST_XDIST_WORKER"):
    atexit.register(_leave_without_teardown)


def _one_final_collection(config) -> None:
    """At its end, pytest runs the cycle collector five times over each test process's heap
    to bring out exceptions in finalizers: 0.2-0.7 s each here, with four processes on two
    cores at the same moment. One collection frees the cycles and runs their finalizers all
    the same (the others find nothing). A private name of pytest: without it, five it is."""
    try:
        from _pytest.unraisableexception import gc_collect_iterations_key
    except ImportError:
        return
    config.stash[gc_collect_iterations_key] = 1


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        filename = item.path.name
        if fixtures & NETWORK_FIXTURES:
            item.add_marker(pytest.mark.network)
        if filename.startswith("test_ui_"):
            item.add_marker(pytest.mark.ui)
        if "snap_compare" in fixtures:
            item.add_marker(pytest.mark.snapshot)
        if filename == "test_ui_terminal.py":
            item.add_marker(pytest.mark.terminal)
        if filename in SLOW_FILES or fixtures.intersection(SLOW_FIXTURES):
            item.add_marker(pytest.mark.slow)
    # The slowest first: with pytest-xdist (`make test`), the long ones do not end up as the
    # last test of a worker while the other worker idles.
    items.sort(key=_slowness_rank)


def _slowness_rank(item) -> int:
    if item.path.name in SLOW_FILES:
        return SLOW_FILES.index(item.path.name)
    fixtures = getattr(item, "fixturenames", ())
    ranks = [len(SLOW_FILES) + SLOW_FIXTURES.index(name) for name in fixtures if name in SLOW_FIXTURES]
    return min(ranks, default=len(SLOW_FILES) + len(SLOW_FIXTURES))


def pytest_collection_finish(session):
    """Python's cycle collector took 16% of the CPU of Pilot tests (3 of tests/test_ui_form.py):
    what lives for the whole run (modules, classes) is set aside and young objects are
    collected less often, which cut it to 6% (10% less CPU in all). Garbage is still
    collected; cycles only wait a little longer."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
