"""gunicorn settings for production: `gunicorn -c portal/gunicorn_conf.py portal.wsgi`.

Before it forks a worker, gunicorn runs Django's deploy checks and refuses to start on any
error (demo passwords, the demo secret, SQLite or the filesystem broker with DEBUG=0)."""

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
