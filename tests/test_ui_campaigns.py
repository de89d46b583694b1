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
