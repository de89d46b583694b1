"""Shared fixtures. Real servers (Dovecot, aiosmtpd) come from tests/servers.py.

Markers are given here from what a test uses, so a new test gets them without asking
(see README, Tests): `network` (real mail servers on 127.0.0.1), `ui` (Pilot), `snapshot`,
`terminal` (tmux) and `slow` (left out of `make test-fast`). `make test` runs them all.
"""

import pytest

pytest_plugins = ["tests.servers"]

# Fixtures that start or use the real mail servers.
NETWORK_FIXTURES = {"mail_servers", "dovecot", "smtp_servers", "oauth_dovecot", "silent_port"}

# Files whose every test is slow: many real processes, or a real terminal.
SLOW_FILES = {"test_writes.py", "test_ui_terminal.py"}


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
        if filename in SLOW_FILES or "snap_compare" in fixtures:
            item.add_marker(pytest.mark.slow)
    # The slowest first: with pytest-xdist (`make test`), the long ones do not end up as the
    # last test of a worker while the other worker idles.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
