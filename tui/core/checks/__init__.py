"""The activation check: an SMTP ladder and an IMAP ladder against the real servers,
each step timed and explained. Nothing is sent; the mailbox is opened read-only.

    report = check_provider(settings, Credential(settings.username, password), timeout=10)
    reports = check_many([(settings, credential), ...], timeout=10, max_workers=16)
"""

from tui.core.checks.credential import Credential
from tui.core.checks.runner import check_many, check_provider

__all__ = ["Credential", "check_many", "check_provider"]
