"""What a provider logs in with: the one place that turns a provider's secret slots into a
`Credential`, for the checks today and for the worker that receives mail later.

- Password sign-in: the password slot. A password that is missing or cannot be read is a
  `secret` failure for that provider alone (`SecretMissing`, or the batch's failures).
  A provider that sends without login (SMTP sign-in none) and does not receive needs none.
- Microsoft and Google sign-in: the mailbox and a fresh access token for XOAUTH2, from the
  token slot (`ProviderRecord.token_key`) through `tokens` (an `OAuth`, tui/core/oauth),
  which refreshes it before use and stores a rotated refresh token. A refresh that fails is
  an `oauth` failure for that provider alone (`SignInNeeded`). Not signed in (or no
  `tokens` given): a credential without a token, so the check says "not signed in".

To add a sign-in method: say here what its credential is made of.
"""

from __future__ import annotations

from tui.core.checks import Credential
from tui.core.domain import ProviderSettings
from tui.core.report import Failure, FailureKind
from tui.core.records import ProviderRecord

__all__ = ["Credential", "SecretMissing", "SignInNeeded", "for_draft", "for_provider", "for_providers",
           "from_batch", "password_failure"]


class SecretMissing(Exception):
    """The provider's stored secret is missing or unreadable: `failure` says which and what to do."""

    def __init__(self, failure: Failure):
        super().__init__(failure.message)
        self.failure = failure


class SignInNeeded(SecretMissing):
    """The provider's OAuth token could not be refreshed: an `oauth` failure."""


def for_provider(record: ProviderRecord, secrets, tokens=None) -> Credential:
    """The credential of a saved provider; raises SecretMissing when its password is gone
    (SignInNeeded when its OAuth token cannot be refreshed)."""
    credentials, failures = for_providers([record], secrets, tokens)
    if record.id in failures:
        raise SecretMissing(failures[record.id])
    return credentials[record.id]


def for_providers(
    records: list[ProviderRecord], secrets, tokens=None
) -> tuple[dict[int, Credential], dict[int, Failure]]:
    """({record id: credential}, {record id: `secret` or `oauth` failure}) for many
    providers, their passwords read in one batch: a missing or damaged one fails that
    provider alone, and so does an OAuth token that cannot be refreshed."""
    # A provider sending through a trusted relay (no SMTP login) and not receiving needs none.
    with_password = [record for record in records if record.settings.needs_password]
    batch = secrets.get_many([record.secret_key for record in with_password]) if with_password else ({}, set())
    credentials: dict[int, Credential] = {}
    failures: dict[int, Failure] = {}
    for record in records:
        credential, failure = from_batch(record, batch, tokens)
        if failure is None:
            credentials[record.id] = credential
        else:
            failures[record.id] = failure
    return credentials, failures


def from_batch(
    record: ProviderRecord, batch: tuple[dict[str, str], set[str]], tokens=None
) -> tuple[Credential | None, Failure | None]:
    """The credential of one provider from a batch of passwords read with `get_many`
    ((found, damaged), which must have asked for its key), or its `secret` failure; for an
    OAuth provider, its token through `tokens`, or its `oauth` failure."""
    settings = record.settings
    if not settings.sign_in.uses_password:
        try:
            return _oauth_credential(record, tokens), None
        except SignInNeeded as needed:
            return None, needed.failure
    if not settings.needs_password:
        return Credential(settings.username), None
    found, damaged = batch
    if record.secret_key in found:
        return Credential(settings.username, password=found[record.secret_key]), None
    return None, password_failure(record.name, damaged=record.secret_key in damaged)


def for_draft(
    settings: ProviderSettings, typed_password: str, saved: ProviderRecord | None, secrets, tokens=None
) -> Credential:
    """The credential to test settings as typed: the typed password, else the saved
    provider's (for OAuth, the saved provider's sign-in when the method and the account are
    the same). Nothing stored is not a failure here: the check says what is missing."""
    if not settings.sign_in.uses_password:
        same_sign_in = saved is not None and saved.settings.sign_in is settings.sign_in and (
            saved.settings.account.casefold() == settings.account.casefold())
        if not same_sign_in:
            return Credential(settings.username)
        try:
            credential = _oauth_credential(saved, tokens)
        except SignInNeeded:
            return Credential(settings.username)
        return Credential(settings.username, oauth_token=credential.oauth_token)
    password = typed_password
    if not password and saved is not None and saved.settings.sign_in.uses_password:
        password = secrets.get_password(saved.secret_key) or ""
    return Credential(settings.username, password=password or None)


def _oauth_credential(record: ProviderRecord, tokens) -> Credential:
    """The mailbox and a fresh access token; without a sign-in (or `tokens`), no token."""
    if tokens is None or not record.token_key:
        return Credential(record.settings.username)
    from tui.core.oauth import SignInError, failure_of

    try:
        return tokens.credential(record)
    except SignInError as error:
        raise SignInNeeded(failure_of(error)) from None


def password_failure(name: str, damaged: bool) -> Failure:
    why = "cannot be read (its entry in the secret store is damaged)" if damaged else "is missing"
    return Failure(
        FailureKind.SECRET,
        f"The stored password of provider '{name}' {why}.",
        "Enter the password again: edit the provider in the app, or run "
        "`mailprov provider edit NAME --password-stdin`.",
        ("password",),
    )
