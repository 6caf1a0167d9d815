"""Points rules (product.md, "Points"; demo-program.md, "Points")."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.errors import Forbidden, InsufficientPoints, Invalid, PointsCapExceeded
from membership import hooks
from membership.ledger import discrepancies
from membership.models import EarnMultiplier, EarnStage, Member, PointsEntry, ProgramSettings, Purchase
from membership.services import points, pricing, purchases
from membership.services.pricing import Line

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def birthday_month_doubles(monkeypatch):
    """The demo's birthday-month campaign (×2), registered as campaigns will register it."""
    monkeypatch.setattr(
        hooks,
        "earn_multiplier_providers",
        [lambda member, when: Decimal(2) if member.birth_month == when.astimezone(SH).month else Decimal(1)],
    )


def fresh(member):
    return Member.objects.get(pk=member.pk)


def test_worked_example_of_the_demo_program(enrol, buy, birthday_month_doubles):
    member = enrol(birthday="1990-05-20")
    first = buy(member, "1000.00", at=at(2026, 4, 2, 12))  # April: no birthday bonus; lifts to SILVER
    assert (first.points_earned, first.upgraded, first.tier.code) == (1000, True, "SILVER")

    result = buy(member, "300.00", pay_points=100, at=at(2026, 5, 20, 15))
    assert result.points_value == Decimal("1.00")
    assert result.cash_due == Decimal("299.00")
    assert result.points_earned == 717  # floor(299 × 1 × 1.2 × 2)
    assert result.purchase.growth == 299
    assert result.growth_value == 1299
    assert result.points_balance == 1000 - 100 + 717
    assert discrepancies() == []


def test_sale_that_upgrades_earns_at_the_old_tier(enrol, buy):
    member = enrol()
    lifting = buy(member, "1200.00")
    assert lifting.upgraded and lifting.tier.code == "SILVER"
    assert lifting.points_earned == 1200  # NORMAL ×1.0, the tier held before the sale
    assert buy(member, "100.00").points_earned == 120  # the next sale earns at SILVER ×1.2


def test_points_pay_from_the_lots_that_expire_first(enrol, buy):
    member = enrol()
    old = buy(member, "100.00", at=at(2025, 3, 1, 10)).purchase.points_entries.get(kind="earn")
    new = buy(member, "100.00", at=at(2026, 3, 1, 10)).purchase.points_entries.get(kind="earn")
    assert old.expires_at == at(2026, 12, 31, 23, 59, 59)
    assert new.expires_at == at(2027, 12, 31, 23, 59, 59)
    buy(member, "300.00", pay_points=150, at=at(2026, 3, 2, 10))
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.remaining, new.remaining) == (0, 50)


def test_points_must_convert_to_whole_fen(enrol, buy, program):
    program.redeem_points_per_yuan = 300  # 3 points per fen
    program.save()
    member = enrol()
    buy(member, "1000.00")
    with pytest.raises(Invalid) as err:
        buy(member, "100.00", pay_points=100)
    assert err.value.field == "pay_points" and "99" in err.value.message and "102" in err.value.message
    assert buy(member, "100.00", pay_points=99).points_value == Decimal("0.33")


def test_points_may_pay_at_most_the_cap(enrol, buy):
    member = enrol()
    buy(member, "20000.00")
    with pytest.raises(PointsCapExceeded):
        buy(member, "100.00", pay_points=5001)  # ¥50.01 > 50% of ¥100
    assert buy(member, "100.00", pay_points=5000).cash_due == Decimal("50.00")
    assert pricing.max_points_for(Decimal("100.00"), 20000, ProgramSettings.load()) == 5000


def test_insufficient_points_writes_nothing(enrol, buy):
    member = enrol()
    buy(member, "50.00")
    before = (PointsEntry.objects.count(), Purchase.objects.count())
    with pytest.raises(InsufficientPoints):
        buy(member, "200.00", pay_points=51)
    assert (PointsEntry.objects.count(), Purchase.objects.count()) == before
    assert fresh(member).points_balance == 50


def test_replayed_sale_changes_nothing(enrol, buy):
    member = enrol()
    first = buy(member, "88.00", idempotency_key="till-7-R1")
    again = buy(member, "88.00", idempotency_key="till-7-R1")
    assert again.replayed and again.purchase.pk == first.purchase.pk
    assert Purchase.objects.count() == 1 and fresh(member).points_balance == 88


