"""Month figures (repurchase, conversion) and tier distribution at the end of a day."""

from datetime import date
from decimal import Decimal

import pytest

from analytics import definitions as d
from analytics.models import MonthStats, TierDay
from analytics.services import rollups

from .conftest import sh

pytestmark = pytest.mark.django_db


def test_repurchase_per_store_and_for_the_chain(shop):
    a, b, c = (shop.join(sh(2026, 1, 5)) for _ in range(3))
    new = shop.join(sh(2026, 4, 10), "S002")  # enrolled in April, buys in April: converted
    idle = shop.join(sh(2026, 4, 30, 23, 59, 59))  # enrolled the last second of April, never buys
    shop.sell(100, sh(2026, 4, 1, 0, 0, 0), member=a)  # first second of April
    shop.sell(50, sh(2026, 4, 20), member=a)
    shop.sell(70, sh(2026, 4, 21), "S002", member=a)
    shop.sell(40, sh(2026, 4, 2), member=b)
    shop.sell(60, sh(2026, 4, 3), "S002", member=b)
    sale_c = shop.sell(200, sh(2026, 4, 30, 23, 59, 59), member=c)  # last second of April
    shop.refund(sale_c, 50, sh(2026, 4, 30, 23, 59, 59))
    shop.sell(30, sh(2026, 4, 15), "S002", member=new)
    shop.sell(999, sh(2026, 5, 1, 0, 0, 0), member=b)  # May
    shop.sell(25, sh(2026, 4, 9))  # walk-in: not a member purchase
    assert idle
    rollups.roll_month(date(2026, 4, 30))
    rows = {(r.store.code if r.store else None): r for r in MonthStats.objects.filter(month=date(2026, 4, 1))}
    s1, s2, chain = rows["S001"], rows["S002"], rows[None]
    # S001: a ×2, b ×1, c ×1 → 3 buyers, 1 repeat; amounts 100 + 50 + 40 + 200 − 50
    assert (s1.buyers, s1.repeat_buyers, s1.purchases, s1.member_amount, s1.repeat_amount) == (
        3,
        1,
        4,
        Decimal("340.00"),
        Decimal("150.00"),
    )
    assert (s2.buyers, s2.repeat_buyers, s2.purchases, s2.member_amount) == (3, 0, 3, Decimal("160.00"))
    # the chain: a ×3, b ×2 repeat; c and new once
    assert (chain.buyers, chain.repeat_buyers, chain.purchases, chain.member_amount, chain.repeat_amount) == (
        4,
        2,
        7,
        Decimal("500.00"),
        Decimal("320.00"),
    )
    assert d.repurchase_rate(chain.repeat_buyers, chain.buyers) == Decimal("0.5")
    assert (s1.new_members, s1.converted, s2.new_members, s2.converted) == (1, 0, 1, 1)
    assert (chain.new_members, chain.converted) == (2, 1)


def test_month_rebuilt_twice_is_the_same(shop):
    a = shop.join(sh(2026, 1, 5))
    shop.sell(100, sh(2026, 4, 1), member=a)
    for _ in range(2):
        rollups.roll_month(date(2026, 4, 30))
        assert MonthStats.objects.filter(month=date(2026, 4, 1)).count() == 2  # S001 and the chain


def test_tier_at_the_end_of_each_day(shop):
    a = shop.join(sh(2026, 2, 1), "S001")
    b = shop.join(sh(2026, 2, 1), "S002")
    shop.sell(1000, sh(2026, 2, 10, 23, 59, 59), member=a)  # reaches SILVER on the 10th, last second
    shop.sell(6000, sh(2026, 2, 11, 0, 0, 0), member=b)  # reaches GOLD on the 11th, first second
    for day in (date(2026, 2, 9), date(2026, 2, 10), date(2026, 2, 11)):
        rollups.roll_tier_day(day)

    def on(day):
        return {
            (r.store.code, r.tier.code): r.members
            for r in TierDay.objects.filter(day=day).select_related("store", "tier")
        }

    assert on(date(2026, 2, 9)) == {("S001", "NORMAL"): 1, ("S002", "NORMAL"): 1}
    assert on(date(2026, 2, 10)) == {("S001", "SILVER"): 1, ("S002", "NORMAL"): 1}
    assert on(date(2026, 2, 11)) == {("S001", "SILVER"): 1, ("S002", "GOLD"): 1}
