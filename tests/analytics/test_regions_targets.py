"""Issue 20: regions (the store tree, a regional manager's subtree, figures rolled up by region), the
new KPIs with exact figures, repurchase over a window, and monthly targets.

The chain of these tests: HQ → R1 华东区 → S001, S002; HQ → R2 华南区 → S003. March 2026:

    member  home   joined  purchases (store, day, ¥)
    a       S001   03-01   S001 03-05 200; S002 03-06 300 (¥50 returned 03-07 at S002)
    b       S002   03-02   S002 03-08 100
    c       S003   03-03   S003 03-11 400; S003 03-12 100
    d       S001   02-01   S001 02-10 100; S001 03-20 100
    e       S002   03-15   (none)
    walk-ins: S001 03-09 100; S003 03-10 50

a bought once at each of S001 and S002: no repeat buyer at either store, a repeat buyer of R1.
"""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from analytics import definitions as d
from analytics import selectors
from analytics.models import MonthStats, RepurchaseWindow, Target
from analytics.services import rollups

from .conftest import sh

pytestmark = pytest.mark.django_db
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def tree(program, demo_staff):
    from membership.models import Role, Store, User

    hq = Store.objects.get(code="HQ")
    r1 = Store.objects.create(code="R1", name="华东区", parent=hq)
    r2 = Store.objects.create(code="R2", name="华南区", parent=hq)
    Store.objects.filter(code__in=["S001", "S002"]).update(parent=r1)
    Store.objects.create(code="S003", name="南山店", parent=r2)
    s3 = Store.objects.get(code="S003")
    demo_staff["clerk3"] = User.objects.create(username="clerk3", role=Role.CLERK, store=s3, first_name="钱导购")
    demo_staff["rm1"] = User.objects.create(username="rm1", role=Role.REGIONAL, store=r1, first_name="区经理")
    return {s.code: s for s in Store.objects.all()}


@pytest.fixture
def march(tree, shop):
    a = shop.join(sh(2026, 3, 1), "S001")
    b = shop.join(sh(2026, 3, 2), "S002")
    c = shop.join(sh(2026, 3, 3), "S003", clerk="clerk3")
    d_ = shop.join(sh(2026, 2, 1), "S001")
    e = shop.join(sh(2026, 3, 15), "S002")
    shop.sell(100, sh(2026, 2, 10), "S001", member=d_)
    shop.sell(200, sh(2026, 3, 5), "S001", member=a)
    sale = shop.sell(300, sh(2026, 3, 6), "S002", member=a)
    shop.refund(sale, 50, sh(2026, 3, 7))
    shop.sell(100, sh(2026, 3, 8), "S002", member=b)
    shop.sell(100, sh(2026, 3, 9), "S001")
    shop.sell(50, sh(2026, 3, 10), "S003", clerk="clerk3")
    shop.sell(400, sh(2026, 3, 11), "S003", member=c, clerk="clerk3")
    shop.sell(100, sh(2026, 3, 12), "S003", member=c, clerk="clerk3")
    shop.sell(100, sh(2026, 3, 20), "S001", member=d_)
    rollups.rebuild(date(2026, 1, 25), date(2026, 3, 31))
    return {"a": a, "b": b, "c": c, "d": d_, "e": e}


def scope(tree, code=None, **kw):
    return selectors.Scope(date(2026, 3, 1), date(2026, 3, 31), tree[code] if code else None, **kw)


def kpis(s):
    return {k.key: k for k in selectors.kpis(s)}


# ---------------------------------------------------------------------------------------------
# the tree and who sees what
# ---------------------------------------------------------------------------------------------


def test_the_store_tree(tree):
    from membership.models import StoreTree

    t = StoreTree.load()
    assert sorted(t.nodes[pk].code for pk in tree["R1"].subtree_ids()) == ["R1", "S001", "S002"]
    assert [t.nodes[pk].code for pk in tree["S003"].subtree_ids()] == ["S003"]
    assert [(s.code, depth) for s, depth in t.walk()] == [
        ("HQ", 0),
        ("R1", 1),
        ("S001", 2),
        ("S002", 2),
        ("R2", 1),
        ("S003", 2),
    ]
    assert [s.code for s in t.regions()] == ["HQ", "R1", "R2"]


