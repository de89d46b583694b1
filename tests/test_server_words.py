"""Words people read: no Python bytes literal from a library's exception, and a footer key
always with its word (issue 8, "Toasts, hints and words")."""

from __future__ import annotations

from dataclasses import replace

from tests.ui_helpers import fill_demo, make_app, settle, visible_text
from tui.core.checks import Credential, check_provider
from tui.core.domain import InboundSettings, ServerSettings
from tui.core.mail.errors import exception_text
from tui.core.protocols import Protocol, Security


def test_exception_text_reads_bytes_literals_back_to_text():
    greeting = "220 café ready".encode()
    said = Exception(f"unexpected response: {greeting!r}; and {b'x'!r}")
    assert exception_text(said) == "unexpected response: 220 café ready; and x"
    assert exception_text(Exception("Bob's job's fine")) == "Bob's job's fine"  # no literal there


def test_an_imap_server_that_is_really_smtp_is_quoted_as_text_not_bytes(mail_servers):
    """imaplib reports a greeting it does not understand with %r: the message shows the text."""
    smtp_port = ServerSettings(mail_servers.host, mail_servers.smtp_plain_port, Security.NONE)
    settings = replace(mail_servers.settings(), outbound=smtp_port, inbound=InboundSettings(Protocol.IMAP, smtp_port))
    report = check_provider(settings, Credential(mail_servers.user, mail_servers.password), timeout=5)

    failure = report.failure
    assert failure is not None and report.inbound.failure is failure
    assert "220 localhost" in failure.message
    assert "b'" not in failure.message and 'b"' not in failure.message
    assert all("b'" not in step.detail for step in report.inbound.steps)


async def test_the_footer_names_what_esc_does_while_the_filter_is_open(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "esc" not in visible_text(app).splitlines()[-1]  # nothing to leave yet
        await pilot.press("slash", "s")
        await settle(pilot)
        assert "esc Back" in visible_text(app).splitlines()[-1]
