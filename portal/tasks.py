import socket

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from core.models import Heartbeat
from core.schedules import register

HEARTBEAT_TASK = "portal.tasks.heartbeat"
register(
    "heartbeat",
    HEARTBEAT_TASK,
    every_seconds=60,
    description="Proves that beat and a worker are running; see /healthz.",
)


register(
    "housekeeping: sessions",
    "portal.tasks.clear_sessions",
    crontab={"minute": "40", "hour": "4"},
    description="Daily: delete expired staff and member sessions (Django's clearsessions).",
)


@shared_task(name="portal.tasks.clear_sessions", ignore_result=True)
def clear_sessions() -> None:
    from importlib import import_module

    from django.conf import settings

    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> str:
    """Record that a worker ran this; /healthz reports the age of the newest beat."""
    worker = socket.gethostname()
    now = timezone.now()
    updated = Heartbeat.objects.filter(worker=worker).update(beats=F("beats") + 1, last_beat_at=now)
    if not updated:
        Heartbeat.objects.get_or_create(worker=worker, defaults={"beats": 1, "last_beat_at": now})
    return worker
