"""Analytics tasks: thin, idempotent, scheduled in the database (django-celery-beat)."""

from datetime import date

from celery import shared_task

from core.schedules import register

from .services import rollups, watch

register(
    "analytics: nightly roll-ups",
    "analytics.tasks.nightly_rollups",
    crontab={"minute": "0", "hour": "2"},
    description="Daily at 02:00: roll up yesterday per store (sales, members, points, stored value, coupons, "
    "tiers, lifecycle, campaigns, month to date) and rebuild the member RFM snapshot.",
)


@shared_task(name="analytics.tasks.nightly_rollups", acks_late=True)
def nightly_rollups(day: str | None = None) -> dict:
    """Roll up `day` (ISO date; default yesterday). Safe to run twice: every roll-up replaces its day."""
    report = rollups.nightly(date.fromisoformat(day) if day else None)
    return {kind: report.rows[kind] for kind in report.rows}


register(
    "analytics: campaign watch",
    "analytics.tasks.watch_campaigns",
    crontab={"minute": "30", "hour": "2"},
    description="Daily at 02:30: flag the campaign scenes whose grants stopped or whose budget runs out before they "
    "end at the current pace (campaign alerts in admin and on the campaigns dashboard).",
)


@shared_task(name="analytics.tasks.watch_campaigns", acks_late=True)
def watch_campaigns(day: str | None = None) -> dict:
    """Check `day` (ISO date; default yesterday). Safe to run twice: one open alert per scene and kind."""
    return watch.record(date.fromisoformat(day) if day else rollups.yesterday())
