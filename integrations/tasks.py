"""Celery tasks of the webhooks: thin, they call integrations.webhooks. The sends run on the
`webhooks` queue (CELERY_TASK_ROUTES), so a receiver that hangs holds up only the webhooks' worker."""

from celery import shared_task

from core.schedules import register

from . import webhooks

register(
    "webhooks: fan out",
    "integrations.tasks.fan_out",
    every_seconds=1,
    description="Every second: follow the event feed from where it stopped and make one webhook delivery per "
    "active endpoint that wants each new event; their sends are queued at once.",
)
register(
    "webhooks: due deliveries",
    "integrations.tasks.queue_due_deliveries",
    every_seconds=5,
    description="Every 5 seconds: send the webhook deliveries whose next try is due (retries, replays, "
    "and any whose worker died mid-send).",
)


@shared_task(name="integrations.tasks.fan_out", expires=5)
def fan_out() -> int:
    """Safe in parallel (the position's row is locked); a queue of these during a worker outage expires."""
    return webhooks.fan_out()


@shared_task(name="integrations.tasks.send_delivery", acks_late=True, expires=3600)
def send_delivery(delivery_id: int) -> str | None:
    return webhooks.send(delivery_id)


@shared_task(name="integrations.tasks.queue_due_deliveries", expires=30)
def queue_due_deliveries() -> int:
    return webhooks.pick_up()
