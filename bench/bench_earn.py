"""Earn benchmark: membership.services.purchases.record_purchase against the same work in raw SQL.

    .venv/bin/python -m bench.bench_earn [--calls 3000] [--threads 2]

A call is one member sale at a store, paid in money (no points, coupon or stored value, no
lines), at the current time: what most counter operations are. The service runs its whole rule
(settings, tier, staged rates, caps, idempotency, upgrade). The raw SQL does the same writes in
one transaction on a plain psycopg connection, with the program's rules already in memory:

    SELECT ... FROM membership_member WHERE id = $1 FOR NO KEY UPDATE   (the service's lock)
    INSERT INTO membership_purchase ... RETURNING id
    INSERT INTO membership_pointsentry ...      (the earn lot)
    INSERT INTO membership_growthentry ...
    INSERT INTO membership_tierchange ...       (only when the sale upgrades the member)
    UPDATE membership_member SET points_balance, growth_value, tier, purchase_count, last_purchase_at

Each mode runs --calls calls on members drawn at random (each call its own member), single-
threaded and with --threads threads (one connection per thread), after a short warm-up; the
calls are split into --rounds rounds in which the modes take turns, so a busy spell of the
(shared) machine does not land on one mode only. Then 500 more service calls are timed with the
time spent in their statements, to show how a call divides between database and Python. The
sales stay in the database (real, balanced ledger rows with keys bench:<run>:...)."""

import argparse
import contextlib
import random
import sys
import threading
import time
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from .common import SH, ratio, raw_connect, say, setup_django, timed

RAW_LOCK = (
    "SELECT points_balance, points_pending, growth_value, tier_id, purchase_count, last_purchase_at, status"
    " FROM membership_member WHERE id = %s FOR NO KEY UPDATE"
)
RAW_PURCHASE = (
    "INSERT INTO membership_purchase (reference, created_at, amount, points_paid, points_value, coupon_value,"
    " sv_principal_paid, sv_bonus_paid, eligible_amount, points_earned, growth, returned_amount, points_reversed,"
    " points_refunded, growth_reversed, sv_principal_refunded, sv_bonus_refunded, idempotency_key, member_id,"
    " operator_id, store_id, tier_at_sale_id)"
    " VALUES (%s, %s, %s, 0, 0, 0, 0, 0, %s, %s, %s, 0, 0, 0, 0, 0, 0, %s, %s, NULL, %s, %s) RETURNING id"
)
RAW_LOT = (
    "INSERT INTO membership_pointsentry (amount, kind, source, source_ref, reason, created_at, balance_after,"
    " remaining, pending, available_at, expires_at, flagged, idempotency_key, member_id, operator_id, store_id,"
    " purchase_id) VALUES (%s, 'earn', 'sale', %s, '', %s, %s, %s, false, NULL, %s, false, %s, %s, NULL, %s, %s)"
)
RAW_GROWTH = "INSERT INTO membership_growthentry (amount, created_at, member_id, purchase_id) VALUES (%s, %s, %s, %s)"
RAW_TIER_CHANGE = (
    "INSERT INTO membership_tierchange (reason, note, created_at, idempotency_key, from_tier_id, member_id,"
    " operator_id, to_tier_id) VALUES ('upgrade', '', %s, NULL, %s, %s, NULL, %s)"
)
RAW_MEMBER = (
    "UPDATE membership_member SET points_balance = %s, points_flagged = %s, growth_value = %s,"
    " purchase_count = purchase_count + 1, last_purchase_at = greatest(last_purchase_at, %s) WHERE id = %s"
)
RAW_MEMBER_UPGRADE = (
    "UPDATE membership_member SET points_balance = %s, points_flagged = %s, growth_value = %s, tier_id = %s,"
    " tier_since = %s, purchase_count = purchase_count + 1, last_purchase_at = greatest(last_purchase_at, %s)"
    " WHERE id = %s"
)


