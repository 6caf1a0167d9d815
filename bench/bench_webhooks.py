"""Webhooks (issue 32, ../shared/spec/events.md): what they deliver, what they cost a sale, how soon
they arrive. Real processes on PostgreSQL: a redis-server of the bench's own (the broker), the
portal's worker on the default queue (the fan-out), `celery worker -Q webhooks` (the sends), and a
fast receiver on loopback in a process of its own (answers 204, timestamps each arrival). Member
sales go through the POS API in-process (DRF's APIClient, as bench_outbox); beat's schedules are sent
by the bench (the fan-out every second, the pick-up every 5 seconds). Three parts:

1. throughput: with the workers running and warm, N sales as fast as one till can, then the time
   from the first sale until every delivery of their events is `delivered` (the receiver's last
   arrival): events and deliveries per second, the workers' and the database's CPU a delivery,
   and how many send tasks ran per delivery (a task that finds its delivery taken or done does
   nothing);
2. cost: rounds alternating between no endpoint and 3 endpoints subscribed to "*", with the workers
   stopped (what is measured is the sale's side: since the fan-out follows the event feed from beat,
   a sale sends nothing for the webhooks; before, each event sent a fan-out message): sales/s
   and CPU ms a sale (this process + its PostgreSQL backend), medians and the ratio (goal within 5 %),
   and the statements a sale runs in each mode;
3. latency: with the workers idle, sales one at a time with a pause; commit time taken right after
   the API answers, arrival time by the receiver: p50, p99, max (goal p99 <= 2 s), and where the time
   goes (commit -> fan-out's delivery row -> arrival).

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/<a database of its own> \\
        .venv/bin/python -m bench.bench_webhooks [--events 300] [--rounds 4] [--sales 300] \\
            [--latency-sales 100] [--pause 0.5] [--hook-procs 4] [--redis-port 6395]

Migrates the database, seeds the demo stores, staff and program if missing, enrols its own members
(phones 1990002xxxx) and registers three endpoints (description "bench_webhooks"; those of an earlier
run are deleted first; the bench refuses to start while other endpoints are active). The receiver is
http://127.0.0.1, which the webhooks allow with DEBUG only: the workers run with DEBUG=1."""

import argparse
import multiprocessing
import os
import secrets
import signal
import socket
import statistics
import subprocess  # nosec B404
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = "bench_webhooks"
PHONES = "1990002"


# --- the receiver: its own process, so the bench's sales never delay its answers or its clock ------


def _receive(port_out, arrivals) -> None:
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            at = time.time()
            self.send_response(204)
            self.end_headers()
            try:
                event = json.loads(body)
                sale_id = event.get("data", {}).get("sale_id")
                arrivals.put((at, self.path, event.get("id"), event.get("type"), sale_id))
            except ValueError:
                arrivals.put((at, self.path, None, None, None))

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    port_out.put(server.server_port)
    server.serve_forever()


class Receiver:
    def __init__(self):
        ctx = multiprocessing.get_context("spawn")
        port, self.queue = ctx.Queue(), ctx.Queue()
        self.proc = ctx.Process(target=_receive, args=(port, self.queue), daemon=True)
        self.proc.start()
        self.port = port.get(timeout=30)
        self.arrivals: list = []  # (time, path, event id, type, sale_id)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        import queue

        while not self._stop.is_set():
            try:
                item = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._lock:
                self.arrivals.append(item)

    def url(self, k: int) -> str:
        return f"http://127.0.0.1:{self.port}/e{k}"

    def taken(self) -> list:
        with self._lock:
            got, self.arrivals = self.arrivals, []
        return got

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def close(self):
        self._stop.set()
        self.proc.terminate()


# --- processes: the broker and the workers -----------------------------------------------------------


