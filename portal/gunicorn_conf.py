"""gunicorn settings for production: `gunicorn -c portal/gunicorn_conf.py portal.wsgi`.

Before it forks a worker, gunicorn runs Django's deploy checks and refuses to start on any
error (demo passwords, the demo secret, SQLite or the filesystem broker with DEBUG=0). The checks run
in a child process: the master never imports Django, the settings or the portal's code, so a graceful
reload (`kill -HUP <master>`) starts workers that read the new release's code, settings and `.env`
(issue 30: the master imported them, and a reload picked up nothing), and no database connection of
the master's can be inherited by its workers."""

import multiprocessing
import os
import subprocess  # nosec B404: runs this project's manage.py with the interpreter running gunicorn
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Loopback unless told: behind NUM_PROXIES trusted proxies the client's address is read from the
# X-Forwarded-For they append, so a client that reached gunicorn directly would write its own and
# choose the address every per-address limit counts. Bind another address (GUNICORN_BIND; the image
# sets 0.0.0.0:8000 inside its container) only where nothing but the proxy reaches it.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Several threads, so that a worker answers while a slow client holds one of them up to the read
# timeout (portal/gunicorn_worker.py; bench/README.md, "Idle keep-alive clients", issue 28)
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# gthread keeps a client's connection open between requests (a till's, or nginx's with upstream
# keepalive); the sync worker closes it after each response, and opening a connection per sale cost
# 0.6 ms of the web tier's CPU and a fifth of the sales a second (bench/README.md, issue 17).
# SafeThreadWorker is gthread that closes a connection whose body it answered without reading and
# bounds every socket read (GUNICORN_READ_TIMEOUT): idle and slow clients froze plain gthread.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "portal.gunicorn_worker.SafeThreadWorker")
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = "-"

# Prometheus' multiprocess directory must exist before anything imports core.metrics: the deploy check
# in on_starting imports it in the master, and its gauges open their files there at once (gunicorn
# exited with FileNotFoundError when PROMETHEUS_MULTIPROC_DIR named a directory not made yet, issue 28).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def deploy_checks() -> subprocess.CompletedProcess:
    """`manage.py check --deploy --fail-level ERROR` in a child process, with the master's environment."""
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings", **os.environ}
    command = [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "ERROR"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # nosec B603


def on_starting(server):
    checked = deploy_checks()
    if checked.returncode:
        raise RuntimeError("the deploy checks refused to start:\n" + checked.stderr + checked.stdout)
    clear_metrics_dir()


def on_reload(server):
    """A reload goes on with the new release even when its checks fail (the old workers are stopped
    anyway); the failure is in the log, where a restart would have refused."""
    checked = deploy_checks()
    if checked.returncode:
        server.log.error("deploy checks failed on reload:\n%s%s", checked.stderr, checked.stdout)


# Prometheus: with several workers, each writes its figures to PROMETHEUS_MULTIPROC_DIR and
# /metrics adds them up (core/metrics.py). Stale files of an earlier run are cleared at start.
def clear_metrics_dir():
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
