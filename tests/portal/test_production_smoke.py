"""Production smoke test (issue 16): what docker-compose.yml runs, without Docker.

On a PostgreSQL database and a Redis broker of its own (dropped and purged afterwards), with the
production settings (DEBUG=0, a real 50-character secret, no demo passwords left):
scripts/build_assets.sh into a temporary directory (the image's build step), `manage.py migrate`
(the migrate container), then gunicorn with portal/gunicorn_conf.py (web, which runs the deploy
checks first), a Celery worker and beat. Over HTTP, as the TLS proxy would forward it: a sale and
a lookup through the API, a member page, an admin page, /api/docs/ with its static files, and
/metrics; no 5xx anywhere, static files served with hashed names, Chinese on the pages, and the
heartbeat going from beat through Redis to the worker.
"""

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings

from .gunicorn_run import scratch_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "portal.test"
SETTINGS_VARIABLES = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "NUM_PROXIES",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "CELERY_TASK_ALWAYS_EAGER",
    "PORTAL_VAR_DIR",
    "PORTAL_LOCALE_DIR",
    "PROMETHEUS_MULTIPROC_DIR",
    "METRICS_TOKEN",
    "GUNICORN_BIND",
    "WORKER_METRICS_PORT",
}

pytestmark = pytest.mark.postgres

# Run with the production settings: the demo's structure, no demo passwords, a member to sign in.
SETUP = """
import django; django.setup()
from django_celery_beat.models import PeriodicTask
from membership.demo import KNOWN_MEMBER, seed_program, seed_stores_and_staff
from membership.models import Member, Store, User
from membership.services import enrolment
from portal.checks import DEMO_PASSWORDS

seed_stores_and_staff(); seed_program()
member = enrolment.enrol(phone=KNOWN_MEMBER["phone"], name=KNOWN_MEMBER["name"], store=Store.objects.get(code="S001"),
                         acting_user=User.objects.get(username="clerk1"))
member.set_password(KNOWN_MEMBER["password"]) if hasattr(member, "set_password") else None
from django.contrib.auth.hashers import make_password
Member.objects.filter(pk=member.pk).update(password=make_password(KNOWN_MEMBER["password"]))
for user in User.objects.filter(username__in=DEMO_PASSWORDS):
    user.set_password({password!r}); user.save()
heartbeat = PeriodicTask.objects.get(name="heartbeat").interval
heartbeat.every = 1; heartbeat.save()  # every second instead of every minute: a short test
print(member.member_no)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """HTTP/1.1 to gunicorn as the TLS proxy forwards it (Host, X-Forwarded-Proto: https and the
    client's address in X-Forwarded-For, as nginx's proxy_add_x_forwarded_for does). Keeps
    the cookies itself: the production cookies are Secure, which a client over http would drop."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.statuses = []

    def request(self, method, path, body=None, headers=None, form=None):
        headers = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", **(headers or {})}
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers.update(
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Origin": f"https://{HOST}",
                    "Referer": f"https://{HOST}{path}",
                    "X-CSRFToken": self.cookies.get("csrftoken", ""),
                }
            )
        elif body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
        finally:
            conn.close()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        self.statuses.append((method, path, response.status))
        assert response.status < 500, (method, path, response.status, content[:2000])
        return response, content

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def sign_in(self, login_path, fields, next_path):
        _, page = self.get(login_path)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        response, _ = self.request("POST", login_path, form={"csrfmiddlewaretoken": token, **fields, "next": next_path})
        assert response.status == 302, response.status
        return response


@pytest.fixture
def smoke_database():
    """A database of its own on the PostgreSQL server of the test run; dropped afterwards."""
    with scratch_database("portal_smoke") as url:
        yield url


