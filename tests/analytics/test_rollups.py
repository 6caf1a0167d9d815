"""Daily roll-ups: exact figures of small known histories, local-day edges, returns, idempotency."""

from datetime import date
from decimal import Decimal

import pytest

from analytics.models import ClerkDay, StoreDay
from analytics.services import rollups

from .conftest import sh

pytestmark = pytest.mark.django_db
D = date(2026, 3, 10)


@pytest.fixture
def history(shop):
    a = shop.join(sh(2026, 3, 10, 9), "S001")
    b = shop.join(sh(2026, 3, 9, 9), "S002")
    shop.top_up(b, 100, sh(2026, 3, 10, 8), "S002", plan="TOPUP100")
    s1 = shop.sell("100.00", sh(2026, 3, 10, 23, 59, 59), "S001", member=a)  # last second of D
    shop.sell("50.00", sh(2026, 3, 11, 0, 0, 0), "S001")  # first second of D + 1
    shop.sell("30.00", sh(2026, 3, 10, 0, 0, 0), "S001", member=a, clerk="manager1")  # first second of D
    s4 = shop.sell("80.00", sh(2026, 3, 10, 12), "S002", member=b, pay_stored_value=Decimal("20.00"))
    shop.sell("20.00", sh(2026, 3, 10, 10), "S001")
    shop.refund(s4, "10.00", sh(2026, 3, 10, 18), store="S001")  # returned at another store, same day
    shop.refund(s1, "40.00", sh(2026, 3, 11, 10))  # returned the next day
    return {"a": a, "b": b}


def rows(day):
    return {r.store.code: r for r in StoreDay.objects.filter(day=day).select_related("store")}


def test_store_day_counts_local_days_and_subtracts_returns_on_their_day(history):
    rollups.roll_store_day(D)
    rollups.roll_store_day(date(2026, 3, 11))
    s1, s2 = rows(D)["S001"], rows(D)["S002"]
    assert (s1.sales_count, s1.sales_amount, s1.member_sales_count, s1.member_sales_amount) == (
        3,
        Decimal("150.00"),
        2,
        Decimal("130.00"),
    )
    assert (s1.returns_count, s1.returns_amount, s1.member_returns_amount) == (1, Decimal("10.00"), Decimal("10.00"))
    assert (s2.sales_count, s2.sales_amount, s2.returns_amount) == (1, Decimal("80.00"), Decimal("0.00"))
    assert (s1.new_members, s2.new_members) == (1, 0)
    nxt = rows(date(2026, 3, 11))["S001"]
    assert (nxt.sales_count, nxt.sales_amount, nxt.returns_amount, nxt.member_returns_amount) == (
        1,
        Decimal("50.00"),
        Decimal("40.00"),
        Decimal("40.00"),
    )
    # points: earned 30 + 100 at S001 and 80 at S002 (stored value earns); the S001 return of ¥10 of
    # the S002 sale reverses 80 × 10 / 80 = 10 points at S001, where it was recorded
    assert (s1.points_issued, s1.points_net) == (130, 130 - 10)
    assert (s2.points_issued, s2.points_redeemed, s2.points_net) == (80, 0, 80)
    assert (nxt.points_issued, nxt.points_net) == (0, -40)
    # stored value: ¥100 + ¥10 bonus in at S002, ¥20 paid; the return refunds 20 × 10 / 80 = ¥2.50 at S001
    assert (s2.sv_in, s2.sv_out, s2.sv_principal_net, s2.sv_bonus_net) == (
        Decimal("110.00"),
        Decimal("20.00"),
        Decimal("80.00"),
        Decimal("10.00"),
    )
    assert (s1.sv_in, s1.sv_out) == (Decimal("2.50"), Decimal("0.00"))


def test_rebuilding_a_day_twice_gives_the_same_rows(history):
    def dump():
        return [
            tuple(getattr(r, f) for f in ["day", "store_id", *rollups.STORE_DAY_FIELDS])
            for r in StoreDay.objects.order_by("day", "store_id")
        ], [
            (r.day, r.store_id, r.clerk_id, r.enrolments, r.sales_count, r.member_sales_amount)
            for r in ClerkDay.objects.order_by("day", "store_id", "clerk_id")
        ]

    rollups.rebuild(date(2026, 3, 9), date(2026, 3, 11), snapshot=False)
    first = dump()
    rollups.rebuild(date(2026, 3, 9), date(2026, 3, 11), snapshot=False)
    assert dump() == first and len(first[0]) == 4
