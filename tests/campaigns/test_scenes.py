"""Scenes: once per member per occurrence, on the right dates, in budget, A/B stable."""

from datetime import date, datetime
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import BenefitPackage, Coupon, CouponTemplate, Notification, Scene, SceneGrant
from campaigns.services import scenes
from campaigns.tasks import run_scenes
from membership.ledger import discrepancies
from membership.models import Member, PointsEntry, Tier

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


def gold(member):
    Member.objects.filter(pk=member.pk).update(tier=Tier.objects.get(code="GOLD"))
    return Member.objects.get(pk=member.pk)


def birthday_scene():
    return Scene.objects.get(name="生日礼 200 积分")


def test_birthday_points_for_gold_and_diamond_once_a_year(campaigns_demo, enrol):
    g = gold(enrol(birthday="--05-20"))
    normal = enrol(birthday="1990-05-20")
    other_day = gold(enrol(birthday="--05-27"))
    result = scenes.run_scene(birthday_scene(), at=at(2026, 5, 14, 9))  # 6 days before
    assert result.granted == 1 and result.occurrence == "2026"
    assert Member.objects.get(pk=g.pk).points_balance == 200
    assert Member.objects.get(pk=normal.pk).points_balance == 0
    assert Member.objects.get(pk=other_day.pk).points_balance == 0
    assert scenes.run_scene(birthday_scene(), at=at(2026, 5, 20, 9)).granted == 0  # the same occurrence
    assert scenes.run_scene(birthday_scene(), at=at(2027, 5, 20, 9)).granted == 1  # next year
    assert Notification.objects.filter(member=g, channel="inbox").count() == 2
    assert "200" in Notification.objects.filter(member=g).first().body
    assert discrepancies() == []


