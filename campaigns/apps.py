from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from membership import hooks, signals

        from . import checks, tasks  # noqa: F401 (the deploy check of the programme's configuration)
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
        # handle an event once however often it is delivered (core.outbox.once)
        signals.member_enrolled.connect(
            lambda member_id, event_id=None, **kw: tasks.member_enrolled.delay(member_id, event_id=event_id),
            weak=False,
            dispatch_uid="campaigns.member_enrolled",
        )
        signals.tier_changed.connect(
            lambda member_id, to_tier_id, reason, event_id=None, **kw: tasks.tier_changed.delay(
                member_id, _tier_code(to_tier_id), reason, event_id=event_id
            ),
            weak=False,
            dispatch_uid="campaigns.tier_changed",
        )
        # a queued message is an outbox job of its own: sent after the grant's commit, once
        from core import outbox

        from .services import notifications

        outbox.register_job(notifications.JOB, notifications.notification_queued)
        notifications.notification_queued.connect(
            lambda notification_id, event_id=None, **kw: tasks.deliver_notification.delay(
                notification_id, event_id=event_id
            ),
            weak=False,
            dispatch_uid="campaigns.deliver_notification",
        )
        signals.purchase_recorded.connect(_purchase_recorded, weak=False, dispatch_uid="campaigns.purchase_recorded")
        signals.return_recorded.connect(_return_recorded, weak=False, dispatch_uid="campaigns.return_recorded")
        signals.points_expiring.connect(
            lambda member_id, points, expires_at, event_id=None, **kw: tasks.points_expiring.delay(
                member_id, points, str(expires_at), event_id=event_id
            ),
            weak=False,
            dispatch_uid="campaigns.points_expiring",
        )


def _tier_code(tier_id: int) -> str:
    from membership import config

    return config.tier(tier_id).code


def _purchase_recorded(purchase_id, referred=True, event_id=None, **kw) -> None:
    """A purchase matters to the campaigns when a milestone scene is active or the member was
    referred (the inviter's reward); otherwise no task is queued for it."""
    from . import tasks
    from .services import scenes

    if referred or scenes.watches_purchases():
        tasks.purchase_recorded.delay(purchase_id, event_id=event_id)


def _return_recorded(return_id, purchase_id, event_id=None, **kw) -> None:
    """A return matters to the campaigns only when its purchase earned a referral reward."""
    from . import tasks
    from .models import ReferralReward

    if ReferralReward.objects.filter(purchase_id=purchase_id, reversed_at__isnull=True).exists():
        tasks.return_recorded.delay(return_id, event_id=event_id)
