"""Analytics benchmark: the nightly roll-up of one day, the full member RFM snapshot, and every
dashboard page, on a chain of 1,000,000 members and 10,000,000 till sales.

    .venv/bin/python -m bench.bench_analytics                  # sales from the generated members, then the timings
    .venv/bin/python -m bench.bench_analytics --generate       # first bench.generate (1M members, 10M lots)
    .venv/bin/python -m bench.bench_analytics --skip-sales     # reuse the pos_sale rows already there
    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/bench_analytics (the default here)

Data: bench.generate writes members and their membership purchases (no till sales). This script
turns every purchase into a pos.Sale (same store, time, amount, member) and adds walk-in sales
without a member until there are --sales in all, sorted by time as a till writes them; returns for
one sale in 40 (half the amount, two days later); two clerks per store who rang up the sales and
enrolled the members; and a win-back scene with grants, a holdout and coupons over the last 90 days.
All of it with INSERT … SELECT in PostgreSQL, secondary indexes dropped during the load.

Then it rolls up the history the dashboards read (store, clerk and campaign days for every day,
months, tiers and lifecycle for the last --lifecycle-days days and the Sundays of the year before),
times the nightly roll-up of the last day (each part, and the snapshot), and renders every dashboard
page --repeat times for HQ (all stores, a region, one store), a regional manager and a store
manager, printing the median and the worst render time and the queries of each. The stores are
grouped into regions of 20 (R01, R02, … under HQ) before the roll-ups."""

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta

os.environ.setdefault("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/bench_analytics")

from .common import HISTORY_END, HISTORY_START, checkpoint_and_vacuum, raw_connect, say, setup_django, timed  # noqa: E402

FULL_SALES = 10_000_000
PAGES = [
    "/analytics/",
    "/analytics/members/",
    "/analytics/sales/",
    "/analytics/points/",
    "/analytics/rfm/",
    "/analytics/rfm/high_value/",
    "/analytics/campaigns/",
    "/analytics/clerks/",
    "/analytics/funnel/",
]
SALE_TABLES = ["pos_sale", "pos_return"]


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def _clerks() -> None:
    """Two clerks per store (bench_c<store>a / b) and a manager of S001 (bench_m001)."""
    from membership.models import Role, Store, User

    stores = list(Store.objects.filter(code__regex=r"^S\d{3}$").order_by("code"))
    have = set(User.objects.filter(username__startswith="bench_").values_list("username", flat=True))
    users = [
        User(username=f"bench_c{s.code}{k}", role=Role.CLERK, store=s, first_name=f"导购{s.code}{k}", password="!")  # nosec B106
        for s in stores
        for k in "ab"
        if f"bench_c{s.code}{k}" not in have
    ]
    if "bench_m001" not in have:
        users.append(User(username="bench_m001", role=Role.MANAGER, store=stores[0], first_name="店长", password="!"))  # nosec B106
    User.objects.bulk_create(users)
    with raw_connect(autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_clerks")
        conn.execute("""CREATE TABLE bench_clerks AS
            SELECT u.store_id, CASE WHEN right(u.username, 1) = 'a' THEN 0 ELSE 1 END AS k, u.id AS user_id
            FROM membership_user u WHERE u.username ~ '^bench_cS[0-9]{3}[ab]$'""")
        conn.execute("CREATE UNIQUE INDEX ON bench_clerks (store_id, k)")


REGION_SIZE = 20  # stores per region: 200 stores → 10 regions


def _regions() -> None:
    """Regions R01, R02, … under HQ, REGION_SIZE stores each in code order, and a regional manager
    of R01 (bench_r01): the region level of the store tree (issue 20). Made before the roll-ups,
    which compute each region's distinct-member rows."""
    from membership.models import Role, Store, User

    hq = Store.objects.filter(code="HQ").first()
    stores = list(Store.objects.filter(code__regex=r"^S\d{3}$").order_by("code"))
    for k in range(0, len(stores), REGION_SIZE):
        code = f"R{k // REGION_SIZE + 1:02d}"
        region, _ = Store.objects.get_or_create(code=code, defaults={"name": f"区域{code}", "parent": hq})
        Store.objects.filter(pk__in=[s.pk for s in stores[k : k + REGION_SIZE]]).update(parent=region)
    if not User.objects.filter(username="bench_r01").exists():
        User.objects.create(
            username="bench_r01",
            role=Role.REGIONAL,
            store=Store.objects.get(code="R01"),
            first_name="区经理",
            password="!",  # nosec B106
        )


def _drop_indexes(conn, tables) -> list[str]:
    rows = conn.execute(
        """SELECT i.indexname, i.indexdef, c.conname FROM pg_indexes i
        LEFT JOIN pg_constraint c ON c.conname = i.indexname
        WHERE i.tablename = ANY(%s) AND i.indexname NOT LIKE '%%_pkey'""",
        [tables],
    ).fetchall()
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_analytics_ddl (idx text PRIMARY KEY, indexdef text, conname text, tbl text)"
    )
    for name, indexdef, conname in rows:
        table = indexdef.split(" ON ")[1].split(" ")[0].replace("public.", "")
        conn.execute(
            "INSERT INTO bench_analytics_ddl VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [name, indexdef, conname, table],
        )
        if conname:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{conname}"')
        else:
            conn.execute(f'DROP INDEX "{name}"')
    return [r[0] for r in rows]