class RawEarn:
    """The same writes as record_purchase for a money-only sale, rules held in memory."""

    def __init__(self):
        from membership.models import ProgramSettings, Tier
        from membership.services.points import expiry_for

        self.program = ProgramSettings.load()
        self.tiers = list(Tier.objects.order_by("rank"))
        self.by_id = {t.pk: t for t in self.tiers}
        self.expiry_for = expiry_for
        self.conn = raw_connect()

    def close(self):
        self.conn.close()

    def call(self, member_id: int, store_id: int, reference: str, amount: Decimal, key: str) -> int:
        conn = self.conn
        at = datetime.now(tz=SH)
        with conn.transaction():
            balance, pending, growth, tier_id, _count, _last, status = conn.execute(RAW_LOCK, [member_id]).fetchone()
            if status != "active":
                raise RuntimeError("member not active")
            tier = self.by_id[tier_id]
            eligible = amount
            earned = int((eligible * self.program.earn_rate * tier.points_multiplier).to_integral_value(ROUND_FLOOR))
            g = int(eligible)
            pid = conn.execute(
                RAW_PURCHASE, [reference, at, amount, eligible, earned, g, key, member_id, store_id, tier_id]
            ).fetchone()[0]
            if earned:
                remaining = earned if balance >= 0 else max(0, earned + balance)  # credits repay a debt first
                balance += earned
                conn.execute(
                    RAW_LOT,
                    [
                        earned,
                        reference,
                        at,
                        balance,
                        remaining,
                        self.expiry_for(at, self.program),
                        f"{key}:earn",
                        member_id,
                        store_id,
                        pid,
                    ],
                )
            new_tier = tier
            if g:
                conn.execute(RAW_GROWTH, [g, at, member_id, pid])
                growth += g
                for t in self.tiers:
                    if t.rank > new_tier.rank and t.reach_growth <= growth:
                        new_tier = t
            if new_tier is not tier:
                conn.execute(RAW_TIER_CHANGE, [at, tier.pk, member_id, new_tier.pk])
                conn.execute(RAW_MEMBER_UPGRADE, [balance, balance < 0, growth, new_tier.pk, at, at, member_id])
            else:
                conn.execute(RAW_MEMBER, [balance, balance < 0, growth, at, member_id])
        return earned


def service_call(member_id: int, store, reference: str, amount: Decimal, key: str) -> int:
    from membership.services.purchases import record_purchase

    return record_purchase(
        member=member_id, store=store, reference=reference, amount=amount, idempotency_key=key
    ).points_earned


def _work(rng: random.Random, members: list[int], stores: list, run: str):
    for i, mid in enumerate(members):
        amount = Decimal(20 + int(rng.random() * 480)) + Decimal((0, 50, 90)[int(rng.random() * 3)]) / 100
        yield mid, stores[int(rng.random() * len(stores))], f"B{run}{i:06d}", amount, f"bench:{run}:{i}"


def run_mode(kind: str, members: list[int], stores: list, threads: int, run: str) -> float:
    """Run the calls of `members` split over `threads` threads; returns the elapsed seconds."""
    from django.db import connection

    parts = [members[k::threads] for k in range(threads)]
    errors = []
    barrier = threading.Barrier(threads + 1)

    def worker(k):
        rng = random.Random(f"{run}:{k}")  # nosec B311
        try:
            raw = RawEarn() if kind == "raw" else None
            work = list(_work(rng, parts[k], stores, f"{run}t{k}"))
            barrier.wait()
            for mid, store, ref, amount, key in work:
                if raw:
                    raw.call(mid, store.pk, ref, amount, key)
                else:
                    service_call(mid, store, ref, amount, key)
            if raw:
                raw.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            with contextlib.suppress(Exception):  # the barrier may be broken already
                barrier.abort()
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def count_queries(member_id: int, store) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        service_call(member_id, store, "BQCOUNT", Decimal("88.00"), f"bench:qcount:{time.time_ns()}")
    return [q["sql"] for q in ctx.captured_queries]


