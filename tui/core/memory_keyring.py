"""`MemoryKeyring`: a keyring backend kept in a dict, for tests, demos and screenshots.

Kept out of tui.core.secrets (which offers it as `tui.core.secrets.MemoryKeyring`): it is a
real keyring backend, so it imports keyring, which the commands that use the encrypted
secrets file never need.
"""

from __future__ import annotations

import threading

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """A keyring kept in a dict: for tests, demos and screenshots. Nothing is saved."""

    # Loadable through PYTHON_KEYRING_BACKEND, but below fail.Keyring (0) so keyring's own
    # automatic choice never picks it.
    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self._passwords: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self._passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self._passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            if self._passwords.pop((service, username), None) is None:
                raise PasswordDeleteError("no such password")

    def set_many(self, service: str, passwords: dict[str, str]) -> None:
        with self._lock:
            self._passwords.update({(service, username): pw for username, pw in passwords.items()})

    def delete_many(self, service: str, usernames: list[str]) -> None:
        with self._lock:
            for username in usernames:
                self._passwords.pop((service, username), None)
