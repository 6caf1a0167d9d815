"""Points issued / redeemed / expired, stored value in and out, coupons, and the liabilities and LTV
read from the roll-ups: exact values of a small known history."""

from datetime import date
from decimal import Decimal

import pytest

from analytics import selectors
from analytics.models import StoreDay
from analytics.services import rollups

from .conftest import sh

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(shop):
    from campaigns.models import CouponTemplate
    from campaigns.services import coupons
    from membership.services import points

    a = shop.join(sh(2025, 5, 20), "S001")
    shop.join(sh(2025, 5, 21), "S001")  # never buys: halves the LTV
    shop.top_up(a, 300, sh(2025, 6, 1, 9), "S001", plan="TOPUP300")  # ¥300 + ¥40 bonus and 100 points
    shop.sell(100, sh(2025, 6, 1, 10), member=a)  # earns 100
    shop.sell(10, sh(2025, 6, 2, 10), member=a, pay_points=40)  # pays 40 points (¥0.40), earns 9
    shop.sell(80, sh(2025, 6, 3, 10), member=a, pay_stored_value=Decimal("50.00"))  # earns 80
    template = CouponTemplate.objects.create(
        code="X5", name="¥5 off", value=Decimal(5), threshold=Decimal(0), valid_days=30
    )
    coupon = coupons.grant(template=template, member=a, source="manual", idempotency_key="x5", at=sh(2025, 6, 3, 12))
    shop.sell(20, sh(2025, 6, 4, 10), member=a, coupon_code=coupon.code)  # ¥5 off, earns 15
    points.expire_due(at=sh(2027, 1, 1, 0, 0, 0))  # the 2025 lots expire at midnight
    rollups.rebuild(date(2025, 5, 20), date(2025, 6, 7), snapshot=False)
    rollups.rebuild(date(2026, 12, 31), date(2027, 1, 1), snapshot=False)
    return a


def day(d):
    return StoreDay.objects.get(day=d, store__code="S001")


def test_points_issued_redeemed_expired(ledger):
    assert (day(date(2025, 6, 1)).points_issued, day(date(2025, 6, 1)).points_redeemed) == (
        100 + 100,
        0,
    )  # top-up + sale
    d2 = day(date(2025, 6, 2))
    assert (d2.points_issued, d2.points_redeemed, d2.points_net) == (9, 40, -31)
    assert day(date(2025, 6, 4)).points_issued == 15
    new_year = day(date(2027, 1, 1))
    assert (new_year.points_expired, new_year.points_net) == (200 + 9 + 80 + 15 - 40, -(200 + 9 + 80 + 15 - 40))
    assert not StoreDay.objects.filter(day=date(2026, 12, 31)).exists()  # nothing at 23:59:59 on the 31st


def test_stored_value_and_coupons(ledger):
    d1, d3, d4 = day(date(2025, 6, 1)), day(date(2025, 6, 3)), day(date(2025, 6, 4))
    assert (d1.sv_in, d1.sv_out, d1.sv_principal_net, d1.sv_bonus_net) == (
        Decimal("340.00"),
        Decimal("0.00"),
        Decimal("300.00"),
        Decimal("40.00"),
    )
    assert (d3.sv_out, d3.sv_principal_net) == (Decimal("50.00"), Decimal("-50.00"))
    assert (d3.coupons_granted, d4.coupons_used, d4.coupon_discount) == (1, 1, Decimal("5.00"))


def test_liabilities_and_ltv(ledger):
    scope = selectors.Scope(date(2025, 6, 1), date(2025, 6, 7))
    bal = selectors.balances(scope, date(2025, 6, 7))
    assert bal["points"] == 264 and bal["points_liability"] == Decimal("2.64")  # 100 points = ¥1
    assert (bal["sv_principal"], bal["sv_bonus"], bal["sv_liability"]) == (
        Decimal("250.00"),
        Decimal("40.00"),
        Decimal("290.00"),
    )
    assert bal["ltv"] == Decimal("210.00") / 2  # ¥100 + 10 + 80 + 20 by the two members enrolled
    assert selectors.balances(scope, date(2027, 1, 1))["points"] == 0
    weeks = selectors.points_weeks(scope).rows
    assert [(r["day"], r["points_issued"], r["points_redeemed"], r["points_outstanding"]) for r in weeks] == [
        (date(2025, 6, 1), 200, 0, 200),
        (date(2025, 6, 7), 9 + 80 + 15, 40, 264),
    ]
    assert weeks[-1]["sv_liability"] == Decimal("290.00")