def _rebuild_indexes(conn) -> None:
    conn.execute("SET maintenance_work_mem = '512MB'")
    for name, indexdef, conname, table in conn.execute(
        "SELECT idx, indexdef, conname, tbl FROM bench_analytics_ddl ORDER BY idx"
    ).fetchall():
        if not conn.execute("SELECT 1 FROM pg_class WHERE relname = %s", [name]).fetchone():
            conn.execute(indexdef)
        if conname and not conn.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [conname]).fetchone():
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{conname}" UNIQUE USING INDEX "{name}"')
        conn.execute("DELETE FROM bench_analytics_ddl WHERE idx = %s", [name])


def generate_sales(total: int) -> dict:
    """pos.Sale rows: one per membership purchase (as many as fit in `total`), walk-ins for the rest."""
    _clerks()
    with raw_connect(autocommit=True) as conn:
        conn.execute("SET work_mem = '512MB'")
        purchases = conn.execute("SELECT count(*) FROM membership_purchase").fetchone()[0]
        member_sales = min(purchases, total)
        walk_ins = total - member_sales
        start, end = HISTORY_START, HISTORY_END
        days = (end.date() - start.date()).days
        with timed() as t:
            conn.execute("TRUNCATE pos_saleline, pos_return, pos_sale RESTART IDENTITY CASCADE")
            if conn.execute("SELECT to_regclass('bench_analytics_ddl')").fetchone()[0]:
                _rebuild_indexes(conn)  # an interrupted earlier run left them dropped
            _drop_indexes(conn, SALE_TABLES)
            conn.execute("SET session_replication_role = replica")
            conn.execute(f"""
                INSERT INTO pos_sale (store_id, clerk_id, member_id, purchase_id, receipt_no, amount, points_redeemed,
                    points_value, coupon_code, coupon_value, stored_value_paid, cash_due, points_earned,
                    returned_amount, request_hash, response, created_at, member_discount, flagged, offline)
                SELECT store_id, clerk_id, member_id, purchase_id, receipt_no, amount, points_redeemed, points_value,
                       '', 0, 0, amount - points_value, points_earned, 0, '', '{{}}', created_at, 0, false, false
                FROM (
                    SELECT p.store_id, c.user_id AS clerk_id, p.member_id, p.id AS purchase_id,
                           p.reference AS receipt_no,
                           p.amount, p.points_paid AS points_redeemed, p.points_value, p.points_earned, p.created_at
                    FROM (SELECT * FROM membership_purchase ORDER BY id LIMIT {member_sales}) p
                    JOIN bench_clerks c ON c.store_id = p.store_id AND c.k = p.id % 2
                    UNION ALL
                    SELECT st.ids[1 + (g * 7919) % st.n], c.user_id, NULL, NULL, 'W' || g,
                           (10 + (g * 104729) % 290)::numeric + ((g % 3) * 0.45)::numeric, 0, 0, 0,
                           (timestamptz '{start.isoformat()}' + ((g * 2654435761) % {days}) * interval '1 day'
                            + interval '9 hours' + ((g * 40503) % 46800) * interval '1 second')
                    FROM generate_series(1::bigint, {walk_ins}) g
                    CROSS JOIN (SELECT array_agg(id ORDER BY code) AS ids, count(*) AS n FROM membership_store
                                WHERE code ~ '^S[0-9]{{3}}$') st
                    JOIN bench_clerks c ON c.store_id = st.ids[1 + (g * 7919) % st.n] AND c.k = g % 2
                ) s ORDER BY created_at""")  # nosec B608
            conn.execute(f"""
                INSERT INTO pos_return (sale_id, store_id, clerk_id, purchase_return_id, receipt_no, amount,
                                        request_hash, response, created_at)
                SELECT id, store_id, clerk_id, NULL, 'RT' || id, round(amount / 2, 2), '', '{{}}',
                       created_at + interval '2 days'
                FROM pos_sale WHERE id % 40 = 0 AND created_at + interval '2 days' < timestamptz '{end.isoformat()}'
                ORDER BY created_at + interval '2 days'""")  # nosec B608
            conn.execute("UPDATE pos_sale s SET returned_amount = r.amount FROM pos_return r WHERE r.sale_id = s.id")
            conn.execute("""UPDATE membership_member m SET enrolled_by_id = c.user_id FROM bench_clerks c
                            WHERE c.store_id = m.home_store_id AND c.k = m.id % 2 AND m.enrolled_by_id IS NULL""")
            conn.execute("SET session_replication_role = origin")
            _rebuild_indexes(conn)
        counts = conn.execute(
            "SELECT count(*), count(member_id), (SELECT count(*) FROM pos_return) FROM pos_sale"
        ).fetchone()
    say(f"sales: {counts[0]:,} till sales ({counts[1]:,} member sales), {counts[2]:,} returns in {t():.1f} s")
    with timed() as t:
        checkpoint_and_vacuum(SALE_TABLES + ["membership_member"])
    say(f"sales: VACUUM ANALYZE in {t():.1f} s")
    return {"sales": counts[0], "member_sales": counts[1], "returns": counts[2]}


