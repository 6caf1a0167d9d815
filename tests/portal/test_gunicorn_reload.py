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