def test_a_scene_reads_its_eligible_members_once_and_grants_them_in_batches(campaigns_demo, enrol):
    """run_scene reads the eligible ids in one query, then grants batch by batch (each its own
    transaction): asking again for every batch walked the whole member table each time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    members = [gold(enrol(birthday="--05-20")) for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        result = scenes.run_scene(birthday_scene(), at=at(2026, 5, 20, 9), batch_size=2)
    assert result.granted == 3
    reads = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "membership_member"."id" AS "pk"')
    ]
    assert len(reads) == 1, reads
    assert SceneGrant.objects.filter(member__in=members).count() == 3
    assert all(m.points_balance == 200 for m in Member.objects.filter(pk__in=[m.pk for m in members]))
    assert discrepancies() == []


def test_a_scene_at_2359_and_at_0000_shanghai(campaigns_demo, enrol):
    g = gold(enrol(birthday="--05-20"))
    # 23:59 on 13 May is still 7 days before: not in the window
    assert scenes.run_scene(birthday_scene(), at=at(2026, 5, 13, 23, 59)).granted == 0
    # 00:00 on 14 May (16:00 UTC on the 13th) is in it
    assert scenes.run_scene(birthday_scene(), at=at(2026, 5, 14, 0, 0)).granted == 1
    assert SceneGrant.objects.get(member=g).occurrence == "2026"


def test_29_february_birthdays_are_celebrated_on_28_february_in_common_years(campaigns_demo, enrol):
    leap = gold(enrol(birthday="--02-29"))
    assert scenes.run_scene(birthday_scene(), at=at(2027, 2, 28, 9)).granted == 1
    assert SceneGrant.objects.get(member=leap).occurrence == "2027"


def test_running_every_scene_twice_on_a_day_grants_nothing_the_second_time(campaigns_demo, enrol, buy):
    g = gold(enrol(birthday="--11-25"))
    quiet = enrol()
    buy(quiet, "100.00", at=at(2026, 6, 1, 10))
    with (
        mock.patch("core.clock.now", return_value=at(2026, 11, 23, 8, 30)),
        mock.patch("campaigns.services.scenes.now", return_value=at(2026, 11, 23, 8, 30)),
    ):
        first = run_scenes()
        before = (SceneGrant.objects.count(), Coupon.objects.count(), PointsEntry.objects.count())
        second = run_scenes()
    assert first >= 2 and second == 0
    assert (SceneGrant.objects.count(), Coupon.objects.count(), PointsEntry.objects.count()) == before
    assert SceneGrant.objects.filter(member=g, scene=birthday_scene()).exists()
    assert (
        Coupon.objects.filter(member=quiet, template__code="COMEBACK15").count()
        + SceneGrant.objects.filter(member=quiet, status="holdout").count()
        == 1
    )


def test_a_crash_in_the_middle_and_a_rerun_grant_each_member_once(campaigns_demo, enrol):
    members = [gold(enrol(birthday="--05-20")) for _ in range(7)]
    real = scenes.grant_batch
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    with mock.patch.object(scenes, "grant_batch", crashing), pytest.raises(RuntimeError):
        scenes.run_scene(birthday_scene(), at=at(2026, 5, 20, 9), batch_size=3)
    assert SceneGrant.objects.count() == 3  # the first batch committed, the second rolled back
    assert scenes.run_scene(birthday_scene(), at=at(2026, 5, 20, 10), batch_size=3).granted == 4
    assert sorted(SceneGrant.objects.values_list("member_id", flat=True)) == sorted(m.pk for m in members)
    assert all(Member.objects.get(pk=m.pk).points_balance == 200 for m in members)
    assert discrepancies() == []


def test_the_birthday_month_doubles_points_through_the_earn_rule(campaigns_demo, enrol, buy):
    member = enrol(birthday="1990-05-20")
    buy(member, "1000.00", at=at(2026, 4, 2, 12))
    result = buy(member, "300.00", pay_points=100, at=at(2026, 5, 20, 15))
    assert result.points_earned == 717  # the worked example of demo-program.md, with the real scene
    assert buy(member, "100.00", at=at(2026, 6, 1, 12)).points_earned == 120


def test_the_largest_multiplier_wins(campaigns_demo, enrol, buy):
    born_in_september = enrol(birthday="--09-01")
    other = enrol(birthday="--03-01")
    # Mid-Autumn 2026 is 25 September; ×1.5 from the 18th; the September birthday month gives ×2
    assert buy(born_in_september, "100.00", at=at(2026, 9, 20, 12)).points_earned == 200
    assert buy(other, "100.00", at=at(2026, 9, 20, 12)).points_earned == 150
    assert buy(other, "100.00", at=at(2026, 9, 26, 12)).points_earned == 100


def test_welcome_coupon_for_a_member_enrolled_through_the_api(
    campaigns_demo, demo_staff, django_capture_on_commit_callbacks
):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.get_or_create(user=demo_staff["clerk1"])[0].key)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/members/", {"phone": "13800138000", "name": "张三"}, format="json")
    assert response.status_code == 201
    coupon = Coupon.objects.get(member__member_no=response.json()["member_no"])
    assert coupon.template.code == "WELCOME10" and coupon.status == "available"
    assert (coupon.valid_until - coupon.valid_from).days == 30
    listed = client.get(f"/api/v1/members/{response.json()['member_no']}/coupons/").json()
    assert [c["code"] for c in listed["results"]] == [coupon.code]
    assert Notification.objects.get(member=coupon.member).title == "欢迎入会"


def test_an_upgrade_makes_a_claimable_coupon_valid_7_days_after_claiming(
    campaigns_demo, enrol, buy, django_capture_on_commit_callbacks
):
    member = enrol()
    with django_capture_on_commit_callbacks(execute=True):
        buy(member, "1200.00")
    grant = SceneGrant.objects.get(member=member, scene__kind="tier_upgrade")
    assert grant.status == "claimable" and not Coupon.objects.filter(member=member, template__code="UPGRADE20")
    scenes.claim(grant_id=grant.pk, member=member)
    coupon = Coupon.objects.get(member=member, template__code="UPGRADE20")
    assert (coupon.valid_until - coupon.valid_from).days == 7
    with pytest.raises(Exception):
        scenes.claim(grant_id=grant.pk, member=member)  # once


def test_win_back_once_per_180_days(campaigns_demo, enrol, buy):
    scene = Scene.objects.get(kind="winback")
    scene.holdout_percent = 0
    scene.save()
    member = enrol()
    buy(member, "100.00", at=at(2026, 1, 1, 10))
    assert scenes.run_scene(scene, at=at(2026, 3, 1, 9)).granted == 0  # 59 days
    assert scenes.run_scene(scene, at=at(2026, 4, 2, 9)).granted == 1  # 91 days
    assert scenes.run_scene(scene, at=at(2026, 4, 3, 9)).granted == 0  # cooldown
    assert scenes.run_scene(scene, at=at(2026, 9, 30, 9)).granted == 1  # 181 days later
    assert Coupon.objects.filter(member=member, template__code="COMEBACK15").count() == 2


def test_milestone_every_third_purchase(program, enrol, buy, django_capture_on_commit_callbacks):
    pkg = BenefitPackage.objects.create(name="50", bonus_points=50)
    Scene.objects.create(name="every 3rd", kind="milestone", package=pkg, step=3, milestone_of="count")
    member = enrol()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(7):
            buy(member, "10.00")
    assert list(SceneGrant.objects.filter(member=member).values_list("occurrence", flat=True).order_by("id")) == [
        "count:3",
        "count:6",
    ]
    assert Member.objects.get(pk=member.pk).points_balance == 70 + 100


def test_budget_caps_the_grants(program, enrol):
    pkg = BenefitPackage.objects.create(name="10", bonus_points=10)
    scene = Scene.objects.create(name="member day", kind="member_day", day=12, end_day=14, package=pkg, budget_grants=2)
    for _ in range(4):
        enrol()
    result = scenes.run_scene(scene, at=at(2026, 6, 12, 9))
    assert (result.granted, result.over_budget) == (2, 2)
    scene.refresh_from_db()
    assert scene.granted == 2 and SceneGrant.objects.count() == 2


def test_activation_and_post_purchase_offsets(program, enrol, buy):
    pkg = BenefitPackage.objects.create(name="5", bonus_points=5)
    activation = Scene.objects.create(name="activate", kind="activation", package=pkg, offsets="1,3")
    care = Scene.objects.create(name="care", kind="post_purchase", package=pkg, offsets="2,7")
    idle = enrol(joined_at=at(2026, 6, 1, 10))
    buyer = enrol(joined_at=at(2026, 6, 1, 10))
    purchase = buy(buyer, "10.00", at=at(2026, 6, 1, 11)).purchase
    assert scenes.run_scene(activation, at=at(2026, 6, 2, 9)).granted == 1  # day 1, no purchase yet
    assert scenes.run_scene(activation, at=at(2026, 6, 4, 9)).granted == 1  # day 3
    assert SceneGrant.objects.filter(scene=activation, member=idle).count() == 2
    # post-purchase care counts from the purchase's own time (48 h), and its occurrence is the purchase
    assert scenes.run_scene(care, at=at(2026, 6, 3, 10, 59)).granted == 0
    assert scenes.run_scene(care, at=at(2026, 6, 3, 11)).granted == 1  # 48 h after
    assert SceneGrant.objects.get(scene=care).occurrence == f"purchase:{purchase.pk}+2"


def test_ab_split_is_stable_and_the_holdout_gets_nothing(program, enrol):
    a = BenefitPackage.objects.create(name="A", bonus_points=10)
    b = BenefitPackage.objects.create(name="B", bonus_points=20)
    scene = Scene.objects.create(
        name="ab", kind="member_day", day=1, end_day=28, package=a, package_b=b, holdout_percent=20
    )
    members = [enrol() for _ in range(40)]
    variants = {m.pk: scenes.variant_for(scene, m.pk) for m in members}
    assert variants == {m.pk: scenes.variant_for(scene, m.pk) for m in members}  # stable
    assert set(variants.values()) == {"A", "B", "holdout"}
    scenes.run_scene(scene, at=at(2026, 6, 5, 9))
    for m in members:
        grant = SceneGrant.objects.get(member=m)
        balance = Member.objects.get(pk=m.pk).points_balance
        assert grant.variant == variants[m.pk]
        assert balance == {"A": 10, "B": 20, "holdout": 0}[grant.variant]


def test_dry_run_writes_nothing(campaigns_demo, enrol):
    gold(enrol(birthday="--05-20"))
    result = scenes.run_scene(birthday_scene(), at=at(2026, 5, 20, 9), dry_run=True)
    assert result.granted == 1 and len(result.preview) == 1
    assert SceneGrant.objects.count() == 0 and PointsEntry.objects.count() == 0


def test_audience_by_store_consent_and_tag(program, enrol):
    from membership.models import Store, Tag

    pkg = BenefitPackage.objects.create(name="p", bonus_points=1)
    scene = Scene.objects.create(name="vip", kind="member_day", day=1, end_day=28, package=pkg, consent_required=True)
    vip = Tag.objects.create(name="VIP")
    scene.tags.add(vip)
    scene.stores.add(Store.objects.get(code="S001"))
    yes = enrol(marketing_consent=True)
    yes.tags.add(vip)
    no_consent = enrol()
    no_consent.tags.add(vip)
    enrol(marketing_consent=True)  # no tag
    other_store = enrol(marketing_consent=True, store=Store.objects.get(code="S002"))
    other_store.tags.add(vip)
    assert list(scenes.audience(scene).values_list("pk", flat=True)) == [yes.pk]


def test_sms_needs_consent_and_every_send_is_recorded(program, enrol, settings, django_capture_on_commit_callbacks):
    from core.sms import LocmemSmsBackend

    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    pkg = BenefitPackage.objects.create(name="p", bonus_points=1)
    scene = Scene.objects.create(
        name="sms",
        kind="member_day",
        day=1,
        end_day=28,
        package=pkg,
        channel="sms",
        message_title="会员日",
        message_body="{name} 您好",
    )
    agreed = enrol(name="甲", marketing_consent=True)
    enrol(name="乙")
    with django_capture_on_commit_callbacks(execute=True):
        scenes.run_scene(scene, at=at(2026, 6, 5, 9))
        assert LocmemSmsBackend.outbox == []  # sent after the grant's commit, not inside it
    assert LocmemSmsBackend.outbox == [(agreed.phone, "会员日 甲 您好")]
    assert sorted(Notification.objects.values_list("status", flat=True)) == ["no_consent", "sent"]


def test_coupon_template_quantity_is_never_exceeded(program, enrol):
    template = CouponTemplate.objects.create(code="FEW", name="few", value=Decimal(5), total_quantity=2, valid_days=10)
    pkg = BenefitPackage.objects.create(name="few")
    pkg.coupons.add(template)
    scene = Scene.objects.create(name="few", kind="member_day", day=1, end_day=28, package=pkg)
    for _ in range(3):
        enrol()
    scenes.run_scene(scene, at=at(2026, 6, 5, 9))
    template.refresh_from_db()
    assert template.issued == 2 and Coupon.objects.count() == 2
    assert date(2026, 6, 15) == Coupon.objects.first().valid_until.astimezone(SH).date()


def test_a_purchase_queues_campaign_work_only_when_a_milestone_scene_or_a_referral_needs_it(
    program, enrol, buy, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns import tasks

    queued = []
    monkeypatch.setattr(tasks.purchase_recorded, "delay", lambda purchase_id, event_id: queued.append(purchase_id))
    inviter, plain = enrol(), enrol()
    invited = enrol(referral_code=inviter.referral_code)
    with django_capture_on_commit_callbacks(execute=True):
        buy(plain, "10.00")
    assert queued == []  # nothing listens: no task, no broker round trip at the till
    with django_capture_on_commit_callbacks(execute=True):
        referred = buy(invited, "10.00")
    assert queued == [referred.purchase.pk]
    pkg = BenefitPackage.objects.create(name="50", bonus_points=50)
    Scene.objects.create(name="every 3rd", kind="milestone", package=pkg, step=3, milestone_of="count")
    with django_capture_on_commit_callbacks(execute=True):
        later = buy(plain, "10.00")  # the scene's save cleared this process's copy at once
    assert queued == [referred.purchase.pk, later.purchase.pk]
