"""The overview with a region selected (issue 20), in headless Chromium: the store filter as a
grouped tree, the region's figures and targets, the regions table; screenshots in tests/artifacts/."""

import pytest

from tests.analytics.conftest import shop  # noqa: F401 (fixtures)
from tests.analytics.test_regions_targets import march, targets, tree  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, url, username, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_overview_of_a_region(live_server, page_at, screenshot, march, targets, tree, demo_staff):  # noqa: F811
    page = page_at(1280, 900)
    sign_in(page, live_server.url, "admin", "admin-demo")
    page.goto(f"{live_server.url}/analytics/?start=2026-03-01&end=2026-03-31")
    page.wait_for_selector("body[data-charts=drawn]")
    # the filter: the regions first, then each region's stores under its name
    groups = page.evaluate(
        "Array.from(document.querySelectorAll('#id_store optgroup')).map(g => "
        "[g.label, Array.from(g.querySelectorAll('option')).map(o => o.textContent.trim())])"
    )
    assert groups == [
        ["区域", ["HQ 总部", "R1 华东区", "R2 华南区"]],
        ["R1 华东区", ["S001 旗舰店", "S002 社区店"]],
        ["R2 华南区", ["S003 南山店"]],
    ]
    assert page.locator("#table-regions tbody tr").count() == 3  # HQ, R1, R2

    page.select_option("#id_store", label="R1 华东区")
    page.click(".an-filters button[type=submit]")
    page.wait_for_url("**store=**")
    page.wait_for_selector("body[data-charts=drawn]")
    assert page.locator('[data-kpi="net_sales"] .an-kpi-value').inner_text() == "¥750.00"
    assert page.locator('[data-kpi="development_rate"] .an-kpi-value').inner_text() == "75.0%"
    assert page.locator('[data-kpi="repurchase_rate"] .an-kpi-value').inner_text() == "33.3%"
    assert "新增会员 ÷（新增会员 + 非会员小票）" in page.locator('[data-kpi="development_rate"]').inner_text()
    assert page.locator('[data-target="new_members"] [role=progressbar]').get_attribute("aria-valuenow") == "50"
    assert page.locator("#table-regions tbody tr").count() == 1
    assert page.locator("#table-stores tbody tr").count() == 2  # S001 and S002, not S003
    screenshot(page, "dashboard-region-1280x900")

    # the regional manager on a phone: their region, nothing wider than the screen
    rm = demo_staff["rm1"]
    rm.set_password("rm1-test-pass")
    rm.save()
    page = page_at(390, 844)
    sign_in(page, live_server.url, "rm1", "rm1-test-pass")
    page.goto(f"{live_server.url}/analytics/?start=2026-03-01&end=2026-03-31")
    page.wait_for_selector("body[data-charts=drawn]")
    options = page.evaluate("Array.from(document.querySelectorAll('#id_store option')).map(o => o.textContent.trim())")
    assert options == ["R1 华东区", "S001 旗舰店", "S002 社区店"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "dashboard-regional-manager-390x844")