PAGES = [
    "/analytics/",
    "/analytics/members/",
    "/analytics/sales/",
    "/analytics/points/",
    "/analytics/rfm/",
    "/analytics/rfm/high_value/",
    "/analytics/campaigns/",
    "/analytics/clerks/",
    "/analytics/funnel/",
    "/analytics/table/regions/",
    "/analytics/table/daily/?format=csv",
]


@pytest.mark.parametrize("path", PAGES)
def test_a_regional_manager_sees_their_subtree_only(signed_in, march, tree, path):
    rm = signed_in("rm1")
    assert rm.get(path, MARCH).status_code == 200
    for code in ("R1", "S001", "S002"):
        assert rm.get(path, {**MARCH, "store": tree[code].pk}).status_code == 200
    for code in ("S003", "R2", "HQ"):
        assert rm.get(path, {**MARCH, "store": tree[code].pk}).status_code == 403


def test_a_regional_manager_reads_their_region_and_no_counter(signed_in, march, tree, demo_staff):
    from membership import permissions

    rm = demo_staff["rm1"]
    assert permissions.can_view_reports(rm) and not permissions.can_use_counter(rm)
    assert not permissions.can_configure(rm) and not permissions.can_manage_members(rm)
    assert sorted(s.code for s in permissions.report_stores(rm)) == ["R1", "S001", "S002"]
    page = signed_in("rm1").get("/analytics/", MARCH)
    assert page.context["scope"].store.code == "R1"
    html = page.content.decode()
    assert "S003" not in html and "南山店" not in html and "华南区" not in html
    # the filter is the subtree as an indented tree: R1 first, its stores under it
    assert [(s.code, s.depth) for s in page.context["stores"]] == [("R1", 0), ("S001", 1), ("S002", 1)]
    assert 'data-testid="store-tree"' in html
    assert kpis_of(page)["net_sales"].value == Decimal("750.00")
    assert (
        signed_in("rm1")
        .get("/analytics/table/daily/", {**MARCH, "store": tree["S003"].pk, "format": "csv"})
        .status_code
        == 403
    )


def test_a_regional_manager_belongs_to_a_region(tree):
    from django.core.exceptions import ValidationError

    from membership.models import Role, User

    with pytest.raises(ValidationError) as raised:
        User(username="rm2", role=Role.REGIONAL, store=tree["S003"], password="!").full_clean()
    assert "store" in raised.value.message_dict
    User(username="rm2", role=Role.REGIONAL, store=tree["R2"], password="!").full_clean()


def kpis_of(page):
    return {k.key: k for k in page.context["kpis"]}


def test_hq_filter_is_the_whole_tree(signed_in, march, tree):
    page = signed_in("admin").get("/analytics/", MARCH)
    assert [(s.code, s.depth) for s in page.context["stores"]] == [
        ("HQ", 0),
        ("R1", 1),
        ("S001", 2),
        ("S002", 2),
        ("R2", 1),
        ("S003", 2),
    ]
    region = signed_in("admin").get("/analytics/", {**MARCH, "store": tree["R2"].pk})
    assert kpis_of(region)["net_sales"].value == Decimal("550.00")


# ---------------------------------------------------------------------------------------------
# roll-up by region
# ---------------------------------------------------------------------------------------------


def test_a_region_is_the_sum_of_its_stores_for_additive_figures(march, tree):
    s1, s2, r1 = (selectors.totals(scope(tree, c)) for c in ("S001", "S002", "R1"))
    for f in ("sales_count", "member_sales_count", "new_members", "returns_amount", "net_sales", "member_net_sales"):
        assert r1[f] == s1[f] + s2[f], f
    assert (r1["sales_count"], r1["member_sales_count"], r1["new_members"], r1["net_sales"]) == (
        5,
        4,
        3,
        Decimal("750.00"),
    )
    life = {c: selectors.lifecycle_at(scope(tree, c), date(2026, 3, 31)) for c in ("S001", "S002", "R1")}
    assert (life["R1"]["members"], life["R1"]["active"]) == (4, 3)  # members by home store: each counted once
    assert life["R1"]["members"] == life["S001"]["members"] + life["S002"]["members"]


