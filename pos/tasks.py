"""Periodic counter work."""

from celery import shared_task

from core.schedules import register

register(
    "housekeeping: idempotency keys",
    "pos.tasks.purge_idempotent_responses",
    crontab={"minute": "30", "hour": "4"},
    description="Daily: delete stored Idempotency-Key responses older than IDEMPOTENCY_KEY_DAYS.",
)


@shared_task(name="pos.tasks.purge_idempotent_responses", acks_late=True)
def purge_idempotent_responses() -> int:
    from .api_support import purge_idempotent_responses as purge

    return purge()
