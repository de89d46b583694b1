"""OAuth sign-in for Outlook (Microsoft) and Gmail (Google) providers. Never imports Textual.

The faces use `OAuth` (signin.py) over a ProviderService; the flows it starts are
`DeviceCodeSignIn`, `MicrosoftPasteSignIn` (microsoft.py) and `GoogleSignIn` (google.py);
the app registrations are in apps.py; errors and their remedies in errors.py.
"""

from tui.core.oauth.apps import (
    AppNotSet,
    AppSettingsError,
    GoogleApp,
    MicrosoftApp,
    OAuthApps,
    app_missing_message,
)
from tui.core.oauth.errors import AccountMismatch, PortTaken, SignInCancelled, SignInError
from tui.core.oauth.google import GoogleSignIn, LoopbackListener
from tui.core.oauth.microsoft import DeviceCodeSignIn, MicrosoftPasteSignIn, SignInResult
from tui.core.oauth.signin import DEFAULT_PORT, NotOAuth, OAuth, SignInFlow, TokenStatus, failure_of

__all__ = [
    "DEFAULT_PORT", "AccountMismatch", "AppNotSet", "AppSettingsError", "DeviceCodeSignIn", "GoogleApp",
    "GoogleSignIn", "LoopbackListener", "MicrosoftApp", "MicrosoftPasteSignIn", "NotOAuth", "OAuth", "OAuthApps",
    "PortTaken", "SignInCancelled", "SignInError", "SignInFlow", "SignInResult", "TokenStatus",
    "app_missing_message", "failure_of",
]
