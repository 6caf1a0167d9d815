"""Go-live migration benchmark (issue 13): import N members, each with a points lot with its expiry,
stored value, growth and a physical card, through `migration.import_file` (what `manage.py
import_members` and the background import run), with about 0.1 % bad rows whose errors are kept
(--skip-bad-rows); then `check_ledger` on the result. The anchor is django-import-export's
row-by-row import (admin's MemberResource, one row at a time through the same importer) on a
smaller file.

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/portal_h13 \\
        .venv/bin/python -m bench.bench_import --rows 1000000 [--anchor-rows 2000] [--batch-rows 5000]

The membership tables of that database are emptied first (TRUNCATE): use a database of its own."""

import argparse
import io
import os
import random
import resource
import time
from datetime import date

from .bench_load import cpu_seconds
from .common import django_backend_cpu, say, setup_django

MEMBER_TABLES = [
    "membership_member_tags",
    "membership_auditlog",
    "membership_storedvalueentry",
    "membership_pointsentry",
    "membership_growthentry",
    "membership_tierchange",
    "membership_card",
    "membership_expirynotice",
    "membership_purchasereturn",
    "membership_purchase",
    "membership_member",
]


def luhn(payload: str) -> str:
    from membership.identity import luhn_check_digit

    return payload + luhn_check_digit(payload)


def make_file(rows: int, *, start: int, stores: list[str], tiers: list[str], bad_every: int, seed: int) -> bytes:
    from membership import migration

    rnd = random.Random(seed)  # nosec B311
    year = date.today().year + 1
    out = io.StringIO()
    out.write(",".join(migration.COLUMNS) + "\n")
    for i in range(start, start + rows):
        phone = f"13{i:09d}"
        card = luhn(f"621{i:012d}")
        cells = {
            "member_no": f"M{i:09d}",
            "phone": phone,
            "name": "王伟",
            "gender": "FM"[i % 2],
            "birthday": f"19{rnd.randint(50, 99)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
            "home_store": stores[i % len(stores)],
            "marketing_consent": str(i % 2),
            "joined_at": "2021-05-01 10:00",
            "card_no": card,
            "points": str(rnd.randint(1, 20000)),
            "points_expire_on": f"{year}-{rnd.randint(1, 12):02d}-28",
            "growth_value": str(rnd.randint(0, 30000)),
            "tier": tiers[i % len(tiers)] if i % 10 == 0 else "",
            "sv_principal": f"{rnd.randint(0, 500)}.50",
            "sv_bonus": "20.00" if i % 3 == 0 else "",
        }
        if bad_every and i % bad_every == 7:  # a bad row: negative points, unknown store or a bad card
            kind = (i // bad_every) % 3
            if kind == 0:
                cells["points"] = "-5"
            elif kind == 1:
                cells["home_store"] = "NOPE"
            else:
                cells["card_no"] = card[:-1] + str((int(card[-1]) + 1) % 10)
        out.write(",".join(cells.get(c, "") for c in migration.COLUMNS) + "\n")
    return out.getvalue().encode()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--anchor-rows", type=int, default=2000)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--bad-every", type=int, default=1000, help="one bad row in this many (0: none)")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection
    from django.utils import translation

    from membership import migration
    from membership.demo import seed_program, seed_stores_and_staff
    from membership.ledger import discrepancies
    from membership.models import Member, Store, Tier

    seed_stores_and_staff()
    seed_program()
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(MEMBER_TABLES)} RESTART IDENTITY CASCADE")
    stores = list(Store.objects.values_list("code", flat=True))
    tiers = list(Tier.objects.order_by("rank").values_list("code", flat=True))
    floor = date(date.today().year + 1, 12, 31)
    say(
        f"bench_import: {args.rows} rows, batches of {args.batch_rows}, one bad row in {args.bad_every}; "
        f"{len(stores)} stores; load {os.getloadavg()[0]:.2f}"
    )

    if args.anchor_rows:
        import tablib

        from membership.resources import MemberResource

        data = make_file(args.anchor_rows, start=900_000_000, stores=stores, tiers=tiers, bad_every=0, seed=2)
        dataset = tablib.Dataset().load(data.decode(), format="csv")
        started = time.perf_counter()
        result = MemberResource().import_data(dataset, dry_run=False)
        seconds = time.perf_counter() - started
        assert not result.has_errors() and not result.has_validation_errors()  # nosec B101
        say(
            f"anchor: django-import-export row by row (admin MemberResource): {args.anchor_rows} rows in "
            f"{seconds:.1f} s = {args.anchor_rows / seconds:,.0f} rows/s"
        )

    with_rows = time.perf_counter()
    data = make_file(args.rows, start=0, stores=stores, tiers=tiers, bad_every=args.bad_every, seed=1)
    say(f"file: {len(data) / 1e6:.0f} MB made in {time.perf_counter() - with_rows:.1f} s")
    cpu = time.process_time()
    started = time.perf_counter()
    last = [started]

    def progress(done, total):
        now = time.perf_counter()
        if now - last[0] > 10 or done == total:
            last[0] = now
            say(f"  {done}/{total} rows, {done / (now - started):,.0f} rows/s")

    # the import's own backend, and the whole server: every postgres process, with the second
    # connection's backend, which has ended by the second reading
    backend, server = django_backend_cpu(), cpu_seconds()["db"]
    result = migration.import_file(
        io.BytesIO(data),
        "bench.csv",
        skip_bad_rows=True,
        tier_floor_until=floor,
        batch_rows=args.batch_rows,
        progress=progress,
    )
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    after = django_backend_cpu()
    backend = after - backend if None not in (after, backend) else float("nan")  # no /proc: not measured
    server = cpu_seconds()["db"] - server
    say(
        f"import: {result.in_file.rows} rows in {seconds:.1f} s = {result.in_file.rows / seconds:,.0f} rows/s "
        f"(CPU: Python {cpu:.1f} s, PostgreSQL: the import's backend {backend:.1f} s, the whole server {server:.1f} s); "
        f"{result.bad_rows} bad rows kept with {len(result.errors)} errors; "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; load {os.getloadavg()[0]:.2f}"
    )
    with translation.override("en"):
        table = result.table()
    for label, in_file, written in table:
        say(f"  {label:28} {in_file:>16} {written:>16}")
    started = time.perf_counter()
    found = discrepancies()
    say(
        f"check_ledger: {'OK' if not found else f'{len(found)} DISCREPANCIES'} on {Member.objects.count()} members "
        f"in {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    again = migration.import_file(
        io.BytesIO(data[: data.index(b"\n", 2_000_000) + 1]), "bench.csv", skip_bad_rows=True, tier_floor_until=floor
    )
    say(
        f"re-run of the first {again.in_file.rows} rows: wrote {again.written.members} members, "
        f"{again.written.points} points in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