def test_year_end_expiry_at_shanghai_midnight(enrol, buy):
    member = enrol()
    late_2025 = buy(member, "10.00", at=at(2025, 12, 31, 23, 30)).purchase  # 15:30 UTC, still 2025 locally
    early_2026 = buy(member, "20.00", at=at(2026, 1, 1, 0, 10)).purchase  # 2025-12-31 16:10 UTC
    assert late_2025.points_entries.get(kind="earn").expires_at == at(2026, 12, 31, 23, 59, 59)
    assert early_2026.points_entries.get(kind="earn").expires_at == at(2027, 12, 31, 23, 59, 59)

    assert points.expire_due(at=at(2026, 12, 31, 23, 59, 58)) == 0
    assert points.expire_due(at=at(2027, 1, 1, 0, 0, 0)) == 1
    member = fresh(member)
    assert member.points_balance == 20
    expire = PointsEntry.objects.get(kind="expire")
    assert (expire.amount, expire.balance_after) == (-10, 20)
    assert points.expire_due(at=at(2027, 1, 1, 0, 0, 1)) == 0  # re-running expires nothing more
    assert discrepancies() == []


def test_rolling_expiry_counts_months_and_clamps_month_ends(program):
    program.expiry_policy, program.expiry_months = "rolling", 12
    assert points.expiry_for(at(2026, 1, 31, 9), program) == at(2027, 1, 31, 23, 59, 59)
    assert points.expiry_for(at(2024, 2, 29, 9), program) == at(2025, 2, 28, 23, 59, 59)
    program.expiry_months = 1
    assert points.expiry_for(at(2026, 1, 31, 9), program) == at(2026, 2, 28, 23, 59, 59)
    program.expiry_policy = "never"
    assert points.expiry_for(at(2026, 1, 31, 9), program) is None


def test_spending_never_uses_points_that_have_expired_but_were_not_yet_processed(enrol, buy):
    member = enrol()
    buy(member, "500.00", at=at(2025, 5, 1, 10))
    with pytest.raises(InsufficientPoints):
        buy(member, "1000.00", pay_points=100, at=at(2027, 1, 2, 10))
    # the failed sale rolled back; the nightly task still finds the lot
    assert points.expire_due(at=at(2027, 1, 2, 10)) == 1 and fresh(member).points_balance == 0


def test_pending_points_wait_for_the_return_window(enrol, buy, program):
    program.pending_days = 7
    program.save()
    member = enrol()
    result = buy(member, "100.00", at=at(2026, 6, 1, 10))
    assert (result.points_earned, result.points_pending) == (100, 100)
    member = fresh(member)
    assert (member.points_balance, member.points_pending) == (0, 100)
    with pytest.raises(InsufficientPoints):
        buy(member, "100.00", pay_points=1, at=at(2026, 6, 2, 10))
    assert points.release_pending(at=at(2026, 6, 8, 9)) == 0
    assert points.release_pending(at=at(2026, 6, 8, 10, 0, 1)) == 1
    member = fresh(member)
    assert (member.points_balance, member.points_pending) == (100, 0)
    assert points.release_pending(at=at(2026, 6, 9)) == 0
    assert discrepancies() == []


def test_a_return_in_the_window_takes_back_pending_points(enrol, buy, program):
    program.pending_days = 7
    program.save()
    member = enrol()
    sale = buy(member, "100.00", at=at(2026, 6, 1, 10)).purchase
    purchases.record_return(
        purchase=sale, amount=Decimal("40.00"), reference="RR1", idempotency_key="ret-1", at=at(2026, 6, 3, 10)
    )
    member = fresh(member)
    assert (member.points_balance, member.points_pending, member.points_flagged) == (0, 60, False)
    assert discrepancies() == []


def test_staged_rates_apply_to_each_band(enrol, buy):
    EarnStage.objects.create(from_amount=Decimal("500"), rate=Decimal("1.5"))
    EarnStage.objects.create(from_amount=Decimal("1000"), rate=Decimal("2"))
    member = enrol()
    assert buy(member, "1200.00").points_earned == 500 + 750 + 400
    assert pricing.staged_points(Decimal("300"), Decimal(1), EarnStage.objects.all()) == Decimal("300")


def test_per_sale_and_per_day_caps(enrol, buy, program):
    program.per_sale_cap, program.per_day_cap = 300, 500
    program.save()
    member = enrol()
    assert buy(member, "400.00", at=at(2026, 6, 1, 10)).points_earned == 300
    assert buy(member, "400.00", at=at(2026, 6, 1, 11)).points_earned == 200  # 500 a day
    assert buy(member, "400.00", at=at(2026, 6, 1, 23, 59)).points_earned == 0
    assert buy(member, "400.00", at=at(2026, 6, 2, 0, 1)).points_earned == 300  # a new Shanghai day


