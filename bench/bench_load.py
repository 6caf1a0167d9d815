"""Load benchmark of the POS API: gunicorn on the generated chain (PostgreSQL), wrk sustaining
POST /api/v1/sales/ and then member lookups, and pgbench running the raw-SQL earn transaction in
the same run on the same machine for the ratio.

    .venv/bin/python -m bench.bench_load [--seconds 60] [--connections 8] [--workers 3]

Needs the generated data (python -m bench.generate), Debian's wrk and pgbench, and Redis on
127.0.0.1:6379 (the sale's after-commit events go to the broker, as in production). Prints
throughput, p50/p95/p99 latency and the error count of each load, the pgbench tps, the ratio of API
sales per second to raw earn transactions per second, the CPU per call of each part (gunicorn,
PostgreSQL, the load client) for both sides, the share of the member table's updates that were HOT
on each side (pg_stat_user_tables), the queries one sale and one lookup take, and a line per goal of
issue 17. The sales it makes stay in the database (receipts LOAD-<run>-...)."""

import argparse
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess  # nosec B404
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .common import say, setup_django

ROOT = Path(__file__).resolve().parents[1]

SALES_LUA = r"""
local members = {}
for line in io.lines(os.getenv("BENCH_MEMBERS")) do
  local no, phone = line:match("^(%d+) (%d+)")
  members[#members + 1] = {no, phone}
end
local token = "Token " .. os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN")
local mode = os.getenv("BENCH_MODE")
local threads = 0
local n = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
init = function(args) math.randomseed(tid * 7919 + os.time()) end
request = function()
  n = n + 1
  local m = members[math.random(#members)]
  if mode == "lookup" then
    return wrk.format("GET", "/api/v1/members/lookup/?q=" .. m[2], {["Authorization"] = token})
  end
  local body = string.format('{"receipt_no":"LOAD-%s-%d-%d","member":"%s","amount":"%d.%02d"}',
                             run, tid, n, m[1], math.random(20, 500), math.random(0, 99))
  return wrk.format("POST", "/api/v1/sales/", {["Authorization"] = token, ["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f p50=%.3f p95=%.3f p99=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""

PGBENCH_EARN = r"""
\set mid random(1, :maxid)
\set amt random(20, 500)
BEGIN;
SELECT points_balance FROM membership_member WHERE id = :mid FOR NO KEY UPDATE;
INSERT INTO membership_purchase (reference, created_at, amount, member_discount, points_paid, points_value, coupon_value,
  sv_principal_paid, sv_bonus_paid, eligible_amount, points_earned, growth, returned_amount, points_reversed,
  points_refunded, growth_reversed, sv_principal_refunded, sv_bonus_refunded, idempotency_key, member_id,
  operator_id, store_id, tier_at_sale_id)
  VALUES ('pgbench', now(), :amt, 0, 0, 0, 0, 0, 0, :amt, :amt, :amt, 0, 0, 0, 0, 0, 0,
  'pgbench:' || md5(random()::text || clock_timestamp()::text), :mid, NULL, :store, :tier) RETURNING id AS pid \gset
INSERT INTO membership_pointsentry (amount, kind, source, source_ref, reason, created_at, balance_after, remaining,
  pending, available_at, expires_at, flagged, idempotency_key, member_id, operator_id, store_id, purchase_id)
  VALUES (:amt, 'earn', 'sale', 'pgbench', '', now(), 0, :amt, false, NULL, now() + interval '400 days', false,
  'pgbench:' || :pid || ':earn', :mid, NULL, :store, :pid);
INSERT INTO membership_growthentry (amount, created_at, member_id, purchase_id) VALUES (:amt, now(), :mid, :pid);
UPDATE membership_member SET points_balance = points_balance + :amt, growth_value = growth_value + :amt,
  purchase_count = purchase_count + 1, last_purchase_at = greatest(last_purchase_at, now()) WHERE id = :mid;
