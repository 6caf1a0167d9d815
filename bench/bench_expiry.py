"""Expiry benchmark: membership.services.points.expire_due against one set-based SQL statement.

    .venv/bin/python -m bench.bench_expiry [--batch-members N] [--explain]

Both expire what is due at bench.common.EXPIRY_AT (the 2027 year-end run: what is left of the
2025 lots, about a quarter of all lots) from the same starting state: each timed run works on
its own fresh copy of the bench database (CREATE DATABASE ... TEMPLATE bench, a file copy, about
30 s for the 9.5 GB), so both start from the same physical tables and indexes, and the bench database
stays as generated. (Putting the state back with UPDATEs instead took longer than the runs
themselves, 510 s, and left the tables in a different physical state for the second run.)

1. copy: CHECKPOINT, then expire_due(at=EXPIRY_AT) is timed; its result is summarised (expire
   entries, points, a checksum over member, amount and balance_after, lots still due, balances),
   a second run is timed (safe to re-run: nothing left), 2,000 of the expired members are proved
   with the ledger check;
2. another copy: CHECKPOINT, then the one statement below is timed and summarised;
3. the two summaries must be equal; the ratio of the times is printed.

The raw statement is one data-modifying CTE over the whole ledger: sum the due lots per member,
zero them, lower the balances, insert one expire entry per member with the balance after. It is
the faster of the two shapes tried (RAW_SHAPES); --raw-shape join times the other one, which
joins the ledger to its own due lots (a hash of the whole table)."""

import argparse
import random
import sys
import time

from .common import EXPIRY_AT, backend_cpu, cloned_database, load, ratio, raw_connect, say, setup_django, timed

LOTS, MEMBERS = "membership_pointsentry", "membership_member"
DUE = "remaining > 0 AND NOT pending AND expires_at <= %(at)s"
_INSERT = f"""
INSERT INTO {LOTS} (member_id, amount, kind, source, source_ref, reason, created_at, balance_after,
                    remaining, pending, flagged)
SELECT id, -total, 'expire', 'expiry', '', '', %(at)s, points_balance, 0, false, false FROM lowered"""  # nosec B608

RAW_SHAPES = {
    # the due lots summed per member; the lots zeroed by the same condition (same snapshot)
    "sum": f"""
WITH due AS (
    SELECT member_id, sum(remaining) AS total FROM {LOTS} WHERE {DUE} GROUP BY member_id
), zeroed AS (
    UPDATE {LOTS} SET remaining = 0 WHERE {DUE}
), lowered AS (
    UPDATE {MEMBERS} m SET points_balance = m.points_balance - due.total
    FROM due WHERE m.id = due.member_id
    RETURNING m.id, m.points_balance, due.total
)"""  # nosec B608
    + _INSERT,
    # the due lots picked once and joined back to the ledger to zero them
    "join": f"""
WITH due AS (
    SELECT id, member_id, remaining FROM {LOTS} WHERE {DUE}
), zeroed AS (
    UPDATE {LOTS} l SET remaining = 0 FROM due WHERE l.id = due.id
), per_member AS (
    SELECT member_id, sum(remaining) AS total FROM due GROUP BY member_id
), lowered AS (
    UPDATE {MEMBERS} m SET points_balance = m.points_balance - p.total
    FROM per_member p WHERE m.id = p.member_id
    RETURNING m.id, m.points_balance, p.total
)"""  # nosec B608
    + _INSERT,
}


def due_stats(conn, at) -> tuple[int, int, int, int]:
    lots_total = conn.execute(f"SELECT count(*) FROM {LOTS} WHERE amount > 0").fetchone()[0]  # nosec B608
    due = conn.execute(
        f"SELECT count(*), count(DISTINCT member_id), coalesce(sum(remaining), 0) FROM {LOTS} WHERE {DUE}",  # nosec B608
        {"at": at},
    ).fetchone()
    return (lots_total, *due)


def summary(conn, at) -> tuple:
    """What an expiry run left behind: expire entries, points, a checksum over (member, amount,
    balance_after), lots still due, and the sum of all balances."""
    entries = conn.execute(
        f"SELECT count(*), coalesce(-sum(amount), 0),"  # nosec B608
        f" coalesce(sum(hashtext(member_id || ':' || amount || ':' || balance_after)::bigint), 0)"
        f" FROM {LOTS} WHERE kind = 'expire' AND source = 'expiry' AND created_at = %(at)s",
        {"at": at},
    ).fetchone()
    left = conn.execute(f"SELECT count(*) FROM {LOTS} WHERE {DUE}", {"at": at}).fetchone()[0]  # nosec B608
    balances = conn.execute(f"SELECT coalesce(sum(points_balance), 0) FROM {MEMBERS}").fetchone()[0]  # nosec B608
    return (*entries, left, int(balances))


def prove_sample(conn, at, size=2000, seed=1) -> int:
    from membership.ledger import discrepancies

    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT member_id FROM {LOTS} WHERE kind = 'expire' AND created_at = %(at)s",  # nosec B608
            {"at": at},
        ).fetchall()
    ]
    sample = random.Random(seed).sample(ids, min(size, len(ids)))  # nosec B311
    return len(discrepancies(member_ids=sample))


def _checkpoint():
    with raw_connect(autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _wal_lsn() -> str:
    with raw_connect(autocommit=True) as conn:
        return conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]


def _wal_since(lsn: str) -> int:
    """WAL bytes the server wrote since `lsn` (the whole server: other work on it counts too)."""
    with raw_connect(autocommit=True) as conn:
        return int(conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [lsn]).fetchone()[0])


