"""Scene paths that had no test (issue 15): the tiers-with-a-birthday-gift audience, the membership
anniversary, purchase-day milestones, the points budget, lapsing unclaimed benefits and a mall gift."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from campaigns import selectors
from campaigns.models import BenefitPackage, MallItem, MallOrder, Scene, SceneGrant
from campaigns.services import mall, scenes
from core.errors import Invalid
from membership.ledger import discrepancies
from membership.models import Member, Tier

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


def in_tier(member, code):
    Member.objects.filter(pk=member.pk).update(tier=Tier.objects.get(code=code))
    return Member.objects.get(pk=member.pk)


def balance(member):
    return Member.objects.get(pk=member.pk).points_balance


def test_the_demo_birthday_gift_follows_the_tiers_with_a_birthday_gift(campaigns_demo, enrol):
    scene = Scene.objects.get(name="生日礼 200 积分")
    assert scene.birthday_gift_tiers and not scene.tiers.exists()
    gold = in_tier(enrol(birthday="--05-20"), "GOLD")
    silver = in_tier(enrol(birthday="--05-20"), "SILVER")
    assert scenes.run_scene(scene, at=at(2026, 5, 20, 9)).granted == 1
    assert (balance(gold), balance(silver)) == (200, 0)
    # the merchant gives SILVER a birthday gift in the tier's settings: next year SILVER is in
    Tier.objects.filter(code="SILVER").update(birthday_gift=True)
    assert scenes.run_scene(scene, at=at(2027, 5, 20, 9)).granted == 2
    assert (balance(gold), balance(silver)) == (400, 200)
    # and taking GOLD's away takes GOLD out
    Tier.objects.filter(code="GOLD").update(birthday_gift=False)
    assert scenes.run_scene(scene, at=at(2028, 5, 20, 9)).granted == 1
    assert (balance(gold), balance(silver)) == (400, 400)


def test_the_anniversary_of_joining_once_a_year_from_the_first_anniversary(program, enrol):
    pkg = BenefitPackage.objects.create(name="30", bonus_points=30)
    scene = Scene.objects.create(name="anniversary", kind="anniversary", package=pkg, days_before=2)
    old = enrol(joined_at=at(2025, 6, 10, 15))
    new = enrol(joined_at=at(2026, 6, 10, 9))  # joined this year: no anniversary yet
    other = enrol(joined_at=at(2025, 6, 20, 9))
    assert scenes.run_scene(scene, at=at(2026, 6, 7, 9)).granted == 0  # 3 days before
    result = scenes.run_scene(scene, at=at(2026, 6, 8, 9))  # 2 days before
    assert (result.granted, result.occurrence) == (1, "2026")
    assert scenes.run_scene(scene, at=at(2026, 6, 10, 9)).granted == 0  # the same occurrence
    assert [balance(m) for m in (old, new, other)] == [30, 0, 0]
    assert scenes.run_scene(scene, at=at(2027, 6, 10, 9)).granted == 2  # both, a year on
    assert SceneGrant.objects.get(member=new).occurrence == "2027"
    assert [balance(m) for m in (old, new, other)] == [60, 30, 0]


def test_a_purchase_days_milestone_counts_days_not_sales(program, enrol, buy, django_capture_on_commit_callbacks):
    pkg = BenefitPackage.objects.create(name="20", bonus_points=20)
    Scene.objects.create(name="every 2nd day", kind="milestone", package=pkg, step=2, milestone_of="days")
    member = enrol()
    with django_capture_on_commit_callbacks(execute=True):
        buy(member, "10.00", at=at(2026, 6, 1, 10))
        buy(member, "10.00", at=at(2026, 6, 1, 18))  # the same day: still one purchase day
        assert not SceneGrant.objects.exists()
        buy(member, "10.00", at=at(2026, 6, 3, 10))  # the second day
        buy(member, "10.00", at=at(2026, 6, 3, 11))
        buy(member, "10.00", at=at(2026, 6, 4, 0, 1))  # the third
        buy(member, "10.00", at=at(2026, 6, 9, 23, 59))  # the fourth
    occurrences = list(SceneGrant.objects.filter(member=member).order_by("id").values_list("occurrence", flat=True))
    assert occurrences == ["days:2", "days:4"]
    assert balance(member) == 60 + 40


def test_the_points_budget_stops_the_grants_that_would_overspend_it(program, enrol):
    pkg = BenefitPackage.objects.create(name="10", bonus_points=10)
    scene = Scene.objects.create(name="day", kind="member_day", day=12, end_day=14, package=pkg, budget_points=25)
    members = [enrol() for _ in range(4)]
    result = scenes.run_scene(scene, at=at(2026, 6, 12, 9))
    assert (result.granted, result.over_budget) == (2, 2)
    scene.refresh_from_db()
    assert (scene.granted, scene.points_granted) == (2, 20)
    assert sorted(balance(m) for m in members) == [0, 0, 10, 10]
    # the next occurrence has nothing left either: 5 points cannot pay a grant of 10
    assert scenes.run_scene(scene, at=at(2026, 7, 12, 9)).granted == 0
    assert discrepancies() == []


def test_an_unclaimed_benefit_lapses_when_its_window_ends(program, enrol):
    pkg = BenefitPackage.objects.create(name="50", bonus_points=50)
    scene = Scene.objects.create(
        name="claim", kind="member_day", day=12, end_day=14, package=pkg, claim_mode="claim", claim_valid_days=7
    )
    quick, slow = enrol(), enrol()
    assert scenes.run_scene(scene, at=at(2026, 6, 12, 9)).granted == 2
    assert balance(quick) == 0  # nothing until claimed
    scenes.claim(grant_id=SceneGrant.objects.get(member=quick).pk, member=quick, at=at(2026, 6, 14, 23, 0))
    assert balance(quick) == 50
    assert scenes.lapse_unclaimed(at=at(2026, 6, 14, 23, 59)) == 0  # the window is still open
    assert scenes.lapse_unclaimed(at=at(2026, 6, 15, 0, 0)) == 1
    late = SceneGrant.objects.get(member=slow)
    assert late.status == SceneGrant.Status.LAPSED
    assert list(selectors.claimable(slow, at=at(2026, 6, 15, 0, 1))) == []
    with pytest.raises(Invalid):
        scenes.claim(grant_id=late.pk, member=slow, at=at(2026, 6, 15, 0, 1))
    assert balance(slow) == 0
    assert SceneGrant.objects.get(member=quick).status == SceneGrant.Status.CLAIMED


def test_a_mall_gift_reserves_stock_costs_no_points_and_is_picked_up_once(campaigns_demo, enrol, demo_staff):
    mug = MallItem.objects.get(code="MUG")
    MallItem.objects.filter(pk=mug.pk).update(stock=1)
    pkg = BenefitPackage.objects.create(name="mug", mall_item=mug)
    scene = Scene.objects.create(name="gift", kind="member_day", day=12, end_day=14, package=pkg)
    first, second = enrol(), enrol()
    assert scenes.run_scene(scene, at=at(2026, 6, 12, 9)).granted == 2
    order = MallOrder.objects.get()  # one mug in stock: one order; the other grant stands without it
    assert order.member_id in (first.pk, second.pk)
    assert (order.points_spent, order.qty, MallItem.objects.get(pk=mug.pk).stock) == (0, 1, 0)
    assert balance(first) == balance(second) == 0
    assert scenes.run_scene(scene, at=at(2026, 6, 13, 9)).granted == 0  # once per occurrence
    assert MallOrder.objects.count() == 1
    done = mall.fulfil(pickup_code=order.pickup_code, clerk=demo_staff["clerk1"])
    assert done.fulfilled_at is not None
