"""Data generator: a chain of --members members (default 1,000,000) with --lots points lots
(default 10,000,000), loaded with psycopg COPY into the tables that `manage.py migrate` made.

    .venv/bin/python -m bench.generate [--members N] [--lots N] [--jobs 2] [--check]

What it writes (all of it consistent, so `manage.py check_ledger` passes):
- the demo program (membership.demo.seed_program: tiers NORMAL/SILVER/GOLD/DIAMOND, year-end
  expiry, monthly review over a rolling 12 months), stores HQ + S001..S200, the demo staff;
- members with unique mobiles 1[3-9]xxxxxxxxx, member numbers, referral codes, birthdays,
  channels, consent, one virtual card each (16 digits, Luhn);
- each member's history from 2024-07-01 to 2026-11-22, replayed with the services' rules: sales
  (Purchase rows) that earn points at the tier held before the sale and growth (1 per whole yuan
  paid), some paid partly with points (FIFO by expiry, at most 50% of the sale, whole fen), check-in
  and campaign bonus lots, instant upgrades (TierChange rows), the monthly tier reviews from
  2024-08 to 2026-11 (rolling 12 months, as tiers.review decides), and the year-end expiry run of
  2026-01-01 that expired what was left of the 2024 lots;
- cached balances, growth, tier, purchase count and last purchase on each member equal to what
  the ledger says.
A quarter or so of the lots (what is left of the 2025 lots) is due at the next year-end run,
2027-01-01 00:00 Asia/Shanghai (bench.common.EXPIRY_AT); the December review (REVIEW_AT) drops
the members whose last 12 months fall short of their tier. Till sales, stored value and coupons
are not generated.

Speed: the secondary indexes of the big tables are dropped before the load and rebuilt after it
(their definitions are kept in the table bench_ddl until they are back, so an interrupted run is
repaired by the next one), foreign-key triggers are off during COPY (session_replication_role =
replica: the generator writes only keys it knows to exist), and --jobs processes generate member
ranges in parallel, each streaming six COPYs at once."""

import argparse
import contextlib
import multiprocessing as mp
import random
import sys
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from itertools import accumulate

from .common import (
    EXPIRY_AT,
    FULL_LOTS,
    FULL_MEMBERS,
    HISTORY_END,
    HISTORY_START,
    PAST_EXPIRY_RUN,
    REVIEW_AT,
    SH,
    raw_connect,
    say,
    setup_django,
    timed,
)

BIG_TABLES = [
    "membership_member",
    "membership_card",
    "membership_purchase",
    "membership_pointsentry",
    "membership_growthentry",
    "membership_tierchange",
]
# everything that hangs off members: emptied before a load
MEMBER_TABLES = BIG_TABLES + [
    "membership_auditlog",
    "membership_storedvalueentry",
    "membership_expirynotice",
    "membership_member_tags",
    "membership_purchasereturn",
]
BENCH_TABLES = ["bench_expiry_lots", "bench_expiry_members", "bench_review_members"]

COLUMNS = {
    "membership_member": (
        "id, member_no, phone, name, gender, birth_year, birth_month, birth_day, channel, joined_at, referral_code,"
        " marketing_consent, consent_at, status, tier_since, tier_floor_until, growth_value, points_balance,"
        " points_pending, points_flagged, sv_principal, sv_bonus, sv_pin, purchase_count, last_purchase_at,"
        " password, enrolled_by_id, home_store_id, merged_into_id, referrer_id, tier_id, tier_floor_id,"
        " sv_flagged, email, wechat_openid"
    ),
    "membership_card": "number, kind, status, batch, bound_at, blocked_at, created_at, replaces_id, member_id",
    "membership_purchase": (
        "id, reference, created_at, amount, member_discount, points_paid, points_value, coupon_value, sv_principal_paid,"
        " sv_bonus_paid, eligible_amount, points_earned, growth, returned_amount, points_reversed,"
        " points_refunded, growth_reversed, sv_principal_refunded, sv_bonus_refunded, idempotency_key,"
        " member_id, operator_id, store_id, tier_at_sale_id"
    ),
    "membership_pointsentry": (
        "amount, kind, source, source_ref, reason, created_at, balance_after, remaining, pending,"
        " available_at, expires_at, flagged, idempotency_key, member_id, operator_id, store_id, purchase_id"
    ),
    "membership_growthentry": "amount, created_at, member_id, purchase_id",
    "membership_tierchange": (
        "reason, note, created_at, idempotency_key, from_tier_id, member_id, operator_id, to_tier_id"
    ),
}