def generate_campaign(days: int = 90, per_day: int = 2000) -> None:
    """A win-back scene with a 10% holdout: `per_day` grants a day over the last `days` days, a coupon for
    each granted member, a quarter of them used."""
    from campaigns.models import BenefitPackage, CouponTemplate, Scene

    template, _ = CouponTemplate.objects.get_or_create(
        code="BENCH15", defaults=dict(name="bench ¥15 off ¥80", value=15, threshold=80, valid_days=30)
    )
    package, _ = BenefitPackage.objects.get_or_create(name="bench win-back", defaults={"cost_per_grant": 3})
    scene, _ = Scene.objects.get_or_create(
        name="bench win-back",
        defaults=dict(kind=Scene.Kind.WINBACK, package=package, holdout_percent=10, inactive_days=90),
    )
    end = HISTORY_END
    with raw_connect(autocommit=True) as conn, timed() as t:
        conn.execute("DELETE FROM campaigns_coupon WHERE source = %s", [f"scene:{scene.pk}"])
        conn.execute("DELETE FROM campaigns_scenegrant WHERE scene_id = %s", [scene.pk])
        members = conn.execute("SELECT max(id) FROM membership_member").fetchone()[0]
        conn.execute(f"""
            INSERT INTO campaigns_scenegrant (scene_id, member_id, occurrence, variant, status, points, window_ends,
                                              created_at, claimed_at)
            SELECT {scene.pk}, 1 + (g * 48271) % {members}, 'bench:' || g,
                   CASE WHEN g % 10 = 0 THEN 'holdout' ELSE 'A' END,
                   CASE WHEN g % 10 = 0 THEN 'holdout' ELSE 'granted' END, 0, NULL,
                   timestamptz '{end.isoformat()}' - ((g % {days}) + 1) * interval '1 day' + interval '30 minutes', NULL
            FROM generate_series(1::bigint, {days * per_day}) g""")  # nosec B608
        conn.execute(f"""
            INSERT INTO campaigns_coupon (template_id, member_id, code, status, source, granted_at, valid_from,
                                          valid_until, used_at, used_store_id, used_sale_ref, discount, idempotency_key)
            SELECT {template.pk}, g.member_id, 'B' || g.id,
                   CASE WHEN g.id % 4 = 0 THEN 'used' ELSE 'available' END, 'scene:{scene.pk}', g.created_at,
                   g.created_at, g.created_at + interval '30 days',
                   CASE WHEN g.id % 4 = 0 THEN g.created_at + interval '3 days' END,
                   CASE WHEN g.id % 4 = 0 THEN m.home_store_id END, '',
                   CASE WHEN g.id % 4 = 0 THEN 15 ELSE 0 END, 'bench:' || g.id
            FROM campaigns_scenegrant g JOIN membership_member m ON m.id = g.member_id
            WHERE g.scene_id = {scene.pk} AND g.variant = 'A'""")  # nosec B608
        grants = conn.execute("SELECT count(*) FROM campaigns_scenegrant").fetchone()[0]
        conn.execute("ANALYZE campaigns_scenegrant")
        conn.execute("ANALYZE campaigns_coupon")
    say(f"campaign: {grants:,} grants and their coupons in {t():.1f} s")


