"""Soak of mixed till traffic through real gunicorn (issue 28): several tills at once, for minutes,
against PostgreSQL and Redis, on the demo program.

    .venv/bin/python -m bench.bench_soak [--minutes 10] [--clients 6] [--workers 3]

gunicorn starts as docs/deploy.md starts it (`gunicorn -c portal/gunicorn_conf.py portal.wsgi`,
DEBUG=0, the deploy checks, PROMETHEUS_MULTIPROC_DIR, the cache and broker on Redis). Each client
thread is a till of its own (a clerk with an API token, S001 or S002, one keep-alive connection, its
own members) and mixes member lookups (and a few of phones nobody has: 404), member summaries,
ledgers, coupon lists, the counter's sale quote (`/counter/sale/preview/`, signed in), sales (with
points, a coupon, stored value, the member price, without a member, a till's retry of the same
receipt), returns, top-ups, mall items, /healthz and /metrics. The throttles are raised: the soak
measures the server, not the limits.

Prints the requests, the errors (a 5xx, a status the call does not expect, a broken connection),
p50/p99 latency, each call's count, and the gunicorn workers' resident memory (RSS) after the
warm-up and at the end with its growth (goals: 0 errors, RSS growth < 10 %). The database needs the
demo program (`manage.py seed_demo`; run here on a database without tiers); the demo staff's
published passwords are replaced by random ones (the deploy check refuses them), and the soak's
tills (`soak1`…) and sales (receipts `SOAK-<run>-…`) stay in the database."""

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess  # nosec B404
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/bench_soak"
GOAL_RSS_GROWTH = 10.0  # per cent
MEMBERS_PER_CLIENT = 12


def say(*parts):
    print(*parts, flush=True)


# --- the data: the demo program, tills with tokens, members for each till ------------------------------


