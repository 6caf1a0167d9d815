"""Issue 31 in headless Chromium: the HQ overview of the demo shows the month's target card (the
demo seeds targets), and with a target for S001 alone the chain's card is S001's figures against
S001's targets and says so; the repurchase card names the like periods it compares."""

import io
import re

import pytest
from django.core.management import call_command

from .test_dashboard import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def figures(page):
    return {
        key: page.locator(f'[data-testid="targets"] [data-target="{key}"] .an-target-figures').inner_text()
        for key in ("new_members", "member_sales")
    }


def test_the_hq_target_card_compares_like_with_like(live_server, page_at, screenshot):
    from analytics.models import Target
    from analytics.services import rollups

    call_command("seed_demo", stdout=io.StringIO())
    end = rollups.yesterday()
    month = end.replace(day=1)
    page = page_at(1280, 900)
    sign_in(page, live_server.url, "admin", "admin-demo")
    page.goto(f"{live_server.url}/analytics/")
    page.wait_for_selector('[data-testid="targets"]')
    assert page.locator('[data-testid="target-coverage"]').count() == 0  # both demo stores have targets
    note = page.locator('[data-kpi="repurchase_rate"] .an-kpi-note').inner_text()
    if rollups.same_days_before(end) is not None:  # a month under way: against the same days
        assert "对比上月同期" in note, note
    else:
        assert "与上月对比" in note, note
    screenshot(page, "dashboard-targets-demo-1280x900")

    Target.objects.filter(store__code="S002", month=month).delete()
    page.goto(f"{live_server.url}/analytics/")
    page.wait_for_selector('[data-testid="target-coverage"]')
    assert "仅 S001 旗舰店 设有目标（2 家门店中的 1 家）" in page.get_by_test_id("target-coverage").inner_text()
    chain = figures(page)
    page.locator('[data-testid="targets"]').scroll_into_view_if_needed()
    screenshot(page, "dashboard-targets-one-store-1280x900")
    store = page.locator("#id_store option", has_text="S001 旗舰店").get_attribute("value")
    page.goto(f"{live_server.url}/analytics/?store={store}")
    page.wait_for_selector('[data-testid="targets"]')
    assert figures(page) == chain  # the chain's card is S001's
    assert re.search(r"\d", chain["new_members"])