END;
"""


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        sys.exit(f"bench_load: {tool} is not installed (apt-get install {tool})")
    return path


def prepare(members_file: Path, sample: int) -> dict:
    """A clerk of S001 with an API token, and a sample of members to sell to and look up."""
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from membership.models import Member, Role, Store, User

    store = Store.objects.get(code="S001")
    clerk, _created = User.objects.get_or_create(username="loadclerk", defaults={"role": Role.CLERK, "store": store})
    clerk.set_password(secrets.token_urlsafe(24))
    clerk.save()
    token = Token.objects.get_or_create(user=clerk)[0].key
    rows = list(Member.objects.filter(status="active").order_by("?").values_list("member_no", "phone")[:sample])
    members_file.write_text("".join(f"{no} {phone}\n" for no, phone in rows))
    with connection.cursor() as cur:
        cur.execute("SELECT max(id) FROM membership_member")
        maxid = cur.fetchone()[0]
        cur.execute("SELECT id FROM membership_tier ORDER BY rank LIMIT 1")
        tier = cur.fetchone()[0]
    return {"token": token, "store_id": store.pk, "tier_id": tier, "maxid": maxid, "members": len(rows), "clerk": clerk}


def api_calls(info: dict, *, receipt_prefix: str) -> dict:
    """The calls measured in process, through the real views (DRF's test client, the bench clerk's
    token, no throttles), each taking a call number and returning the response: /healthz, a sale that
    fails validation, a lookup by phone and a member sale (receipts `<prefix>-<run>-<n>`) of the
    members in BENCH_MEMBERS."""
    from rest_framework.test import APIClient
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = {"lookup": None, "lookup_ip": None, "write": None}  # no limits here
    logging.getLogger("django.request").setLevel(logging.ERROR)  # not a warning for each 400 on purpose
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {info['token']}")
    members = [line.split() for line in Path(os.environ["BENCH_MEMBERS"]).read_text().splitlines()]
    run = secrets.token_hex(3)

    def sale(i):
        return client.post(
            "/api/v1/sales/",
            {"receipt_no": f"{receipt_prefix}-{run}-{i}", "member": members[i % len(members)][0], "amount": "88.00"},
            format="json",
        )

    return {
        "/healthz": lambda i: client.get("/healthz"),
        "POST /api/v1/sales/ failing validation": lambda i: client.post(
            "/api/v1/sales/", {"amount": "x"}, format="json"
        ),
        "lookup": lambda i: client.get("/api/v1/members/lookup/", {"q": members[i % len(members)][1]}),
        "sale": sale,
    }


def in_process(info: dict, calls: int = 300) -> dict:
    """Through the real views in this process: the queries of one sale and one lookup, and the CPU
    milliseconds per call (time.process_time, the database's own CPU not included) of /healthz, of a
    token-authenticated POST /api/v1/sales/ that fails validation and writes nothing (the Django + DRF
    floor: authentication, parsing, the error envelope), of a lookup and of a member sale."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    calls_by_name = api_calls(info, receipt_prefix="LOAD-P")
    sale = calls_by_name["sale"]
    for call in calls_by_name.values():  # the per-process copies of settings and scenes warm up
        call(-1)
    with CaptureQueriesContext(connection) as lookup:
        calls_by_name["lookup"](0)
    lookup_queries = len(lookup)  # counted now: every request clears the log (Django's reset_queries)
    with CaptureQueriesContext(connection) as one_sale:
        sale(-2)
    sale_queries = len(one_sale)
    cpu = {}
    for name, call in calls_by_name.items():
        started = time.process_time()
        for i in range(calls):
            call(i)
        cpu[name] = (time.process_time() - started) * 1000 / calls
    return {"sale_queries": sale_queries, "lookup_queries": lookup_queries, "cpu": cpu}


def start_gunicorn(port: int, workers: int, env: dict, worker_class: str = "sync") -> subprocess.Popen:
    proc = subprocess.Popen(  # nosec B603
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "portal.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--worker-class",
            worker_class,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # nosec B310
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    sys.exit("bench_load: gunicorn did not answer /healthz")


PARTS = {"gunicorn": "web", "postgres": "db"}


def cpu_seconds() -> dict:
    """CPU seconds (user + system) used so far by the web server (gunicorn's processes), PostgreSQL
    (all its processes, other databases' sessions too; the figures printed use BackendCPU instead)
    and the load client (wrk or pgbench: this process's finished children)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"web": 0.0, "db": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        part = PARTS.get(text[text.index("(") + 1 : text.rindex(")")])
        if part:
            fields = text[text.rindex(")") + 2 :].split()
            used[part] += sum(int(f) for f in fields[11:15]) / tick  # utime, stime, cutime, cstime
    times = os.times()
    used["client"] = times.children_user + times.children_system
    return used


class BackendCPU:
    """CPU seconds of the PostgreSQL backends serving this run's database, sampled from /proc every
    0.2 s while a load runs (other sessions of a shared server, on other databases, are left out;
    backends keep their connection for the run: gunicorn's CONN_MAX_AGE, pgbench's clients). What a
    backend uses after the last sample before it ends (under 0.2 s) is not counted."""

    def __init__(self, user: str, dbname: str):
        self.needle = f": {user} {dbname} ".encode()  # "postgres: [cluster: ]user database host(port) state'
        self.start: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.running = False

    def _sample(self) -> dict[int, int]:
        ticks = {}
        for d in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (d / "cmdline").read_bytes()
                if not cmdline.startswith(b"postgres: ") or self.needle not in cmdline:
                    continue
                text = (d / "stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            ticks[int(d.name)] = int(fields[11]) + int(fields[12])  # utime + stime of the backend itself
        return ticks

    def _loop(self):
        while self.running:
            self.last.update(self._sample())
            time.sleep(0.2)

    def __enter__(self):
        import threading

        self.start = self._sample()
        self.last = dict(self.start)
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.last.update(self._sample())
        self.running = False
        self.thread.join()

    def seconds(self) -> float:
        return sum(t - self.start.get(pid, 0) for pid, t in self.last.items()) / os.sysconf("SC_CLK_TCK")


def member_updates(db: dict) -> tuple[int, int]:
    """(updates, HOT updates) of the member table so far (pg_stat_user_tables). Backends report their
    counts when idle or at exit, so this is read once the load's processes are done."""
    from .common import raw_connect

    time.sleep(1.5)  # a backend that just went idle flushes its counts within a second
    with raw_connect(autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        row = conn.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'membership_member'"
        ).fetchone()
    return int(row[0]), int(row[1])


def hot_share(before: tuple[int, int], after: tuple[int, int]) -> str:
    updates, hot = after[0] - before[0], after[1] - before[1]
    return f"{hot / updates:.0%} of {updates}" if updates else "no updates"


def per_call(before: dict, after: dict, calls: int) -> dict:
    return {part: (after[part] - before[part]) * 1000 / max(calls, 1) for part in before}


def run_wrk(mode: str, port: int, seconds: int, connections: int, env: dict, script: Path) -> dict:
    # each wrk run numbers its receipts afresh: a run id of its own keeps them from meeting earlier ones
    run_env = {**env, "BENCH_MODE": mode, "BENCH_RUN": f"{env['BENCH_RUN']}{secrets.token_hex(2)}"}
    out = subprocess.run(  # nosec B603
        [
            _need("wrk"),
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    m = re.search(
        r"RESULT requests=(\d+) seconds=([\d.]+) p50=([\d.]+) p95=([\d.]+) p99=([\d.]+) errors=(\d+)", out.stdout
    )
    if not m:
        sys.exit(f"bench_load: wrk said\n{out.stdout}\n{out.stderr}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    requests, secs = int(m.group(1)), float(m.group(2))
    return {
        "requests": requests,
        "rps": requests / secs,
        "p50": float(m.group(3)),
        "p95": float(m.group(4)),
        "p99": float(m.group(5)),
        "errors": int(m.group(6)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def run_pgbench(info: dict, seconds: int, clients: int, script: Path, db: dict) -> tuple[float, int]:
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    out = subprocess.run(  # nosec B603
        [
            _need("pgbench"),
            "-n",
            "-f",
            str(script),
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(seconds),
            "-D",
            f"maxid={info['maxid']}",
            "-D",
            f"store={info['store_id']}",
            "-D",
            f"tier={info['tier_id']}",
            "-h",
            db.get("HOST") or "127.0.0.1",
            "-p",
            str(db.get("PORT") or 5432),
            "-U",
            db.get("USER") or "postgres",
            db["NAME"],
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    m = re.search(r"tps = ([\d.]+)", out.stdout)
    done = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
    if not m or not done:
        sys.exit(f"bench_load: pgbench said\n{out.stdout}\n{out.stderr}")
    return float(m.group(1)), int(done.group(1))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument(
        "--worker-class",
        default="portal.gunicorn_worker.SafeThreadWorker",
        choices=["sync", "gthread", "portal.gunicorn_worker.SafeThreadWorker"],
        help="gunicorn's worker (production's is SafeThreadWorker, a gthread): sync closes the connection "
        "after each response, gthread keeps it open",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--sample", type=int, default=20000, help="members to draw from")
    args = parser.parse_args(argv)
    db = setup_django()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    members_file = work / "members.txt"
    os.environ["BENCH_MEMBERS"] = str(members_file)
    info = prepare(members_file, args.sample)
    run_id = secrets.token_hex(3)
    (work / "load.lua").write_text(SALES_LUA)
    (work / "earn.sql").write_text(PGBENCH_EARN)
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "THROTTLE_WRITE": "100000000/min",
        "THROTTLE_LOOKUP": "100000000/min",
        "THROTTLE_LOOKUP_IP": "100000000/min",
        "BENCH_TOKEN": info["token"],
        "BENCH_RUN": run_id,
        "BENCH_MEMBERS": str(members_file),
        "PORTAL_VAR_DIR": str(work / "var"),
        "LOG_LEVEL": "WARNING",
    }
    here = in_process(info)
    say(
        f"load: {info['members']} members drawn of {info['maxid']}; gunicorn {args.workers} {args.worker_class} workers, "
        f"wrk {args.connections} connections, {args.seconds} s each; nproc {os.cpu_count()}"
    )
    pg_user = db.get("USER") or "postgres"
    proc = start_gunicorn(args.port, args.workers, env, args.worker_class)
    try:
        run_wrk("sale", args.port, 5, args.connections, env, work / "load.lua")  # warm-up
        run_wrk("lookup", args.port, 5, args.connections, env, work / "load.lua")
        api_updates = member_updates(db)
        cpu = cpu_seconds()
        with BackendCPU(pg_user, db["NAME"]) as backends:
            sales = run_wrk("sale", args.port, args.seconds, args.connections, env, work / "load.lua")
        cpu, sales["cpu"] = cpu_seconds(), per_call(cpu, cpu_seconds(), sales["requests"])
        sales["cpu"]["db"] = backends.seconds() * 1000 / max(sales["requests"], 1)
        with BackendCPU(pg_user, db["NAME"]) as backends:
            lookups = run_wrk("lookup", args.port, args.seconds, args.connections, env, work / "load.lua")
        lookups["cpu"] = per_call(cpu, cpu_seconds(), lookups["requests"])
        lookups["cpu"]["db"] = backends.seconds() * 1000 / max(lookups["requests"], 1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    api_updates = hot_share(api_updates, member_updates(db))  # the sales' updates (lookups write none)
    raw_updates = member_updates(db)
    cpu = cpu_seconds()
    with BackendCPU(pg_user, db["NAME"]) as backends:
        tps, transactions = run_pgbench(info, args.seconds, args.connections, work / "earn.sql", db)
    raw_cpu = per_call(cpu, cpu_seconds(), transactions)
    raw_cpu["db"] = backends.seconds() * 1000 / max(transactions, 1)
    raw_updates = hot_share(raw_updates, member_updates(db))
    for name, r in (("POST /api/v1/sales/", sales), ("GET /api/v1/members/lookup/", lookups)):
        say(
            f"{name}: {r['requests']} requests, {r['rps']:.1f}/s, p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, "
            f"p99 {r['p99']:.1f} ms, errors {r['errors']} (non-2xx {r['non2xx']}); CPU per call: "
            f"web {r['cpu']['web']:.2f} ms, PostgreSQL {r['cpu']['db']:.2f} ms, wrk {r['cpu']['client']:.2f} ms"
        )
    say(
        f"pgbench raw earn transaction: {tps:.1f} tps ({args.connections} clients); CPU per transaction: "
        f"PostgreSQL {raw_cpu['db']:.2f} ms, pgbench {raw_cpu['client']:.2f} ms"
    )
    say(f"member updates that were HOT: API sales {api_updates}; raw earn transactions {raw_updates}")
    say(
        f"queries: one sale {here['sale_queries']}, one lookup {here['lookup_queries']} (BEGIN and COMMIT not "
        f"counted; the raw transaction is 5 statements between them)"
    )
    say(
        "Python CPU per call in process (no database CPU): "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in here["cpu"].items())
    )
    ratio = sales["rps"] / tps
    db_share = sales["cpu"]["db"] / raw_cpu["db"] if raw_cpu["db"] else float("inf")
    goals = [
        ("PostgreSQL CPU per API sale ÷ per raw transaction", f"{db_share:.2f}", "≤ 1.25", db_share <= 1.25),
        ("web CPU per sale", f"{sales['cpu']['web']:.2f} ms", "≤ 3.5 ms", sales["cpu"]["web"] <= 3.5),
        ("web CPU per lookup", f"{lookups['cpu']['web']:.2f} ms", "≤ 2.0 ms", lookups["cpu"]["web"] <= 2.0),
        ("API sales/s ÷ raw earn tps", f"{ratio:.2f}", "≥ 0.35", ratio >= 0.35),
        ("sale p99", f"{sales['p99']:.1f} ms", "≤ 30 ms", sales["p99"] <= 30),
        ("lookup p99", f"{lookups['p99']:.1f} ms", "≤ 15 ms", lookups["p99"] <= 15),
    ]
    for name, value, goal, met in goals:
        say(f"goal: {name} {value} ({goal}) {'met' if met else 'NOT met'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
