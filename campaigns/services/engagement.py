"""Daily check-in (签到) with a streak bonus, and referral rewards (product.md, Campaigns)."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from membership.errors import Conflict
from membership.models import Member, PointsEntry, Purchase
from membership.services import points
from membership.services.common import local, now

from ..models import CheckIn, ProgramRules, ReferralReward

MSG_CHECKED_IN = _("You have already checked in today.")


def check_in(*, member, at: datetime | None = None) -> CheckIn:
    """Points for today's check-in; every Nth consecutive day adds the streak bonus. Once a day."""
    at = at or now()
    day = local(at).date()
    rules = ProgramRules.load()
    member_id = getattr(member, "pk", member)
    if CheckIn.objects.filter(member_id=member_id, day=day).exists():
        raise Conflict(MSG_CHECKED_IN, field="day")
    yesterday = CheckIn.objects.filter(member_id=member_id, day=day - timedelta(days=1)).first()
    streak = yesterday.streak + 1 if yesterday else 1
    amount = rules.checkin_points
    if rules.checkin_streak_every and streak % rules.checkin_streak_every == 0:
        amount += rules.checkin_streak_bonus
    try:
        with transaction.atomic():
            row = CheckIn.objects.create(member_id=member_id, day=day, streak=streak, points=amount)
            if amount:
                points.grant(
                    member=member_id,
                    points=amount,
                    source=PointsEntry.Source.CHECKIN,
                    idempotency_key=f"checkin:{member_id}:{day.isoformat()}",
                    at=at,
                )
            return row
    except IntegrityError as exc:
        raise Conflict(MSG_CHECKED_IN, field="day") from exc


def reward_referral(*, purchase_id: int, at: datetime | None = None) -> ReferralReward | None:
    """The inviter earns the reward when the invited member's purchase reaches the threshold for the
    first time; once per invited member, never for oneself."""
    purchase = Purchase.objects.select_related("member").get(pk=purchase_id)
    invited = purchase.member
    if not invited.referrer_id or invited.referrer_id == invited.pk:
        return None
    rules = ProgramRules.load()
    if purchase.amount < rules.referral_min_purchase or not rules.referral_points:
        return None
    inviter = Member.objects.get(pk=invited.referrer_id)
    if inviter.phone == invited.phone or inviter.status != Member.Status.ACTIVE:
        return None  # the same person under two accounts
    if ReferralReward.objects.filter(invited=invited).exists():
        return None
    at = at or now()
    try:
        with transaction.atomic():
            reward = ReferralReward.objects.create(
                inviter=inviter,
                invited=invited,
                points=rules.referral_points,
                purchase_ref=purchase.reference,
                created_at=at,
            )
            points.grant(
                member=inviter,
                points=rules.referral_points,
                source=PointsEntry.Source.REFERRAL,
                source_ref=invited.member_no,
                idempotency_key=f"referral:{invited.pk}",
                at=at,
            )
            return reward
    except IntegrityError:
        return None
