"""Issue 31: `make run` stopped with Ctrl-C ended with `make: *** Error 143` (or 130): the script
passed on the status of a child the signal stopped. Ctrl-C is how the portal is stopped: it ends
saying so, without an error, and leaves no process behind. Ctrl-C is a SIGINT to the terminal's
foreground process group: make, the script, the web, worker and beat."""

import os
import signal
import subprocess
import sys
import time

from .gunicorn_run import ROOT, free_port, get


def test_ctrl_c_stops_make_run_cleanly_and_leaves_nothing_running(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")}
    env.update(PORTAL_VAR_DIR=str(tmp_path), PORT=str(free_port()), DEBUG="1")
    env.pop("PYTEST_CURRENT_TEST", None)
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    # the translations and the demo are make run's other prerequisites: taken as made here
    run = subprocess.Popen(
        ["make", "-o", "messages", "-o", "seed", "-o", ".venv/.dev", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{env['PORT']}/healthz"
    deadline = time.monotonic() + 60
    while True:
        assert run.poll() is None and time.monotonic() < deadline, run.stdout.read().decode()[-3000:]
        try:
            if get(url, timeout=2)[0] in (200, 503):
                break
        except OSError:
            time.sleep(0.5)
    os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
    output = run.communicate(timeout=60)[0].decode()
    assert "Stopped." in output
    assert "Error" not in output.split("Quit the server")[-1], output[-2000:]
    time.sleep(1)
    left = subprocess.run(["pgrep", "-g", str(run.pid)], capture_output=True, text=True).stdout.split()
    assert left == [], f"still running after Ctrl-C: {left}"
    try:
        get(url, timeout=2)
        raise AssertionError("the web still answers after Ctrl-C")
    except OSError:
        pass