def stop(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_production_stack_serves_sales_members_admin_and_docs(smoke_database, tmp_path):
    port, worker_metrics_port = free_port(), free_port()
    admin_password = secrets.token_urlsafe(18)
    metrics_token = secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64)[:50],
        ALLOWED_HOSTS=HOST,
        CSRF_TRUSTED_ORIGINS=f"https://{HOST}",
        DATABASE_URL=smoke_database,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        PORTAL_VAR_DIR=str(tmp_path / "var"),
        PORTAL_LOCALE_DIR=str(tmp_path / "locale"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        METRICS_TOKEN=metrics_token,
        LOG_FORMAT="json",
        PYTHON=sys.executable,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    assert len(env["SECRET_KEY"]) == 50
    run = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    def must(argv):
        result = subprocess.run(argv, **run)
        assert result.returncode == 0, (argv, result.stdout[-3000:], result.stderr[-3000:])
        return result.stdout

    # the image's build step, then the migrate container
    must(["sh", "scripts/build_assets.sh"])
    assert (tmp_path / "var/staticfiles/staticfiles.json").is_file()
    assert (tmp_path / "locale/zh_Hans/LC_MESSAGES/django.mo").is_file()
    must([sys.executable, "manage.py", "migrate", "--no-input", "-v0"])
    member_no = must([sys.executable, "-c", SETUP.format(password=admin_password)]).split()[-1]
    celery = [str(BIN / "celery"), "-A", "portal"]
    must(celery + ["purge", "-f"])  # nothing left over from another run in this broker

    logs = {name: open(tmp_path / f"{name}.log", "w+") for name in ("web", "worker", "beat")}
    procs = []
    try:
        for name, argv in [
            ("web", [str(BIN / "gunicorn"), "-c", "portal/gunicorn_conf.py", "portal.wsgi"]),
            ("worker", celery + ["worker", "--loglevel=INFO", "--concurrency=1"]),
            ("beat", celery + ["beat", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")]),
        ]:
            own = {
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"prometheus-{name}"),
                "WORKER_METRICS_PORT": str(worker_metrics_port),
            }
            Path(own["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
            procs.append(
                subprocess.Popen(argv, cwd=ROOT, env={**env, **own}, stdout=logs[name], stderr=subprocess.STDOUT)
            )
        run_smoke(env, port, member_no, admin_password, metrics_token, procs, logs, worker_metrics_port)
    finally:
        stop(procs)
        subprocess.run(celery + ["purge", "-f"], **run)
        for log in logs.values():
            log.close()


def read(log) -> str:
    log.flush()
    return Path(log.name).read_text()


def run_smoke(env, port, member_no, admin_password, metrics_token, procs, logs, worker_metrics_port):
    # the container health check, as compose runs it, until gunicorn answers
    deadline = time.monotonic() + 90
    while True:
        assert all(p.poll() is None for p in procs), {n: read(f)[-3000:] for n, f in logs.items()}
        check = subprocess.run([sys.executable, "-m", "portal.healthcheck"], cwd=ROOT, env=env, capture_output=True)
        if check.returncode == 0:
            break
        assert time.monotonic() < deadline, (check.stderr, read(logs["web"])[-3000:])
        time.sleep(0.5)

    web = Browser(port)
    # the API: a token, a lookup, a sale, the lookup again
    _, body = web.request("POST", "/api/v1/auth/token/", body={"username": "clerk1", "password": admin_password})
    api = {"Authorization": f"Token {json.loads(body)['token']}"}
    response, body = web.get("/api/v1/members/lookup/?q=13800138000", headers=api)
    assert response.status == 200 and json.loads(body)["member_no"] == member_no
    response, body = web.request(
        "POST",
        "/api/v1/sales/",
        headers={**api, "Idempotency-Key": "smoke-1"},
        body={"receipt_no": "SMOKE-1", "member": member_no, "amount": "300.00"},
    )
    assert response.status == 201, body
    sale = json.loads(body)
    assert sale["points_earned"] > 0 and sale["member_no"] == member_no
    _, body = web.get(f"/api/v1/members/{member_no}/", headers=api)
    assert json.loads(body)["points"]["balance"] == sale["points_balance"] > 0

    # a member page, in Chinese, after signing in as the member
    member = Browser(port)
    _, page = member.get("/m/login/")
    assert "手机号".encode() in page  # our own catalogue, compiled by build_assets.sh
    member.sign_in("/m/login/", {"phone": "13800138000", "password": "member-demo"}, "/m/")
    response, page = member.get("/m/")
    html = page.decode()
    assert response.status == 200 and 'lang="zh-hans"' in html and "张三" in html
    assert str(sale["points_balance"]) in html
    assert_static_files_served(member, html)

    # an admin page, in Chinese
    staff = Browser(port)
    staff.sign_in("/admin/login/", {"username": "admin", "password": admin_password}, "/admin/")
    response, page = staff.get("/admin/membership/tier/")
    html = page.decode()
    assert response.status == 200 and "等级" in html
    assert_static_files_served(staff, html)

    # the API docs: our own Swagger UI, nothing from outside
    response, page = web.get("/api/docs/")
    html = page.decode()
    assert response.status == 200 and "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert not re.search(r"https?://(?!%s)" % re.escape(HOST), html)
    assert_static_files_served(web, html)
    response, body = web.get("/api/schema/")
    assert response.status == 200 and b"/api/v1/sales/" in body

    # beat → Redis → worker: the heartbeat reaches the database; /healthz says so
    deadline = time.monotonic() + 90
    while True:
        _, body = web.get("/healthz")
        health = json.loads(body)
        if health["heartbeat"]:
            break
        assert time.monotonic() < deadline, {n: read(f)[-3000:] for n, f in logs.items()}
        time.sleep(1)
    assert health["database"] == "ok" and health["broker"] == "ok"

    # metrics: through the proxy only with the token; the worker's task outcomes are there too
    response, _ = web.get("/metrics")
    assert response.status == 404
    response, body = web.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    text = body.decode()
    assert response.status == 200
    assert re.search(r'portal_http_requests_total\{method="POST",status="201",view="api-sales"\} 1\.0', text)
    # the worker's own endpoint (loopback), with the heartbeats it ran
    conn = http.client.HTTPConnection("127.0.0.1", worker_metrics_port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    assert re.search(r'portal_celery_tasks_total\{outcome="success",task="portal.tasks.heartbeat"\} [1-9]', text)

    # no 5xx anywhere: what we asked, and what gunicorn logged
    assert [s for s in web.statuses + member.statuses + staff.statuses if s[2] >= 500] == []
    access = read(logs["web"])
    assert not re.search(r'" 5\d\d ', access), access[-3000:]
    worker_log = read(logs["worker"])
    assert "Traceback" not in worker_log, worker_log[-3000:]


def assert_static_files_served(browser, html):
    assets = sorted(set(re.findall(r'(?:src|href)="(/static/[^"?#]+)', html)))
    assert assets, html[:2000]
    for asset in assets:
        if asset.endswith((".css", ".js")):
            # whitenoise's manifest: hashed names, so a release's files never mix with the last one's
            assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", asset), asset
        response, content = browser.get(asset)
        assert response.status == 200 and content, asset
