"""The Celery app: settings come from Django's (CELERY_ prefix), tasks from every app's tasks.py,
schedules from the database (django-celery-beat). Logging is Django's LOGGING (plain or JSON,
settings), not Celery's own; task outcomes are counted for Prometheus (core/metrics.py)."""

import os

import celery
from celery import signals
from django.db import InterfaceError
from django.db import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# errors that go away by themselves: a lost or locked database connection (a deadlock or a
# serialization failure is an OperationalError too), an unreachable broker or SMS gateway
TRANSIENT_ERRORS = (DatabaseOperationalError, InterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)
RETRY_BACKOFF_MAX = 600  # seconds; CELERY_BROKER_TRANSPORT_OPTIONS' visibility_timeout counts on it


class Task(celery.Task):
    """The base of every task of the portal (shared_task included).

    Acknowledged after it ran, and given back to the queue if its worker dies (killed, out of
    memory), so a task may run twice: every task is idempotent (keyed writes, `outbox.once`).
    A transient error retries it with exponential backoff and jitter (5 s, 10 s, 20 s … at most
    10 minutes apart, 8 times); any other error fails it at once."""

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 5
    retry_backoff_max = RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = 8


app = celery.Celery("portal", task_cls=Task)
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
from core import metrics  # noqa: E402  (after the app: metrics needs nothing from it)

signals.task_success.connect(metrics.task_succeeded, weak=False)
signals.task_failure.connect(metrics.task_failed, weak=False)
signals.task_retry.connect(metrics.task_retried, weak=False)
signals.worker_ready.connect(metrics.serve_worker_metrics, weak=False)
