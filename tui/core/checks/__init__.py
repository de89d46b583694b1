"""The activation check: the outbound SMTP ladder and the inbound IMAP or POP3 one against
the real servers, each step timed and explained. Nothing is sent; the mailbox is opened
read-only. Each ladder is a step recorder over the mail connection layer (tui/core/mail/):
opening the session is its first steps.

    report = check_provider(settings, Credential(settings.username, password), timeout=10)
    reports = check_many([(settings, credential), ...], timeout=10, max_workers=16)
"""

from tui.core.checks.runner import check_many, check_provider
from tui.core.mail.credential import Credential

__all__ = ["Credential", "check_many", "check_provider"]