def _cpu_text(cpu) -> str:
    return f"{cpu:.1f} s" if cpu is not None else "n/a"


def time_service(at, batch_members):
    """One timed expire_due on a fresh copy; returns (seconds, database CPU seconds, lots, summary)."""
    from django.db import connection

    from membership.services import points

    kwargs = {"batch_members": batch_members} if batch_members else {}
    width = batch_members or points.BATCH_MEMBERS
    with cloned_database("expiry") as clone:
        _checkpoint()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        wal_before = _wal_lsn()
        load_before, cpu_before, py_before = load(), backend_cpu(pid), time.process_time()
        with timed() as t_service:
            expired = points.expire_due(at=at, **kwargs)
        cpu_after, py = backend_cpu(pid), time.process_time() - py_before
        wal = _wal_since(wal_before)
        cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        connection.close()
        with raw_connect(autocommit=True) as conn:
            result = summary(conn, at)
            say(
                f"expiry: service expire_due(batch_members={width:,}): {t_service():.1f} s, {expired:,} lots, "
                f"{expired / t_service():,.0f} lots/s; database CPU {_cpu_text(cpu)}, Python CPU {py:.1f} s; "
                f"WAL {wal / 2**30:.1f} GiB; load {load_before} -> {load()}   [copy {clone}]"
            )
            with timed() as t_again:
                again = expire_due_again(at, kwargs)
            say(f"expiry: service re-run: {again} lots in {t_again():.2f} s")
            bad = prove_sample(conn, at)
            connection.close()
            say(f"expiry: ledger check of 2,000 expired members after the service: {bad} discrepancies")
    if bad or again:
        raise SystemExit("expiry: the service left the ledger unbalanced or something to expire")
    return t_service(), cpu, expired, result


def expire_due_again(at, kwargs):
    from django.db import connection

    from membership.services import points

    try:
        return points.expire_due(at=at, **kwargs)
    finally:
        connection.close()


def time_raw(at, shape):
    """One timed raw statement on a fresh copy; returns (seconds, database CPU seconds, summary)."""
    with cloned_database("expiry") as clone:
        _checkpoint()
        with raw_connect() as conn:
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            conn.commit()
            wal_before = _wal_lsn()
            load_before, cpu_before = load(), backend_cpu(pid)
            with timed() as t_raw:
                cur = conn.execute(RAW_SHAPES[shape], {"at": at})
                members = cur.rowcount
                conn.commit()
            cpu_after = backend_cpu(pid)
            wal = _wal_since(wal_before)
            cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
            result = summary(conn, at)
        say(
            f"expiry: raw SQL, one statement ({shape}): {t_raw():.1f} s, {members:,} expire entries; "
            f"database CPU {_cpu_text(cpu)}; WAL {wal / 2**30:.1f} GiB; load {load_before} -> {load()}   "
            f"[copy {clone}]"
        )
    return t_raw(), cpu, result


def run(*, at=EXPIRY_AT, batch_members: int | None = None, shapes=("sum",), repeat: int = 1) -> dict:
    with raw_connect() as conn:
        lots_total, due_lots, due_members, due_points = due_stats(conn, at)
    say(
        f"expiry: {due_lots:,} of {lots_total:,} lots due at {at:%Y-%m-%d %H:%M %Z} "
        f"({due_lots / max(lots_total, 1):.1%}), {due_points:,} points, {due_members:,} members"
    )
    service, raws = [], {shape: [] for shape in shapes}
    for _round in range(repeat):  # alternated, so a busy spell of the machine hits both
        service.append(time_service(at, batch_members))
        for shape in shapes:
            raws[shape].append(time_raw(at, shape))
    service_result = service[0][3]
    ok = all(s[2] == due_lots and s[3] == service_result for s in service)
    t_service = min(s[0] for s in service)
    cpu_service = min((s[1] for s in service if s[1] is not None), default=None)
    figures = {"service": t_service, "lots": due_lots}
    for shape, runs in raws.items():
        same = all(r[2] == service_result for r in runs)
        ok = ok and same
        t_raw = min(r[0] for r in runs)
        cpu_raw = min((r[1] for r in runs if r[1] is not None), default=None)
        figures[shape] = t_raw
        say(
            f"expiry: same result as the service ({shape}): {'yes' if same else 'NO'}  "
            f"(entries, points, checksum, lots left, balances) service={service_result} raw={runs[0][2]}"
        )
        best = " (best of %d each)" % repeat if repeat > 1 else ""
        say(
            f"expiry: ratio service/raw ({shape}){best} = {ratio(t_service, t_raw)} wall clock"
            + (f", {ratio(cpu_service, cpu_raw)} database CPU" if cpu_service and cpu_raw else "")
        )
    if not ok:
        raise SystemExit("expiry: the service and the raw statement disagree")
    return figures


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_expiry", description=__doc__.splitlines()[0])
    parser.add_argument("--batch-members", type=int, default=None, help="member-id range width of expire_due")
    parser.add_argument(
        "--raw-shape", choices=sorted(RAW_SHAPES), action="append", help="raw statement shape(s) to time (default: sum)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each, alternated (best is compared)")
    args = parser.parse_args(argv)
    setup_django()
    run(batch_members=args.batch_members, shapes=tuple(args.raw_shape or ["sum"]), repeat=args.repeat)


if __name__ == "__main__":
    main(sys.argv[1:])
