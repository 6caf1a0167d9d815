"""What campaigns keeps about a member, when the desk merges two accounts or closes one
(membership calls these through membership.hooks, inside its own transaction)."""

from ..models import (
    CheckIn,
    Coupon,
    MallOrder,
    Notification,
    ReferralReward,
    SceneGrant,
)


def move(source, target) -> None:
    """Merge: the source's coupons, mall orders, grants, check-ins, referral rewards and notifications
    become the target's. A grant of a scene occurrence the target also had, or a check-in on a day the
    target also checked in, stays with the merged account as its history (the benefits themselves,
    coupons and points, have moved)."""
    Coupon.objects.filter(member=source).update(member=target)
    MallOrder.objects.filter(member=source).update(member=target)
    ReferralReward.objects.filter(inviter=source).update(inviter=target)
    Notification.objects.filter(member=source).update(member=target)
    held = SceneGrant.objects.filter(member=target)
    for grant in SceneGrant.objects.filter(member=source).only("id", "scene_id", "occurrence"):
        if not held.filter(scene_id=grant.scene_id, occurrence=grant.occurrence).exists():
            SceneGrant.objects.filter(pk=grant.pk).update(member=target)
    CheckIn.objects.filter(member=source).exclude(day__in=CheckIn.objects.filter(member=target).values("day")).update(
        member=target
    )


def erase(member) -> None:
    """Close: the messages sent to the member go (they may carry the name); coupons, orders and
    grants stay as records of what was given, under the member number."""
    Notification.objects.filter(member=member).delete()
