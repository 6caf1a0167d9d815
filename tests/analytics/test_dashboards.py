"""The dashboard pages: who sees what, the store filter, exports, query counts, and figures that come
from the roll-ups and agree with the definitions."""

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from analytics import selectors
from analytics.services import rollups

from .conftest import sh

pytestmark = pytest.mark.django_db
PAGES = [
    "/analytics/",
    "/analytics/members/",
    "/analytics/sales/",
    "/analytics/points/",
    "/analytics/rfm/",
    "/analytics/rfm/high_value/",
    "/analytics/campaigns/",
    "/analytics/clerks/",
    "/analytics/table/daily/",
]
PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def month(shop):
    """March 2026: S001 sells ¥500 to members and ¥100 to walk-ins; S002 ¥700 to a member."""
    a = shop.join(sh(2026, 3, 1), "S001")
    b = shop.join(sh(2026, 3, 2), "S002")
    shop.sell(200, sh(2026, 3, 5), "S001", member=a)
    sale = shop.sell(300, sh(2026, 3, 6), "S001", member=a)
    shop.refund(sale, 50, sh(2026, 3, 7))
    shop.sell(100, sh(2026, 3, 8), "S001")
    shop.sell(700, sh(2026, 3, 9), "S002", member=b)
    rollups.rebuild(date(2026, 2, 20), date(2026, 3, 31))
    return {"a": a, "b": b}


def kpi(response, key):
    return next(k for k in response.context["kpis"] if k.key == key)


@pytest.mark.parametrize("path", PAGES)
def test_clerks_get_403_and_strangers_the_sign_in_page(signed_in, client, program, path):
    assert client.get(path).status_code == 302
    assert signed_in("clerk1").get(path).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_a_manager_sees_only_their_store(signed_in, month, path, demo_staff):
    from membership.models import Store

    manager = signed_in("manager1")
    s002 = Store.objects.get(code="S002").pk
    assert manager.get(path, {**PERIOD, "store": s002}).status_code == 403
    assert manager.get(path, {**PERIOD, "store": "x"}).status_code == 403
    assert manager.get(path, PERIOD).status_code == 200


def test_manager_figures_are_their_store_only(signed_in, month):
    from membership.models import Store

    page = signed_in("manager1").get("/analytics/", PERIOD)
    assert page.context["scope"].store.code == "S001"
    assert kpi(page, "net_sales").value == Decimal("550.00")  # 200 + 300 − 50 + 100, not S002's 700
    assert kpi(page, "card_opening_rate").value == Decimal(2) / 3
    html = page.content.decode()
    assert "S002" not in html and "社区店" not in html
    hq = signed_in("admin").get("/analytics/", PERIOD)
    assert kpi(hq, "net_sales").value == Decimal("1250.00") and hq.context["scope"].store is None
    s2 = signed_in("admin").get("/analytics/", {**PERIOD, "store": Store.objects.get(code="S002").pk})
    assert kpi(s2, "net_sales").value == Decimal("700.00")


def test_kpis_against_the_previous_period(signed_in, month):
    page = signed_in("admin").get("/analytics/", PERIOD)
    sales, members = kpi(page, "net_sales"), kpi(page, "new_members")
    assert (sales.value, sales.previous, sales.change) == (Decimal("1250.00"), 0, None)  # nothing in February
    assert (members.value, members.previous) == (2, 0)
    assert kpi(page, "average_ticket").value == Decimal("1250.00") / 4
    assert kpi(page, "member_share").value == Decimal("1150.00") / Decimal("1250.00")
    # March for the chain: a bought twice, b once → 1 of 2; February had no buyer
    assert (kpi(page, "repurchase_rate").value, kpi(page, "repurchase_rate").previous) == (Decimal("0.5"), None)
    page = signed_in("admin").get("/analytics/", {"start": "2026-03-09", "end": "2026-03-09"})
    day = kpi(page, "net_sales")
    assert (day.value, day.previous, day.change) == (Decimal("700.00"), Decimal("100.00"), Decimal(6))


