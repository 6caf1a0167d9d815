"""Coupons at the sale, the points mall, check-in and referral rewards."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from campaigns.models import Coupon, CouponTemplate, MallItem, MallOrder, ReferralReward
from campaigns.services import coupons, engagement, mall
from campaigns.tasks import monthly_tier_coupons
from core.errors import Conflict, CouponInvalid, Forbidden, InsufficientPoints, LimitReached, OutOfStock
from membership.ledger import discrepancies
from membership.models import Member, Tier
from membership.services import points

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def api(demo_staff, campaigns_demo):
    from rest_framework.authtoken.models import Token

    def client(username):
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.get_or_create(user=demo_staff[username])[0].key)
        return c

    return client


def welcome(member):
    return coupons.grant(
        template=CouponTemplate.objects.get(code="WELCOME10"),
        member=member,
        source="test",
        idempotency_key=f"w:{member.pk}",
    )


def test_a_coupon_pays_part_of_a_sale_once(api, enrol):
    member = enrol()
    coupon = welcome(member)
    clerk = api("clerk1")
    body = clerk.post(
        "/api/v1/sales/",
        {"receipt_no": "C1", "member": member.member_no, "amount": "80.00", "coupon_code": coupon.code.lower()},
        format="json",
    ).json()
    assert (body["coupon_value"], body["cash_due"], body["points_earned"]) == ("10.00", "70.00", 70)
    coupon.refresh_from_db()
    assert coupon.status == "used" and coupon.used_sale_ref == "C1" and coupon.discount == Decimal("10.00")
    again = clerk.post(
        "/api/v1/sales/",
        {"receipt_no": "C2", "member": member.member_no, "amount": "80.00", "coupon_code": coupon.code},
        format="json",
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "coupon_invalid"


def test_coupon_rules(campaigns_demo, enrol):
    from membership.models import Store

    member, other = enrol(), enrol()
    coupon = welcome(member)
    store = Store.objects.get(code="S001")
    with pytest.raises(CouponInvalid) as err:
        coupons.check(code=coupon.code, member=member, amount=Decimal("49.99"), store=store)
    assert "50" in str(err.value.message)
    with pytest.raises(CouponInvalid):
        coupons.check(code=coupon.code, member=other, amount=Decimal("100"), store=store)
    with pytest.raises(CouponInvalid):
        coupons.check(
            code=coupon.code,
            member=member,
            amount=Decimal("100"),
            store=store,
            at=coupon.valid_until + timedelta(seconds=1),
        )
    only_s002 = CouponTemplate.objects.create(code="S2", name="S002 only", value=Decimal(5), valid_days=5)
    only_s002.stores.add(Store.objects.get(code="S002"))
    c2 = coupons.grant(template=only_s002, member=member, source="t", idempotency_key="s2")
    with pytest.raises(CouponInvalid):
        coupons.check(code=c2.code, member=member, amount=Decimal("100"), store=store)
    pct = CouponTemplate.objects.create(
        code="P", name="12% off", kind="percent_off", value=Decimal(12), max_discount=Decimal("20.00"), valid_days=5
    )
    c3 = coupons.grant(template=pct, member=member, source="t", idempotency_key="p")
    assert coupons.discount_for(c3, Decimal("99.99")) == Decimal("11.99")
    assert coupons.discount_for(c3, Decimal("500.00")) == Decimal("20.00")
    assert coupons.expire_due(at=coupon.valid_until + timedelta(days=1)) == 3
    assert Coupon.objects.filter(status="expired").count() == 3


def test_mall_order_reserves_stock_and_spends_points_then_pickup(api, enrol):
    member = enrol()
    points.grant(member=member, points=3200, source="manual", idempotency_key="seed")
    clerk = api("clerk1")
    items = clerk.get("/api/v1/mall/items/").json()["results"]
    assert [i["code"] for i in items] == ["MUG", "BAG", "CPN10"]
    response = clerk.post(
        "/api/v1/mall/orders/",
        {"member": member.member_no, "item": "MUG", "qty": 2},
        format="json",
        HTTP_IDEMPOTENCY_KEY="o-1",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["points_spent"], body["points_balance"]) == (3000, 200) and len(body["pickup_code"]) == 8
    assert MallItem.objects.get(code="MUG").stock == 98
    replay = clerk.post(
        "/api/v1/mall/orders/",
        {"member": member.member_no, "item": "MUG", "qty": 2},
        format="json",
        HTTP_IDEMPOTENCY_KEY="o-1",
    )
    assert replay.json() == body and MallOrder.objects.count() == 1
    limit = clerk.post("/api/v1/mall/orders/", {"member": member.member_no, "item": "MUG"}, format="json")
    assert limit.status_code == 409 and limit.json()["error"]["code"] == "limit_reached"
    poor = clerk.post("/api/v1/mall/orders/", {"member": member.member_no, "item": "BAG"}, format="json")
    assert poor.status_code == 409 and poor.json()["error"]["code"] == "insufficient_points"
    url = f"/api/v1/mall/orders/{body['pickup_code']}/fulfil/"
    done = clerk.post(url)
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
    twice = clerk.post(url)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "conflict"
    assert clerk.post("/api/v1/mall/orders/00000000/fulfil/").status_code == 404
    assert discrepancies() == []


def test_out_of_stock_and_tier_restriction(campaigns_demo, enrol):
    member = enrol()
    points.grant(member=member, points=10000, source="manual", idempotency_key="seed")
    item = MallItem.objects.create(code="LAST", name="last one", points_price=100, stock=1)
    mall.order(member=member, item=item, idempotency_key="a")
    with pytest.raises(OutOfStock):
        mall.order(member=member, item=item, idempotency_key="b")
    vip = MallItem.objects.create(code="VIP", name="vip", points_price=100)
    vip.tiers.add(Tier.objects.get(code="GOLD"))
    with pytest.raises(Forbidden):
        mall.order(member=member, item=vip, idempotency_key="c")
    assert Member.objects.get(pk=member.pk).points_balance == 9900


def test_cancelling_returns_points_and_stock(campaigns_demo, enrol):
    member = enrol()
    points.grant(member=member, points=500, source="manual", idempotency_key="seed")
    bag = MallItem.objects.get(code="BAG")
    order = mall.order(member=member, item=bag, idempotency_key="o")
    assert Member.objects.get(pk=member.pk).points_balance == 0
    mall.cancel(order=order)
    assert Member.objects.get(pk=member.pk).points_balance == 500
    assert MallItem.objects.get(code="BAG").stock == 500
    with pytest.raises(Conflict):
        mall.cancel(order=order)
    assert discrepancies() == []


def test_a_coupon_item_issues_its_coupon_at_once(campaigns_demo, enrol):
    member = enrol()
    points.grant(member=member, points=900, source="manual", idempotency_key="seed")
    order = mall.order(member=member, item=MallItem.objects.get(code="CPN10"), idempotency_key="o")
    assert order.status == "fulfilled"
    assert Coupon.objects.get(member=member).template.code == "MALL10"
    with pytest.raises(InsufficientPoints):
        mall.order(member=member, item=MallItem.objects.get(code="CPN10"), idempotency_key="o2")


def test_check_in_streak_bonus_every_seventh_day(campaigns_demo, enrol):
    member = enrol()
    got = [engagement.check_in(member=member, at=at(2026, 6, d, 9)).points for d in range(1, 9)]
    assert got == [5, 5, 5, 5, 5, 5, 35, 5]
    with pytest.raises(Conflict):
        engagement.check_in(member=member, at=at(2026, 6, 8, 23, 59))
    assert engagement.check_in(member=member, at=at(2026, 6, 10, 0, 0)).streak == 1  # a day was missed
    assert Member.objects.get(pk=member.pk).points_balance == 5 * 8 + 30 + 5


def test_referral_reward_on_the_first_purchase_over_the_threshold(
    campaigns_demo, enrol, buy, django_capture_on_commit_callbacks
):
    inviter = enrol()
    invited = enrol(referral_code=inviter.referral_code)
    with django_capture_on_commit_callbacks(execute=True):
        buy(invited, "49.99")
    assert not ReferralReward.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        buy(invited, "50.00")
        buy(invited, "80.00")
    reward = ReferralReward.objects.get()
    assert (reward.inviter, reward.invited, reward.points) == (inviter, invited, 100)
    assert Member.objects.get(pk=inviter.pk).points_balance == 100


def test_monthly_tier_coupons_by_quota_once_a_month(campaigns_demo, enrol):
    normal = enrol()
    gold = enrol()
    Member.objects.filter(pk=gold.pk).update(tier=Tier.objects.get(code="GOLD"))
    assert monthly_tier_coupons("2026-12") == 1 + 3
    assert monthly_tier_coupons("2026-12") == 0
    assert Coupon.objects.filter(member=normal).count() == 1 and Coupon.objects.filter(member=gold).count() == 3
    assert monthly_tier_coupons("2027-01") == 4


def test_limit_per_member_counts_open_orders_only(campaigns_demo, enrol):
    member = enrol()
    points.grant(member=member, points=10000, source="manual", idempotency_key="seed")
    mug = MallItem.objects.get(code="MUG")
    first = mall.order(member=member, item=mug, qty=2, idempotency_key="a")
    with pytest.raises(LimitReached):
        mall.order(member=member, item=mug, idempotency_key="b")
    mall.cancel(order=first)
    assert mall.order(member=member, item=mug, qty=2, idempotency_key="c").qty == 2
