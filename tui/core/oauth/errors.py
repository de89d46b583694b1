"""Sign-in and token errors in plain words, with what to do about them.

Identity providers answer `error` (an OAuth code) and `error_description` (Microsoft's
starts with an AADSTS number). Those people meet most have a remedy of their own here; the
others are quoted, cleaned and cut.
"""

from __future__ import annotations

import re

from tui.core.domain import SignIn
from tui.core.text import visible

MAX_QUOTED = 300
COMPANY = {SignIn.MICROSOFT: "Microsoft", SignIn.GOOGLE: "Google"}


class SignInError(Exception):
    """A sign-in (or a token refresh) failed: `message` says what, `remedy` what to do,
    `code` is the provider's error code (AADSTS number or OAuth error) when there is one."""

    def __init__(self, message: str, remedy: str, code: str = "", transient: bool = False):
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.code = code
        self.transient = transient


class SignInCancelled(Exception):
    """The sign-in was cancelled (the Cancel key, Ctrl+C)."""


class PortTaken(OSError):
    """The loopback listener's port is in use."""


class AccountMismatch(SignInError):
    """Someone signed in with another account than the provider's mailbox."""


def login_again(name: str) -> str:
    return f"Sign in again: `mailprov login {quote(name)}`, or Sign in again in the app."


def quote(name: str) -> str:
    return f'"{name}"' if " " in name else name


def quoted(text: str) -> str:
    """An identity provider's words, on one line, control characters visible, cut."""
    return visible(" ".join(str(text).split()))[:MAX_QUOTED]


def explain(sign_in: SignIn, error: str, description: str, name: str, refreshing: bool) -> SignInError:
    """The SignInError for an identity provider's error answer."""
    company = COMPANY[sign_in]
    text = f"{error} {description}"
    code = _aadsts(text) or error
    said = f" ({quoted(description or error)})"
    if code == "AADSTS7000218":
        return SignInError(
            "The Microsoft app registration does not allow public client flows" + said + ".",
            "In Entra ID: App registrations > the app > Authentication > Allow public client flows: Yes.", code)
    if code in ("AADSTS65001", "AADSTS90094"):
        return SignInError(
            "The organisation's admin has not consented to the app's mail permissions" + said + ".",
            "An admin must grant consent: Entra ID > Enterprise applications > the app > Permissions > "
            "Grant admin consent (IMAP.AccessAsUser.All, SMTP.Send).", code)
    if code == "AADSTS50194":
        return SignInError(
            "The Microsoft app is single-tenant, so it cannot sign in through a shared endpoint" + said + ".",
            "Set the tenant id: `mailprov oauth-app set microsoft --client-id ID --tenant TENANT_ID`.", code)
    if code == "AADSTS700082":
        return SignInError("The Microsoft refresh token has expired (unused for too long)" + said + ".",
                           login_again(name), code)
    if code == "AADSTS7000222":
        return SignInError("The Microsoft app's client secret has expired" + said + ".",
                           "Create a new secret for the app registration and set it again.", code)
    if error == "access_denied":
        return SignInError(f"The {company} sign-in was declined" + said + ".",
                           "Sign in again and accept the requested mail permissions.", code)
    if error == "expired_token":
        return SignInError("The sign-in code expired before anyone signed in with it.",
                           "Start the sign-in again and enter the code within its time.", code)
    if error == "invalid_client":
        return SignInError(f"The {company} app was refused" + said + ".",
                           "Check the client ID (and secret) with `mailprov oauth-app show`.", code)
    if error == "invalid_grant" and sign_in is SignIn.GOOGLE and refreshing:
        return SignInError(
            "Google refused the refresh token" + said + ": it was revoked (password change, consent "
            "withdrawn), or the app is in Testing mode, whose refresh tokens expire after 7 days.",
            login_again(name) + " To end the 7-day expiry, publish the app (OAuth consent screen > "
            "Publishing status: In production).", code)
    if error == "invalid_grant" and refreshing:
        return SignInError(f"{company} refused the refresh token" + said + ": it was revoked or has expired.",
                           login_again(name), code)
    what = "refresh the token" if refreshing else "sign in"
    return SignInError(f"{company} did not let mailprov {what}" + said + ".",
                       login_again(name) if refreshing else "Try again; if it keeps failing, check the app settings.",
                       code)


def unreachable(sign_in: SignIn, exc: BaseException, refreshing: bool) -> SignInError:
    """The identity provider could not be reached (network, TLS, timeout), or its answer
    broke the size or time bound."""
    from tui.core.oauth.http import ResponseTooLarge  # requests: loaded only when needed

    what = "refresh the sign-in token" if refreshing else "sign in"
    detail = quoted(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ResponseTooLarge):
        return SignInError(f"{COMPANY[sign_in]}'s answer to {what} was too large or too slow ({detail}).",
                           "Check with `mailprov oauth-app show` that the app settings point at the real "
                           "identity provider, then try again.", transient=True)
    remedy = ("Check this machine's network and proxy; if the certificate is not trusted, set "
              "MAILPROV_CA_FILE to the CA file for the identity provider.")
    return SignInError(f"Could not reach {COMPANY[sign_in]} to {what} ({detail}).", remedy, transient=True)


def _aadsts(text: str) -> str:
    match = re.search(r"AADSTS\d+", text)
    return match.group(0) if match else ""
