"""Issue 30, done when: `kill -9` of a worker mid-batch, and every event is handled once within two
minutes. Real processes on PostgreSQL: members enrol here (each `member.enrolled` handed to a private
redis-server), a real `celery worker` works through the welcome tasks and is killed whole (SIGKILL
of its process group) with tasks taken and unacknowledged: Redis would give those back only after its
visibility timeout (an hour). A second worker starts, as the supervisor starts one again, and the
outbox's reconciler runs on its beat schedule (here in this process, the function beat's task calls):
every member has exactly one welcome coupon, and every event its receipt, within two minutes."""

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from campaigns.models import Coupon
from campaigns.tasks import MEMBER_ENROLLED
from core import outbox
from core.models import EventReceipt, OutboxEvent
from core.schedules import registered
from portal.celery import app
from tests.portal.gunicorn_run import ROOT, database_url
from tests.redis_server import RedisServer, needs_redis_server

pytestmark = [needs_redis_server, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PORT = 6393
MEMBERS = 300
BOUND = 120  # seconds from the kill until every event is handled


def _reset_broker_connections():
    app._pool = None
    app.__dict__.get("amqp") and setattr(app.amqp, "_producer_pool", None)


@pytest.fixture
def private_broker(request, tmp_path, monkeypatch):
    """The app publishes to a redis-server of this test's own (never the shared one), on the port its
    module names (BROKER_PORT), so that two modules using it never share one."""
    server = RedisServer(getattr(request.module, "BROKER_PORT", PORT), tmp_path / "redis.log").start()
    url = server.url(0)
    saved = app.conf.broker_url, app.conf.task_always_eager
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads it before its settings
    app.conf.broker_url, app.conf.task_always_eager = url, False
    _reset_broker_connections()
    outbox._delivered.clear()
    try:
        yield url
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        _reset_broker_connections()
        outbox._delivered.clear()
        server.kill()


def start_worker(tmp_path, broker_url: str, name: str, queues: str | None = None) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CELERY_TASK_ALWAYS_EAGER", "CACHE_URL", "PYTEST_CURRENT_TEST", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DATABASE_URL=database_url(),  # this test's database
        CELERY_BROKER_URL=broker_url,
        PORTAL_VAR_DIR=str(tmp_path / name),
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--concurrency=2", "--loglevel=INFO"]
    cmd += ["-n", f"{name}{os.getpid()}@%h", "--without-mingle", "--without-gossip"]
    cmd += ["-Q", queues] if queues else []
    log = (tmp_path / f"{name}.log").open("w")
    worker = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    worker.node = f"-n {name}{os.getpid()}@"  # its processes' command line: kill() finds every one by it
    return worker


def receipts() -> int:
    return EventReceipt.objects.filter(consumer=MEMBER_ENROLLED).count()


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL to the worker's whole process group: its pool's processes too, even when the main
    process has already gone (they were left running, blocked on a receiver that never answers)."""
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    subprocess.run(["pkill", "-9", "-f", worker.node], check=False)
    worker.wait(timeout=10)


def test_a_worker_killed_mid_batch_loses_no_event_and_each_is_handled_once_within_two_minutes(
    on_postgres, campaigns_demo, enrol, private_broker, tmp_path
):
    members = [enrol(phone=f"1391234{i:04d}") for i in range(MEMBERS)]
    queue = redis.Redis.from_url(private_broker)
    assert queue.llen("celery") >= MEMBERS  # each enrolment's welcome task waits in Redis
    outbox.flush_marks()  # this process's marks of what it handed over
    assert OutboxEvent.objects.filter(type="member.enrolled", sent_at__isnull=False).count() == MEMBERS

    first = start_worker(tmp_path, private_broker, "first")
    second = None
    try:
        deadline = time.monotonic() + 60
        while receipts() < 30:
            assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.05)
        kill(first)  # mid-batch: the OOM killer, `kill -9`, a machine lost
        killed_at = time.monotonic()
        handled_before = receipts()
        assert handled_before < MEMBERS and queue.llen("celery") > 0  # it was killed with work left
        assert queue.hlen("unacked") >= 1  # and with tasks taken, unacknowledged: Redis keeps them an hour

        second = start_worker(tmp_path, private_broker, "second")  # the supervisor starts one again
        every = {s.name: s for s in registered()}["outbox: reconcile"].every_seconds
        next_reconcile = time.monotonic() + every
        while receipts() < MEMBERS and time.monotonic() - killed_at < BOUND + 30:
            assert second.poll() is None, (tmp_path / "second.log").read_text()[-3000:]
            if time.monotonic() >= next_reconcile:  # beat's schedule
                outbox.reconcile()
                next_reconcile += every
            time.sleep(0.5)
        took = time.monotonic() - killed_at
        handled = receipts()
    finally:
        kill(first)
        if second is not None:
            kill(second)
    assert handled == MEMBERS, f"{MEMBERS - handled} events still unhandled {took:.0f} s after the kill"
    assert took <= BOUND, f"the last event was handled {took:.0f} s after the kill"
    welcome = Coupon.objects.filter(template__code="WELCOME10")
    counts = {m.pk: 0 for m in members}
    for member_id in welcome.values_list("member_id", flat=True):
        counts[member_id] += 1
    assert set(counts.values()) == {1}  # once each: none lost, none twice
    print(f"killed after {handled_before} of {MEMBERS}; all handled {took:.0f} s after the kill")
