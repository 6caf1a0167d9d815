"""The paid membership card (demo-program.md: PLUS ¥99 or 9,900 points for 365 days, points ×1.5 on top
of the tier, a PLUS20 coupon on the 1st of each month, renewals add days, a manager refunds pro rata)."""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from campaigns.models import Coupon
from campaigns.services import paid_cards
from campaigns.tasks import monthly_paid_card_coupons
from core.errors import Forbidden, InsufficientPoints, Invalid
from membership.ledger import discrepancies
from membership.models import AuditLog, Member, PaidCard, PaidCardProduct, PointsEntry, Store
from membership.services import paid_cards as member_paid_cards
from membership.services import points, purchases

pytestmark = pytest.mark.django_db
D = Decimal
SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, 10, tzinfo=SH)
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def plus(campaigns_demo):
    return PaidCardProduct.objects.get(code="PLUS")


@pytest.fixture
def store(demo_staff):
    return Store.objects.get(code="S001")


def buy(member, store, clerk, amount, at, key):
    return purchases.record_purchase(
        member=Member.objects.get(pk=member.pk),
        store=store,
        reference=key,
        idempotency_key=key,
        amount=D(amount),
        acting_user=clerk,
        at=at,
    )


def test_the_demo_plus_card(plus):
    assert (
        plus.price,
        plus.points_price,
        plus.days,
        plus.points_multiplier,
        plus.monthly_coupon_code,
        plus.discount_rate,
    ) == (D("99.00"), 9900, 365, D("1.50"), "PLUS20", D("0.00"))


def test_plus_earns_on_top_of_the_tier_and_gives_the_monthly_coupon(plus, enrol, store, demo_staff):
    clerk = demo_staff["clerk1"]
    member = enrol()
    assert buy(member, store, clerk, "100.00", T0, "s0").points_earned == 100
    card = paid_cards.buy(
        member=member, product=plus, pay_with="money", idempotency_key="k1", store=store, acting_user=clerk, at=T0
    )
    assert (card.paid_amount, card.paid_points, card.ends_at) == (D("99.00"), 0, T0 + timedelta(days=365))
    # this month's PLUS20 at once; the run on the 1st of next month gives the next, a re-run nothing more
    assert Coupon.objects.filter(member=member, template__code="PLUS20").count() == 1
    assert paid_cards.monthly_coupons(at=T0) == 0  # March's was given with the purchase
    assert paid_cards.monthly_coupons(at=datetime(2026, 4, 1, 6, tzinfo=SH)) == 1
    assert paid_cards.monthly_coupons(at=datetime(2026, 4, 1, 7, tzinfo=SH)) == 0
    assert Coupon.objects.filter(member=member, template__code="PLUS20").count() == 2
    # NORMAL ×1.0 × PLUS ×1.5
    assert buy(member, store, clerk, "100.00", T0 + timedelta(days=1), "s1").points_earned == 150
    # SILVER ×1.2 × PLUS ×1.5 = ×1.8
    buy(member, store, clerk, "1000.00", T0 + timedelta(days=2), "s2")
    member.refresh_from_db()
    assert member.tier.code == "SILVER"
    assert buy(member, store, clerk, "100.00", T0 + timedelta(days=3), "s3").points_earned == 180
    # after the card ends: the tier's multiplier alone
    assert buy(member, store, clerk, "100.00", T0 + timedelta(days=366), "s4").points_earned == 120
    assert discrepancies() == []


def test_renewing_adds_days_and_points_pay_for_it(plus, enrol, store, demo_staff):
    member = enrol()
    points.grant(member=member, points=15_000, source=PointsEntry.Source.SCENE, idempotency_key="g", at=T0)
    first = paid_cards.buy(member=member, product=plus, pay_with="points", idempotency_key="p1", at=T0)
    assert (first.paid_amount, first.paid_points) == (D("0.00"), 9900)
    again = paid_cards.buy(member=member, product=plus, pay_with="points", idempotency_key="p1", at=T0)
    assert again.pk == first.pk  # a retried purchase is the same purchase
    second = paid_cards.buy(
        member=member, product=plus, pay_with="money", idempotency_key="p2", at=T0 + timedelta(days=100)
    )
    assert second.starts_at == first.ends_at and second.ends_at == T0 + timedelta(days=730)
    member.refresh_from_db()
    assert member.points_balance == 15_000 - 9900 and member.paid_card_until == T0 + timedelta(days=730)
    with pytest.raises(InsufficientPoints):  # 5,100 points left: not enough for another year with points
        paid_cards.buy(
            member=member, product=plus, pay_with="points", idempotency_key="p3", at=T0 + timedelta(days=101)
        )
    assert discrepancies() == []