# ---------------------------------------------------------------------------------------------
# roll-ups
# ---------------------------------------------------------------------------------------------


def history(last: date, lifecycle_days: int) -> None:
    """The roll-ups the dashboards read: every day of the history for the cheap daily tables and
    the months; tiers and lifecycle for the last `lifecycle_days` days and the Sundays of the year.
    Days rolled up by an earlier run are kept (an interrupted run resumes)."""
    from analytics.models import AnalyticsSettings, RollupRun
    from analytics.services import rollups

    settings = AnalyticsSettings.load()
    done = {(k, d) for k, d in RollupRun.objects.values_list("kind", "day")}
    first = HISTORY_START.date()
    with timed() as t:
        day = first
        while day <= last:
            for kind in ("store", "clerk", "campaign"):
                if (kind, day) not in done:
                    rollups.DAILY[kind](*((day, settings) if kind == "campaign" else (day,)))
            if (day == last or day.month != (day + timedelta(days=1)).month) and ("month", day) not in done:
                rollups.roll_month(day)
            day += timedelta(days=1)
    say(f"history: store, clerk, campaign days and months {first} to {last} in {t():.0f} s")
    days = {last - timedelta(days=k) for k in range(lifecycle_days)}
    days |= {last - timedelta(days=k) for k in range(365) if (last - timedelta(days=k)).weekday() == 6}
    with timed() as t:
        for day in sorted(days):
            if ("tier", day) not in done:
                rollups.roll_tier_day(day)
            if ("lifecycle", day) not in done:
                rollups.roll_lifecycle_day(day, settings)
    say(f"history: tiers and lifecycle for {len(days)} days in {t():.0f} s")


def nightly(day: date) -> dict:
    """The nightly roll-up of `day`, part by part (what analytics.tasks.nightly_rollups runs)."""
    from analytics.services import rollups

    with timed() as t:
        report = rollups.nightly(day)
    for line in report.lines():
        say(f"nightly {day}: {line}")
    say(f"nightly {day}: total {t():.1f} s (of which the member snapshot {report.seconds['snapshot']:.1f} s)")
    return {"total": t(), **report.seconds}