def test_distinct_members_are_computed_over_the_region_not_summed(march, tree):
    month = date(2026, 3, 1)
    rows = {
        (m.store.code if m.store else None): m for m in MonthStats.objects.filter(month=month).select_related("store")
    }
    assert (rows["S001"].buyers, rows["S001"].repeat_buyers) == (2, 0)  # a, d: once each here
    assert (rows["S002"].buyers, rows["S002"].repeat_buyers) == (2, 0)  # a, b
    # R1: a bought at S001 and at S002: one buyer, a repeat one. Summing the stores gives 0 of 4.
    assert (rows["R1"].buyers, rows["R1"].repeat_buyers, rows["R1"].purchases) == (3, 1, 4)
    assert rows["R1"].member_amount == Decimal("650.00")
    assert (rows["R1"].new_members, rows["R1"].converted) == (3, 2)  # a, b, e; e bought nothing
    assert (rows["R2"].buyers, rows["R2"].repeat_buyers) == (1, 1)
    assert (rows[None].buyers, rows[None].repeat_buyers) == (4, 2)
    assert "HQ" not in rows  # the root over the whole chain has the chain's rows (store empty)
    k = kpis(scope(tree, "R1"))
    assert k["repurchase_rate"].value == Decimal(1) / 3
    assert (
        kpis(scope(tree, "HQ"))["repurchase_rate"].value == Decimal(2) / 4 == kpis(scope(tree))["repurchase_rate"].value
    )


def test_the_regions_table(march, tree):
    table = selectors.regions(scope(tree))
    rows = {r["store"][:2]: r for r in table.rows}
    assert list(rows) == ["HQ", "R1", "R2"]
    r1 = rows["R1"]
    assert (r1["stores"], r1["sales_count"], r1["net_sales"], r1["new_members"], r1["members"], r1["active"]) == (
        2,
        5,
        Decimal("750.00"),
        3,
        4,
        3,
    )
    assert r1["repurchase_rate"] == Decimal(1) / 3 and r1["window_repurchase_rate"] == Decimal(2) / 3
    assert r1["development_rate"] == Decimal(3) / 4 and r1["activity_rate"] == Decimal(3) / 4
    assert rows["HQ"]["net_sales"] == Decimal("1300.00") and rows["HQ"]["repurchase_rate"] == Decimal(2) / 4
    assert [r["store"][:2] for r in selectors.regions(scope(tree, "R2")).rows] == ["R2"]
    assert selectors.regions(scope(tree, "S001")).rows == []


# ---------------------------------------------------------------------------------------------
# the new KPIs, exactly
# ---------------------------------------------------------------------------------------------


def test_kpis_of_a_region_and_the_chain(march, tree):
    r1 = kpis(scope(tree, "R1"))
    assert r1["development_rate"].value == Decimal(3) / 4  # 3 new ÷ (3 new + 1 walk-in ticket)
    assert r1["new_card_rate"].value == Decimal(3) / 5  # 3 new cards ÷ 5 tickets
    assert r1["card_opening_rate"].value == Decimal(4) / 5  # 4 member tickets ÷ 5 tickets
    assert r1["activity_rate"].value == Decimal(3) / 4  # a, b, d active; e no purchase yet
    assert r1["member_growth_rate"].value == Decimal(3)  # (4 − 1) ÷ 1: d was the only member on 02-28
    assert r1["window_repurchase_rate"].value == Decimal(2) / 3  # 90 days: a and d twice, b once
    chain = kpis(scope(tree))
    assert chain["development_rate"].value == Decimal(4) / 6
    assert chain["new_card_rate"].value == Decimal(4) / 8
    assert chain["activity_rate"].value == Decimal(4) / 5
    assert chain["member_growth_rate"].value == Decimal(4)
    assert chain["window_repurchase_rate"].value == Decimal(3) / 4
    s2 = kpis(scope(tree, "S002"))
    assert s2["member_growth_rate"].value is None  # no member before the period: no base
    assert s2["development_rate"].value == Decimal(1)  # 2 new, no walk-in
    # every KPI of the page says how it is computed
    from django.utils import translation

    with translation.override("en"):
        assert str(r1["development_rate"].formula) == "new members ÷ (new members + walk-in tickets)"
    with translation.override("zh-hans"):
        assert str(r1["development_rate"].formula) == "新增会员 ÷（新增会员 + 非会员小票）"


