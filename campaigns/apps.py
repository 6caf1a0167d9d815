from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from membership import hooks, signals

        from . import tasks
        from .services import scenes

        hooks.register_earn_multiplier(scenes.campaign_multiplier)
        from membership.views import register_member_page

        register_member_page("coupons", _("Coupons"), "campaigns:coupons", icon="🎫", order=10)
        register_member_page("mall", _("Points mall"), "campaigns:mall", icon="🎁", order=20)
        register_member_page("checkin", _("Check-in"), "campaigns:checkin", icon="✔", order=30)
        # membership sends these after its transaction commits; the work runs on a worker
        signals.member_enrolled.connect(
            lambda member_id, **kw: tasks.member_enrolled.delay(member_id), weak=False,
            dispatch_uid="campaigns.member_enrolled")
        signals.tier_changed.connect(
            lambda member_id, to_tier_id, reason, **kw: tasks.tier_changed.delay(
                member_id, _tier_code(to_tier_id), reason), weak=False, dispatch_uid="campaigns.tier_changed")
        signals.purchase_recorded.connect(
            lambda purchase_id, **kw: tasks.purchase_recorded.delay(purchase_id), weak=False,
            dispatch_uid="campaigns.purchase_recorded")
        signals.points_expiring.connect(
            lambda member_id, points, expires_at, **kw: tasks.points_expiring.delay(
                member_id, points, expires_at.isoformat()), weak=False, dispatch_uid="campaigns.points_expiring")


def _tier_code(tier_id: int) -> str:
    from membership.models import Tier

    return Tier.objects.values_list("code", flat=True).get(pk=tier_id)
