"""Campaign tasks: thin, idempotent, scheduled in the database (django-celery-beat)."""

from celery import shared_task
from django.db.models import F
from django.dispatch import Signal
from django.utils.translation import gettext as _

from core import outbox
from core.schedules import register
from membership.models import Member

from .models import ProgramRules
from .services import coupons, mall, paid_cards, scenes

register(
    "scenes: daily",
    "campaigns.tasks.run_scenes",
    crontab={"minute": "30", "hour": "8"},
    description="Daily at 08:30: grant every active scene's occurrence of today (birthdays, holidays, "
    "activation, post-purchase care, win-back …).",
)
register(
    "coupons: expire and lapse",
    "campaigns.tasks.expire_coupons",
    crontab={"minute": "10", "hour": "0"},
    description="Daily: mark expired coupons and unclaimed benefits past their window; cancel mall orders "
    "not picked up in time.",
)
register(
    "coupons: monthly tier coupons",
    "campaigns.tasks.monthly_tier_coupons",
    crontab={"minute": "0", "hour": "6", "day_of_month": "1"},
    description="Monthly on the 1st: each member gets their tier's number of monthly coupons.",
)
register(
    "coupons: monthly paid card coupons",
    "campaigns.tasks.monthly_paid_card_coupons",
    crontab={"minute": "10", "hour": "6", "day_of_month": "1"},
    description="Monthly on the 1st: each member holding a paid card gets its monthly coupon (PLUS20).",
)

register(
    "scenes: post-purchase care",
    "campaigns.tasks.run_post_purchase_scenes",
    crontab={"minute": "*/15"},
    description="Every 15 minutes: post-purchase care scenes, so a touch N days after a purchase goes out "
    "within a quarter of an hour of it (each purchase once).",
)
register(
    "notifications: release held",
    "campaigns.tasks.release_held_notifications",
    every_seconds=300,
    description="Every 5 minutes: queue the SMS and WeChat marketing messages held for quiet hours whose hours "
    "are over.",
)


# Campaign runs (the daily scenes, the monthly coupons) are claimed on the outbox (core.outbox.claim):
# a job awaiting the run's receipt, kept alive after each batch and confirmed at the end. A run lost
# with its worker (killed whole: Redis would give its message back only after the visibility timeout,
# an hour) is handed over again by the outbox's reconciler within minutes of its last batch, and goes
# on where it stopped: its grants are keyed. The receipt's consumer is the task's name.
RUN_JOB = "campaigns.run"  # outbox job type: payload {"task": name, "kwargs": {...}}
run_requested = Signal()  # task, kwargs, event_id (apps.py queues the task again)


def _claimed(task, kwargs: dict, event_id: str | None, work) -> int:
    """`work(progress)` under the run's claim; `event_id` is the claim of a run handed over again."""
    if event_id is None:
        event_id = outbox.claim(RUN_JOB, {"task": task.name, "kwargs": kwargs}, task.name)
    elif outbox.confirmed(task.name, event_id):
        return 0  # that run ended after all
    done = work(lambda: outbox.alive(event_id))
    outbox.confirm(task.name, event_id)
    return done


@shared_task(name="campaigns.tasks.run_scenes", acks_late=True)
def run_scenes(on: str | None = None, event_id: str | None = None) -> int:
    """Beat's daily run, claimed (above)."""
    from datetime import date

    from core.clock import local, now

    on = on or local(now()).date().isoformat()
    return _claimed(
        run_scenes,
        {"on": on},
        event_id,
        lambda progress: sum(r.granted for r in scenes.run_daily(on=date.fromisoformat(on), progress=progress)),
    )


@shared_task(name="campaigns.tasks.run_post_purchase_scenes", acks_late=True)
def run_post_purchase_scenes() -> int:
    return sum(r.granted for r in scenes.run_daily(kinds=[scenes.Kind.POST_PURCHASE]))


@shared_task(name="campaigns.tasks.release_held_notifications", acks_late=True)
def release_held_notifications() -> int:
    from .services import notifications

    return notifications.release_held()


@shared_task(name="campaigns.tasks.deliver_notification")
def deliver_notification(notification_id: int, event_id: str | None = None) -> str | None:
    """The outbox job of a queued message: claimed once, sent outside any transaction."""
    from .services import notifications

    return notifications.deliver(notification_id, event_id)


@shared_task(name="campaigns.tasks.expire_coupons", acks_late=True)
def expire_coupons() -> int:
    return coupons.expire_due() + scenes.lapse_unclaimed() + mall.lapse_unpicked()


