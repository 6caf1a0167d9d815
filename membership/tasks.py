"""Periodic membership work. Thin: each task calls a service that is set-based and safe to re-run."""

import logging

from celery import shared_task

from core import outbox
from core.schedules import register

from . import migration
from .services import accounts, otp, points, tiers

logger = logging.getLogger(__name__)

register(
    "points: expire due lots",
    "membership.tasks.expire_points",
    crontab={"minute": "5", "hour": "0"},
    description="Daily just after midnight Asia/Shanghai: expire lots whose expiry has passed.",
)
register(
    "points: expiry notices",
    "membership.tasks.expiry_notices",
    crontab={"minute": "0", "hour": "10"},
    description="Daily: tell members about points expiring within the notice period.",
)
register(
    "points: release pending",
    "membership.tasks.release_pending",
    crontab={"minute": "*/15", "hour": "*"},
    description="Every 15 minutes: make points whose return window has passed available.",
)
register(
    "tiers: review",
    "membership.tasks.review_tiers",
    crontab={"minute": "0", "hour": "3", "day_of_month": "1"},
    description="Monthly on the 1st at 03:00: downgrade members below their tier's keep threshold.",
)
register(
    "housekeeping: codes and sign-in counters",
    "membership.tasks.purge_codes_and_counters",
    crontab={"minute": "20", "hour": "4"},
    description="Daily: delete expired SMS codes older than two days and sign-in counters that count nothing.",
)
register(
    "outbox: relay",
    "membership.tasks.relay_outbox",
    every_seconds=5,
    description="Every 5 seconds: deliver domain events still pending in the outbox (a broker outage, "
    "a crash after commit); they normally leave right after their commit.",
)
register(
    "outbox: reconcile",
    "membership.tasks.reconcile_outbox",
    every_seconds=30,
    description="Every 30 seconds: hand over again the events whose consumers have not confirmed them "
    "OUTBOX_CONFIRM_SECONDS after the hand-over (OUTBOX_BACKLOG_CONFIRM_SECONDS while tasks wait in the "
    "broker's queues) (the broker lost the work: Redis restarted empty, a worker killed whole); consumers "
    "are idempotent, so nothing happens twice.",
)
register(
    "housekeeping: outbox",
    "membership.tasks.purge_outbox",
    crontab={"minute": "50", "hour": "4"},
    description="Daily: delete events sent more than OUTBOX_KEEP_DAYS ago and consumers' receipts after "
    "OUTBOX_RECEIPT_DAYS.",
)


@shared_task(name="membership.tasks.relay_outbox", expires=60)
def relay_outbox() -> int:
    """Safe in parallel (rows taken with SKIP LOCKED); a queue of these during a worker outage expires.
    Member import jobs whose start message was lost with the broker are queued again here too."""
    return outbox.relay() + requeue_stale_jobs()


@shared_task(name="membership.tasks.reconcile_outbox", expires=60)
def reconcile_outbox() -> int:
    """Safe in parallel (rows taken with SKIP LOCKED); a queue of these during a worker outage expires."""
    return outbox.reconcile()


def enqueue_import(job_id: int) -> bool:
    """Queue an import job; a broker outage is logged, not raised (the relay queues it again)."""
    try:
        import_members.delay(job_id)
        return True
    except Exception:  # any broker failure: the job stays queued
        logger.warning("member import %s not queued: broker unavailable; the relay will retry", job_id, exc_info=True)
        return False


def requeue_stale_jobs(*, older_than_seconds: int = 60) -> int:
    """Queue again the member import jobs whose start message never reached the broker (it was down
    when HQ started them): they are still "queued" after a minute. A job that does start is claimed
    once (migration.run_job)."""
    return sum(enqueue_import(pk) for pk in migration.stale_jobs(older_than_seconds=older_than_seconds))


@shared_task(name="membership.tasks.purge_outbox")
def purge_outbox() -> int:
    return outbox.purge()


@shared_task(name="membership.tasks.expire_points", acks_late=True)
def expire_points() -> int:
    return points.expire_due()


@shared_task(name="membership.tasks.expiry_notices", acks_late=True)
def expiry_notices() -> int:
    return points.send_expiry_notices()


@shared_task(name="membership.tasks.release_pending", acks_late=True)
def release_pending() -> int:
    return points.release_pending()


@shared_task(name="membership.tasks.review_tiers", acks_late=True)
def review_tiers() -> int:
    return tiers.review()


@shared_task(name="membership.tasks.purge_codes_and_counters", acks_late=True)
def purge_codes_and_counters() -> int:
    return otp.purge() + accounts.purge_throttles()


@shared_task(
    name="membership.tasks.import_members",
    acks_late=False,
    autoretry_for=(),
    time_limit=6 * 3600,
    soft_time_limit=6 * 3600 - 60,
)
def import_members(job_id: int) -> dict:
    """Import a member file in the background (admin "Member imports"). One transaction, like the
    command; the progress is written to the job on a second connection so that the admin page
    sees it while the import's own transaction is still open. Not acknowledged late: a worker that
    dies mid-file rolls the file back, and the job stays "running" for HQ to start again; nor
    retried on its own after a transient error, for the same reason."""
    return migration.run_job(job_id)
