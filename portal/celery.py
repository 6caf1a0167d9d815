"""The Celery app: settings come from Django's (CELERY_ prefix), tasks from every app's tasks.py,
schedules from the database (django-celery-beat). Logging is Django's LOGGING (plain or JSON,
settings), not Celery's own; task outcomes are counted for Prometheus (portal/metrics.py)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs):
    """Connected, this stops Celery from configuring logging itself: the worker and beat log
    through settings.LOGGING, like the web."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# Task outcomes for Prometheus, wherever a task runs (a worker's pool processes, or eagerly).
from . import metrics  # noqa: E402  (after the app: metrics needs nothing from it)

signals.task_success.connect(metrics.task_succeeded, weak=False)
signals.task_failure.connect(metrics.task_failed, weak=False)
signals.task_retry.connect(metrics.task_retried, weak=False)
signals.worker_ready.connect(metrics.serve_worker_metrics, weak=False)
