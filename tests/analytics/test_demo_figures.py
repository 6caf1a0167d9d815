"""On the demo data (seed_demo): the dashboards' figures equal direct queries over the raw tables."""

import io
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from analytics import definitions as d
from analytics import selectors
from analytics.models import MemberSnapshot, RfmDay
from analytics.services import rollups

pytestmark = pytest.mark.django_db


def raw_totals(start, end, store):
    from membership.models import Member
    from pos.models import Return, Sale

    a, _ = d.day_bounds(start)
    _, b = d.day_bounds(end)
    where = Q(store=store) if store else Q()
    sales = Sale.objects.filter(where, created_at__gte=a, created_at__lt=b)
    returns = Return.objects.filter(where, created_at__gte=a, created_at__lt=b)
    amount = sales.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    back = returns.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    member_amount = sales.filter(member__isnull=False).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    member_back = returns.filter(sale__member__isnull=False).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    joined = Member.objects.filter(joined_at__gte=a, joined_at__lt=b)
    if store:
        joined = joined.filter(home_store=store)
    amount, back, member_amount, member_back = (
        Decimal(x).quantize(d.CENT)
        for x in (  # SQLite sums floats
            amount,
            back,
            member_amount,
            member_back,
        )
    )
    return {
        "sales_count": sales.count(),
        "net_sales": amount - back,
        "member_sales_count": sales.filter(member__isnull=False).count(),
        "member_net_sales": member_amount - member_back,
        "new_members": joined.count(),
    }


def raw_points(end, store):
    from membership.models import PointsEntry, StoredValueEntry

    _, b = d.day_bounds(end)
    entries = PointsEntry.objects.filter(created_at__lt=b).annotate(at=Coalesce("store", "member__home_store"))
    sv = StoredValueEntry.objects.filter(created_at__lt=b).annotate(at=Coalesce("store", "member__home_store"))
    if store:
        entries, sv = entries.filter(at=store.pk), sv.filter(at=store.pk)
    s = sv.aggregate(p=Sum("principal"), b=Sum("bonus"))
    return entries.aggregate(s=Sum("amount"))["s"] or 0, (Decimal(s["p"] or 0) + Decimal(s["b"] or 0)).quantize(d.CENT)


def raw_lifecycle(day, store):
    from membership.models import Member
    from pos.models import Sale

    _, b = d.day_bounds(day)
    last = defaultdict(lambda: None)
    for member_id, at in Sale.objects.filter(member__isnull=False, created_at__lt=b).values_list(
        "member_id", "created_at"
    ):
        local = d.local_day(at)
        last[member_id] = max(local, last[member_id] or local)
    members = Member.objects.filter(status="active", joined_at__lt=b)
    if store:
        members = members.filter(home_store=store)
    return Counter(d.stage(last[m], day) for m in members.values_list("pk", flat=True))


def raw_tiers(day, store):
    from membership.models import Member, TierChange

    _, b = d.day_bounds(day)
    tier = {}
    for member_id, to_tier in (
        TierChange.objects.filter(created_at__lt=b)
        .order_by("created_at", "id")
        .values_list("member_id", "to_tier__code")
    ):
        tier[member_id] = to_tier
    members = Member.objects.filter(status="active", joined_at__lt=b)
    if store:
        members = members.filter(home_store=store)
    return Counter(tier[m] for m in members.values_list("pk", flat=True))


def raw_month(month_first, last_day, store):
    from pos.models import Return, Sale

    a, _ = d.day_bounds(month_first)
    _, b = d.day_bounds(last_day)
    n, amt = Counter(), defaultdict(Decimal)
    sales = Sale.objects.filter(member__isnull=False, created_at__gte=a, created_at__lt=b)
    returns = Return.objects.filter(sale__member__isnull=False, created_at__gte=a, created_at__lt=b)
    if store:
        sales, returns = sales.filter(store=store), returns.filter(store=store)
    for m, amount in sales.values_list("member_id", "amount"):
        n[m] += 1
        amt[m] += amount
    for m, amount in returns.values_list("sale__member_id", "amount"):
        amt[m] -= amount
    buyers = [m for m in n if n[m] >= 1]
    repeat = [m for m in n if n[m] >= 2]
    return len(buyers), len(repeat), sum(amt.values(), Decimal(0)), sum((amt[m] for m in repeat), Decimal(0))


