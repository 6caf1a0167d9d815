from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from membership import hooks, signals

        from . import checks, tasks  # noqa: F401 (the deploy check of the programme's configuration)
        from . import signals as campaign_events  # noqa: F401 (registers coupon.* and mall.* with the outbox)
        from .services import scenes

        hooks.register_earn_multiplier(scenes.campaign_multiplier)
        from .services import members

        hooks.register_merge_mover(members.move)
        hooks.register_close_eraser(members.erase)
        from django.db.models.signals import post_delete, post_save

        from .models import BenefitPackage, Scene

        for model in (Scene, BenefitPackage):  # a save here is seen at once; other processes within 30 s
            for signal in (post_save, post_delete):
                signal.connect(
                    lambda **kw: scenes.clear_cache(),
                    sender=model,
                    weak=False,
                    dispatch_uid=f"campaigns.scenes.clear.{signal is post_save}.{model.__name__}",
                )
        # membership's events come from its outbox after commit, each with an event id: the tasks
        # handle an event once however often it is delivered (core.outbox.once). Each receiver returns
        # the consumer it queued work for: the outbox hands the event over again while that consumer's
        # receipt is missing (core.outbox.reconcile)
        signals.member_enrolled.connect(_member_enrolled, weak=False, dispatch_uid="campaigns.member_enrolled")
        signals.tier_changed.connect(_tier_changed, weak=False, dispatch_uid="campaigns.tier_changed")
        # a queued message is an outbox job of its own: sent after the grant's commit, once
        from core import outbox

        from .services import notifications

        outbox.register_job(notifications.JOB, notifications.notification_queued)
        notifications.notification_queued.connect(
            _notification_queued, weak=False, dispatch_uid="campaigns.deliver_notification"
        )
        signals.purchase_recorded.connect(_purchase_recorded, weak=False, dispatch_uid="campaigns.purchase_recorded")
        signals.return_recorded.connect(_return_recorded, weak=False, dispatch_uid="campaigns.return_recorded")
        signals.points_expiring.connect(_points_expiring, weak=False, dispatch_uid="campaigns.points_expiring")
        # campaign runs are claimed on the outbox: one lost with its worker is handed over again
        outbox.register_job(tasks.RUN_JOB, tasks.run_requested)
        tasks.run_requested.connect(_run_requested, weak=False, dispatch_uid="campaigns.run")


def _tier_code(tier_id: int) -> str:
    from membership import config

    return config.tier(tier_id).code


def _member_enrolled(member_id, event_id=None, **kw) -> str:
    from . import tasks

    tasks.member_enrolled.delay(member_id, event_id=event_id)
    return tasks.MEMBER_ENROLLED


def _tier_changed(member_id, to_tier_id, reason, event_id=None, **kw) -> str:
    from . import tasks

    tasks.tier_changed.delay(member_id, _tier_code(to_tier_id), reason, event_id=event_id)
    return tasks.TIER_CHANGED


def _notification_queued(notification_id, event_id=None, **kw) -> str:
    from . import tasks
    from .services import notifications

    tasks.deliver_notification.delay(notification_id, event_id=event_id)
    return notifications.CONSUMER


def _points_expiring(member_id, points, expires_at, event_id=None, **kw) -> str:
    from . import tasks

    tasks.points_expiring.delay(member_id, points, str(expires_at), event_id=event_id)
    return tasks.POINTS_EXPIRING


def _run_requested(task, kwargs, event_id=None, **kw) -> str:
    """A claimed campaign run (campaigns.tasks._claimed) handed over again: queue its task again."""
    from . import tasks

    run = {t.name: t for t in (tasks.run_scenes, tasks.monthly_tier_coupons, tasks.monthly_paid_card_coupons)}[task]
    run.delay(**kwargs, event_id=event_id)
    return run.name


def _purchase_recorded(purchase_id, referred=True, event_id=None, **kw) -> str | None:
    """A purchase matters to the campaigns when a milestone scene is active or the member was
    referred (the inviter's reward); otherwise no task is queued for it."""
    from . import tasks
    from .services import scenes

    if referred or scenes.watches_purchases():
        tasks.purchase_recorded.delay(purchase_id, event_id=event_id)
        return tasks.PURCHASE_RECORDED
    return None


def _return_recorded(return_id, purchase_id, event_id=None, **kw) -> str | None:
    """A return matters to the campaigns only when its purchase earned a referral reward."""
    from . import tasks
    from .models import ReferralReward

    if ReferralReward.objects.filter(purchase_id=purchase_id, reversed_at__isnull=True).exists():
        tasks.return_recorded.delay(return_id, event_id=event_id)
        return tasks.RETURN_RECORDED
    return None