# share of members, lots drawn from [lo, hi], spend per sale in yuan [lo, hi]
PROFILES = [
    (0.10, 0, 0, 0, 0),  # enrolled, never bought
    (0.40, 1, 6, 20, 120),  # occasional
    (0.30, 6, 15, 60, 220),  # regular
    (0.15, 15, 30, 150, 520),  # frequent
    (0.05, 30, 60, 500, 1300),  # best customers
]
P_BONUS = 0.10  # a lot is a check-in or campaign bonus rather than a sale
P_PAY_POINTS = 0.07  # a sale is paid partly with points (when the member has 500 or more)
P_CHURN = 0.22  # the member stopped buying at some point of the history
P_HOME_STORE = 0.85
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉宇浩轩梓涵欣怡子晨佳琪思雨嘉"
REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CHANNELS = ["counter"] * 12 + ["web"] * 3 + ["poster"] * 4 + ["import"]

# Time is counted in seconds from BASE (local midnight); DAY/TOD turn it into text quickly.
BASE = datetime(2019, 1, 1, tzinfo=SH)
N_DAYS = (date(2028, 1, 1) - BASE.date()).days
DAY = [str(BASE.date() + timedelta(days=d)) for d in range(N_DAYS)]
YEAR = [(BASE.date() + timedelta(days=d)).year for d in range(N_DAYS)]
TOD = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
EXPIRES = [f"{y + 1}-12-31 23:59:59+08" for y in YEAR]  # year-end policy: end of the year after


def _sec(dt: datetime) -> int:
    return int((dt - BASE).total_seconds())


