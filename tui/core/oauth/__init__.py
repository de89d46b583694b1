"""OAuth sign-in for Outlook (Microsoft) and Gmail (Google) providers. Never imports Textual.

The faces use `OAuth` (signin.py) over a ProviderService (`service.oauth`); the flows it
starts are `DeviceCodeSignIn`, `MicrosoftPasteSignIn` (microsoft.py) and `GoogleSignIn`
(google.py); the app registrations are in apps.py; errors and their remedies in errors.py.

The names below are loaded on first use, so that importing this package (for DEFAULT_PORT,
or by the CLI's parser) does not load msal, requests or google-auth.
"""

from __future__ import annotations

import importlib

DEFAULT_PORT = 8765  # Gmail's loopback listener, on 127.0.0.1

_HOMES = {
    "apps": ("AppNotSet", "AppSettingsError", "GoogleApp", "MicrosoftApp", "OAuthApps", "app_missing_message"),
    "errors": ("AccountMismatch", "PortTaken", "SignInCancelled", "SignInError"),
    "google": ("GoogleSignIn", "LoopbackListener"),
    "microsoft": ("DeviceCodeSignIn", "MicrosoftPasteSignIn", "SignInResult"),
    "signin": ("NotOAuth", "OAuth", "SignInFlow", "failure_of"),
    "tokens": ("TokenCache", "TokenStatus"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = ["DEFAULT_PORT", *_HOME_OF]


def __getattr__(name: str):
    if name not in _HOME_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME_OF[name]}"), name)
    globals()[name] = value
    return value
