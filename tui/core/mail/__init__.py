"""The mail connection layer: authenticated SMTP, IMAP and POP3 sessions, opened once here
for the activation check and for whatever else talks to mail servers (a receive worker,
a sender).

    from tui.core.mail import Deadline, open_imap
    session = open_imap(settings.inbound.server, credential, deadline=Deadline.for_timeout(10))

Every session: resolves, connects and verifies TLS (implicit, or STARTTLS/STLS, which is
never skipped: a server that does not upgrade gets nothing in the clear); reads through
bounded readers within one overall deadline (bounds.py); logs in with the mechanism
chosen in login.py; keeps an optional transcript with every secret removed (redact.py,
transcript.py); and reports each phase to an optional listener (session.Phases), which is
how the check's ladder records its steps. Errors: mail/errors.py, plus the standard
socket, TLS and timeout exceptions.

Names are loaded on first use, so that importing the package for its light parts does not
load imapclient.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Credential": "tui.core.mail.credential",
    "Deadline": "tui.core.mail.bounds",
    "Phases": "tui.core.mail.session",
    "Transcript": "tui.core.mail.transcript",
    "open_smtp": "tui.core.mail.smtp",
    "SmtpSession": "tui.core.mail.smtp",
    "open_imap": "tui.core.mail.imap",
    "ImapSession": "tui.core.mail.imap",
    "open_pop3": "tui.core.mail.pop3",
    "Pop3Session": "tui.core.mail.pop3",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