@shared_task(name="campaigns.tasks.monthly_tier_coupons", acks_late=True)
def monthly_tier_coupons(month: str | None = None, event_id: str | None = None) -> int:
    """Keyed by month, so a re-run or a resumed run issues nothing twice; claimed (above)."""
    from core.clock import local, now

    month = month or f"{local(now()):%Y-%m}"
    return _claimed(monthly_tier_coupons, {"month": month}, event_id, lambda progress: _tier_coupons(month, progress))


def _tier_coupons(month: str, progress) -> int:
    rules = ProgramRules.load()
    template = rules.monthly_coupon_template
    if template is None:
        return 0
    issued, last = 0, 0
    members = (
        Member.objects.filter(status=Member.Status.ACTIVE, tier__monthly_coupons__gt=0)
        .annotate(quota=F("tier__monthly_coupons"))
        .order_by("pk")
    )
    while True:
        batch = list(members.filter(pk__gt=last).values_list("pk", "quota")[:2000])
        if not batch:
            return issued
        last = batch[-1][0]
        issued += coupons.grant_bulk(
            template=template,
            source=f"tier-monthly:{month}",
            grants=[(pk, f"tier-monthly:{month}:{pk}:{i}") for pk, quota in batch for i in range(quota)],
        )
        progress()


@shared_task(name="campaigns.tasks.monthly_paid_card_coupons", acks_late=True)
def monthly_paid_card_coupons(month: str | None = None, event_id: str | None = None) -> int:
    """Keyed by member and month, so a re-run (or a purchase earlier that day) issues nothing twice;
    claimed (above)."""
    from core.clock import local, now

    month = month or f"{local(now()):%Y-%m}"
    return _claimed(
        monthly_paid_card_coupons,
        {"month": month},
        event_id,
        lambda progress: paid_cards.monthly_coupons(month, progress=progress),
    )


# Event consumers: `event_id` is the outbox event's; `outbox.once` runs each in one transaction
# with a receipt, so a redelivered event (or a task re-run after its worker died) does nothing
# twice and a task that died half-way left nothing behind. Their names (the receipts' consumer)
# are what the receivers (apps.py) return: the outbox awaits those receipts.
MEMBER_ENROLLED = "campaigns.member_enrolled"
TIER_CHANGED = "campaigns.tier_changed"
PURCHASE_RECORDED = "campaigns.purchase_recorded"
RETURN_RECORDED = "campaigns.return_recorded"
POINTS_EXPIRING = "campaigns.points_expiring"


@shared_task(name="campaigns.tasks.member_enrolled")
def member_enrolled(member_id: int, event_id: str | None = None) -> int:
    from .services import engagement

    with outbox.once(MEMBER_ENROLLED, event_id) as first:
        if not first:
            return 0
        granted = sum(r.granted for r in scenes.on_enrolled(member_id))
        return granted + (1 if engagement.reward_referral_on_signup(member_id=member_id) else 0)


@shared_task(name="campaigns.tasks.tier_changed")
def tier_changed(member_id: int, to_tier_code: str, reason: str, event_id: str | None = None) -> int:
    with outbox.once(TIER_CHANGED, event_id) as first:
        return sum(r.granted for r in scenes.on_tier_changed(member_id, to_tier_code, reason)) if first else 0


@shared_task(name="campaigns.tasks.purchase_recorded")
def purchase_recorded(purchase_id: int, event_id: str | None = None) -> int:
    from .services import engagement

    with outbox.once(PURCHASE_RECORDED, event_id) as first:
        if not first:
            return 0
        granted = sum(r.granted for r in scenes.on_purchase(purchase_id))
        return granted + (1 if engagement.reward_referral(purchase_id=purchase_id) else 0)


@shared_task(name="campaigns.tasks.return_recorded")
def return_recorded(return_id: int, event_id: str | None = None) -> int:
    """A return of a referral's qualifying purchase may take the inviter's reward back."""
    from .services import engagement

    with outbox.once(RETURN_RECORDED, event_id) as first:
        return 1 if first and engagement.reverse_referral(return_id=return_id) else 0


@shared_task(name="campaigns.tasks.points_expiring")
def points_expiring(member_id: int, points: int, expires_at: str, event_id: str | None = None) -> int:
    from datetime import datetime

    from core.clock import local

    from .services import notifications

    with outbox.once(POINTS_EXPIRING, event_id) as first:
        if not first:
            return 0
        member = Member.objects.get(pk=member_id)
        day = local(datetime.fromisoformat(expires_at)).date()
        sent = notifications.notify(
            member=member,
            channel="inbox",
            marketing=False,
            dedupe_key=f"expiring:{member_id}:{day.isoformat()}",
            title=_("Points expiring soon"),
            body=_("%(points)s of your points expire on %(day)s. Use them before then.")
            % {"points": points, "day": day.isoformat()},
        )
        return 1 if sent else 0
