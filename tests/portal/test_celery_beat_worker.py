"""The heartbeat goes from beat (schedule in the database) through the broker to a worker.

Real processes: `celery beat` with django-celery-beat's DatabaseScheduler and `celery worker`,
on a SQLite file of their own and the broker the environment names (the filesystem broker by
default, Redis in CI)."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_heartbeat_runs_from_beat_through_the_worker(tmp_path):
    db = tmp_path / "portal.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "PORTAL_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    run = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], check=True, **run)
    # the default schedule says every 60 s; make it every second so the test is short
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup();"
            "from django_celery_beat.models import PeriodicTask as P;"
            "t = P.objects.get(name='heartbeat'); s = t.interval; s.every = 1; s.save()",
        ],
        check=True,
        **run,
    )
    celery = [sys.executable, "-m", "celery", "-A", "portal"]
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("worker", "beat")}
    procs = [
        subprocess.Popen(
            celery + ["worker", "--pool=solo", "--loglevel=INFO"],
            cwd=ROOT,
            env=env,
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            celery + ["beat", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")],
            cwd=ROOT,
            env=env,
            stdout=logs["beat"],
            stderr=subprocess.STDOUT,
        ),
    ]
    beats = 0
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and beats < 2:
            time.sleep(1)
            with sqlite3.connect(db, timeout=10) as conn:
                row = conn.execute("SELECT COALESCE(SUM(beats), 0) FROM portal_heartbeat").fetchone()
            beats = row[0]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for fh in logs.values():
            fh.close()
    assert beats >= 2, (tmp_path / "worker.log").read_text()[-3000:] + (tmp_path / "beat.log").read_text()[-3000:]