def snapshot(day: date) -> float:
    from django.db.models import Count

    from analytics.models import MemberSnapshot
    from analytics.services import rfm

    with timed() as t:
        rows = rfm.build_snapshot(day)
    classes = dict(
        MemberSnapshot.objects.exclude(rfm_class="").order_by().values_list("rfm_class").annotate(n=Count("member_id"))
    )
    say(f"snapshot {day}: {rows:,} members scored and classed in {t():.1f} s; classes {classes}")
    return t()


# ---------------------------------------------------------------------------------------------
# pages
# ---------------------------------------------------------------------------------------------


def pages(repeat: int, last: date) -> list[tuple]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from membership.models import Store, User

    s001 = Store.objects.get(code="S001")
    r01 = Store.objects.get(code="R01")
    viewers = [
        ("HQ, all stores", "admin", ""),
        ("HQ, region R01", "admin", f"&store={r01.pk}"),
        ("HQ, store S001", "admin", f"&store={s001.pk}"),
        ("regional R01", "bench_r01", ""),
        ("manager S001", "bench_m001", ""),
    ]
    periods = [("30 days", last - timedelta(days=29)), ("90 days", last - timedelta(days=89))]
    results = []
    for who, username, extra in viewers:
        client = Client()
        client.force_login(User.objects.get(username=username))
        for label, start in periods:
            for path in PAGES:
                url = f"{path}?start={start}&end={last}{extra}"
                times = []
                for _ in range(repeat + 1):  # the first one warms caches and is not counted
                    with CaptureQueriesContext(connection) as queries:
                        began = time.perf_counter()
                        response = client.get(url, HTTP_HOST="localhost")
                        times.append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 200, (url, response.status_code)  # nosec B101
                times = times[1:]
                results.append((who, label, path, statistics.median(times), max(times), len(queries)))
                say(
                    f"page {who:16} {label:8} {path:28} median {statistics.median(times):6.1f} ms  "
                    f"worst {max(times):6.1f} ms  {len(queries):3} queries"
                )
    worst = max(r[4] for r in results)
    say(
        f"pages: {len(results)} page renders, slowest median {max(r[3] for r in results):.1f} ms, "
        f"worst single render {worst:.1f} ms ({'within' if worst <= 300 else 'ABOVE'} the 300 ms budget)"
    )
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_analytics", description=__doc__.splitlines()[0])
    parser.add_argument("--generate", action="store_true", help="run bench.generate first (members, lots)")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--lots", type=int, default=10_000_000)
    parser.add_argument("--sales", type=int, default=FULL_SALES, help="till sales in all (default 10,000,000)")
    parser.add_argument("--skip-sales", action="store_true", help="keep the till sales already loaded")
    parser.add_argument("--skip-history", action="store_true", help="keep the roll-ups already built")
    parser.add_argument("--lifecycle-days", type=int, default=35)
    parser.add_argument("--repeat", type=int, default=5, help="renders of each page (default 5)")
    args = parser.parse_args(argv)
    db = setup_django()
    say(f"bench_analytics: database {db['NAME']}")
    from django.core.management import call_command

    if args.generate:
        from . import generate

        generate.generate(members=args.members, lots=args.lots)
    call_command("migrate", verbosity=0, interactive=False)
    last = HISTORY_END.date()
    if not args.skip_sales:
        generate_sales(args.sales)
        generate_campaign()
    _regions()
    if not args.skip_history:
        history(last - timedelta(days=1), args.lifecycle_days)
    checkpoint_and_vacuum(
        [
            "analytics_storeday",
            "analytics_clerkday",
            "analytics_lifecycleday",
            "analytics_tierday",
            "analytics_monthstats",
            "analytics_campaignday",
            "analytics_repurchasewindow",
        ]
    )
    nightly(last)
    snapshot(last)
    pages(args.repeat, last)


if __name__ == "__main__":
    main(sys.argv[1:])
