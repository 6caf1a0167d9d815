import socket

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from .models import Heartbeat
from .schedules import register

HEARTBEAT_TASK = "portal.tasks.heartbeat"
register("heartbeat", HEARTBEAT_TASK, every_seconds=60,
         description="Proves that beat and a worker are running; see /healthz.")


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> str:
    """Record that a worker ran this; /healthz reports the age of the newest beat."""
    worker = socket.gethostname()
    now = timezone.now()
    updated = Heartbeat.objects.filter(worker=worker).update(beats=F("beats") + 1, last_beat_at=now)
    if not updated:
        Heartbeat.objects.get_or_create(worker=worker, defaults={"beats": 1, "last_beat_at": now})
    return worker
