"""R20 (issue 28): a real Celery worker outlives its Redis broker going away while late
acknowledgements are in flight, and delivers what is sent once Redis is back.

A private redis-server (port 6391, no persistence) is started, killed and started again; skipped
where redis-server is not installed (CI has it)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.redis_server import RedisServer, needs_redis_server

ROOT = Path(__file__).resolve().parents[2]
PORT = 6391

pytestmark = needs_redis_server


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(PORT, tmp_path / "redis.log").start()
    yield server
    server.kill()


def worker_env(tmp_path, broker_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_TASK_ALWAYS_EAGER", "CACHE_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        PORTAL_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="portal.settings",
        CELERY_BROKER_URL=broker_url,
    )
    return env


def start_worker(tmp_path, broker_url: str, *extra: str) -> subprocess.Popen:
    log = (tmp_path / "worker.log").open("w")
    cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-I", "tests.portal.outage_tasks"]
    cmd += ["--loglevel=INFO", "-n", f"outage{os.getpid()}@%h", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env=worker_env(tmp_path, broker_url), stdout=log, stderr=subprocess.STDOUT)


def send(broker_url: str, task: str, *args, deadline: float = 30) -> None:
    """Send over a fresh connection to `broker_url` each time (not a pooled one to the Redis that
    went away; and not the app's broker: CELERY_BROKER_URL in the environment would win)."""
    import celery
    from kombu import Connection

    app = celery.Celery("probe")
    end = time.monotonic() + deadline
    while True:
        try:
            with Connection(broker_url, connect_timeout=1) as connection:
                app.send_task(task, args=args, connection=connection, retry=False)
            return
        except Exception:
            if time.monotonic() > end:
                raise
            time.sleep(0.5)


def wait_for(path: Path, worker: subprocess.Popen, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists():
            return True
        if worker.poll() is not None:
            return False
        time.sleep(0.2)
    return path.exists()


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_worker_survives_redis_going_away_with_a_late_ack_in_flight(tmp_path, redis_server):
    """One task runs (acknowledged when it ends) while the worker's other process waits on Redis
    for the next: Redis is killed. Before R20 closing the lost connection tried to give the
    running task's message back through a transport already closed, and the worker died with
    "Unrecoverable error: AttributeError('NoneType' object has no attribute 'hostname')"."""
    marks = tmp_path / "marks"
    marks.mkdir()
    worker = start_worker(tmp_path, redis_server.url(), "--concurrency=2")
    log = tmp_path / "worker.log"
    try:
        send(redis_server.url(), "tests.outage.touch", str(marks), "warm")
        assert wait_for(marks / "warm", worker, 60), log.read_text()[-4000:]
        send(redis_server.url(), "tests.outage.slow", str(marks), "inflight", 6)
        assert wait_for(marks / "inflight.started", worker, 30), log.read_text()[-4000:]
        time.sleep(0.3)
        redis_server.kill()  # Redis goes away while the acknowledgement is still to come
        time.sleep(2)
        redis_server.start()  # back, empty
        assert wait_for(marks / "inflight.done", worker, 30), log.read_text()[-4000:]
        send(redis_server.url(), "tests.outage.touch", str(marks), "after")
        delivered = wait_for(marks / "after", worker, 90)
        alive = worker.poll() is None
    finally:
        stop(worker)
    text = log.read_text()
    assert "Unrecoverable error" not in text, text[-6000:]
    assert alive, "the worker died:\n" + text[-6000:]
    assert delivered, "the worker delivered nothing after Redis came back:\n" + text[-6000:]