def test_repurchase_over_each_window(march, tree):
    def rate(code, window):
        return kpis(scope(tree, code, window=window))["window_repurchase_rate"].value

    assert rate("R1", 30) == Decimal(1) / 3  # 03-02 … 03-31: d's February purchase is out
    assert rate("R1", 90) == Decimal(2) / 3
    assert rate("R1", 365) == Decimal(2) / 3
    assert rate("S001", 90) == Decimal(1) / 2  # d twice, a once at S001
    assert rate(None, 30) == Decimal(2) / 4
    assert RepurchaseWindow.objects.filter(day=date(2026, 2, 28), window_days=30, store=None).get().buyers == 1


def test_window_figures_match_the_definition(march, tree):
    """The SQL of the roll-up against definitions.window_repurchase_rate over the raw sales."""
    from pos.models import Sale

    on = date(2026, 3, 31)
    for w in d.REPURCHASE_WINDOWS:
        first = d.day_start(d.window_start(on, w))
        counts = {}
        for sale in Sale.objects.filter(
            member__isnull=False, created_at__gte=first, created_at__lt=d.day_start(date(2026, 4, 1))
        ):
            counts[sale.member_id] = counts.get(sale.member_id, 0) + 1
        row = RepurchaseWindow.objects.get(day=on, window_days=w, store=None)
        assert (row.buyers, row.repeat_buyers) == (len(counts), sum(1 for n in counts.values() if n >= 2))


def test_the_window_is_chosen_on_the_page(signed_in, march):
    page = signed_in("admin").get("/analytics/", {**MARCH, "window": "30"}, HTTP_ACCEPT_LANGUAGE="en")
    assert kpis_of(page)["window_repurchase_rate"].value == Decimal(2) / 4
    html = page.content.decode()
    assert "Repurchase rate, last 30 days" in html and "window=30" in html
    assert "new cards opened ÷ tickets" in html and "member tickets ÷ tickets" in html
    assert signed_in("admin").get("/analytics/", {**MARCH, "window": "45"}).context["scope"].window == 90


# ---------------------------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def targets(tree):
    month = date(2026, 3, 1)
    Target.objects.create(store=tree["S001"], month=month, new_members=4, member_sales=Decimal("1000"))
    Target.objects.create(store=tree["S002"], month=date(2026, 3, 17), new_members=2, member_sales=Decimal("500"))
    Target.objects.create(
        store=tree["R2"], month=month, new_members=2, member_sales=Decimal("600"), repurchase_rate=Decimal("50")
    )


def progress(s):
    return {t["key"]: t for t in selectors.target_progress(s)}


def test_targets_roll_up_and_progress(march, targets, tree):
    assert Target.objects.get(store=tree["S002"]).month == date(2026, 3, 1)  # kept as the month's first day
    eff = selectors.effective_targets(date(2026, 3, 1))
    assert (eff[tree["R1"].pk]["new_members"], eff[tree["R1"].pk]["member_sales"]) == (6, Decimal("1500"))
    assert eff[tree["R1"].pk]["repurchase_rate"] is None
    assert (eff[None]["new_members"], eff[None]["member_sales"]) == (8, Decimal("2100"))
    r1 = progress(scope(tree, "R1"))
    assert (r1["new_members"]["actual"], r1["new_members"]["target"], r1["new_members"]["progress"]) == (
        3,
        6,
        Decimal("0.5"),
    )
    assert r1["member_sales"]["actual"] == Decimal("650.00") and r1["member_sales"]["progress"] == Decimal(650) / 1500
    assert "repurchase_rate" not in r1
    r2 = progress(scope(tree, "R2"))
    assert r2["repurchase_rate"]["actual"] == Decimal(1) and r2["repurchase_rate"]["target"] == Decimal("0.5")
    assert r2["repurchase_rate"]["bar"] == 100  # 200%: the bar stops full
    assert r2["member_sales"]["bar"] == 83  # ¥500 of ¥600
    assert progress(selectors.Scope(date(2026, 4, 1), date(2026, 4, 30), tree["R1"])) == {}  # no April targets