T_START, T_END, T_PAST_EXPIRY = _sec(HISTORY_START), _sec(HISTORY_END), _sec(PAST_EXPIRY_RUN)
T_JOIN_FIRST = 0  # members joined from 2019-01-01 ...
T_JOIN_LAST = _sec(HISTORY_END - timedelta(days=30))  # ... to a month before the end
EXPIRED_YEAR = PAST_EXPIRY_RUN.year - 2  # the 2026-01-01 run expired the 2024 lots
# The monthly tier reviews already run (the 1st of each month, 00:00, rolling 12 months) up to the
# last one before REVIEW_AT: (time, window start, idempotency key prefix).
PAST_REVIEWS = []
_m = date(HISTORY_START.year, HISTORY_START.month, 1)
while True:
    _m = date(_m.year + _m.month // 12, _m.month % 12 + 1, 1)
    _at = datetime(_m.year, _m.month, 1, tzinfo=SH)
    if _at >= REVIEW_AT or _at > HISTORY_END:
        break
    PAST_REVIEWS.append((_sec(_at), _sec(_at.replace(year=_at.year - 1)), f"review:{_m:%Y-%m}"))
DUE_YEAR = EXPIRY_AT.year - 2  # the 2027-01-01 run expires the 2025 lots


def ts(t: int) -> str:
    return f"{DAY[t // 86400]} {TOD[t % 86400]}+08"


def money(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _perm(i: int, modulus: int, a: int = 2_654_435_761, b: int = 97_531) -> int:
    """A bijection of 0..modulus-1 (a is coprime with every modulus used), so numbers are unique
    without looking like a counter."""
    return (a * i + b) % modulus


def referral_code(i: int) -> str:
    v = _perm(i, 32**6, 1_234_567_891, 2_718_281)
    return "".join(REFERRAL_ALPHABET[(v >> (5 * k)) & 31] for k in range(6))


# ---------------------------------------------------------------------------------------
# Per-member counts (main process, inherited by the forked workers)
# ---------------------------------------------------------------------------------------

PROFILE_OF: bytearray = bytearray()
LOTS_OF: list[int] = []


def plan_members(members: int, lots: int, seed: int) -> None:
    """Draw each member's profile and number of lots; scale the counts so they add up to `lots`."""
    global PROFILE_OF, LOTS_OF
    rng = random.Random(seed)  # nosec B311
    cum = list(accumulate(p[0] for p in PROFILES))
    profile_of = bytearray(members)
    raw = [0] * members
    r = rng.random
    for i in range(members):
        p = bisect_left(cum, r() * cum[-1])
        profile_of[i] = p
        _share, lo, hi, _s, _e = PROFILES[p]
        raw[i] = lo + int(r() * (hi - lo + 1)) if hi else 0
    total = sum(raw)
    if lots and not total:
        raise SystemExit("no member draws any lot: use more members")
    scale = lots / total if total else 0
    acc, prev, counts = 0.0, 0, [0] * members
    for i, c in enumerate(raw):
        acc += c * scale
        cur = int(acc + 0.5)
        counts[i] = cur - prev
        prev = cur
    counts[-1] += lots - sum(counts)  # floating-point leftovers, if any
    PROFILE_OF, LOTS_OF = profile_of, counts


# ---------------------------------------------------------------------------------------
# The worker: generate members [lo, hi) and stream them into six COPYs
# ---------------------------------------------------------------------------------------


def generate_range(lo: int, hi: int, purchase_base: int, seed: int, conninfo: str, tiers: list, stores: list):
    import psycopg

    rng = random.Random(seed * 1_000_003 + lo)  # nosec B311
    r = rng.random
    tier_ids = [t[0] for t in tiers]
    reach = [t[1] for t in tiers]
    mult_pct = [t[2] for t in tiers]
    keep = [t[3] for t in tiers]
    top = len(tiers) - 1
    n_stores = len(stores)

    conns, copies, bufs = [], {}, {t: [] for t in BIG_TABLES}
    stats = dict(
        members=0,
        lots=0,
        entries=0,
        purchases=0,
        growth=0,
        tier_changes=0,
        review_changes=0,
        due_lots=0,
        due_points=0,
        due_members=0,
        tiers=[0] * len(tiers),
    )
    try:
        cursors = []
        for table in BIG_TABLES:
            conn = psycopg.connect(conninfo)
            conn.execute("SET session_replication_role = replica")
            conn.execute("SET synchronous_commit = off")
            conns.append(conn)
            cur = conn.cursor()
            cursors.append(cur)
            cm = cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN")
            copies[table] = (cm, cm.__enter__())

        def flush(table, force=False):
            buf = bufs[table]
            if buf and (force or len(buf) >= 4000):
                copies[table][1].write("".join(buf))
                buf.clear()

        members_buf, cards_buf = bufs["membership_member"], bufs["membership_card"]
        purch_buf, entries_buf = bufs["membership_purchase"], bufs["membership_pointsentry"]
        growth_buf, tc_buf = bufs["membership_growthentry"], bufs["membership_tierchange"]
        pid_next = purchase_base
        for idx in range(lo, hi):
            mid = idx + 1
            n = LOTS_OF[idx]
            _share, _llo, _lhi, spend_lo, spend_hi = PROFILES[PROFILE_OF[idx]]
            if n and spend_hi == 0:  # a never-buying member drew a lot through the rounding
                spend_lo, spend_hi = PROFILES[1][3], PROFILES[1][4]
            spend_span = spend_hi - spend_lo + 1
            home = stores[int(r() * n_stores)]
            t_join = T_JOIN_FIRST + int(r() * (T_JOIN_LAST - T_JOIN_FIRST))
            t_join = t_join - t_join % 86400 + 32400 + int(r() * 46800)  # during opening hours
            start = max(t_join, T_START) // 86400
            end = T_END // 86400
            if r() < P_CHURN:
                end = start + int((end - start) * (0.15 + 0.85 * r()))
            span = end - start + 1
            times = sorted((start + int(r() * span)) * 86400 + 32400 + int(r() * 46800) for _ in range(n))
            if times and times[0] < t_join:
                times = sorted(max(t, t_join + k + 1) for k, t in enumerate(times))

            # the member's ledger, replayed in time order
            entries = []  # [t, amount, kind, source, ref, balance_after, lot, key, store, purchase]
            lots = []  # the entries that are lots, in FIFO order (same expiry rule: time order)
            head = 0
            bal = growth = tier = sales = 0
            tier_since, last_sale = t_join, None
            past_expiry_done = False
            growth_log = []  # (time, growth) of the sales, for the monthly reviews
            review_next = 0
            tc_buf.append(f"enrol\t\t{ts(t_join)}\t\\N\t\\N\t{mid}\t\\N\t{tier_ids[0]}\n")
            stats["tier_changes"] += 1

            def expire_past(bal, head):
                total = 0
                while head < len(lots) and YEAR[lots[head][0] // 86400] <= EXPIRED_YEAR:
                    total += lots[head][6]
                    lots[head][6] = 0
                    head += 1
                if total:
                    bal -= total
                    entries.append([T_PAST_EXPIRY, -total, "expire", "expiry", "", bal, 0, None, None, None])
                return bal, head

            def review_until(t, tier, tier_since, review_next):
                """The monthly reviews up to time t: drop to the highest tier at or below the current
                one whose keep threshold the rolling 12 months' growth meets (tiers.review)."""
                while review_next < len(PAST_REVIEWS) and PAST_REVIEWS[review_next][0] <= t:
                    at, start, key = PAST_REVIEWS[review_next]
                    review_next += 1
                    if not tier:
                        continue
                    window = sum(g for tg, g in growth_log if start <= tg <= at)
                    target = tier
                    while target and keep[target] > window:
                        target -= 1
                    if target != tier:
                        tc_buf.append(
                            f"review\twindow growth {window}\t{ts(at)}\t{key}:{mid}\t{tier_ids[tier]}\t"
                            f"{mid}\t\\N\t{tier_ids[target]}\n"
                        )
                        stats["tier_changes"] += 1
                        stats["review_changes"] += 1
                        tier, tier_since = target, at
                return tier, tier_since, review_next

            for k, t in enumerate(times):
                tier, tier_since, review_next = review_until(t, tier, tier_since, review_next)
                if not past_expiry_done and t >= T_PAST_EXPIRY:
                    bal, head = expire_past(bal, head)
                    past_expiry_done = True
                if r() < P_BONUS:
                    if r() < 0.6:
                        amount, source = 5 + int(r() * 16), "checkin"
                    else:
                        amount, source = 100 + 10 * int(r() * 41), "scene"
                    bal += amount
                    lot = [t, amount, "bonus", source, "", bal, amount, f"gen:{mid}:{k}:bonus", None, None]
                    entries.append(lot)
                    lots.append(lot)
                    continue
                pid_next += 1
                pid = pid_next
                store = home if r() < P_HOME_STORE else stores[int(r() * n_stores)]
                amount_fen = (spend_lo + int(r() * spend_span)) * 100 + (0, 50, 90)[int(r() * 3)]
                key = f"gen:{mid}:{k}"
                ref = f"R{pid:09d}"
                pay = 0
                if bal >= 500 and r() < P_PAY_POINTS:
                    pay = min(bal, amount_fen // 2) // 100 * 100  # 100 points = ¥1, at most half the sale
                if pay:
                    left = pay
                    while left:
                        lot = lots[head]
                        use = lot[6] if lot[6] < left else left
                        lot[6] -= use
                        left -= use
                        if not lot[6]:
                            head += 1
                    bal -= pay
                    entries.append([t, -pay, "redeem", "sale", ref, bal, 0, f"{key}:redeem", store, pid])
                eligible = amount_fen - pay
                earned = eligible * mult_pct[tier] // 10000
                g = eligible // 100
                purch_buf.append(
                    f"{pid}\t{ref}\t{ts(t)}\t{money(amount_fen)}\t0.00\t{pay}\t{money(pay)}\t0.00\t0.00\t0.00\t"
                    f"{money(eligible)}\t{earned}\t{g}\t0.00\t0\t0\t0\t0.00\t0.00\t{key}\t{mid}\t\\N\t{store}\t"
                    f"{tier_ids[tier]}\n"
                )
                if earned:
                    bal += earned
                    lot = [t, earned, "earn", "sale", ref, bal, earned, f"{key}:earn", store, pid]
                    entries.append(lot)
                    lots.append(lot)
                if g:
                    growth += g
                    growth_log.append((t, g))
                    growth_buf.append(f"{g}\t{ts(t)}\t{mid}\t{pid}\n")
                    stats["growth"] += 1
                    target = tier
                    while target < top and reach[target + 1] <= growth:
                        target += 1
                    if target != tier:
                        tc_buf.append(f"upgrade\t\t{ts(t)}\t\\N\t{tier_ids[tier]}\t{mid}\t\\N\t{tier_ids[target]}\n")
                        stats["tier_changes"] += 1
                        tier, tier_since = target, t
                sales += 1
                last_sale = t
            if not past_expiry_done:
                bal, head = expire_past(bal, head)
            tier, tier_since, review_next = review_until(T_END, tier, tier_since, review_next)

            for e in entries:
                t, amount, kind, source, ref, bal_after, remaining, key, store, pid = e
                exp = EXPIRES[t // 86400] if amount > 0 else None
                entries_buf.append(
                    f"{amount}\t{kind}\t{source}\t{ref}\t\t{ts(t)}\t{bal_after}\t{remaining}\tf\t\\N\t"
                    f"{exp if exp else chr(92) + 'N'}\tf\t{key if key else chr(92) + 'N'}\t{mid}\t\\N\t"
                    f"{store if store else chr(92) + 'N'}\t{pid if pid else chr(92) + 'N'}\n"
                )
            due = [lot[6] for lot in lots if lot[6] and YEAR[lot[0] // 86400] == DUE_YEAR]
            if due:
                stats["due_lots"] += len(due)
                stats["due_points"] += sum(due)
                stats["due_members"] += 1
            stats["lots"] += len(lots)
            stats["entries"] += len(entries)
            stats["purchases"] += sales
            stats["tiers"][tier] += 1
            stats["members"] += 1

            # the member row and the card
            name = (
                SURNAMES[int(r() * len(SURNAMES))]
                + GIVEN[int(r() * len(GIVEN))]
                + (GIVEN[int(r() * len(GIVEN))] if r() < 0.6 else "")
            )
            gender = "F" if r() < 0.55 else ("M" if r() < 0.85 else "U")
            if r() < 0.75:
                bm, bd = 1 + int(r() * 12), 1 + int(r() * 28)
                by = str(1960 + int(r() * 46)) if r() < 0.6 else "\\N"
                birth = f"{by}\t{bm}\t{bd}"
            else:
                birth = "\\N\t\\N\t\\N"
            consent = r() < 0.7
            joined = ts(t_join)
            referrer = str(1 + int(r() * idx)) if idx and r() < 0.05 else "\\N"
            members_buf.append(
                f"{mid}\t{1_000_000_000 + _perm(idx, 9_000_000_000)}\t"
                f"{13_000_000_000 + _perm(idx, 7_000_000_000, 48_271, 1_234_567)}\t"
                f"{name}\t{gender}\t{birth}\t{CHANNELS[int(r() * len(CHANNELS))]}\t{joined}\t{referral_code(idx)}\t"
                f"{'t' if consent else 'f'}\t{joined if consent else chr(92) + 'N'}\tactive\t{ts(tier_since)}\t\\N\t"
                f"{growth}\t{bal}\t0\tf\t0.00\t0.00\t\t{sales}\t{ts(last_sale) if last_sale else chr(92) + 'N'}\t"
                f"\t\\N\t{home}\t\\N\t{referrer}\t{tier_ids[tier]}\t\\N\tf\t\t\n"
            )
            payload = "8860" + f"{_perm(idx, 10**11, 1_234_567_891, 3_141_593):011d}"
            cards_buf.append(
                f"{payload}{luhn_check_digit(payload)}\tvirtual\tactive\t\t{joined}\t\\N\t{joined}\t\\N\t{mid}\n"
            )
            if len(entries_buf) >= 4000 or len(members_buf) >= 4000:
                for table in BIG_TABLES:
                    flush(table, force=True)
        for table in BIG_TABLES:
            flush(table, force=True)
        for table in BIG_TABLES:
            cm, _copy = copies.pop(table)
            cm.__exit__(None, None, None)
        for conn in conns:
            conn.commit()
    finally:
        for cm, _copy in copies.values():
            with contextlib.suppress(Exception):  # a COPY already failed: closing it may fail too
                cm.__exit__(RuntimeError, RuntimeError("aborted"), None)
        for conn in conns:
            conn.close()
    return stats


# ---------------------------------------------------------------------------------------
# Indexes: drop before the load, rebuild after (definitions kept in bench_ddl meanwhile)
# ---------------------------------------------------------------------------------------


def drop_indexes(conn) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_ddl (tbl text, idx text PRIMARY KEY, indexdef text, constraint_name text)"
    )
    if not conn.execute("SELECT count(*) FROM bench_ddl").fetchone()[0]:
        conn.execute(
            "INSERT INTO bench_ddl SELECT c.relname, i.relname, pg_get_indexdef(i.oid), con.conname"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid"
            " LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.contype = 'u'"
            " WHERE c.relname = ANY(%s) AND NOT x.indisprimary",
            [BIG_TABLES],
        )
    for tbl, idx, constraint in conn.execute("SELECT tbl, idx, constraint_name FROM bench_ddl").fetchall():
        if constraint:
            conn.execute(f'ALTER TABLE {tbl} DROP CONSTRAINT IF EXISTS "{constraint}"')
        conn.execute(f'DROP INDEX IF EXISTS "{idx}"')


def rebuild_indexes(jobs: int) -> None:
    with raw_connect(autocommit=True) as conn:
        rows = conn.execute(
            "SELECT d.tbl, d.idx, d.indexdef, d.constraint_name FROM bench_ddl d"
            " JOIN pg_class c ON c.relname = d.tbl ORDER BY c.reltuples DESC, d.idx"
        ).fetchall()

    def build(row):
        tbl, idx, indexdef, constraint = row
        with raw_connect(autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            exists = conn.execute("SELECT 1 FROM pg_class WHERE relname = %s", [idx]).fetchone()
            if not exists:
                conn.execute(indexdef)
            if constraint:
                conn.execute(f'ALTER TABLE {tbl} ADD CONSTRAINT "{constraint}" UNIQUE USING INDEX "{idx}"')
            conn.execute("DELETE FROM bench_ddl WHERE idx = %s", [idx])

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(build, rows))


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def seed_reference_data(stores_count: int = 200) -> tuple[list, list]:
    from membership.demo import seed_program, seed_stores_and_staff
    from membership.models import Store, Tier

    seed_stores_and_staff()
    seed_program()
    hq = Store.objects.get(code="HQ")
    have = set(Store.objects.values_list("code", flat=True))
    Store.objects.bulk_create(
        [
            Store(code=f"S{n:03d}", name=f"门店{n:03d}", parent=hq)
            for n in range(1, stores_count + 1)
            if f"S{n:03d}" not in have
        ]
    )
    stores = list(Store.objects.filter(code__regex=r"^S\d{3}$").order_by("code").values_list("pk", flat=True))
    tiers = [
        (t.pk, t.reach_growth, int(t.points_multiplier * 100), t.keep_growth) for t in Tier.objects.order_by("rank")
    ]
    return tiers, stores


def generate(
    *, members: int = FULL_MEMBERS, lots: int = FULL_LOTS, jobs: int = 2, seed: int = 20261123, check: bool = False
) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from .common import conninfo

    say(f"generate: members={members:,} lots={lots:,} jobs={jobs} database={connection.settings_dict['NAME']}")
    with timed() as total:
        call_command("migrate", verbosity=0, interactive=False)
        tiers, stores = seed_reference_data()
        connection.close()
        with raw_connect(autocommit=True) as conn:
            for t in BENCH_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {t}")
            conn.execute(f"TRUNCATE {', '.join(MEMBER_TABLES)} RESTART IDENTITY CASCADE")
            drop_indexes(conn)
        with timed() as t_plan:
            plan_members(members, lots, seed)
        say(f"generate: planned member profiles and lot counts in {t_plan():.1f} s")

        chunks = max(1, jobs) * 4
        bounds = [members * k // chunks for k in range(chunks + 1)]
        prefix = [0, *accumulate(LOTS_OF)]
        tasks = [
            (bounds[k], bounds[k + 1], prefix[bounds[k]], seed, conninfo(), tiers, stores)
            for k in range(chunks)
            if bounds[k] < bounds[k + 1]
        ]
        with timed() as t_load:
            with mp.get_context("fork").Pool(processes=max(1, jobs)) as pool:
                results = pool.starmap(generate_range, tasks)
        stats = {k: sum(r[k] for r in results) for k in results[0] if k != "tiers"}
        stats["tiers"] = [sum(r["tiers"][i] for r in results) for i in range(len(tiers))]
        say(
            f"generate: COPY of {stats['members']:,} members, {stats['entries']:,} points entries "
            f"({stats['lots']:,} lots), {stats['purchases']:,} purchases, {stats['growth']:,} growth entries, "
            f"{stats['tier_changes']:,} tier changes ({stats['review_changes']:,} by the monthly reviews) in "
            f"{t_load():.1f} s"
        )

        with timed() as t_idx:
            rebuild_indexes(jobs)
        say(f"generate: rebuilt the secondary indexes in {t_idx():.1f} s")
        with timed() as t_vac:
            with raw_connect(autocommit=True) as conn:
                for table in ("membership_member", "membership_purchase"):
                    conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # nosec B608
                        f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                    )
                for table in BIG_TABLES:
                    conn.execute(f"VACUUM (FREEZE, ANALYZE) {table}")
        say(f"generate: VACUUM (FREEZE, ANALYZE) in {t_vac():.1f} s")
    share = stats["due_lots"] / stats["lots"] if stats["lots"] else 0
    say(
        f"generate: tiers {', '.join(f'{n:,}' for n in stats['tiers'])} (by rank); lots due at "
        f"{EXPIRY_AT:%Y-%m-%d %H:%M} {share:.1%} ({stats['due_lots']:,} lots, {stats['due_points']:,} points, "
        f"{stats['due_members']:,} members)"
    )
    say(f"generate: done in {total():.1f} s")
    if check:
        from membership.ledger import discrepancies

        with timed() as t_check:
            found = discrepancies()
        say(f"generate: check_ledger: {len(found)} discrepancies in {t_check():.1f} s")
        if found:
            for d in found[:10]:
                say(f"  {d}")
            raise SystemExit(1)
    stats["seconds"] = total()
    return stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, default=FULL_MEMBERS, help="members (default 1,000,000)")
    parser.add_argument("--lots", type=int, default=FULL_LOTS, help="points lots (default 10,000,000)")
    parser.add_argument("--jobs", type=int, default=2, help="generator processes (default 2)")
    parser.add_argument("--seed", type=int, default=20261123)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--check", action="store_true", help="prove the ledger afterwards (check_ledger)")
    args = parser.parse_args(argv)
    setup_django()
    generate(members=args.members, lots=args.lots, jobs=args.jobs, seed=args.seed, check=args.check)


if __name__ == "__main__":
    main(sys.argv[1:])