def test_category_and_sku_multipliers_weight_the_lines(enrol, buy):
    EarnMultiplier.objects.create(kind="category", key="food", multiplier=Decimal(2))
    EarnMultiplier.objects.create(kind="sku", key="F100", multiplier=Decimal(3))
    EarnMultiplier.objects.create(
        kind="category", key="drink", multiplier=Decimal(5), ends_on=datetime(2020, 1, 1).date()
    )  # over: not applied
    member = enrol()
    lines = [
        Line(amount=Decimal("100.00"), sku="F200", category="food"),
        Line(amount=Decimal("100.00"), sku="F100", category="food"),
        Line(amount=Decimal("100.00"), sku="D1", category="drink"),
    ]
    assert buy(member, "300.00", lines=lines).points_earned == 200 + 300 + 100
    with pytest.raises(Invalid) as err:
        buy(member, "301.00", lines=lines)
    assert err.value.field == "lines"


def test_returns_in_parts_reverse_in_proportion_and_the_last_takes_the_rest(enrol, buy):
    member = enrol()
    buy(member, "1000.00")  # points to pay with (and SILVER)
    sale = buy(member, "300.00", pay_points=100).purchase
    assert (sale.points_earned, sale.growth) == (358, 299)  # floor(299 × 1.2)
    parts = []
    for n, amount in enumerate(["100.00", "100.00", "100.00"]):
        r = purchases.record_return(
            purchase=sale, amount=Decimal(amount), reference=f"RR{n}", idempotency_key=f"ret-{n}"
        ).purchase_return
        parts.append((r.points_reversed, r.points_refunded, r.growth_reversed))
    assert parts == [(119, 33, 99), (119, 33, 100), (120, 34, 100)]
    sale.refresh_from_db()
    assert (sale.points_reversed, sale.points_refunded, sale.growth_reversed) == (358, 100, 299)
    with pytest.raises(Invalid):
        purchases.record_return(purchase=sale, amount=Decimal("0.01"), reference="RR9", idempotency_key="ret-9")
    assert discrepancies() == []


def test_return_replayed_changes_nothing(enrol, buy):
    member = enrol()
    sale = buy(member, "100.00").purchase
    first = purchases.record_return(purchase=sale, amount=Decimal("50.00"), reference="RR", idempotency_key="k")
    again = purchases.record_return(purchase=sale, amount=Decimal("50.00"), reference="RR", idempotency_key="k")
    assert again.replayed and again.purchase_return.pk == first.purchase_return.pk
    assert fresh(member).points_balance == 50


def test_reversal_of_spent_points_goes_negative_flagged_and_later_credit_repays(enrol, buy, demo_staff):
    member = enrol()
    sale = buy(member, "300.00").purchase
    points.spend(member=member, points=300, source="mall_order", idempotency_key="mall-1")
    purchases.record_return(purchase=sale, amount=Decimal("300.00"), reference="RR", idempotency_key="ret")
    member = fresh(member)
    assert member.points_balance == -300 and member.points_flagged
    assert PointsEntry.objects.get(kind="reverse").flagged
    points.grant(member=member, points=500, source="scene", idempotency_key="gift-1")
    member = fresh(member)
    assert member.points_balance == 200 and not member.points_flagged
    assert PointsEntry.objects.get(idempotency_key="gift-1").remaining == 200
    assert discrepancies() == []


def test_manual_adjustments_need_a_reason_and_a_manager_above_the_limit(enrol, buy, demo_staff):
    member = enrol()
    buy(member, "100.00")
    clerk, manager = demo_staff["clerk1"], demo_staff["manager1"]
    with pytest.raises(Invalid) as err:
        points.adjust(member=member, points=10, reason="  ", acting_user=manager)
    assert err.value.message == points.MSG_REASON_REQUIRED
    with pytest.raises(Forbidden):
        points.adjust(member=member, points=1001, reason="goodwill", acting_user=clerk)
    assert points.adjust(member=member, points=1000, reason="goodwill", acting_user=clerk).amount == 1000
    assert points.adjust(member=member, points=5000, reason="migration", acting_user=manager).amount == 5000
    with pytest.raises(InsufficientPoints):
        points.adjust(member=member, points=-6101, reason="fix", acting_user=manager)
    entry = points.adjust(member=member, points=-100, reason="fix", acting_user=manager, idempotency_key="adj-1")
    again = points.adjust(member=member, points=-100, reason="fix", acting_user=manager, idempotency_key="adj-1")
    assert entry.pk == again.pk and fresh(member).points_balance == 6000
    assert entry.operator == manager and entry.reason == "fix"


def test_expiry_notices_are_sent_once_per_member_and_date(enrol, buy, program, django_capture_on_commit_callbacks):
    from membership.signals import points_expiring

    received = []
    points_expiring.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="test-notices")
    try:
        member = enrol()
        buy(member, "100.00", at=at(2025, 6, 1, 10))
        assert points.send_expiry_notices(at=at(2026, 11, 30, 10)) == 0  # 31 days before: not yet
        with django_capture_on_commit_callbacks(execute=True):
            assert points.send_expiry_notices(at=at(2026, 12, 2, 10)) == 1
        assert points.send_expiry_notices(at=at(2026, 12, 3, 10)) == 0
    finally:
        points_expiring.disconnect(dispatch_uid="test-notices")
    assert [(r["member_id"], r["points"]) for r in received] == [(member.pk, 100)]