def test_dashboard_figures_equal_direct_queries_on_the_demo_data(signed_in):
    from campaigns.models import Scene
    from campaigns.services import results
    from membership.models import Store

    call_command("seed_demo", stdout=io.StringIO())
    end = rollups.yesterday()
    assert selectors.last_rolled_day() == end
    stores = [None, Store.objects.get(code="S001"), Store.objects.get(code="S002")]
    admin = signed_in("admin")
    for store in stores:
        for days in (7, 30, 90, 365):
            scope = selectors.Scope(end - timedelta(days=days - 1), end, store)
            got = selectors.totals(scope)
            want = raw_totals(scope.start, scope.end, store)
            assert {k: got[k] for k in want} == want, (store, days)
            assert got["card_opening_rate"] == d.card_opening_rate(want["member_sales_count"], want["sales_count"])
        bal = selectors.balances(selectors.Scope(end, end, store), end)
        points, sv = raw_points(end, store)
        assert (bal["points"], bal["sv_liability"]) == (points, sv), store
        life = selectors.lifecycle_at(selectors.Scope(end, end, store), end)
        stages = raw_lifecycle(end, store)
        assert (life["active"], life["silent"], life["churned"], life["prospects"]) == (
            stages["active"],
            stages["silent"],
            stages["churned"],
            stages["prospect"],
        ), store
        tiers = selectors.tiers(selectors.Scope(end, end, store)).rows[-1]
        from membership.models import Tier

        assert {t.code: tiers[f"t{t.pk}"] for t in Tier.objects.all() if tiers[f"t{t.pk}"]} == dict(
            raw_tiers(end, store)
        ), store
        month = d.month_start(end)
        row = selectors.month_row(selectors.Scope(end, end, store), month)
        assert (row.buyers, row.repeat_buyers, row.member_amount, row.repeat_amount) == raw_month(month, end, store)

    # the overview page shows the same KPIs for the last 30 days
    page = admin.get("/analytics/", {"start": (end - timedelta(days=29)).isoformat(), "end": end.isoformat()})
    want = raw_totals(end - timedelta(days=29), end, None)
    shown = {k.key: k.value for k in page.context["kpis"]}
    assert shown["net_sales"] == want["net_sales"] and shown["new_members"] == want["new_members"]
    assert shown["active"] == raw_lifecycle(end, None)["active"]
    # issue 31: the demo stores have monthly targets (this month and the twelve before), so the
    # target card shows; every store has one, so the card compares the whole chain
    from analytics.models import Target

    targets = Target.objects.filter(month=month)
    assert set(targets.values_list("store__code", flat=True)) == {"S001", "S002"}
    assert all(t.new_members > 0 and t.member_sales > 0 and t.repurchase_rate for t in targets)
    assert Target.objects.count() == 2 * 13
    assert [t["key"] for t in page.context["targets"]] == ["new_members", "member_sales"]
    assert page.context["target_coverage"] == ""
    call_command("seed_demo", stdout=io.StringIO())  # again: nothing more
    assert Target.objects.count() == 2 * 13

    # campaigns: the roll-up agrees with the campaigns app's results page (all grants of the year)
    year = selectors.Scope(end - timedelta(days=400), end)
    ours = {(r["scene_id"], r["variant"]): r for r in selectors.campaigns(year).rows}
    assert ours, "the demo has campaign history"
    for scene in Scene.objects.filter(grants__isnull=False).distinct():
        for r in results.scene_results(scene, days=30):
            mine = ours[(scene.pk, r.variant)]
            assert (
                mine["members"],
                mine["coupons_issued"],
                mine["coupons_used"],
                mine["sales_after"],
                mine["cost"],
            ) == (r.members, r.coupons_issued, r.coupons_used, r.sales, r.cost), scene
    assert any(r["low_usage"] for r in ours.values()) and any(r["incremental"] for r in ours.values())

    # RFM: every active member has a snapshot row, and the class counts add up
    from membership.models import Member

    assert MemberSnapshot.objects.count() == Member.objects.filter(status="active").count()
    assert sum(RfmDay.objects.filter(day=end).values_list("members", flat=True)) == (
        MemberSnapshot.objects.exclude(rfm_class="").count()
    )
    assert set(MemberSnapshot.objects.exclude(rfm_class="").values_list("rfm_class", flat=True)) == set(d.RFM_CLASSES)
