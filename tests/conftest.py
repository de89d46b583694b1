"""Shared fixtures. Real servers (Dovecot, aiosmtpd) come from tests/servers.py."""

pytest_plugins = ["tests.servers"]
