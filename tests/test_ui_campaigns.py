"""Pilot tests of what campaigns change in the provider list."""

from tests.ui_helpers import fill_demo, make_app, settle, visible_text
from tui.core.campaigns import CampaignStore
from tui.ui.screens.confirm import ConfirmScreen


async def test_deleting_a_provider_that_campaigns_use_names_them_and_detaches_them(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    campaigns = CampaignStore(app.service.store)
    campaigns.add("Spring sale [/]", provider="Support")  # a name that would be markup
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")  # Billing, Sales, Support
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        text = visible_text(app)
        assert "Support" in text and "Used by the campaign(s) 'Spring sale [/]'" in text
        await pilot.press("y")
        await settle(pilot)
        assert app.service.get("Support") is None
        assert [c.provider_name for c in campaigns.list()] == [None]


async def test_a_provider_no_campaign_uses_is_asked_about_as_before(tmp_path):
    app = make_app(tmp_path)
    fill_demo(app.service)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        assert "Used by" not in visible_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert app.service.get("Billing") is None


async def test_campaigns_screen_creates_attaches_and_reads_a_queue(tmp_path):
    from textual.widgets import DataTable, Input, Select, Static

    from tests.ui_helpers import example_draft
    from tui.core.queue import Incoming, QueueStore
    from tui.core.parse import parse_message
    from tui.core.report import utcnow
    from tui.ui.screens.campaigns import CampaignFormScreen, CampaignsScreen
    from tui.ui.screens.queue import QueueScreen

    app = make_app(tmp_path)
    fill_demo(app.service)  # Support is the active one
    support = app.service.require("Support")
    queue = QueueStore(app.service.store)
    queue.start_sync(support.id, "test", utcnow())
    first = (b"From: Zoe <zoe@example.test>\r\nTo: support@example.com\r\nSubject: Order [b]42[/b]\r\n"
             b"Message-ID: <q1@example.test>\r\nDate: Fri, 27 Nov 2026 09:00:00 +0000\r\n\r\nWhere is it?\x1b]0;x\x07\r\n")
    reply = (b"From: Zoe <zoe@example.test>\r\nSubject: Re: Order\r\nMessage-ID: <q2@example.test>\r\n"
             b"In-Reply-To: <q1@example.test>\r\nContent-Type: text/html\r\n\r\n<p>Any <b>news</b>?</p>\r\n")
    queue.commit_batch(support.id, [Incoming(parse_message(first), "t 1"), Incoming(parse_message(reply), "t 2")],
                       active_reference=True)
    app.service.create(example_draft("Other"))  # not active: not offered
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CampaignsScreen)
        assert "No campaigns yet" in visible_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, CampaignFormScreen)
        options = app.screen.query_one("#campaign-provider", Select)._options
        assert [str(prompt) for prompt, value in options if isinstance(value, str)] == ["Support"]
        await pilot.press("ctrl+s")  # no name, no provider: said under the fields, nothing saved
        await settle(pilot)
        assert isinstance(app.screen, CampaignFormScreen)
        assert "Pick the provider" in str(app.screen.query_one("#campaign-provider-error").render())
        app.screen.query_one("#campaign-name", Input).value = "Spring"
        app.screen.query_one("#campaign-provider", Select).value = "Support"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CampaignsScreen)
        table = app.screen.query_one(DataTable)
        assert [str(cell) for cell in table.get_row_at(0)] == ["Spring", "email", "Support", "2"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        shown = str(app.screen.query_one("#conversation", Static).render())
        assert "From: Zoe <zoe@example.test>" in shown and "Subject: Order [b]42[/b]" in shown
        assert "Where is it?\\x1b]0;x\\x07" in shown and "Any news?" in shown
        assert app.screen.query_one(DataTable).row_count == 1  # the reply threads into one conversation
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, CampaignFormScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, CampaignsScreen)
