"""What the transactional outbox costs a sale: member sales through the POS API in-process (DRF's
APIClient: routing, token, serializer, service, response), on PostgreSQL, in alternating rounds

- before: the event published as it was before the outbox (`transaction.on_commit(signal.send)`),
- after: the outbox (an OutboxEvent row in the sale's transaction, delivered right after commit
  and marked sent),

same process, same database, same members. Prints each round's sales/s and CPU milliseconds a
sale (this process plus its PostgreSQL backend, from /proc: the figure a shared machine's other
work does not stretch), the medians of each mode and their ratios (goal: at most 5 % slower).

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/<a database of its own> \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/<db> \\
        .venv/bin/python -m bench.bench_outbox [--sales 400] [--rounds 5] [--members 200]

Migrates the database, seeds the demo stores, staff and program if missing and enrols its own
members (phones 1990000xxxx); its sales stay there (receipts OUTBOX-<run>-...). Without
CELERY_BROKER_URL the events go to kombu's memory:// transport (bench.common)."""

import argparse
import os
import secrets
import statistics
import time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=400, help="sales per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each mode, alternating")
    parser.add_argument("--members", type=int, default=200)
    args = parser.parse_args(argv)

    os.environ.setdefault("THROTTLE_WRITE", "1000000/min")  # the bench is one till going flat out
    from .common import backend_cpu, load, say, setup_django

    setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from core import outbox
    from core.models import OutboxEvent
    from membership import demo
    from membership.models import Member, Store, User
    from membership.services import enrolment

    call_command("migrate", verbosity=0)
    if not Store.objects.filter(code="S001").exists():
        demo.seed_stores_and_staff()
    demo.seed_program()
    store = Store.objects.get(code="S001")
    have = set(Member.objects.filter(phone__startswith="1990000").values_list("phone", flat=True))
    for i in range(args.members):
        phone = f"1990000{i:04d}"
        if phone not in have:
            enrolment.enrol(phone=phone, store=store)
    member_nos = list(Member.objects.filter(phone__startswith="1990000").values_list("member_no", flat=True))
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=User.objects.get(username="clerk1"))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    outbox.relay(settle_seconds=0)  # events an earlier run left pending
    run = secrets.token_hex(3)
    real_record = outbox.record

    def record_before(event_type, payload):  # the publish as it was: on_commit(signal.send)
        signal = outbox.EVENT_TYPES[event_type]
        transaction.on_commit(lambda: signal.send(sender=None, **payload))

    counter = {"n": 0}

    def sales(n: int) -> tuple[float, float]:
        """(sales per second of wall-clock time, milliseconds of CPU a sale: this process plus its
        PostgreSQL backend — what other work on a shared machine does not stretch)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        start, cpu, db_cpu = time.perf_counter(), time.process_time(), backend_cpu(pid)
        for _ in range(n):
            counter["n"] += 1
            i = counter["n"]
            response = client.post(
                "/api/v1/sales/",
                {
                    "receipt_no": f"OUTBOX-{run}-{i}",
                    "member": member_nos[i % len(member_nos)],
                    "amount": f"{20 + i % 480}.{i % 100:02d}",
                },
                format="json",
            )
            assert response.status_code == 201, response.content  # nosec B101
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        db_cpu = (backend_cpu(pid) - db_cpu) if db_cpu is not None else 0.0
        return n / wall, 1000 * (cpu + db_cpu) / n

    say(
        f"bench_outbox: {connection.settings_dict['NAME']}, broker {os.environ.get('CELERY_BROKER_URL')}, "
        f"{len(member_nos)} members, {args.sales} sales a round, {args.rounds} rounds of each mode"
    )
    outbox.record = record_before
    sales(50)  # warm both paths: the per-process copies, prepared statements
    outbox.record = real_record
    sales(50)
    figures = {"before": [], "after": []}
    cpu_ms = {"before": [], "after": []}
    events_before = OutboxEvent.objects.count()
    for r in range(args.rounds):
        for mode in ("before", "after") if r % 2 == 0 else ("after", "before"):
            outbox.record = record_before if mode == "before" else real_record
            rate, cpu = sales(args.sales)
            figures[mode].append(rate)
            cpu_ms[mode].append(cpu)
            say(
                f"  round {r + 1} {mode:6}: {rate:6.1f} sales/s ({1000 / rate:.2f} ms a sale), "
                f"CPU {cpu:.2f} ms a sale (load {load()})"
            )
    outbox.record = real_record
    written = OutboxEvent.objects.count() - events_before
    pending = outbox.pending_count()  # after this process's batched marks
    before, after = statistics.median(figures["before"]), statistics.median(figures["after"])
    say(
        f"bench_outbox: median before {before:.1f} sales/s ({1000 / before:.2f} ms), after {after:.1f} sales/s "
        f"({1000 / after:.2f} ms): after/before = {after / before:.3f} (goal >= 0.95)"
    )
    before, after = statistics.median(cpu_ms["before"]), statistics.median(cpu_ms["after"])
    say(
        f"bench_outbox: median CPU a sale (Python + PostgreSQL backend) before {before:.2f} ms, after {after:.2f} ms: "
        f"after/before = {after / before:.3f} (goal <= 1.05)"
    )

    # the outbox's own cost, without the rest of the sale around it: a transaction that writes one
    # row and records one purchase event (its after-commit delivery, batched mark), with and
    # without the outbox; the difference is the outbox's
    def isolated(n: int = 2000) -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        payload = {"purchase_id": 0, "member_id": 0, "referred": False}
        cpu, db_cpu = time.process_time(), backend_cpu(pid) or 0.0
        for _ in range(n):
            with transaction.atomic():
                # a write in both modes, as a sale has: the commit's WAL flush is not the outbox's
                Store.objects.filter(pk=store.pk).update(is_active=True)
                outbox.record("purchase.recorded", payload)
        return 1e6 * (time.process_time() - cpu + (backend_cpu(pid) or 0.0) - db_cpu) / n

    alone = {"before": [], "after": []}
    for _round in range(3):
        for mode in ("before", "after"):
            outbox.record = record_before if mode == "before" else real_record
            alone[mode].append(isolated())
    outbox.record = real_record
    extra = statistics.median(alone["after"]) - statistics.median(alone["before"])
    say(
        f"bench_outbox: the outbox alone (one event, its transaction, delivery and mark; median of 3 x 2000): "
        f"{extra:.0f} µs of CPU an event = {100 * extra / (1000 * before):.1f} % of a sale's {before:.2f} ms"
    )
    say(f"bench_outbox: {written} outbox events written by the 'after' rounds, {pending} pending in all")


if __name__ == "__main__":
    main()