def test_a_manager_refunds_pro_rata(plus, enrol, store, demo_staff):
    member = enrol()
    points.grant(member=member, points=9900, source=PointsEntry.Source.SCENE, idempotency_key="g", at=T0)
    paid_cards.buy(member=member, product=plus, pay_with="points", idempotency_key="a", at=T0)
    paid_cards.buy(member=member, product=plus, pay_with="money", idempotency_key="b", at=T0)  # renewed
    with pytest.raises(Forbidden):
        member_paid_cards.refund(member=member, acting_user=demo_staff["clerk1"], at=T0 + timedelta(days=73))
    refund = member_paid_cards.refund(
        member=member, acting_user=demo_staff["manager1"], store=store, at=T0 + timedelta(days=73)
    )
    # the first year is 292/365 unused: 7,920 points back; the renewal year is unused: ¥99.00 back
    assert (refund.amount, refund.points, refund.purchases) == (D("99.00"), 7920, 2)
    member.refresh_from_db()
    assert member.points_balance == 7920 and member_paid_cards.active_product(member, T0 + timedelta(days=74)) is None
    assert list(
        PaidCard.objects.filter(member=member).order_by("starts_at").values_list("refund_amount", "refund_points")
    ) == [(D("0.00"), 7920), (D("99.00"), 0)]
    with pytest.raises(Invalid):
        member_paid_cards.refund(member=member, acting_user=demo_staff["manager1"], at=T0 + timedelta(days=74))
    assert discrepancies() == []


def test_the_counter_sells_plus_and_a_manager_refunds_it(plus, enrol, signed_in):
    member = enrol()
    clerk = signed_in("clerk1")
    page = clerk.get(f"/counter/?m={member.member_no}").content.decode()
    assert 'data-testid="paid-card-panel"' in page and "PLUS" in page
    assert 'data-testid="paid-card-buy-points"' in page and "disabled" in page  # no points yet: says why
    sell = {"member_no": member.member_no, "product": "PLUS", "pay_with": "money", "once": "x1"}
    # issue 31: one click sold it; the first post says what the sale does and asks to confirm
    asked = re.sub(r"\s+", " ", clerk.post("/counter/paid-card/", sell, **HX).content.decode())
    assert 'data-testid="confirm"' in asked and "¥99.00" in asked and 'name="once" value="x1"' in asked
    assert not PaidCard.objects.exists() and not AuditLog.objects.filter(action="paid_card.buy").exists()
    response = clerk.post("/counter/paid-card/", {**sell, "confirm": "yes"}, **HX)
    html = re.sub(r"\s+", " ", response.content.decode())
    assert response.status_code == 200 and 'data-testid="result-paid-card-cash">¥99.00<' in html
    assert 'data-testid="member-paid-card"' in html
    assert 'data-testid="paid-card-refund"' not in html  # a clerk cannot refund
    manager = signed_in("manager1")
    refunded = manager.post("/counter/paid-card/refund/", {"member_no": member.member_no}, **HX)
    assert 'data-testid="result-paid-card-refund">¥99.00<' in re.sub(r"\s+", " ", refunded.content.decode())


def test_a_member_buys_plus_with_points_on_the_member_pages(plus, enrol):
    member = enrol()
    points.grant(member=member, points=10_000, source=PointsEntry.Source.SCENE, idempotency_key="g")
    Member.objects.filter(pk=member.pk).update(password=make_password("pw-123456"))
    mobile = Client()
    assert mobile.post("/m/login/", {"phone": member.phone, "password": "pw-123456"}).status_code == 302
    assert 'data-testid="home-paid-card-offer"' in mobile.get("/m/").content.decode()
    page = mobile.get("/m/plus/").content.decode()
    assert 'data-testid="paid-card-buy"' in page
    once = re.search(r'name="once" value="(\w+)"', page).group(1)
    assert mobile.post("/m/plus/PLUS/buy/", {"once": once}).status_code == 302
    assert mobile.post("/m/plus/PLUS/buy/", {"once": once}).status_code == 302  # a double tap buys once
    member.refresh_from_db()
    assert member.points_balance == 100 and PaidCard.objects.filter(member=member).count() == 1
    assert 'data-testid="home-paid-card"' in mobile.get("/m/").content.decode()
    assert Coupon.objects.filter(member=member, template__code="PLUS20").count() == 1
    # the scheduled task gives April's
    assert monthly_paid_card_coupons(month="2099-04") == 1
