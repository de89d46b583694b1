"""What a session logs in with. Kept out of reports, logs and reprs."""

from __future__ import annotations

from dataclasses import dataclass

# What stands in a transcript, a step or a message wherever a secret would have been.
REDACTED = "<redacted>"


@dataclass(frozen=True, repr=False)
class Credential:
    """A login name and either a password or an OAuth access token.

    For XOAUTH2 `username` must be the mailbox address (it can differ from the
    name someone signed in with, e.g. for shared mailboxes)."""

    username: str
    password: str | None = None
    oauth_token: str | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.oauth_token) if s)

    def __repr__(self) -> str:
        password = "<hidden>" if self.password else None
        token = "<hidden>" if self.oauth_token else None
        return f"Credential(username={self.username!r}, password={password}, oauth_token={token})"