def test_grant_is_idempotent(enrol):
    member = enrol()
    first = points.grant(member=member, points=200, source="scene", idempotency_key="birthday:2026:1")
    second = points.grant(member=member, points=200, source="scene", idempotency_key="birthday:2026:1")
    assert first.pk == second.pk and fresh(member).points_balance == 200


def test_quote_previews_without_writing(enrol, buy):
    member = enrol()
    buy(member, "1000.00")
    member = fresh(member)
    before = PointsEntry.objects.count()
    q = purchases.quote(member=member, amount="300.00", pay_points=100)
    assert (q.points_value, q.eligible, q.points_to_earn, q.cash_due) == (
        Decimal("1.00"),
        Decimal("299.00"),
        358,
        Decimal("299.00"),
    )
    assert q.max_points == 1000  # the balance, below the ¥150 cap
    assert PointsEntry.objects.count() == before


def test_sale_validation_names_the_field(enrol, buy):
    member = enrol()
    for kwargs, field in [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "2000000"}, "amount"),
        ({"amount": "10", "pay_points": -1}, "pay_points"),
        ({"amount": "10", "pay_stored_value": "20"}, "amount"),
    ]:
        amount = kwargs.pop("amount")
        with pytest.raises(Invalid) as err:
            buy(member, amount, **kwargs)
        assert err.value.field == field, kwargs
    assert Purchase.objects.count() == 0


def test_later_sales_move_last_purchase_and_count(enrol, buy):
    member = enrol()
    buy(member, "10.00", at=at(2026, 6, 1, 10))
    buy(member, "10.00", at=at(2026, 5, 1, 10))  # a late upload of an older receipt
    member = fresh(member)
    assert member.purchase_count == 2 and member.last_purchase_at == at(2026, 6, 1, 10)


def test_bulk_grants_set_each_members_balance_and_flag_in_few_statements(enrol, demo_staff, monkeypatch):
    """points.grant_bulk writes the balances of a whole batch with one UPDATE per chunk of members
    (campaign batches): every member gets their own new balance, a debt is repaid first and its flag
    cleared when the balance is back at zero or more, and the ledger agrees."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from membership.ledger import discrepancies
    from membership.models import Member, PointsEntry
    from membership.services import points

    monkeypatch.setattr(points, "BALANCES_PER_STATEMENT", 2)
    owes, small, plain = enrol(), enrol(), enrol()
    points.adjust(member=small, points=30, reason="seed", acting_user=demo_staff["admin"])
    Member.objects.filter(pk=owes.pk).update(points_balance=-100, points_flagged=True)
    PointsEntry.objects.create(
        member=owes,
        amount=-100,
        kind="return",
        source="return",
        created_at=owes.joined_at,
        balance_after=-100,
        remaining=0,
    )
    with CaptureQueriesContext(connection) as queries:
        written = points.grant_bulk(
            grants=[(owes.pk, 60, "t:1"), (small.pk, 200, "t:2"), (plain.pk, 200, "t:3")], source="scene"
        )
    assert written == 3
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "membership_member"')]
    assert len(updates) == 2  # three members, two per statement
    balances = dict(Member.objects.values_list("pk", "points_balance"))
    flags = dict(Member.objects.values_list("pk", "points_flagged"))
    assert (balances[owes.pk], balances[small.pk], balances[plain.pk]) == (-40, 230, 200)
    assert flags[owes.pk] is True and flags[small.pk] is False
    points.grant_bulk(grants=[(owes.pk, 40, "t:4")], source="scene")
    assert Member.objects.get(pk=owes.pk).points_flagged is False
    assert points.grant_bulk(grants=[(owes.pk, 40, "t:4")], source="scene") == 0  # the key was used
    assert discrepancies() == []


def test_points_given_back_by_a_reversal_are_labelled_refunded_not_taken_back():
    """Issue 31: the points a sale paid with, refunded by its return (a reversal of +400), read
    "扣回 +400" (taken back). A reversal that gives points reads 退回; one that takes them, 扣回."""
    from django.utils import translation

    from membership.models import PointsEntry

    with translation.override("zh-hans"):
        assert PointsEntry(kind=PointsEntry.Kind.REVERSE, amount=400).kind_label == "退回"
        assert PointsEntry(kind=PointsEntry.Kind.REVERSE, amount=-400).kind_label == "扣回"
        assert PointsEntry(kind=PointsEntry.Kind.EARN, amount=10).kind_label == "获得"
