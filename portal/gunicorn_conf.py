"""gunicorn settings for production: `gunicorn -c portal/gunicorn_conf.py portal.wsgi`.

Before it forks a worker, gunicorn runs Django's deploy checks and refuses to start on any
error (demo passwords, the demo secret, SQLite or the filesystem broker with DEBUG=0). The check
reads the database (the demo-password check), so the master closes its connections before it
forks: a connection inherited by several workers is one socket that they would share."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = "-"


def on_starting(server):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("check", deploy=True, fail_level="ERROR")
    close_connections()


def close_connections():
    """Close whatever the master opened (database, cache) so no worker inherits a socket."""
    from django.core.cache import caches
    from django.db import connections

    connections.close_all()
    caches.close_all()


def pre_fork(server, worker):
    close_connections()  # again, in case anything in the master opened one since on_starting
