"""Issue 28, R2: a Redis outage must not refuse till calls.

The throttles count in the shared cache (Redis in production, the same server as the broker). With
no fallback, every throttled call answered 500 while Redis was down, undoing the outbox's promise that
a broker outage never fails a till operation. They now count in this process while the shared cache
is unreachable (still a limit, per worker), and say so in a Prometheus counter."""

import shutil
import socket
import subprocess
import time

import pytest
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings
from rest_framework.throttling import SimpleRateThrottle

from core import metrics
from pos import api_support


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def redis_down(monkeypatch):
    """The throttles' cache is a Redis that refuses connections."""
    dead = RedisCache(f"redis://127.0.0.1:{_closed_port()}/1", {"OPTIONS": {"socket_connect_timeout": 0.5}})
    monkeypatch.setattr(SimpleRateThrottle, "cache", dead)
    api_support.reset_shared_cache_state()
    yield dead
    api_support.reset_shared_cache_state()


def _fallbacks() -> float:
    return sum(
        sample.value
        for metric in metrics.THROTTLE_FALLBACKS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def test_till_calls_are_answered_while_the_throttles_cache_is_down(api, redis_down):
    clerk = api("clerk1")
    before = _fallbacks()
    enrolled = clerk.post("/api/v1/members/", {"phone": "13800138000"}, format="json")
    assert enrolled.status_code == 201, enrolled.content
    member_no = enrolled.json()["member_no"]
    sold = clerk.post("/api/v1/sales/", {"receipt_no": "R2-1", "member": member_no, "amount": "100.00"}, format="json")
    assert sold.status_code == 201, sold.content
    assert sold.json()["points_earned"] == 100
    found = clerk.get("/api/v1/members/lookup/", {"q": "13800138000"})
    assert found.status_code == 200, found.content
    assert _fallbacks() > before  # the operator sees that the throttles counted locally


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf").conf.settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"lookup": "3/min", "lookup_ip": "100/min", "write": "100/min"},
    }
)
def test_the_local_count_still_limits_while_the_cache_is_down(api, redis_down):
    from django.conf import settings
    from rest_framework.settings import api_settings

    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        clerk = api("clerk1")
        codes = [clerk.get("/api/v1/members/lookup/", {"q": f"1390000000{n}"}).status_code for n in range(4)]
        assert codes == [404, 404, 404, 429]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


def test_the_shared_cache_is_tried_again_after_a_pause(redis_down, monkeypatch):
    """While the shared cache is marked down it is not asked (no connection attempt per request);
    after the pause it is asked again, so counting goes back to Redis once Redis is back."""
    clock = [1000.0]
    monkeypatch.setattr(api_support, "_monotonic", lambda: clock[0])
    assert api_support.shared_cache_usable() is True
    api_support.mark_shared_cache_down()
    assert api_support.shared_cache_usable() is False
    clock[0] += api_support.SHARED_CACHE_RETRY_SECONDS + 0.1
    assert api_support.shared_cache_usable() is True


# --- real gunicorn, real Redis stopped --------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sales_and_lookups_go_on_when_redis_stops_under_gunicorn(on_postgres, enrol, demo_staff, tmp_path):
    from rest_framework.authtoken.models import Token

    from tests.portal.gunicorn_run import gunicorn, log_text

    server = shutil.which("redis-server")
    if not server:
        pytest.skip("needs redis-server (CI installs it)")
    for user in demo_staff.values():  # the deploy check refuses the published demo passwords
        user.set_password("not-the-demo-password-7781")
        user.save()
    token = Token.objects.create(user=demo_staff["clerk1"]).key
    member = enrol(phone="13900000003")
    port = _closed_port()
    redis = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        env = {"CACHE_URL": f"redis://127.0.0.1:{port}/1", "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0"}
        with gunicorn(tmp_path, workers=2, env=env) as base:
            import json
            import urllib.request

            def call(method, path, body=None):
                request = urllib.request.Request(
                    base + path,
                    method=method,
                    data=json.dumps(body).encode() if body is not None else None,
                    headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
                )
                try:
                    with urllib.request.urlopen(request, timeout=20) as response:
                        return response.status
                except urllib.error.HTTPError as exc:
                    return exc.code

            sale = {"member": member.member_no, "amount": "10.00"}
            assert call("POST", "/api/v1/sales/", {**sale, "receipt_no": "UP-1"}) == 201, log_text(tmp_path)
            redis.terminate()
            redis.wait(timeout=10)
            statuses = [call("POST", "/api/v1/sales/", {**sale, "receipt_no": f"DOWN-{i}"}) for i in range(6)]
            statuses += [call("GET", f"/api/v1/members/lookup/?q={member.phone}") for _ in range(6)]
            assert statuses == [201] * 6 + [200] * 6, (statuses, log_text(tmp_path))
    finally:
        if redis.poll() is None:
            redis.kill()
        redis.wait()