class RedisServer:
    def __init__(self, port: int, log: Path):
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.port = port
        self.proc = subprocess.Popen(cmd, stdout=log.open("a"), stderr=subprocess.STDOUT)  # nosec B603 B607
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        self.kill()
        sys.exit(f"bench_webhooks: redis-server on port {port} did not start (is the port taken?): {log}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Worker:
    """`celery -A portal worker` on one queue, in a process group of its own (killed whole)."""

    def __init__(self, name: str, queue: str, procs: int, broker: str, workdir: Path):
        env = {
            k: v for k, v in os.environ.items() if k not in ("CELERY_TASK_ALWAYS_EAGER", "DJANGO_ALLOW_ASYNC_UNSAFE")
        }
        env.update(
            CELERY_BROKER_URL=broker,
            PORTAL_VAR_DIR=str(workdir / name),
            DJANGO_SETTINGS_MODULE="portal.settings",
            DEBUG="1",  # the receiver is http://127.0.0.1: allowed with DEBUG only (events.md)
        )
        self.log = workdir / f"{name}.log"
        cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", f"--concurrency={procs}", "--loglevel=INFO"]
        cmd += ["-n", f"{name}-{os.getpid()}@%h", "--without-mingle", "--without-gossip", "-Q", queue]
        self.proc = subprocess.Popen(  # nosec B603
            cmd, cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while " ready." not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"bench_webhooks: worker {name} did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def cpu(self) -> float:
        return group_cpu(self.proc.pid)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def _stat(pid: str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def group_cpu(pgid: int) -> float:
    """CPU seconds of the live processes of a process group (a worker and its pool)."""
    ticks = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            fields = _stat(pid)
            if fields and int(fields[2]) == pgid:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def pid_cpu(pid: int) -> float:
    fields = _stat(str(pid))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main(argv=None) -> None:  # noqa: C901 - one script, three parts in order
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300, help="throughput: sales published (default 300)")
    parser.add_argument("--sales", type=int, default=300, help="cost: sales per round (default 300)")
    parser.add_argument("--rounds", type=int, default=4, help="cost: rounds of each mode, alternating (default 4)")
    parser.add_argument("--latency-sales", type=int, default=100, help="latency: sales one at a time (default 100)")
    parser.add_argument("--pause", type=float, default=0.5, help="latency: seconds between two sales (default 0.5)")
    parser.add_argument("--hook-procs", type=int, default=4, help="processes of the webhooks worker (default 4)")
    parser.add_argument("--default-procs", type=int, default=2, help="processes of the default-queue worker")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--redis-port", type=int, default=6395, help="the bench's own redis-server (default 6395)")
    parser.add_argument("--no-beat", action="store_true", help="without the 5-second pick-up of due deliveries")
    parser.add_argument("--only", choices=["throughput", "latency", "cost"], action="append")
    args = parser.parse_args(argv)
    parts = args.only or ["throughput", "latency", "cost"]

    workdir = Path(tempfile.mkdtemp(prefix="bench_webhooks_"))
    receiver = Receiver()  # before Django: a clean spawned process
    redis_server = RedisServer(args.redis_port, workdir / "redis.log")
    broker = f"redis://127.0.0.1:{args.redis_port}/0"
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ.setdefault("THROTTLE_WRITE", "1000000/min")  # the bench is one till going flat out
    from .common import backend_cpu, load, say, setup_django

    setup_django()
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from core import outbox
    from core.models import OutboxEvent
    from integrations import tasks, webhooks
    from integrations.models import WebhookDelivery, WebhookEndpoint
    from membership import demo
    from membership.models import Member, Store, User
    from membership.services import enrolment

    workers: dict[str, Worker] = {}
    queues = redis.Redis.from_url(broker)
    beat = threading.Event()

    def beat_pickup():
        """What beat sends (integrations.tasks): the fan-out every second, the due deliveries' pick-up
        every 5 seconds."""
        ticks = 0
        while not beat.wait(1):
            tasks.fan_out.delay()
            ticks += 1
            if ticks % 5 == 0 and not args.no_beat:
                tasks.queue_due_deliveries.delay()

    def start_workers():
        if not workers:
            workers["hooks"] = Worker("hooks", "webhooks", args.hook_procs, broker, workdir)
            workers["portal"] = Worker("portal", "celery", args.default_procs, broker, workdir)
            beat.clear()
            threading.Thread(target=beat_pickup, daemon=True).start()

    def stop_workers():
        beat.set()
        for worker in workers.values():
            worker.stop()
        workers.clear()

    try:
        call_command("migrate", verbosity=0)
        if not Store.objects.filter(code="S001").exists():
            demo.seed_stores_and_staff()
        demo.seed_program()
        WebhookEndpoint.objects.filter(description=DESCRIPTION).delete()
        others = WebhookEndpoint.objects.filter(active=True).count()
        if others:
            sys.exit(f"bench_webhooks: {others} other active webhook endpoint(s) in this database; use one of its own.")
        store = Store.objects.get(code="S001")
        have = set(Member.objects.filter(phone__startswith=PHONES).values_list("phone", flat=True))
        for i in range(args.members):
            if f"{PHONES}{i:04d}" not in have:
                enrolment.enrol(phone=f"{PHONES}{i:04d}", store=store)
        member_nos = list(Member.objects.filter(phone__startswith=PHONES).values_list("member_no", flat=True))
        outbox.relay(settle_seconds=0)  # what an earlier run left pending goes out now, not during a part
        saved_debug, settings.DEBUG = settings.DEBUG, True  # http://127.0.0.1 is allowed with DEBUG only
        try:
            endpoints = [
                webhooks.register(url=receiver.url(k), types=["*"], description=DESCRIPTION)[0] for k in range(3)
            ]
        finally:
            settings.DEBUG = saved_debug
        endpoint_ids = [e.pk for e in endpoints]

        def subscribe(on: bool) -> None:
            WebhookEndpoint.objects.filter(pk__in=endpoint_ids).update(active=on)

        client = APIClient()
        token, _ = Token.objects.get_or_create(user=User.objects.get(username="clerk1"))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        run = secrets.token_hex(3)
        counter = {"n": 0}

        def sale() -> dict:
            counter["n"] += 1
            i = counter["n"]
            response = client.post(
                "/api/v1/sales/",
                {
                    "receipt_no": f"HOOKS-{run}-{i}",
                    "member": member_nos[i % len(member_nos)],
                    "amount": f"{20 + i % 480}.{i % 100:02d}",
                },
                format="json",
            )
            assert response.status_code == 201, response.content  # nosec B101
            return response.json()

        def backend_pid() -> int:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                return cursor.fetchone()[0]

        def backends_cpu() -> dict[int, float]:
            """CPU seconds of every backend of this database (the workers' keep their connection)."""
            with connection.cursor() as cursor:
                cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                return {pid: backend_cpu(pid) or 0.0 for (pid,) in cursor.fetchall()}

        def published_since(at) -> list:
            return list(
                OutboxEvent.objects.filter(
                    occurred_at__gte=at, type__in=list(outbox.EVENT_TYPES), payload__has_key="data"
                ).values_list("id", flat=True)
            )

        def wait_delivered(event_ids, timeout: float) -> int:
            """Waits until every delivery of these events is delivered; returns how many are."""
            expected = len(event_ids) * len(endpoint_ids)
            deadline = time.monotonic() + timeout
            while True:
                done = WebhookDelivery.objects.filter(
                    event_id__in=event_ids, endpoint_id__in=endpoint_ids, status=WebhookDelivery.Status.DELIVERED
                ).count()
                if done >= expected or time.monotonic() > deadline:
                    return done
                time.sleep(0.2)

        def wait_idle(timeout: float = 120) -> None:
            """The broker's queues empty and the workers' last tasks finished."""
            deadline = time.monotonic() + timeout
            while (queues.llen("celery") or queues.llen("webhooks")) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)

        def tasks_received(text: str, task: str) -> int:
            """How many tasks of this name the worker took (its log at INFO names each)."""
            return sum(1 for ln in text.splitlines() if f"Task {task}[" in ln and ln.rstrip().endswith(" received"))

        say(
            f"bench_webhooks: {connection.settings_dict['NAME']}, broker {broker} (its own redis-server), "
            f"receiver 127.0.0.1:{receiver.port} (3 endpoints, '*'), {len(member_nos)} members, "
            f"{os.cpu_count()} cores, load {load()}"
        )

        # --- 1. throughput -------------------------------------------------------------------------
        if "throughput" in parts:
            subscribe(True)
            start_workers()
            say(
                f"throughput: workers up: webhooks {args.hook_procs} processes, default queue {args.default_procs}; "
                f"{'no pick-up' if args.no_beat else 'the pick-up of due deliveries sent every 5 s, as beat does'}"
            )
            at = timezone.now()
            for _ in range(20):  # warm: the workers' processes, connections, this process
                sale()
            warm = published_since(at)
            if wait_delivered(warm, 120) < len(warm) * 3:
                sys.exit(f"bench_webhooks: the warm-up was not delivered; see {workdir}")
            wait_idle()
            receiver.taken()
            logs = {name: len(w.log_text()) for name, w in workers.items()}
            cpu0 = {name: w.cpu() for name, w in workers.items()}
            db0 = backends_cpu()
            me0 = time.process_time()
            at, wall0, t0 = timezone.now(), time.time(), time.monotonic()
            for _ in range(args.events):
                sale()
            published = time.monotonic() - t0
            me = time.process_time() - me0
            ids = published_since(at)
            delivered = wait_delivered(ids, 600)
            while receiver.count() < delivered and time.monotonic() - t0 < 600:
                time.sleep(0.1)
            arrivals = [a for a in receiver.taken() if a[2] is not None]
            last = max(a[0] for a in arrivals) - wall0
            first = min(a[0] for a in arrivals) - wall0
            wait_idle()
            cpu = {name: w.cpu() - cpu0[name] for name, w in workers.items()}
            db1 = backends_cpu()
            db = sum(v - db0.get(pid, 0.0) for pid, v in db1.items())
            pickups = tasks_received(
                workers["portal"].log_text()[logs["portal"] :], "integrations.tasks.queue_due_deliveries"
            )
            sends = tasks_received(workers["hooks"].log_text()[logs["hooks"] :], "integrations.tasks.send_delivery")
            fans = tasks_received(workers["portal"].log_text()[logs["portal"] :], "integrations.tasks.fan_out")
            n = len(ids)
            say(
                f"throughput: {args.events} sales published {n} events in {published:.1f} s "
                f"({args.events / published:.0f} sales/s); {delivered} of {n * 3} deliveries delivered, "
                f"the first {first * 1000:.0f} ms after the first sale, the last {last:.1f} s after it"
            )
            say(
                f"throughput: {n / last:.0f} events/s delivered ({delivered / last:.0f} deliveries/s to 3 endpoints), "
                f"the last {last - published:.1f} s after the last sale (load {load()})"
            )
            say(
                f"throughput: CPU a delivery: webhooks worker {1000 * cpu['hooks'] / max(delivered, 1):.2f} ms, "
                f"default-queue worker {1000 * cpu['portal'] / max(delivered, 1):.2f} ms, "
                f"database backends {1000 * db / max(delivered, 1):.2f} ms (all of this database's, the till's too); "
                f"the till (this process) {1000 * me / args.events:.2f} ms a sale"
            )
            say(
                f"throughput: tasks taken by the workers: {fans} fan_out, {pickups} pick-ups, {sends} send_delivery for {delivered} "
                f"deliveries ({sends / max(delivered, 1):.2f} a delivery: the others found theirs taken or done)"
            )

        # --- 3. latency (before the cost part, which leaves fan-out messages queued) -----------------
        if "latency" in parts:
            subscribe(True)
            start_workers()
            for _ in range(5):
                sale()
            wait_idle()
            receiver.taken()
            commits: dict[int, float] = {}
            at = timezone.now()
            for _ in range(args.latency_sales):
                made = sale()
                commits[made["sale_id"]] = time.time()  # right after the API answered: committed
                time.sleep(args.pause)
            ids = published_since(at)
            wait_delivered(ids, 60)
            time.sleep(0.5)
            arrivals = [a for a in receiver.taken() if a[3] == "purchase.recorded" and a[4] in commits]
            latencies = [a[0] - commits[a[4]] for a in arrivals]
            per_sale: dict = {}
            for a in arrivals:
                per_sale[a[4]] = max(per_sale.get(a[4], 0.0), a[0] - commits[a[4]])
            missing = 3 * len(commits) - len(arrivals)
            say(
                f"latency: {len(commits)} sales, one every {args.pause} s + the sale, workers idle; "
                f"{len(arrivals)} purchase.recorded deliveries received ({missing} missing within 60 s)"
            )
            say(
                f"latency: commit -> receipt, each delivery: p50 {1000 * percentile(latencies, 50):.0f} ms, "
                f"p99 {1000 * percentile(latencies, 99):.0f} ms, max {1000 * max(latencies):.0f} ms "
                f"(goal p99 <= 2000 ms); the last of a sale's 3: p50 {1000 * percentile(per_sale.values(), 50):.0f} ms, "
                f"p99 {1000 * percentile(per_sale.values(), 99):.0f} ms (load {load()})"
            )
            # where the time goes: the fan-out writes the delivery rows (created_at), the send the attempt
            from integrations.models import WebhookAttempt

            event_of = {str(a[2]): a for a in arrivals}
            rows = WebhookDelivery.objects.filter(event_id__in=[a[2] for a in arrivals], endpoint_id__in=endpoint_ids)
            to_fan, to_take, to_arrive = [], [], []
            attempts = {
                d: at_
                for d, at_ in WebhookAttempt.objects.filter(delivery__in=rows, number=1).values_list(
                    "delivery_id", "at"
                )
            }
            for d in rows:
                a = event_of.get(str(d.event_id))
                if a is None:
                    continue
                commit = commits[a[4]]
                to_fan.append(d.created_at.timestamp() - commit)
                if d.pk in attempts:
                    to_take.append(attempts[d.pk].timestamp() - d.created_at.timestamp())
            for a in arrivals:
                to_arrive.append(a[0] - commits[a[4]])
            say(
                f"latency: median commit -> delivery row written by the fan-out {1000 * statistics.median(to_fan):.0f} ms "
                f"(p99 {1000 * percentile(to_fan, 99):.0f}); delivery row -> attempt recorded (after the answer) "
                f"{1000 * statistics.median(to_take):.0f} ms (p99 {1000 * percentile(to_take, 99):.0f})"
            )

        # --- 2. the sale's added cost ----------------------------------------------------------------
        if "cost" in parts:
            stop_workers()  # what is measured is the sale's side; the fan-out messages wait in Redis

            def sales(n: int) -> tuple[float, float, float]:
                pid = backend_pid()
                redis_pid = redis_server.proc.pid
                start, cpu, db_cpu, r_cpu = (
                    time.perf_counter(),
                    time.process_time(),
                    backend_cpu(pid),
                    pid_cpu(redis_pid),
                )
                for _ in range(n):
                    sale()
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                db_cpu = (backend_cpu(pid) - db_cpu) if db_cpu is not None else 0.0
                return n / wall, 1000 * (cpu + db_cpu) / n, 1000 * (pid_cpu(redis_pid) - r_cpu) / n

            def statements() -> int:
                with CaptureQueriesContext(connection) as queries:
                    sale()
                return len(queries)

            say(
                f"cost: {args.sales} member sales a round, {args.rounds} rounds of each mode alternating, "
                f"workers stopped, broker {broker}"
            )
            subscribe(False)
            sales(50)
            subscribe(True)
            sales(50)
            queued: dict = {"none": 0, "three": 0}
            figures: dict = {"none": [], "three": []}
            cpu_ms: dict = {"none": [], "three": []}
            redis_ms: dict = {"none": [], "three": []}
            for r in range(args.rounds):
                for mode in ("none", "three") if r % 2 == 0 else ("three", "none"):
                    subscribe(mode == "three")
                    queued0 = queues.llen("celery")
                    rate, cpu, rcpu = sales(args.sales)
                    queued[mode] += queues.llen("celery") - queued0
                    figures[mode].append(rate)
                    cpu_ms[mode].append(cpu)
                    redis_ms[mode].append(rcpu)
                    say(
                        f"  round {r + 1} {mode:5}: {rate:6.1f} sales/s ({1000 / rate:.2f} ms a sale), "
                        f"CPU {cpu:.2f} ms a sale, redis-server {rcpu:.3f} ms (load {load()})"
                    )
            counts = {}
            for mode in ("none", "three"):
                subscribe(mode == "three")
                statements()  # past the subscriptions' read (once per 5 s a process)
                counts[mode] = statistics.median(statements() for _ in range(5))
            none, three = statistics.median(figures["none"]), statistics.median(figures["three"])
            say(
                f"cost: median no endpoint {none:.1f} sales/s ({1000 / none:.2f} ms), 3 endpoints {three:.1f} sales/s "
                f"({1000 / three:.2f} ms): 3 endpoints / none = **{three / none:.3f}** (goal >= 0.95)"
            )
            none_cpu, three_cpu = statistics.median(cpu_ms["none"]), statistics.median(cpu_ms["three"])
            say(
                f"cost: median CPU a sale (Python + PostgreSQL backend) no endpoint {none_cpu:.2f} ms, "
                f"3 endpoints {three_cpu:.2f} ms: ratio **{three_cpu / none_cpu:.3f}** (goal <= 1.05); "
                f"redis-server {statistics.median(redis_ms['none']):.3f} / {statistics.median(redis_ms['three']):.3f} ms"
            )
            say(
                f"cost: statements a sale (median of 5): no endpoint {counts['none']}, 3 endpoints {counts['three']}; "
                f"messages to the default queue a sale: no endpoint {queued['none'] / (args.rounds * args.sales):.2f}, "
                f"3 endpoints {queued['three'] / (args.rounds * args.sales):.2f}"
            )
            queues.delete("celery")  # the fan-outs of the cost rounds: never to be worked by a later run
    finally:
        stop_workers()
        try:
            outbox.flush_marks()
            WebhookEndpoint.objects.filter(description=DESCRIPTION).update(active=False)
        except Exception as error:  # noqa: BLE001 - the figures are printed; cleaning up is best effort
            say(f"bench_webhooks: clean-up: {error}")
        receiver.close()
        redis_server.kill()
        say(f"bench_webhooks: worker logs in {workdir}")


if __name__ == "__main__":
    main()
