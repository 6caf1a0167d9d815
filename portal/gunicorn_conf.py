"""gunicorn settings for production: `gunicorn -c portal/gunicorn_conf.py portal.wsgi`.

Before it forks a worker, gunicorn runs Django's deploy checks and refuses to start on any
error (demo passwords, the demo secret, SQLite or the filesystem broker with DEBUG=0). The check
reads the database (the demo-password check), so the master closes its connections before it
forks: a connection inherited by several workers is one socket that they would share."""

import multiprocessing
import os

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


def on_starting(server):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("check", deploy=True, fail_level="ERROR")
    # The checks opened a database connection in the master; forked workers must not inherit and
    # share its socket (seen as "prepared statement already exists" and 503s under load).
    close_connections()
    clear_metrics_dir()


def close_connections():
    """Close whatever the master opened (database, cache) so no worker inherits a socket."""
    from django.core.cache import caches
    from django.db import connections

    connections.close_all()
    caches.close_all()


def pre_fork(server, worker):
    close_connections()  # again, in case anything in the master opened one since on_starting


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
