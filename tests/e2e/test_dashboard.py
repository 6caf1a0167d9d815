"""The HQ dashboard in headless Chromium on the demo data: KPI cards, charts drawn with the vendored
Chart.js, the store filter, the RFM drill-down; screenshots for the README."""

import io

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, url, username, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_hq_dashboard_on_the_demo_data(live_server, page_at, screenshot):
    call_command("seed_demo", stdout=io.StringIO())
    page = page_at(1280, 800)
    sign_in(page, live_server.url, "admin", "admin-demo")
    page.goto(f"{live_server.url}/analytics/")
    page.wait_for_selector("body[data-charts=drawn]")
    assert page.locator("[data-kpi]").count() == 15  # 10, and the five KPIs of issue 20
    assert page.locator("canvas[data-chart]").count() == 3
    # every chart drew something: Chart.js attached to each canvas
    assert page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-chart]')).every(c => c.chart && "
        "c.chart.data.datasets.some(d => d.data.some(v => v)))"
    )
    assert page.locator("#table-stores tbody tr").count() == 2  # S001 and S002
    screenshot(page, "dashboard-1280x800")

    # the store filter narrows every figure to one store
    page.select_option("#id_store", label="S002 社区店")
    page.click(".an-filters button[type=submit]")
    page.wait_for_url("**store=**")
    page.wait_for_selector("body[data-charts=drawn]")
    assert page.locator("#table-stores tbody tr").count() == 1

    page.click(".an-tabs a:nth-child(5)")  # RFM
    page.wait_for_url("**/analytics/rfm/**")
    page.wait_for_selector('[data-testid="rfm-classes"]')
    page.click(".an-class-high_value")
    page.wait_for_selector('[data-testid="segment"]')
    assert page.get_by_test_id("segment").inner_text() == "rfm:high_value"
    assert page.get_by_test_id("send-to-campaign").is_visible()
    screenshot(page, "dashboard-rfm-drill-1280x800")

    page.click(".an-tabs a:nth-child(2)")  # members: the lifecycle and tier charts over the period
    page.wait_for_url("**/analytics/members/**")
    page.wait_for_selector("body[data-charts=drawn]")
    assert page.locator("#table-lifecycle tbody tr").count() >= 4

    # a store manager on a phone: their store only, nothing wider than the screen
    page = page_at(390, 844)
    sign_in(page, live_server.url, "manager1", "manager1-demo")
    page.goto(f"{live_server.url}/analytics/")
    page.wait_for_selector("body[data-charts=drawn]")
    assert "S001" in page.locator("#id_store").inner_text() and page.locator("#id_store").is_disabled()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "dashboard-manager-390x844")
