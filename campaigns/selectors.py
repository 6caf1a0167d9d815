"""The read side of campaigns: what the member site, the counter and the API show of a member's
coupons, benefits to claim, mall orders, check-ins and inbox, and the mall's items on sale.

Plain querysets and small summaries, no writes (those are `services/`): a channel reads campaigns'
tables through these functions only (docs/architecture.md)."""

from datetime import datetime

from django.db.models import Q

from core.clock import now

from .models import CheckIn, Coupon, MallItem, MallOrder, Notification, ProgramRules, SceneGrant

# ---------------------------------------------------------------------------------------
# Coupons and benefits to claim
# ---------------------------------------------------------------------------------------


def member_coupons(member, status: str | None = None, at: datetime | None = None):
    """The member's coupons, soonest to expire first; by status as the member sees it (an unused
    coupon past its validity is expired, whether or not the daily job has marked it yet)."""
    at = at or now()
    qs = Coupon.objects.filter(member=member).select_related("template").order_by("valid_until", "-granted_at")
    lapsed = Q(status=Coupon.Status.AVAILABLE, valid_until__lt=at)
    if status == Coupon.Status.AVAILABLE:
        return qs.filter(status=status).exclude(lapsed)
    if status == Coupon.Status.EXPIRED:
        return qs.filter(Q(status=status) | lapsed)
    return qs.filter(status=status) if status else qs


def available_coupon_count(member, at: datetime | None = None) -> int:
    """How many coupons the member can still use (the figure on the member's home page)."""
    at = at or now()
    return (
        Coupon.objects.filter(member=member)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at), status=Coupon.Status.AVAILABLE)
        .count()
    )


def claimable(member, at: datetime | None = None):
    """The member's benefits waiting to be claimed (a scene granted with claim on the member pages),
    whose claim window is still open; soonest to close first."""
    return (
        SceneGrant.objects.filter(member=member, status=SceneGrant.Status.CLAIMABLE)
        .filter(Q(window_ends__isnull=True) | Q(window_ends__gte=at or now()))
        .select_related("scene", "scene__package")
        .order_by("window_ends")
    )


# ---------------------------------------------------------------------------------------
# The points mall and check-in
# ---------------------------------------------------------------------------------------


def mall_items_on_sale(at: datetime | None = None):
    """The mall's items on sale now (active, inside their dates), with the tiers they are for."""
    at = at or now()
    return (
        MallItem.objects.filter(is_active=True)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=at))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=at))
        .prefetch_related("tiers")
    )


def member_mall_orders(member):
    """The member's mall orders, newest first, with their items."""
    return MallOrder.objects.filter(member=member).select_related("item").order_by("-created_at")


def member_checkins(member):
    """The member's check-ins, latest day first."""
    return CheckIn.objects.filter(member=member).order_by("-day")


def program_rules() -> ProgramRules:
    """The check-in and referral rules (one row, edited in admin)."""
    return ProgramRules.load()


# ---------------------------------------------------------------------------------------
# The member's inbox
# ---------------------------------------------------------------------------------------


def inbox(member):
    """The member's on-site messages (channel inbox), newest first."""
    return Notification.objects.filter(member=member, channel="inbox").order_by("-created_at", "-id")


def unread_count(member) -> int:
    return inbox(member).filter(read_at__isnull=True).count()


# ---------------------------------------------------------------------------------------
# The member's data download
# ---------------------------------------------------------------------------------------


def personal_data(member) -> dict:
    """What campaigns keeps about the member, for 'download my data' (the member site adds it to
    membership's part, `membership.services.accounts.personal_data`): coupons and every message."""
    return {
        "coupons": [
            {
                "code": c.code,
                "status": c.status,
                "granted_at": c.granted_at.isoformat(),
                "valid_until": c.valid_until.isoformat() if c.valid_until else None,
            }
            for c in Coupon.objects.filter(member=member).order_by("granted_at", "id")
        ],
        "notifications": [
            {
                "at": n.created_at.isoformat(),
                "channel": n.channel,
                "title": n.title,
                "body": n.body,
                "read_at": n.read_at.isoformat() if n.read_at else None,
            }
            for n in Notification.objects.filter(member=member).order_by("created_at", "id")
        ],
    }