@pytest.mark.parametrize("path", ["/analytics/", "/analytics/members/", "/analytics/sales/", "/analytics/clerks/"])
def test_every_dashboard_shows_the_targets(signed_in, march, targets, tree, path):
    page = signed_in("rm1").get(path, MARCH, HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert 'data-testid="targets"' in html and "Targets of 2026-03, month to date" in html
    assert 'aria-valuenow="50"' in html  # new members: 3 of 6


def test_the_clerk_ledger_against_the_target_share(march, targets, tree):
    rows = {(r["store_name"][:4], r["username"]): r for r in selectors.clerks(scope(tree)).rows}
    c1 = rows[("S001", "clerk1")]
    # S001: target 4 for March; clerk1 and manager1 enrol there → a share of 2; clerk1 enrolled a
    assert (c1["enrolments"], c1["target_share"], c1["target_progress"]) == (1, Decimal(2), Decimal("0.5"))
    c2 = rows[("S002", "clerk2")]
    assert (c2["enrolments"], c2["target_share"], c2["target_progress"]) == (2, Decimal(2), Decimal(1))
    c3 = rows[("S003", "clerk3")]
    assert c3["target_share"] is None  # S003 has no target of its own
    half = selectors.clerks(selectors.Scope(date(2026, 3, 1), date(2026, 3, 15))).rows
    c1 = next(r for r in half if r["username"] == "clerk1")
    assert c1["target_share"] == Decimal(4) * 15 / 31 / 2  # prorated to the 15 days of March


def test_targets_import_from_a_spreadsheet(tree):
    import tablib

    from analytics.resources import TargetResource

    data = tablib.Dataset(headers=["store", "month", "new_members", "member_sales", "repurchase_rate"])
    data.append(["S001", "2026-03", 40, "12000.00", "35"])
    data.append(["R1", "2026/4", 100, "50000", ""])
    result = TargetResource().import_data(data, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert Target.objects.get(store=tree["S001"], month=date(2026, 3, 1)).member_sales == Decimal("12000.00")
    assert Target.objects.get(store=tree["R1"], month=date(2026, 4, 1)).repurchase_rate is None
    # importing again updates the same targets
    data2 = tablib.Dataset(headers=["store", "month", "new_members", "member_sales", "repurchase_rate"])
    data2.append(["S001", "2026-03-01", 45, "12000.00", "35"])
    TargetResource().import_data(data2, dry_run=False)
    assert Target.objects.filter(store=tree["S001"]).count() == 1
    assert Target.objects.get(store=tree["S001"]).new_members == 45
    bad = tablib.Dataset(headers=["store", "month", "new_members", "member_sales", "repurchase_rate"])
    bad.append(["S002", "2026-03", 5, "100", "150"])
    bad.append(["NOPE", "2026-03", 5, "100", ""])
    bad.append(["S002", "March", 5, "100", ""])
    result = TargetResource().import_data(bad, dry_run=False)
    assert result.has_validation_errors()
    errors = {row.number: row.field_specific_errors for row in result.invalid_rows}
    assert "repurchase_rate" in errors[1]
    assert "store" in errors[2] and "No store or region has the code NOPE." in str(errors[2]["store"])
    assert "month" in errors[3] and "YYYY-MM" in str(errors[3]["month"])
    assert not Target.objects.filter(store=tree["S002"]).exists()


def test_targets_admin_and_export(signed_in, tree, targets):
    admin = signed_in("admin")
    assert admin.get("/admin/analytics/target/").status_code == 200
    assert admin.get("/admin/analytics/target/import/").status_code == 200
    from analytics.resources import TargetResource

    rows = list(csv.DictReader(io.StringIO(TargetResource().export().csv)))
    assert {(r["store"], r["month"], r["new_members"]) for r in rows} == {
        ("S001", "2026-03", "4"),
        ("S002", "2026-03", "2"),
        ("R2", "2026-03", "2"),
    }
    assert signed_in("rm1").get("/admin/analytics/target/").status_code in (302, 403)