def test_every_table_exports_as_csv_and_xlsx(signed_in, month):
    admin = signed_in("admin")
    for name in selectors.TABLES:
        for fmt in ("csv", "xlsx"):
            response = admin.get(f"/analytics/table/{name}/", {**PERIOD, "format": fmt})
            assert response.status_code == 200, (name, fmt)
            assert response["Content-Disposition"].startswith("attachment; filename=")
    body = admin.get("/analytics/table/daily/", {**PERIOD, "format": "csv"}, HTTP_ACCEPT_LANGUAGE="en").content.decode(
        "utf-8-sig"
    )
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["Day", "Sales", "Net sales", "Returns"] and rows[0][6] == "Member share (%)"
    march9 = next(r for r in rows if r[0] == "2026-03-09")
    assert march9[1:3] == ["1", "700.00"]
    book = openpyxl.load_workbook(
        io.BytesIO(admin.get("/analytics/table/stores/", {**PERIOD, "format": "xlsx"}).content)
    )
    sheet = book.active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 3 and values[1][0].startswith("S001")
    drill = admin.get("/analytics/rfm/high_value/", {**PERIOD, "format": "xlsx"})
    assert drill.status_code == 200


def test_table_endpoint_renders_a_fragment(signed_in, month):
    response = signed_in("admin").get("/analytics/table/clerks/", PERIOD)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and "李导购" in html


def test_query_counts(signed_in, month, django_assert_max_num_queries):
    admin = signed_in("admin")
    for path, most in [
        ("/analytics/", 26),
        ("/analytics/members/", 14),
        ("/analytics/sales/", 16),
        ("/analytics/points/", 14),
        ("/analytics/rfm/", 13),
        ("/analytics/rfm/high_value/", 12),
        # + the campaign watch: running scenes, their grant counts, open alerts (settings read once)
        ("/analytics/campaigns/", 13),
        ("/analytics/clerks/", 11),
        ("/analytics/funnel/", 11),
    ]:
        with django_assert_max_num_queries(most):
            assert admin.get(path, PERIOD).status_code == 200


def test_english_on_request_chinese_by_default(signed_in, month):
    admin = signed_in("admin")
    english = admin.get("/analytics/", PERIOD, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in english and "Net sales" in english and "Overview" in english
    assert 'lang="zh-hans"' in admin.get("/analytics/", PERIOD).content.decode()


def test_the_clerk_ledger(signed_in, month, shop):
    rows = selectors.clerks(selectors.Scope(date(2026, 3, 1), date(2026, 3, 31))).rows
    by = {(r["store_name"][:4], r["username"]): r for r in rows}
    c1 = by[("S001", "clerk1")]
    assert (c1["enrolments"], c1["sales_count"], c1["member_sales_count"], c1["member_net_sales"]) == (
        1,
        3,
        2,
        Decimal("450.00"),
    )
    assert c1["card_opening_rate"] == Decimal(2) / 3
    c2 = by[("S002", "clerk2")]
    assert (c2["enrolments"], c2["member_sales_count"], c2["member_net_sales"]) == (1, 1, Decimal("700.00"))


def test_send_to_campaign_links_to_a_prefilled_scene(signed_in, month):
    from analytics.services import rfm

    rfm.build_snapshot(date(2026, 3, 31))
    page = signed_in("admin").get("/analytics/rfm/high_value/", PERIOD).content.decode()
    assert "/admin/campaigns/scene/add/?audience_segment=rfm%3Ahigh_value" in page
    form = signed_in("admin").get("/admin/campaigns/scene/add/", {"audience_segment": "rfm:high_value"})
    assert form.status_code == 200 and 'value="rfm:high_value"' in form.content.decode()
    manager = signed_in("manager1").get("/analytics/rfm/high_value/", PERIOD).content.decode()
    assert "send-to-campaign" not in manager and "rfm:high_value" in manager
