"""Demo program, counter part: a year of sales at both stores through the counter's own service,
so members, ledgers, tiers and the dashboards all show real figures (demo-program.md)."""

import random
from datetime import timedelta
from decimal import Decimal

from core.clock import now
from core.money import to_cents
from membership.demo import KNOWN_MEMBER, demo_clerks, demo_phones
from membership.models import Member, Store

from .models import Sale
from .services import sales

CATEGORIES = [("food", "F"), ("drink", "D"), ("home", "H"), ("beauty", "B")]
# share of members, purchases in the year, spend per purchase (¥)
PROFILES = [(0.45, 1, 4, (20, 120)), (0.3, 4, 10, (60, 200)), (0.17, 8, 16, (200, 500)), (0.08, 20, 30, (600, 1200))]
WALK_IN_SALES = 600


def _sell(store, clerk, receipt, amount, at, rng, member=None, pay_points=0):
    cat, prefix = rng.choice(CATEGORIES)
    lines = [{"sku": f"{prefix}{rng.randint(100, 130)}", "category": cat, "qty": 1, "amount": amount}]
    return sales.record_sale(
        store=store,
        clerk=clerk,
        receipt_no=receipt,
        amount=amount,
        member=member,
        lines=lines,
        pay_points=pay_points,
        digest=sales.request_hash({"demo": receipt}),
        at=at,
    )


def seed(*, out=None) -> None:
    if Sale.objects.filter(receipt_no__startswith="DEMO-").exists():
        return
    rng = random.Random(8080)  # nosec B311
    stores = {s.code: s for s in Store.objects.filter(code__in=["S001", "S002"])}
    clerks = demo_clerks()
    end = now() - timedelta(hours=1)
    n = 0
    # the demo's own members only: a database with bench.generate's chain (stores S001…S200, members with
    # their own history) has members at stores the demo has no clerk for (seed_demo failed: KeyError 'S084')
    demo_members = Member.objects.filter(phone__in=demo_phones(), home_store__in=stores.values())
    for member in demo_members.select_related("home_store").order_by("pk"):
        known = member.phone == KNOWN_MEMBER["phone"]
        if known:
            count, spend = 12, (120, 260)  # lands in SILVER
        elif rng.random() < 0.12:
            continue  # enrolled, never bought
        else:
            _share, lo, hi, spend = rng.choices(PROFILES, weights=[p[0] for p in PROFILES])[0]
            count = rng.randint(lo, hi)
        days = max(1, (end - member.joined_at).days)
        code = member.home_store.code
        for at in sorted(member.joined_at + timedelta(days=rng.uniform(0, days)) for _ in range(count)):
            n += 1
            amount = Decimal(rng.randint(*spend)) + Decimal(rng.choice(["0.00", "0.50", "0.90"]))
            member.refresh_from_db(fields=["points_balance"])
            pay = 0
            if member.points_balance >= 500 and rng.random() < 0.25:
                pay = min(member.points_balance, int(amount * 50)) // 100 * 100
            outcome = _sell(stores[code], clerks[code], f"DEMO-{n:06d}", amount, at, rng, member, pay)
            if rng.random() < 0.04:
                sales.record_return(
                    sale=outcome.record,
                    store=stores[code],
                    clerk=clerks[code],
                    receipt_no=f"DEMO-R{n:06d}",
                    amount=to_cents(amount / 2),
                    digest=sales.request_hash({"demo-return": n}),
                    at=at + timedelta(days=2),
                )
    for i in range(WALK_IN_SALES):  # sales without a member: they count for the card-opening rate
        code = rng.choice(["S001", "S001", "S002"])
        at = end - timedelta(days=rng.uniform(0, 365))
        _sell(stores[code], clerks[code], f"DEMO-W{i:05d}", Decimal(rng.randint(10, 300)), at, rng)
    if out:
        out.write(f"sales: {Sale.objects.count()}")