def prepare(clients: int) -> list[dict]:
    """One till per client (clerk `soakN` at S001 or S002, a token, a password for the counter) with
    members of its own (so no two tills race for one member's points or coupons)."""
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from membership.demo import KNOWN_MEMBER, STAFF
    from membership.models import Member, Role, Store, Tier, User

    if not Tier.objects.exists():
        say("soak: loading the demo program (manage.py seed_demo)")
        call_command("seed_demo")
    for user in User.objects.filter(username__in=[row[0] for row in STAFF]):
        user.set_password(secrets.token_urlsafe(24))  # gunicorn's deploy check refuses the demo passwords
        user.save(update_fields=["password"])
    stores = [Store.objects.get(code="S001"), Store.objects.get(code="S002")]
    _enough_members(clients, stores)
    tills = []
    for i in range(clients):
        store = stores[i % 2]
        password = secrets.token_urlsafe(18)
        clerk, _ = User.objects.get_or_create(username=f"soak{i + 1}", defaults={"role": Role.CLERK, "store": store})
        clerk.role, clerk.store, clerk.is_active = Role.CLERK, store, True
        clerk.set_password(password)
        clerk.save()
        members = Member.objects.filter(home_store=store, status="active").exclude(phone=KNOWN_MEMBER["phone"])
        rows = members.order_by("pk").values_list("member_no", "phone")[
            (i // 2) * MEMBERS_PER_CLIENT : (i // 2 + 1) * MEMBERS_PER_CLIENT
        ]
        tills.append(
            {
                "username": clerk.username,
                "password": password,
                "token": Token.objects.get_or_create(user=clerk)[0].key,
                "members": [{"no": no, "phone": phone} for no, phone in rows],
            }
        )
    return tills


def _enough_members(clients: int, stores) -> None:
    """Enrol soak members (phones 1370000xxxx) where a store has fewer active members than its tills need."""
    from membership.models import Member
    from membership.services import enrolment

    per_store = (clients + 1) // 2 * MEMBERS_PER_CLIENT  # tills 1, 3, … sell at S001; 2, 4, … at S002
    for s, store in enumerate(stores):
        have = Member.objects.filter(home_store=store, status="active").count()
        for n in range(have, per_store):
            phone = f"1370{s}{n:06d}"
            if not Member.objects.filter(phone=phone).exists():
                enrolment.enrol(phone=phone, name=f"压测{n}", store=store)


# --- gunicorn, as docs/deploy.md starts it ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    from django.db import connection

    d = connection.settings_dict
    host, port = d.get("HOST") or "127.0.0.1", d.get("PORT") or 5432
    return f"postgres://{d['USER']}:{urllib.parse.quote(d['PASSWORD'] or '')}@{host}:{port}/{d['NAME']}"


def _redis_url() -> str:
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        url = os.environ.get(name, "")
        if url.startswith("redis://"):
            return url
    sys.exit("soak: needs Redis: set CELERY_BROKER_URL=redis://… (the broker and the throttles' cache)")


@contextmanager
def serve(work: Path, *, workers: int):
    """Yield (base URL, master pid) of gunicorn with the production settings on Django's database."""
    port = _free_port()
    redis_url = _redis_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": _database_url(),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "PORTAL_VAR_DIR": str(work / "var"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", redis_url),
        "CACHE_URL": os.environ.get("CACHE_URL", redis_url),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),  # not made yet: gunicorn_conf makes it
        "THROTTLE_WRITE": "100000000/min",
        "THROTTLE_LOOKUP": "100000000/min",
        "THROTTLE_LOOKUP_IP": "100000000/min",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the deploy check refuses it
    # a release's step 1 (docs/deploy.md): the static files with their manifest, which every page needs
    subprocess.run(["sh", "scripts/build_assets.sh"], cwd=ROOT, env={**env, "PYTHON": sys.executable}, check=True)  # nosec B603 B607
    log_path = work / "gunicorn.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(  # nosec B603
            [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn_conf.py", "portal.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_up(proc, port, log_path, workers)
            yield f"http://127.0.0.1:{port}", proc.pid
        finally:
            _stop(proc)


def _wait_until_up(proc, port: int, log_path: Path, workers: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("soak: gunicorn exited:\n" + log_path.read_text()[-3000:])
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200 and len(worker_pids(proc.pid)) == workers:
                return
        except OSError:
            pass
        time.sleep(0.3)
    _stop(proc)
    raise RuntimeError("soak: gunicorn did not answer /healthz:\n" + log_path.read_text()[-3000:])


def _stop(proc) -> None:
    """The master and its workers (their own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)  # a worker that outlived its master
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def workers_rss(master: int) -> dict[int, int]:
    """{worker pid: RSS in KiB} of gunicorn's workers now."""
    return {pid: rss_kib(pid) for pid in worker_pids(master)}


# --- one till: a keep-alive connection and its calls ---------------------------------------------------


class Till:
    """A till's client: one keep-alive connection, its own members, counts and latencies per call."""

    def __init__(self, base: str, till: dict, run: str, number: int, stats: "Stats"):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.till, self.run, self.number, self.stats = till, run, number, stats
        self.rng = random.Random(f"{run}-{number}")  # nosec B311
        self.members = [{**m, "points": None, "sv": None, "coupons": []} for m in till["members"]]
        self.sales: list[tuple[str, Decimal]] = []  # (sale_id, amount) not returned yet
        self.receipts = 0
        self.conn = None
        self.cookies: dict[str, str] = {}

    # plumbing
    def _send(self, method, path, body, headers):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if (response.getheader("Connection") or "").lower() == "close":
            self.conn.close()
            self.conn = None
        return response, data

    def request(self, method, path, *, body=None, headers=None):
        """(status, body bytes, response) ; status 0 when the connection broke twice."""
        for attempt in (1, 2):
            try:
                return self._send(method, path, body, headers or {})
            except (http.client.HTTPException, OSError) as exc:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:  # a fresh connection failed too
                    self.stats.note(f"{method} {path}: {type(exc).__name__}: {exc}")
                    return None, b""
                self.stats.reconnects += 1  # the server closed a kept-alive connection: open another
        return None, b""

    def api(self, name, method, path, payload=None, *, expect=(200,), headers=None):
        body = json.dumps(payload).encode() if payload is not None else None
        head = {"Authorization": f"Token {self.till['token']}", "Accept": "application/json", **(headers or {})}
        if body is not None:
            head["Content-Type"] = "application/json"
        started = time.perf_counter()
        response, data = self.request(method, path, body=body, headers=head)
        status = response.status if response is not None else 0
        self.stats.record(name, status, time.perf_counter() - started, expect, data)
        if status in expect and data and response.getheader("Content-Type", "").startswith("application/json"):
            return status, json.loads(data)
        return status, None

    def member(self):
        return self.rng.choice(self.members)

    def receipt(self) -> str:
        self.receipts += 1
        return f"SOAK-{self.run}-{self.number}-{self.receipts}"

    def amount(self, lo=20, hi=600) -> Decimal:
        return Decimal(self.rng.randint(lo, hi)) + Decimal(self.rng.choice(["0.00", "0.50", "0.90"]))

    def learn(self, m, body):
        """Keep what a sale, return, top-up or summary answered about the member's balances."""
        if not body:
            return
        if "points_balance" in body:
            m["points"] = body["points_balance"]
        if isinstance(body.get("points"), dict):
            m["points"] = body["points"]["balance"]
        sv = body.get("stored_value") or (
            {"principal": body["principal"], "bonus": body["bonus"]} if "bonus" in body else None
        )
        if sv:
            m["sv"] = Decimal(sv["principal"]) + Decimal(sv["bonus"])

    # the calls (each records its own figures)
    def lookup(self):
        m = self.member()
        self.learn(m, self.api("lookup", "GET", f"/api/v1/members/lookup/?q={m['phone']}")[1])

    def lookup_unknown(self):  # a phone nobody has (soak members are 13700… and 13701…)
        self.api(
            "lookup, unknown phone",
            "GET",
            f"/api/v1/members/lookup/?q=13709{self.rng.randint(0, 999999):06d}",
            expect=(404,),
        )

    def summary(self):
        m = self.member()
        self.learn(m, self.api("member summary", "GET", f"/api/v1/members/{m['no']}/")[1])

    def ledger(self):
        self.api("points ledger", "GET", f"/api/v1/members/{self.member()['no']}/points/")

    def coupons(self):
        m = self.member()
        _status, body = self.api("coupons", "GET", f"/api/v1/members/{m['no']}/coupons/")
        if body:
            m["coupons"] = [(c["code"], Decimal(c["threshold"])) for c in body["results"] if c["status"] == "available"]

    def mall(self):
        self.api("mall items", "GET", "/api/v1/mall/items/")

    def sale(self, name="sale", *, member=True, points=False, stored_value=False, list_price=False, coupon=False):
        m = self.member() if member else None
        amount = self.amount()
        payload = {"receipt_no": self.receipt()}
        payload["list_amount" if list_price else "amount"] = str(amount)
        payload["lines"] = [
            {"sku": f"F{self.rng.randint(100, 130)}", "category": "food", "qty": 1, "amount": str(amount)}
        ]
        if list_price:
            payload["best_price"] = True
        if m:
            payload["member"] = m["no"]
        if points and m and (m["points"] or 0) >= 100:  # a balance below zero is a debt (R3)
            payload["pay_points"] = min(m["points"], int(amount * 50)) // 100 * 100
        if stored_value and m and (m["sv"] or 0) > 0:
            payload["pay_stored_value"] = str(min(m["sv"], amount).quantize(Decimal("0.01")))
        if coupon and m and m["coupons"]:
            code, threshold = m["coupons"].pop()
            payload["coupon_code"] = code
            payload["amount"] = payload["lines"][0]["amount"] = str(max(amount, threshold + 50))
        expect = (201, 409) if "coupon_code" in payload else (201,)  # 409 coupon_invalid: not for this sale
        status, body = self.api(name, "POST", "/api/v1/sales/", payload, expect=expect)
        if status == 201 and body:
            if m:
                self.learn(m, body)
                if m["sv"] is not None:
                    m["sv"] -= Decimal(body["stored_value_paid"])
            self.sales.append((body["sale_id"], Decimal(body["amount"]), m))
            self.last_sale = payload
        return status

    def retry(self):
        """A till that lost the answer sends the same sale again: the first answer comes back (200)."""
        if getattr(self, "last_sale", None):
            self.api("sale, retried", "POST", "/api/v1/sales/", self.last_sale, expect=(200,))

    def sale_return(self):
        if not self.sales:
            return self.sale()
        sale_id, amount, m = self.sales.pop(self.rng.randrange(len(self.sales)))
        back = max(Decimal("0.01"), (amount / 2).quantize(Decimal("0.01")))
        payload = {"receipt_no": self.receipt() + "R", "amount": str(back)}
        status, body = self.api("return", "POST", f"/api/v1/sales/{sale_id}/returns/", payload, expect=(201,))
        if status == 201 and body and m:
            m["points"] = body["points_balance"]
            if m["sv"] is not None:
                m["sv"] += Decimal(body["stored_value_refunded"])

    def top_up(self):
        m = self.member()
        if m["sv"] is None or m["sv"] > 3000:  # the program's cap is ¥5,000 of stored value
            return self.summary()
        plan, amount = self.rng.choice([("TOPUP100", "100.00"), ("TOPUP300", "300.00"), ("TOPUP500", "500.00")])
        key = {"Idempotency-Key": f"soak-{self.run}-{self.number}-{self.receipts}-{secrets.token_hex(4)}"}
        path = f"/api/v1/members/{m['no']}/stored-value/topups/"
        _status, body = self.api("top-up", "POST", path, {"amount": amount, "plan": plan}, expect=(201,), headers=key)
        self.learn(m, body)

    def healthz(self):
        self.api("/healthz", "GET", "/healthz")

    def metrics(self):
        started = time.perf_counter()
        response, data = self.request("GET", "/metrics")  # from loopback, through no proxy: the operator
        self.stats.record("/metrics", response.status if response else 0, time.perf_counter() - started, (200,), data)

    # the counter's quote: a signed-in clerk's sale preview
    def _browser_headers(self, extra=None):
        origin = f"https://{self.host}:{self.port}"
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {
            "Host": f"{self.host}:{self.port}",
            "X-Forwarded-Proto": "https",
            "Origin": origin,
            "Referer": origin + "/counter/",
            "Cookie": cookie,
            **(extra or {}),
        }

    def _keep_cookies(self, response):
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]

    def sign_in(self) -> bool:
        response, _ = self.request("GET", "/accounts/login/", headers=self._browser_headers())
        if response is None:
            return False
        self._keep_cookies(response)
        form = urllib.parse.urlencode(
            {
                "username": self.till["username"],
                "password": self.till["password"],
                "csrfmiddlewaretoken": self.cookies.get("csrftoken", ""),
            }
        )
        headers = self._browser_headers({"Content-Type": "application/x-www-form-urlencoded"})
        response, _ = self.request("POST", "/accounts/login/", body=form, headers=headers)
        if response is not None:
            self._keep_cookies(response)
        return response is not None and response.status == 302 and "sessionid" in self.cookies

    def quote(self):
        m = self.member()
        fields = {"member_no": m["no"], "receipt_no": self.receipt(), "amount": str(self.amount())}
        if (m["points"] or 0) >= 100 and self.rng.random() < 0.5:
            fields["pay_points"] = str(min(m["points"], 10000) // 100 * 100)
        headers = self._browser_headers(
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "HX-Request": "true",
                "X-CSRFToken": self.cookies.get("csrftoken", ""),
            }
        )
        started = time.perf_counter()
        response, data = self.request(
            "POST", "/counter/sale/preview/", body=urllib.parse.urlencode(fields), headers=headers
        )
        status = response.status if response else 0
        if status == 200 and b"preview" not in data:
            status = -1  # an answer that is not the preview (the sign-in page, say)
        self.stats.record("quote (counter preview)", status, time.perf_counter() - started, (200,), data)


# how often each call comes, of 100 (a till mostly looks members up, quotes and sells)
MIX = [
    ("lookup", 18, Till.lookup),
    ("lookup, unknown phone", 3, Till.lookup_unknown),
    ("member summary", 7, Till.summary),
    ("quote (counter preview)", 10, Till.quote),
    ("sale", 14, Till.sale),
    ("sale paying points", 6, lambda t: t.sale("sale paying points", points=True)),
    ("sale at the member price", 6, lambda t: t.sale("sale at the member price", list_price=True)),
    ("sale with a coupon", 4, lambda t: t.sale("sale with a coupon", coupon=True)),
    ("sale paying stored value", 4, lambda t: t.sale("sale paying stored value", stored_value=True)),
    ("sale without a member", 4, lambda t: t.sale("sale without a member", member=False)),
    ("sale, retried", 3, Till.retry),
    ("return", 6, Till.sale_return),
    ("coupons", 5, Till.coupons),
    ("top-up", 4, Till.top_up),
    ("points ledger", 3, Till.ledger),
    ("mall items", 2, Till.mall),
    ("/healthz", 1, Till.healthz),
]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls: Counter = Counter()
        self.statuses: Counter = Counter()
        self.latencies: list[float] = []
        self.errors: Counter = Counter()  # by kind: 5xx, unexpected 4xx, other
        self.error_samples: list[str] = []
        self.reconnects = 0

    def record(self, name, status, seconds, expect, body=b""):
        with self.lock:
            self.calls[name] += 1
            self.statuses[status] += 1
            self.latencies.append(seconds)
            if status not in expect:
                kind = "5xx" if status >= 500 else "unexpected 4xx" if status >= 400 else "other"
                self.errors[kind] += 1
                self._sample(f"{name}: {status} {body[:300]!r}")

    def note(self, text, kind=None):
        with self.lock:
            if kind:
                self.errors[kind] += 1
            self._sample(text)

    def _sample(self, text):
        if len(self.error_samples) < 20:
            self.error_samples.append(text)


# --- the soak -------------------------------------------------------------------------------------------


def _till_loop(till: Till, stop: threading.Event) -> None:
    calls, weights = [c for _n, _w, c in MIX], [w for _n, w, _c in MIX]
    while not stop.is_set():
        call = till.rng.choices(calls, weights)[0]
        try:
            call(till)
        except Exception as exc:  # the client's own failure (an answer it could not read) counts as an error
            till.stats.note(f"{getattr(call, '__name__', call)}: {type(exc).__name__}: {exc}", kind="other")


def _operator_loop(operator: Till, stop: threading.Event) -> None:
    """Prometheus' scrape and a load balancer's health check, every 5 s."""
    while not stop.wait(5):
        operator.metrics()
        operator.healthz()


def soak(base: str, master: int, tills: list[dict], *, seconds: float, warmup: float, sample_every: float = 60) -> dict:
    """Run the tills against gunicorn for `seconds` (the first `warmup` of them before the RSS baseline)."""
    stats, run = Stats(), secrets.token_hex(3)
    clients = [Till(base, t, run, i + 1, stats) for i, t in enumerate(tills)]
    for client in clients:
        if not client.sign_in():
            raise RuntimeError(f"soak: {client.till['username']} could not sign in to the counter")
    result = {"boot_rss": workers_rss(master), "samples": []}
    stop = threading.Event()
    threads = [threading.Thread(target=_till_loop, args=(c, stop), daemon=True) for c in clients]
    threads.append(
        threading.Thread(target=_operator_loop, args=(Till(base, tills[0], run, 0, stats), stop), daemon=True)
    )
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    result["start_rss"] = workers_rss(master)
    next_sample = started + warmup + sample_every
    while (left := started + seconds - time.monotonic()) > 0:
        time.sleep(min(left, max(0.0, next_sample - time.monotonic())) or 0.05)
        if time.monotonic() >= next_sample:
            result["samples"].append((time.monotonic() - started, sum(workers_rss(master).values())))
            next_sample += sample_every
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    result.update(seconds=time.monotonic() - started, end_rss=workers_rss(master), stats=stats)
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def mib(rss: dict[int, int]) -> str:
    return f"{sum(rss.values()) / 1024:.1f} MiB"


def report(result: dict, *, warmup: float) -> dict:
    """Print the figures; return the ones the goals are about."""
    stats: Stats = result["stats"]
    total, errors = sum(stats.calls.values()), sum(stats.errors.values())
    p50, p99 = percentile(stats.latencies, 50) * 1000, percentile(stats.latencies, 99) * 1000
    start, end = result["start_rss"], result["end_rss"]
    growth = (sum(end.values()) - sum(start.values())) * 100 / max(sum(start.values()), 1)
    say(
        f"soak: {total:,} requests in {result['seconds']:.0f} s ({total / max(result['seconds'], 1):.1f}/s), "
        f"errors {errors} (5xx {stats.errors['5xx']}, unexpected 4xx {stats.errors['unexpected 4xx']}, "
        f"other {stats.errors['other']}); kept-alive connections the server had closed: {stats.reconnects}"
    )
    say(f"soak: latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(stats.latencies, default=0) * 1000:.0f} ms")
    say("soak: calls: " + ", ".join(f"{name} {n:,}" for name, n in stats.calls.most_common()))
    say("soak: statuses: " + ", ".join(f"{status} × {n:,}" for status, n in sorted(stats.statuses.items())))
    for sample in stats.error_samples:
        say(f"soak: error: {sample}")
    say(
        f"soak: gunicorn workers' RSS: {mib(result['boot_rss'])} after boot; at start (after the {warmup:.0f} s "
        f"warm-up) {mib(start)}; at end {mib(end)}; growth {growth:+.1f} %"
    )
    say(
        "soak: RSS per worker (start → end): "
        + ", ".join(f"{pid} {start[pid] / 1024:.1f} → {end.get(pid, 0) / 1024:.1f} MiB" for pid in sorted(start))
    )
    if sorted(start) != sorted(end):
        say(
            f"soak: the workers changed during the soak (a worker died or was replaced): {sorted(start)} → {sorted(end)}"
        )
    if result["samples"]:
        say(
            "soak: workers' RSS over time: "
            + ", ".join(f"{t / 60:.0f} min {kib / 1024:.1f}" for t, kib in result["samples"])
            + " MiB"
        )
    same_workers = sorted(start) == sorted(end)
    goals = [
        ("errors", f"{errors}", "0", errors == 0),
        (
            "workers' RSS growth",
            f"{growth:+.1f} %",
            f"< {GOAL_RSS_GROWTH:.0f} %",
            growth < GOAL_RSS_GROWTH and same_workers,
        ),
    ]
    for name, value, goal, met in goals:
        say(f"goal: {name} {value} ({goal}) {'met' if met else 'NOT met'}")
    return {"requests": total, "errors": errors, "p50_ms": p50, "p99_ms": p99, "rss_growth": growth}


def _setup_django():
    """Django on DATABASE_URL (default: the bench_soak database), as the other benchmarks set it up."""
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    from .common import setup_django

    return setup_django()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="how long the soak runs (default 10)")
    parser.add_argument("--clients", type=int, default=6, help="tills sending at once, each a thread (default 6)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers, WEB_CONCURRENCY (default 3)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds before the RSS baseline (default: 30, or a tenth of a shorter soak)",
    )
    args = parser.parse_args(argv)
    db = _setup_django()
    from django.core.management import call_command

    seconds = args.minutes * 60
    warmup = args.warmup if args.warmup is not None else min(30.0, seconds / 10)
    tills = prepare(args.clients)
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    say(
        f"soak: {args.minutes:g} min, {args.clients} tills (one keep-alive connection each), gunicorn {args.workers} "
        f"workers × {os.environ.get('GUNICORN_THREADS', '4')} threads, database {db['NAME']}, Redis {_redis_url()}; "
        f"nproc {os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    with serve(work, workers=args.workers) as (base, master):
        result = soak(base, master, tills, seconds=seconds, warmup=warmup)
    say(f"soak: load at the end {os.getloadavg()[0]:.1f}; gunicorn's log: {work / 'gunicorn.log'}")
    figures = report(result, warmup=warmup)
    call_command("check_ledger")
    sys.exit(0 if figures["errors"] == 0 and figures["rss_growth"] < GOAL_RSS_GROWTH else 1)


if __name__ == "__main__":
    main()
