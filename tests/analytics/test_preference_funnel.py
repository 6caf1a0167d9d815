"""Product preference in the member snapshot (ties, returns, lines without a category, the window),
the preferred-category audience of campaign scenes, and the member funnel, with exact figures."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from analytics import definitions as d
from analytics import journey, selectors
from analytics.models import MemberSnapshot
from analytics.services import rfm

from .conftest import sh

pytestmark = pytest.mark.django_db
D = date(2026, 6, 30)


def at(day, hh=12, mm=0, ss=0):
    return sh(day.year, day.month, day.day, hh, mm, ss)


def lines(**amounts):
    return [{"category": "" if c == "none" else c, "amount": str(a)} for c, a in amounts.items()]


@pytest.fixture
def buyers(shop):
    """Members whose preferred category at the end of D is known by hand."""
    m = {
        name: shop.join(sh(2025, 1, 1), "S002" if name == "mixed" else "S001")
        for name in ("tie", "returned", "mixed", "full_return", "no_lines", "uncategorised", "prospect", "tie_same_day")
    }
    # tie: ¥100 of food 10 days before D, ¥100 of beauty 5 days before: beauty is the more recent
    shop.sell(100, at(D - timedelta(days=10)), member=m["tie"], lines=lines(food=100))
    shop.sell(100, at(D - timedelta(days=5)), member=m["tie"], lines=lines(beauty=100))
    # returned: home ¥300 then food ¥200; ¥150 of the home sale returned on D − 1 → home 150 < food 200;
    # ¥150 of the food sale returned after D does not count yet
    home = shop.sell(300, at(D - timedelta(days=20)), member=m["returned"], lines=lines(home=300))
    food = shop.sell(200, at(D - timedelta(days=3)), member=m["returned"], lines=lines(food=200))
    shop.refund(home, 150, at(D - timedelta(days=1)))
    shop.refund(food, 150, at(D + timedelta(days=1), 0, 0, 0))
    # mixed: one ¥200 sale of drink 120 + beauty 80, ¥100 returned → drink 60, beauty 40; a big beauty
    # sale one day before the 365-day window does not count
    mixed = shop.sell(200, at(D - timedelta(days=2)), "S002", member=m["mixed"], lines=lines(drink=120, beauty=80))
    shop.refund(mixed, 100, at(D - timedelta(days=1)), store="S002")
    shop.sell(1000, at(D - timedelta(days=365), 23, 59, 59), "S002", member=m["mixed"], lines=lines(beauty=1000))
    # full return: nothing left of the only sale → no preference
    gone = shop.sell(50, at(D - timedelta(days=2)), member=m["full_return"], lines=lines(beauty=50))
    shop.refund(gone, 50, at(D - timedelta(days=1)))
    # a sale without lines gives no category
    shop.sell(80, at(D - timedelta(days=2)), member=m["no_lines"])
    # ¥90 without a category and ¥10 of food: food (¥10) is the only category
    shop.sell(100, at(D - timedelta(days=4)), member=m["uncategorised"], lines=lines(none=90, food=10))
    # same spend on the same sale: the first by name
    shop.sell(100, at(D - timedelta(days=4)), member=m["tie_same_day"], lines=lines(toys=50, books=50))
    return m


EXPECTED = {
    "tie": "beauty",
    "returned": "food",
    "mixed": "drink",
    "full_return": "",
    "no_lines": "",
    "uncategorised": "food",
    "prospect": "",
    "tie_same_day": "books",
}


def reference(member, on=D, window_days=365):
    """The preferred category computed sale by sale with definitions.category_spend/preferred_category."""
    from pos.models import Sale

    end = d.day_start(on + timedelta(days=1))
    first = d.day_start(on - timedelta(days=window_days - 1))
    spend = {}
    for sale in Sale.objects.filter(member=member, created_at__gte=first, created_at__lt=end):
        returned = sum((r.amount for r in sale.returns.filter(created_at__lt=end)), Decimal(0))
        amounts = {}
        for ln in sale.lines.all():
            amounts[ln.category] = amounts.get(ln.category, Decimal(0)) + ln.amount
        for category, net in d.category_spend(sale.amount, returned, amounts).items():
            total, last = spend.get(category, (Decimal(0), sale.created_at))
            spend[category] = (total + net, max(last, sale.created_at))
    return d.preferred_category(spend)


def test_preferred_category_exact(buyers):
    rfm.build_snapshot(D)
    got = {name: MemberSnapshot.objects.get(member=m).preferred_category for name, m in buyers.items()}
    assert got == EXPECTED
    assert {name: reference(m) for name, m in buyers.items()} == EXPECTED


def test_later_returns_change_the_preference_of_a_later_snapshot(buyers):
    # at D + 1 the food sale of "returned" is down to ¥50: home (¥150) wins
    rfm.build_snapshot(D + timedelta(days=1))
    assert MemberSnapshot.objects.get(member=buyers["returned"]).preferred_category == "home"
    assert reference(buyers["returned"], D + timedelta(days=1)) == "home"


def test_category_spend_shares_the_kept_amount():
    spend = d.category_spend(Decimal("200"), Decimal("100"), {"drink": Decimal("120"), "beauty": Decimal("80")})
    assert spend == {"drink": Decimal("60"), "beauty": Decimal("40")}
    assert d.category_spend(Decimal("100"), 0, {"": Decimal("90"), "food": Decimal("10")}) == {"food": Decimal("10")}
    t = sh(2026, 1, 1)
    assert d.preferred_category({"a": (Decimal(5), t), "b": (Decimal(5), t + timedelta(seconds=1))}) == "b"
    assert d.preferred_category({"a": (Decimal(0), t)}) == ""


def test_preferences_table_counts_members_per_category(buyers):
    rfm.build_snapshot(D)
    table = journey.preferences(selectors.Scope(D, D))
    assert [(r["category"], r["members"]) for r in table.rows] == [
        ("food", 2),
        ("beauty", 1),
        ("books", 1),
        ("drink", 1),
    ]
    assert table.rows[0]["share"] == Decimal(2) / Decimal(5)
    s002 = journey.preferences(selectors.Scope(D, D, store=buyers["mixed"].home_store))
    assert [(r["category"], r["members"]) for r in s002.rows] == [("drink", 1)]


def make_scene(**kwargs):
    from campaigns.models import BenefitPackage, Scene

    package = BenefitPackage.objects.create(name="20 points", bonus_points=20)
    return Scene.objects.create(
        name="Food lovers' day", kind=Scene.Kind.MEMBER_DAY, package=package, day=1, end_day=31, **kwargs
    )


def test_preferred_category_is_a_scene_audience(buyers):
    from campaigns.models import SceneGrant
    from campaigns.services import scenes

    rfm.build_snapshot(D)
    scene = make_scene(preferred_category="food")
    assert set(scenes.audience(scene)) == {buyers["returned"], buyers["uncategorised"]}
    groups = scenes.eligible(scene, D + timedelta(days=1), at(D + timedelta(days=1)))
    assert [set(qs) for _key, qs, _end in groups] == [{buyers["returned"], buyers["uncategorised"]}]
    # with the other audience fields: S002's food lovers are none; drink at S002 is the mixed member
    scene.stores.add(buyers["mixed"].home_store)
    assert not scenes.audience(scene).exists()
    scene.preferred_category = "drink"
    assert set(scenes.audience(scene)) == {buyers["mixed"]}
    # a run grants exactly those members
    scene.stores.clear()
    scene.preferred_category = "food"
    scene.save()
    result = scenes.run_scene(scene, on=D + timedelta(days=1))
    assert result.granted == 2
    assert set(SceneGrant.objects.filter(scene=scene).values_list("member_id", flat=True)) == {
        buyers["returned"].pk,
        buyers["uncategorised"].pk,
    }


def test_no_snapshot_no_audience(buyers):
    from campaigns.services import scenes

    assert not scenes.audience(make_scene(preferred_category="food")).exists()


# ---------------------------------------------------------------------------------------------
# funnel
# ---------------------------------------------------------------------------------------------

JUNE = selectors.Scope(date(2026, 6, 1), date(2026, 6, 30))
SNAP = date(2026, 9, 30)


@pytest.fixture
def cohort(shop):
    m = {}
    m["may"] = shop.join(sh(2026, 5, 31, 23, 59, 59))  # the day before the period
    shop.sell(50, sh(2026, 6, 1), member=m["may"])
    shop.sell(50, sh(2026, 6, 2), member=m["may"])
    m["acquired"] = shop.join(sh(2026, 6, 1, 0, 0, 0))  # the period's first second, never bought
    m["late_second"] = shop.join(sh(2026, 6, 2))
    shop.sell(60, sh(2026, 6, 3, 12), member=m["late_second"])
    shop.sell(60, sh(2026, 9, 1, 12, 0, 1), member=m["late_second"])  # 90 days and a second: not retained
    m["retained"] = shop.join(sh(2026, 6, 5))
    shop.sell(70, sh(2026, 6, 5, 12), member=m["retained"])
    shop.sell(70, sh(2026, 9, 3, 12), member=m["retained"])  # exactly 90 days later: retained
    m["referrer"] = shop.join(sh(2026, 6, 10, 9))
    shop.sell(80, sh(2026, 6, 10, 10), member=m["referrer"])
    returned = shop.sell(80, sh(2026, 6, 11), member=m["referrer"])
    shop.refund(returned, 80, sh(2026, 6, 12))  # returned in full: still their second purchase
    m["invited"] = shop.join(sh(2026, 6, 20), referral_code=m["referrer"].referral_code)
    m["last_second"] = shop.join(sh(2026, 6, 30, 23, 59, 59))  # the period's last second
    shop.sell(90, sh(2026, 7, 1), member=m["last_second"])
    m["one_buy_referrer"] = shop.join(sh(2026, 6, 15))
    shop.sell(40, sh(2026, 6, 16), member=m["one_buy_referrer"])  # activated, never retained
    m["august"] = shop.join(sh(2026, 8, 1), referral_code=m["one_buy_referrer"].referral_code)
    m["july"] = shop.join(sh(2026, 7, 1, 0, 0, 0))
    shop.sell(30, sh(2026, 7, 2), member=m["july"])
    m["s002"] = shop.join(sh(2026, 6, 8), "S002")
    shop.sell(30, sh(2026, 6, 9), "S002", member=m["s002"])
    return m


def test_funnel_steps_exact(cohort):
    rfm.build_snapshot(SNAP)
    # acquired: acquired, late_second, retained, referrer, invited, last_second, one_buy_referrer, s002
    assert journey.funnel_counts(JUNE) == {"acquired": 8, "activated": 6, "retained": 2, "referred": 1}
    s001 = selectors.Scope(JUNE.start, JUNE.end, store=cohort["acquired"].home_store)
    assert journey.funnel_counts(s001) == {"acquired": 7, "activated": 5, "retained": 2, "referred": 1}
    table = journey.funnel(JUNE)
    assert [(r["key"], r["members"]) for r in table.rows] == [
        ("acquired", 8),
        ("activated", 6),
        ("retained", 2),
        ("referred", 1),
    ]
    assert [r["from_previous"] for r in table.rows] == [None, Decimal(6) / 8, Decimal(2) / 6, Decimal(1) / 2]
    assert table.rows[3]["of_acquired"] == Decimal(1) / 8
    assert "90" in table.rows[2]["formula"]


def test_funnel_matches_the_definition(cohort):
    from membership.models import Member

    rfm.build_snapshot(SNAP)
    reached = {}
    for s in MemberSnapshot.objects.select_related("member"):
        step = d.funnel_step(
            d.local_day(s.member.joined_at),
            JUNE.start,
            JUNE.end,
            s.first_purchase_at,
            s.second_purchase_at,
            s.referrals,
        )
        reached[s.member_id] = step
    order = list(d.FUNNEL_STEPS)
    counted = {step: sum(1 for v in reached.values() if v and order.index(v) >= i) for i, step in enumerate(order)}
    assert counted == journey.funnel_counts(JUNE)
    by_name = {name: reached[m.pk] for name, m in cohort.items()}
    assert by_name == {
        "may": None,
        "acquired": "acquired",
        "late_second": "activated",
        "retained": "retained",
        "referrer": "referred",
        "invited": "acquired",
        "last_second": "activated",
        "one_buy_referrer": "activated",
        "august": None,
        "july": None,
        "s002": "activated",
    }
    assert Member.objects.get(pk=cohort["invited"].pk).referrer_id == cohort["referrer"].pk


def test_funnel_follows_up_to_the_snapshot_day(cohort):
    # at the end of July, no second purchase of "retained" yet (it came on 09-03)
    rfm.build_snapshot(date(2026, 7, 31))
    assert journey.funnel_counts(JUNE) == {"acquired": 8, "activated": 6, "retained": 1, "referred": 1}


def test_funnel_page_shows_the_steps_chart_and_preferences(cohort, signed_in):
    from analytics.services import rollups

    rollups.rebuild(date(2026, 6, 1), SNAP, snapshot=False)
    rfm.build_snapshot(SNAP)
    client = signed_in("admin")
    response = client.get("/analytics/funnel/?start=2026-06-01&end=2026-06-30")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="funnel-acquired">8<' in body and 'data-testid="funnel-referred">1<' in body
    assert 'data-chart="chart-funnel"' in body and "table-preferences" in body
    csv = client.get("/analytics/table/funnel/?start=2026-06-01&end=2026-06-30&format=csv")
    assert csv.status_code == 200 and "8" in csv.content.decode()
    assert signed_in("clerk1").get("/analytics/funnel/").status_code == 403


def test_scene_admin_takes_the_preferred_category(signed_in):
    admin = signed_in("admin")
    html = admin.get("/admin/campaigns/scene/add/?preferred_category=beauty").content.decode()
    assert 'name="preferred_category"' in html and 'value="beauty"' in html
