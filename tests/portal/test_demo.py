"""`manage.py seed_demo` loads demo-program.md: a contract tests and benchmarks rely on."""

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_the_demo_program_once(capsys):
    from campaigns.models import CouponTemplate, MallItem, Scene
    from membership.ledger import discrepancies
    from membership.models import Member, PointsEntry, ProgramSettings, Store, Tier, TopUpPlan, User
    from pos.models import Sale

    call_command("seed_demo")
    counts = (Member.objects.count(), Sale.objects.count(), PointsEntry.objects.count())
    call_command("seed_demo")  # twice: nothing more
    assert (Member.objects.count(), Sale.objects.count(), PointsEntry.objects.count()) == counts

    assert set(User.objects.values_list("username", flat=True)) == {"admin", "manager1", "clerk1", "clerk2"}
    assert set(Store.objects.values_list("code", flat=True)) == {"HQ", "S001", "S002"}
    assert list(Tier.objects.values_list("code", "reach_growth", "keep_growth")) == [
        ("NORMAL", 0, 0),
        ("SILVER", 1000, 800),
        ("GOLD", 5000, 4000),
        ("DIAMOND", 20000, 16000),
    ]
    program = ProgramSettings.load()
    assert (program.redeem_points_per_yuan, program.redeem_cap_percent, program.adjustment_limit) == (100, 50, 1000)
    assert set(TopUpPlan.objects.values_list("code", flat=True)) == {"TOPUP100", "TOPUP300", "TOPUP500"}
    assert {"WELCOME10", "UPGRADE20", "COMEBACK15"} <= set(CouponTemplate.objects.values_list("code", flat=True))
    assert list(MallItem.objects.values_list("code", "points_price", "stock", "per_member_limit")) == [
        ("MUG", 1500, 100, 2),
        ("BAG", 500, 500, 5),
        ("CPN10", 900, None, 10),
    ]
    assert Scene.objects.filter(kind="lunar_holiday", month=8, day=15, days_before=7).exists()

    known = Member.objects.get(phone="13800138000")
    assert known.name == "张三" and known.tier.code == "SILVER" and check_password("member-demo", known.password)
    assert Member.objects.count() >= 200
    assert set(Member.objects.values_list("tier__code", flat=True)) == {"NORMAL", "SILVER", "GOLD", "DIAMOND"}
    assert Sale.objects.filter(member__isnull=True).exists() and Sale.objects.filter(member__isnull=False).exists()
    assert discrepancies() == []


def test_the_demo_history_leaves_members_of_other_stores_alone(demo_program):
    """bench.generate's chain has members at S001…S200 and clerks the demo does not know: seed_demo
    after it failed with KeyError 'S084' (the demo's history sold to every member at the member's
    store). The history is the demo's own members' (none here), sold by the demo's clerks."""
    from membership.models import Role, Store, User
    from membership.services import enrolment
    from pos import demo
    from pos.models import Sale

    other = Store.objects.create(code="S084", name="门店084", parent=Store.objects.get(code="HQ"))
    User.objects.create(username="loadclerk", role=Role.CLERK, store=Store.objects.get(code="S001"))
    stranger = enrolment.enrol(phone="15000000084", name="路人", store=other)
    demo.seed()
    assert Sale.objects.filter(receipt_no__startswith="DEMO-W").count() == demo.WALK_IN_SALES
    assert not Sale.objects.filter(member=stranger).exists()
    assert set(Sale.objects.values_list("clerk__username", flat=True)) == {"clerk1", "clerk2"}
