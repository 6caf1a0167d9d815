"""Issue 30: `kill -HUP` of gunicorn's master reloaded nothing: the master had imported Django, the
settings and the code (its deploy checks ran in it), so new workers forked with the old release. The
checks now run in a child process; a HUP starts workers that read the new `.env` and code."""

import os
import signal
import time

import pytest

from .gunicorn_run import copy_project, get, gunicorn, log_text

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def release(base) -> str | None:
    import json

    try:
        status, body = get(f"{base}/healthz", timeout=5)
    except OSError:  # an old worker stopping while it answered
        return None
    return json.loads(body).get("release") if status in (200, 503) else None


def test_a_graceful_reload_picks_up_a_changed_setting(on_postgres, tmp_path):
    root = copy_project(tmp_path / "release")
    (root / ".env").write_text("PORTAL_RELEASE=2026.12.1\n")
    with gunicorn(tmp_path, workers=2, root=root) as base:
        assert release(base) == "2026.12.1"
        (root / ".env").write_text("PORTAL_RELEASE=2026.12.2\n")
        os.kill(base.pid, signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and release(base) != "2026.12.2":
            time.sleep(0.5)
        # every worker now runs the new release: several answers in a row, none of the old one
        assert [release(base) for _ in range(6)] == ["2026.12.2"] * 6, log_text(tmp_path)


def test_no_request_is_refused_while_the_workers_reload(on_postgres, tmp_path):
    """Issue 30, "restarts without a refused sale": requests keep arriving (each on a new connection, as a
    till's retry would) while `kill -HUP` replaces the workers three times: every one is answered."""
    import threading

    with gunicorn(tmp_path, workers=2) as base:
        answers, errors, stop = [], [], threading.Event()

        def client():
            while not stop.is_set():
                try:
                    answers.append(get(f"{base}/healthz", timeout=10)[0])
                except OSError as exc:
                    errors.append(repr(exc))

        clients = [threading.Thread(target=client) for _ in range(4)]
        for t in clients:
            t.start()
        for _ in range(3):
            time.sleep(1.5)
            os.kill(base.pid, signal.SIGHUP)
        time.sleep(3)
        stop.set()
        for t in clients:
            t.join(timeout=30)
    assert len(answers) > 50
    assert errors == [], f"{len(errors)} of {len(answers) + len(errors)} requests refused: {errors[:3]}"
