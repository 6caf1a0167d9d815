"""Concurrency of the membership engine (product.md, Points: "points never spent twice",
"Nothing is ever granted twice"; Scale: hundreds of counter operations a second).

The threaded tests need PostgreSQL's row locks (the `on_postgres` fixture skips them on SQLite);
each thread opens its own connection and closes it at the end. The re-run test for the periodic
tasks runs on every database."""

import threading
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Sum

from core.clock import now
from core.errors import InsufficientPoints
from membership import ledger, tasks
from membership.models import (
    ExpiryNotice,
    GrowthEntry,
    Member,
    PointsEntry,
    ProgramSettings,
    Purchase,
    Store,
    StoredValueEntry,
    TierChange,
)
from membership.services import points, purchases

SH = ZoneInfo("Asia/Shanghai")
THREADS = 20
Kind, Source = PointsEntry.Kind, PointsEntry.Source


def configure(**fields):
    """Change program settings as admin does (a save, so per-process copies are dropped)."""
    program = ProgramSettings.load()
    for name, value in fields.items():
        setattr(program, name, value)
    program.save()


def run_together(calls):
    """Run each call in its own thread, all released at once by a barrier; returns one
    ("ok", result) or ("error", exception) per call, in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait(timeout=30)
            results[i] = ("ok", call())
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results


def fresh(member) -> Member:
    return Member.objects.get(pk=member.pk)


@pytest.fixture
def s001(program):
    return Store.objects.get(code="S001")


# ---------------------------------------------------------------------------------------
# (a) many payments with points on one member
# ---------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_point_payments_on_one_member_never_overspend(on_postgres, enrol, s001, demo_staff):
    # earned points wait 3 days, so the available balance moves only by what is paid with points
    configure(pending_days=3)
    member = enrol()
    points.grant(member=member, points=7_500, source=Source.SCENE, idempotency_key="conc-a:grant")
    initial = fresh(member).points_balance
    assert initial == 7_500

    def pay(i):
        return lambda: purchases.record_purchase(
            member=member.pk,
            store=s001,
            reference=f"A{i:02d}",
            amount=Decimal("100.00"),
            pay_points=1_000,
            idempotency_key=f"conc-a:{i}",
            acting_user=demo_staff["clerk1"],
        )

    results = run_together([pay(i) for i in range(THREADS)])

    ok = [r for kind, r in results if kind == "ok"]
    errors = [r for kind, r in results if kind == "error"]
    assert all(isinstance(e, InsufficientPoints) for e in errors), errors
    assert len(ok) == 7 and len(errors) == THREADS - 7  # 7 × 1,000 fit in 7,500, the 8th does not
    after = fresh(member)
    assert after.points_balance >= 0
    assert sum(r.purchase.points_paid for r in ok) == initial - after.points_balance == 7_000
    assert Purchase.objects.filter(member=member).count() == len(ok)
    assert after.points_pending == sum(r.points_earned for r in ok)
    assert ledger.discrepancies() == []


# ---------------------------------------------------------------------------------------
# (b) one request replayed many times at once
# ---------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_replays_of_one_idempotency_key_charge_once(on_postgres, enrol, s001, demo_staff):
    member = enrol()
    points.grant(member=member, points=5_000, source=Source.SCENE, idempotency_key="conc-b:grant")

    def replay():
        return purchases.record_purchase(
            member=member.pk,
            store=s001,
            reference="B01",
            amount=Decimal("100.00"),
            pay_points=2_000,
            idempotency_key="conc-b:sale",
            acting_user=demo_staff["clerk1"],
        )

    results = run_together([replay] * THREADS)

    assert [kind for kind, _r in results] == ["ok"] * THREADS, [r for kind, r in results if kind == "error"]
    assert sorted(r.replayed for _kind, r in results) == [False] + [True] * (THREADS - 1)
    assert len({r.purchase.pk for _kind, r in results}) == 1
    assert Purchase.objects.filter(idempotency_key="conc-b:sale").count() == 1
    purchase = Purchase.objects.get(idempotency_key="conc-b:sale")
    assert PointsEntry.objects.filter(member=member, kind=Kind.REDEEM).count() == 1
    assert PointsEntry.objects.filter(member=member, kind=Kind.EARN).count() == 1
    assert GrowthEntry.objects.filter(member=member).count() == 1
    assert fresh(member).points_balance == 5_000 - 2_000 + purchase.points_earned
    assert fresh(member).purchase_count == 1
    assert ledger.discrepancies() == []


# ---------------------------------------------------------------------------------------
# (c) the expiry run and sales paying with points at the same moment
# ---------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_expiry_runs_and_point_payments_at_once_keep_the_ledger(on_postgres, enrol, s001, demo_staff):
    old, recent = datetime(2024, 5, 1, 12, tzinfo=SH), datetime(2025, 6, 1, 12, tzinfo=SH)
    when = datetime(2026, 1, 2, 10, tzinfo=SH)  # the 2024 lots expired on 2025-12-31 23:59:59
    members = [enrol() for _ in range(6)]
    for m in members:
        points.grant(member=m, points=3_000, source=Source.SCENE, idempotency_key=f"conc-c:{m.pk}:old", at=old)
        points.grant(member=m, points=5_000, source=Source.SCENE, idempotency_key=f"conc-c:{m.pk}:new", at=recent)

    def pay(m):
        return lambda: purchases.record_purchase(
            member=m.pk,
            store=s001,
            reference=f"C{m.pk}",
            amount=Decimal("100.00"),
            pay_points=2_000,
            idempotency_key=f"conc-c:{m.pk}:sale",
            acting_user=demo_staff["clerk1"],
            at=when,
        )

    calls = [lambda: points.expire_due(at=when), lambda: points.expire_due(at=when, batch_members=2)]
    calls += [pay(m) for m in members]
    results = run_together(calls)

    assert [kind for kind, _r in results] == ["ok"] * len(calls), [r for kind, r in results if kind == "error"]
    assert ledger.discrepancies() == []
    for m, (_kind, sale) in zip(members, results[2:]):
        m = fresh(m)
        expired = PointsEntry.objects.filter(member=m, kind=Kind.EXPIRE).aggregate(s=Sum("amount"))["s"]
        assert expired == -3_000, f"member {m.pk}: expired {expired}"  # once, whoever got there first
        assert sale.purchase.points_paid == 2_000
        assert m.points_balance == 5_000 - 2_000 + sale.points_earned
    assert not PointsEntry.objects.filter(remaining__gt=0, pending=False, expires_at__lte=when).exists()
    assert points.expire_due(at=when) == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_expiry_release_returns_and_payments_all_at_once(on_postgres, enrol, s001, demo_staff):
    """Everything that moves points at the same moment: the two periodic runs, a return that
    reverses points still pending or just released, and a sale paying with points."""
    configure(pending_days=2)
    old, recent = datetime(2024, 5, 1, 12, tzinfo=SH), datetime(2025, 6, 1, 12, tzinfo=SH)
    bought = datetime(2025, 12, 31, 12, tzinfo=SH)  # 200 points pending until 2026-01-02 12:00
    when = datetime(2026, 1, 3, 10, tzinfo=SH)
    members, sales = [enrol() for _ in range(5)], {}
    for m in members:
        points.grant(member=m, points=3_000, source=Source.SCENE, idempotency_key=f"conc-e:{m.pk}:old", at=old)
        points.grant(member=m, points=5_000, source=Source.SCENE, idempotency_key=f"conc-e:{m.pk}:new", at=recent)
        sales[m.pk] = purchases.record_purchase(
            member=m,
            store=s001,
            reference=f"E{m.pk}",
            amount=Decimal("200.00"),
            idempotency_key=f"conc-e:{m.pk}:first",
            acting_user=demo_staff["clerk1"],
            at=bought,
        ).purchase

    def pay(m):
        return lambda: purchases.record_purchase(
            member=m.pk,
            store=s001,
            reference=f"E{m.pk}b",
            amount=Decimal("100.00"),
            pay_points=2_000,
            idempotency_key=f"conc-e:{m.pk}:second",
            acting_user=demo_staff["clerk1"],
            at=when,
        )

    def give_back(m):
        return lambda: purchases.record_return(
            purchase=sales[m.pk],
            amount=Decimal("100.00"),
            reference=f"ER{m.pk}",
            idempotency_key=f"conc-e:{m.pk}:return",
            at=when,
        )

    calls = [lambda: points.expire_due(at=when), lambda: points.release_pending(at=when)]
    calls += [pay(m) for m in members] + [give_back(m) for m in members]
    results = run_together(calls)

    assert [kind for kind, _r in results] == ["ok"] * len(calls), [r for kind, r in results if kind == "error"]
    assert ledger.discrepancies() == []
    for m in members:
        m = fresh(m)
        expired = PointsEntry.objects.filter(member=m, kind=Kind.EXPIRE).aggregate(s=Sum("amount"))["s"]
        assert expired == -3_000
        # 5,000 − 2,000 paid + 200 released − 100 reversed; the second sale's 80 still pending
        assert (m.points_balance, m.points_pending, m.points_flagged) == (3_100, 80, False)
    assert not PointsEntry.objects.filter(pending=True, available_at__lte=when).exists()
    assert (points.expire_due(at=when), points.release_pending(at=when)) == (0, 0)
    assert ledger.discrepancies() == []


# ---------------------------------------------------------------------------------------
# (d) re-running the periodic tasks changes nothing
# ---------------------------------------------------------------------------------------


def _counts():
    return {
        "points": list(PointsEntry.objects.order_by("pk").values_list("pk", "remaining", "pending")),
        "members": list(
            Member.objects.order_by("pk").values_list(
                "pk", "points_balance", "points_pending", "points_flagged", "tier_id", "growth_value"
            )
        ),
        "sv": StoredValueEntry.objects.count(),
        "tier_changes": TierChange.objects.count(),
        "notices": ExpiryNotice.objects.count(),
    }


@pytest.mark.django_db
def test_rerunning_the_periodic_tasks_changes_nothing(enrol, buy, program):
    configure(expiry_policy="rolling", expiry_months=12, expiry_notice_days=30)
    t = now()
    expiring, pending, downgraded, noticed = (enrol() for _ in range(4))
    # lots long past their expiry
    points.grant(member=expiring, points=400, source=Source.SCENE, idempotency_key="d:old", at=t - timedelta(days=800))
    # SILVER reached 400 days ago: nothing in the rolling 12-month window, so the review drops it
    buy(downgraded, "1500.00", at=t - timedelta(days=400))
    assert fresh(downgraded).tier.code == "SILVER"
    # a sale whose 2-day return window has passed
    configure(pending_days=2)
    buy(pending, "120.00", at=t - timedelta(days=5))
    assert fresh(pending).points_pending == 120
    # points that expire in about 10 days: a notice is due
    points.grant(member=noticed, points=250, source=Source.SCENE, idempotency_key="d:soon", at=t - timedelta(days=355))

    firsts = {
        "expire_points": tasks.expire_points(),
        "release_pending": tasks.release_pending(),
        "review_tiers": tasks.review_tiers(),
        "expiry_notices": tasks.expiry_notices(),
    }
    assert all(n > 0 for n in firsts.values()), firsts
    assert ledger.discrepancies() == []
    assert fresh(downgraded).tier.code == "NORMAL"
    assert fresh(expiring).points_balance == 0
    assert fresh(pending).points_pending == 0 and fresh(pending).points_balance == 120
    assert ExpiryNotice.objects.filter(member=noticed, points=250).count() == 1

    before = _counts()
    seconds = {
        "expire_points": tasks.expire_points(),
        "release_pending": tasks.release_pending(),
        "review_tiers": tasks.review_tiers(),
        "expiry_notices": tasks.expiry_notices(),
    }
    assert seconds == dict.fromkeys(seconds, 0)
    assert _counts() == before
    assert ledger.discrepancies() == []
