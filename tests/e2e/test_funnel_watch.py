"""The funnel & preference page and the campaign watch in headless Chromium on the demo data;
screenshots in tests/artifacts/."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, url, username, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_funnel_preference_and_campaign_watch(live_server, page_at, screenshot):
    from analytics import journey, selectors
    from campaigns.models import BenefitPackage, Scene

    call_command("seed_demo", stdout=io.StringIO())
    latest = selectors.last_rolled_day()
    start = latest - timedelta(days=364)
    page = page_at(1280, 800)
    sign_in(page, live_server.url, "admin", "admin-demo")
    page.goto(f"{live_server.url}/analytics/funnel/?start={start:%Y-%m-%d}&end={latest:%Y-%m-%d}")
    page.wait_for_selector("body[data-charts=drawn]")
    counts = journey.funnel_counts(selectors.Scope(start, latest))
    assert counts["acquired"] > 0
    for step, n in counts.items():
        assert page.get_by_test_id(f"funnel-{step}").inner_text().replace(",", "") == str(n)
    assert page.evaluate(
        "(() => { const c = document.querySelector('canvas[data-chart=chart-funnel]');"
        " return !!(c && c.chart && c.chart.data.datasets[0].data.some(v => v)); })()"
    )
    # the demo's sale lines give every buyer a preferred category: food, drink, home, beauty
    categories = page.locator("#table-preferences tbody tr td:first-child").all_inner_texts()
    assert set(categories) == {"food", "drink", "home", "beauty"}
    # each category links to a new scene with that preferred category
    href = page.get_by_test_id("target-category").get_by_role("link", name="beauty").get_attribute("href")
    assert href.endswith("/admin/campaigns/scene/add/?preferred_category=beauty")
    screenshot(page, "analytics-funnel-1280x800")

    # a member-day scene whose points budget is spent while it runs to the end of next month
    Scene.objects.create(
        name="会员日加赠 50 积分",
        kind=Scene.Kind.MEMBER_DAY,
        day=1,
        end_day=28,
        package=BenefitPackage.objects.create(name="50 积分", bonus_points=50),
        budget_points=5000,
        points_granted=5000,
        ends_on=latest + timedelta(days=40),
    )
    page.goto(f"{live_server.url}/analytics/campaigns/")
    page.wait_for_selector('[data-testid="campaign-watch"]')
    row = page.get_by_test_id("watch-budget")
    assert "会员日加赠 50 积分" in row.inner_text() and "预算提前用完" in row.inner_text()
    screenshot(page, "analytics-campaign-watch-1280x800")
