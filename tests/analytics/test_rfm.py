"""The member snapshot: R, F, M by quintile, the five classes, stages, window edges; segments."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from analytics import definitions as d
from analytics.models import AnalyticsSettings, MemberSnapshot, RfmDay
from analytics.services import rfm

from .conftest import sh

pytestmark = pytest.mark.django_db
D = date(2026, 6, 30)
FIRST = D - timedelta(days=364)  # first day of the 365-day window


def at(day, hh=12, mm=0, ss=0):
    return sh(day.year, day.month, day.day, hh, mm, ss)


# (days before D of each purchase, amount of each); ten scored members with distinct R, F and M
PLANS = {
    "best": ([0, 10, 20, 30, 40], 300),
    "p1": ([1, 50, 100, 150], 250),
    "p2": ([3, 80, 160], 400),
    "p3": ([7, 70], 500),
    "p4": ([15, 200, 300], 90),
    "p5": ([30, 60], 60),
    "p6": ([60], 700),
    "p7": ([100, 300], 40),
    "p8": ([200], 35),
    "worst": ([300], 10),
}


@pytest.fixture
def members(shop):
    out = {}
    for name, (days, amount) in PLANS.items():
        m = out[name] = shop.join(sh(2025, 1, 1), "S002" if name in ("p2", "p7") else "S001")
        for n, back in enumerate(days):
            shop.sell(amount + n, at(D - timedelta(days=back)), m.home_store.code, member=m)
    out["prospect"] = shop.join(sh(2025, 1, 1))
    out["old"] = shop.join(sh(2025, 1, 1))
    shop.sell(100, at(FIRST - timedelta(days=1), 23, 59, 59), member=out["old"])  # just outside the window
    edge = out["edge"] = shop.join(sh(2025, 1, 1))
    sale = shop.sell(80, at(FIRST, 0, 0, 0), member=edge)  # first second of the window
    shop.refund(sale, 30, at(D, 23, 59, 59))  # returned on D: lowers M
    out["later"] = shop.join(sh(2025, 1, 1))
    shop.sell(100, at(D + timedelta(days=1), 0, 0, 0), member=out["later"])  # after D: not counted
    return out


def reference(members):
    """R, F, M, scores and classes computed member by member from definitions.py."""
    from pos.models import Return, Sale

    measures = {}
    for name, m in members.items():
        sales = [(s.created_at, s.amount) for s in Sale.objects.filter(member=m)]
        returns = [(r.created_at, r.amount) for r in Return.objects.filter(sale__member=m)]
        measures[name] = d.rfm_measures(sales, returns, D)
    scored = {k: v for k, v in measures.items() if v[1] > 0}
    n = len(scored)

    def rank_worst_first(value, values, worse):
        return 1 + sum(1 for v in values if worse(v, value))

    out = {}
    for name, (rec, freq, mon) in scored.items():
        r = d.quintile_score(rank_worst_first(rec, [v[0] for v in scored.values()], lambda a, b: a > b), n)
        f = d.quintile_score(rank_worst_first(freq, [v[1] for v in scored.values()], lambda a, b: a < b), n)
        m = d.quintile_score(rank_worst_first(mon, [v[2] for v in scored.values()], lambda a, b: a < b), n)
        out[name] = [rec, freq, mon, r, f, m]
    totals = {k: v[3] + v[4] + v[5] for k, v in out.items()}
    for name, v in out.items():
        top = 1 + sum(1 for t in totals.values() if t > totals[name])
        bottom = 1 + sum(1 for t in totals.values() if t < totals[name])
        v.append(d.rfm_class(v[3], v[4], v[5], top_rank=top, bottom_rank=bottom, n=n))
    return measures, out


def test_snapshot_matches_the_definitions(members):
    rfm.build_snapshot(D)
    measures, expected = reference(members)
    snap = {name: MemberSnapshot.objects.get(member=m) for name, m in members.items()}
    for name, row in snap.items():
        rec, freq, mon = measures[name]
        assert (row.recency_days, row.frequency, row.monetary) == (rec, freq, mon), name
        if name in expected:
            assert [row.r_score, row.f_score, row.m_score, row.rfm_class] == expected[name][3:], name
        else:
            assert (row.r_score, row.rfm_class) == (None, ""), name


def test_snapshot_known_values(members):
    rfm.build_snapshot(D)
    snap = {name: MemberSnapshot.objects.get(member=m) for name, m in members.items()}
    best, worst, edge = snap["best"], snap["worst"], snap["edge"]
    assert (best.recency_days, best.frequency, best.monetary) == (0, 5, Decimal("1510.00"))
    assert (best.r_score, best.f_score, best.m_score, best.rfm_class) == (5, 5, 5, d.HIGH_VALUE)
    assert (worst.r_score, worst.rfm_class) == (1, d.CHURN_WARNING)
    # the edge member bought at the window's first second and returned ¥30 on D: in, M = 50
    assert (edge.frequency, edge.monetary, edge.recency_days, edge.stage) == (1, Decimal("50.00"), 364, "churned")
    assert (snap["old"].frequency, snap["old"].stage, snap["old"].rfm_class) == (0, "churned", "")
    assert (snap["prospect"].stage, snap["later"].stage, snap["later"].frequency) == ("prospect", "prospect", 0)
    assert snap["p6"].stage == "active" and snap["p8"].stage == "churned" and snap["p4"].stage == "active"
    # eleven scored: two in the top 20% (best, p1), two or more in the bottom 20%
    classes = [s.rfm_class for s in snap.values() if s.rfm_class]
    assert len(classes) == 11 and classes.count(d.HIGH_VALUE) == 2


def test_class_counts_per_store_and_rebuild_is_idempotent(members):
    rfm.build_snapshot(D)
    first = sorted(RfmDay.objects.filter(day=D).values_list("store__code", "rfm_class", "members", "monetary"))
    rows = list(MemberSnapshot.objects.order_by("member_id").values_list())
    rfm.build_snapshot(D)
    assert sorted(RfmDay.objects.filter(day=D).values_list("store__code", "rfm_class", "members", "monetary")) == first
    assert list(MemberSnapshot.objects.order_by("member_id").values_list()) == rows
    assert sum(r[2] for r in first) == 11 and {r[0] for r in first} == {"S001", "S002"}


def test_window_is_a_setting(members):
    s = AnalyticsSettings.load()
    s.rfm_window_days = 30
    s.save()
    rfm.build_snapshot(D)
    # 30 days: D − 29 … D; p5 bought 30 days before D, just outside
    assert MemberSnapshot.objects.exclude(rfm_class="").count() == 5  # best, p1, p2, p3, p4


def test_segments_filter_members_for_campaign_scenes(members):
    from campaigns.services.scenes import segment_filters
    from membership.models import Member

    rfm.build_snapshot(D)
    assert {"rfm:high_value", "rfm:churn_warning", "lifecycle:active"} <= set(segment_filters)
    top = segment_filters["rfm:high_value"](Member.objects.all())
    assert set(top) == {members["best"], members["p1"]}
    assert set(segment_filters["lifecycle:prospect"](Member.objects.all())) == {members["prospect"], members["later"]}


def test_quintile_scores_keep_ties_together():
    assert [d.quintile_score(r, 10) for r in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert d.quintile_score(1, 1) == 1
    assert d.rfm_class(3, 3, 3, top_rank=1, bottom_rank=1, n=5) == d.HIGH_VALUE  # all tied
    assert d.rfm_class(5, 2, 2, top_rank=3, bottom_rank=3, n=5) == d.POTENTIAL_GROWTH
    assert d.rfm_class(3, 3, 1, top_rank=3, bottom_rank=3, n=5) == d.POTENTIAL_MINING
    assert d.rfm_class(2, 3, 3, top_rank=3, bottom_rank=3, n=5) == d.LOW_FREQUENCY_KEEP
    assert d.rfm_class(1, 1, 1, top_rank=5, bottom_rank=1, n=5) == d.CHURN_WARNING