def time_split(members: list[int], stores: list, run: str) -> tuple[float, float]:
    """Milliseconds per service call in all, and in the database (the statements' execute calls,
    COMMIT not included): the rest is Python (the ORM, the rules, the after-commit events)."""
    from django.db import connection

    in_db = [0.0]

    def wrapper(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_db[0] += time.perf_counter() - start

    rng = random.Random(run)  # nosec B311
    with connection.execute_wrapper(wrapper), timed() as t:
        for mid, store, ref, amount, key in _work(rng, members, stores, run):
            service_call(mid, store, ref, amount, key)
    connection.close()
    return t() * 1000 / len(members), in_db[0] * 1000 / len(members)


def run(
    *,
    calls: int = 3000,
    threads: int = 2,
    rounds: int = 3,
    warmup: int = 100,
    seed: int = 7,
    show_queries: bool = False,
):
    from django.db import connection

    from membership.models import Member, Store

    rng = random.Random(seed)  # nosec B311
    stores = list(Store.objects.filter(code__regex=r"^S\d{3}$"))
    hi = Member.objects.order_by("-pk").values_list("pk", flat=True).first()
    modes = [("service", 1), ("raw", 1)] + ([("service", threads), ("raw", threads)] if threads > 1 else [])
    rounds = max(1, min(rounds, calls))
    per_round = [calls // rounds + (1 if k < calls % rounds else 0) for k in range(rounds)]
    split_calls = min(500, calls)
    need = warmup * 2 + split_calls + calls * len(modes) + 1
    if hi is None or hi < need:
        raise SystemExit(f"earn: needs at least {need:,} members; generate more")
    pool = rng.sample(range(1, hi + 1), need)
    stamp = time.strftime("%Y%m%d%H%M%S")

    run_mode("service", [pool.pop() for _ in range(warmup)], stores, 1, f"{stamp}w1")
    run_mode("raw", [pool.pop() for _ in range(warmup)], stores, 1, f"{stamp}w2")
    queries = count_queries(pool.pop(), stores[0])  # after the warm-up: no first-call cache fills
    connection.close()
    say(
        f"earn: record_purchase runs {len(queries)} queries per call (CaptureQueriesContext, BEGIN and COMMIT "
        f"included); the raw SQL runs 5 statements plus BEGIN/COMMIT"
    )
    if show_queries:
        for q in queries:
            say("    " + q[:150])
    elapsed = {mode: 0.0 for mode in modes}
    for k, n_calls in enumerate(per_round):  # modes alternate, so a busy spell of the machine hits each
        for kind, n in modes:
            members = [pool.pop() for _ in range(n_calls)]
            elapsed[(kind, n)] += run_mode(kind, members, stores, n, f"{stamp}{kind[0]}{n}r{k}")
    results = {}
    for (kind, n), secs in elapsed.items():
        results[(kind, n)] = calls / secs
        say(
            f"earn: {kind:7s} {n} thread{'s' if n > 1 else ' '}: {calls:,} calls in {secs:.2f} s = "
            f"{calls / secs:,.0f} calls/s"
        )
    for n in sorted({n for _k, n in modes}):
        say(
            f"earn: ratio service/raw ({n} thread{'s' if n > 1 else ''}): "
            f"{ratio(results[('service', n)], results[('raw', n)])} of the raw throughput "
            f"(a service call takes {ratio(results[('raw', n)], results[('service', n)])}x as long)"
        )
    total_ms, db_ms = time_split([pool.pop() for _ in range(split_calls)], stores, f"{stamp}split")
    say(
        f"earn: a service call takes {total_ms:.1f} ms, of which {db_ms:.1f} ms in its statements (COMMIT "
        f"excluded) and {total_ms - db_ms:.1f} ms in Python ({split_calls} calls, 1 thread)"
    )
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_earn", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per mode (default 3000)")
    parser.add_argument("--threads", type=int, default=2, help="threads of the threaded modes (default 2; 1 = off)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds the calls are split into, modes alternating")
    parser.add_argument("--show-queries", action="store_true", help="print the service's queries")
    args = parser.parse_args(argv)
    setup_django()
    run(calls=args.calls, threads=args.threads, rounds=args.rounds, show_queries=args.show_queries)


if __name__ == "__main__":
    main(sys.argv[1:])
