"""Daily check-in (签到) with a streak bonus, and referral rewards (product.md, Campaigns)."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from core.clock import day_start, local, now
from core.errors import Conflict
from membership.models import Member, PointsEntry, Purchase, PurchaseReturn
from membership.services import points
from membership.services.common import lock_member

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


def _refused(inviter: Member, invited: Member) -> str:
    """Why this referral earns nothing, or "": the inviter must be active and another person
    (a merge can leave a member referred by themselves; two members referring each other, or the
    same name and birthday on both accounts, is one person inviting themselves)."""
    if inviter.pk == invited.pk or inviter.status != Member.Status.ACTIVE:
        return "self"
    if inviter.referrer_id == invited.pk:
        return "mutual"
    same_birthday = inviter.birth_month and (inviter.birth_month, inviter.birth_day) == (
        invited.birth_month,
        invited.birth_day,
    )
    if inviter.name and inviter.name.strip() == (invited.name or "").strip() and same_birthday:
        return "same_person"
    return ""


def _reward(*, invited: Member, rules: ProgramRules, at: datetime, purchase: Purchase | None) -> ReferralReward | None:
    """Reward the inviter of `invited` once, within the inviter's monthly limit."""
    if not invited.referrer_id or not rules.referral_points:
        return None
    if ReferralReward.objects.filter(invited=invited).exists():
        return None
    try:
        with transaction.atomic():
            inviter = lock_member(invited.referrer_id)  # serialises this inviter's rewards for the limit
            if _refused(inviter, invited):
                return None
            if rules.referral_monthly_limit:
                month = local(at).date().replace(day=1)
                after = (month + timedelta(days=32)).replace(day=1)
                this_month = ReferralReward.objects.filter(
                    inviter=inviter,
                    reversed_at__isnull=True,
                    created_at__gte=day_start(month),
                    created_at__lt=day_start(after),
                ).count()
                if this_month >= rules.referral_monthly_limit:
                    return None
            reward = ReferralReward.objects.create(
                inviter=inviter,
                invited=invited,
                points=rules.referral_points,
                purchase=purchase,
                purchase_ref=purchase.reference if purchase else "",
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


def reward_referral(*, purchase_id: int, at: datetime | None = None) -> ReferralReward | None:
    """The inviter earns the reward when the invited member's purchase reaches the threshold for the
    first time (when the program rewards purchases); once per invited member, never for oneself."""
    rules = ProgramRules.load()
    if rules.referral_reward_on != ProgramRules.ReferralOn.PURCHASE:
        return None
    purchase = Purchase.objects.select_related("member").get(pk=purchase_id)
    if purchase.amount < rules.referral_min_purchase:
        return None
    return _reward(invited=purchase.member, rules=rules, at=at or purchase.created_at, purchase=purchase)


def reward_referral_on_signup(*, member_id: int, at: datetime | None = None) -> ReferralReward | None:
    """The inviter's reward on the invited member's sign-up, when the program rewards sign-ups."""
    rules = ProgramRules.load()
    if rules.referral_reward_on != ProgramRules.ReferralOn.SIGNUP:
        return None
    invited = Member.objects.get(pk=member_id)
    return _reward(invited=invited, rules=rules, at=at or invited.joined_at, purchase=None)


def reverse_referral(*, return_id: int) -> ReferralReward | None:
    """A return of the qualifying purchase within the window (counted from the purchase to the
    return's own time) that leaves it below the threshold takes the inviter's reward back: once;
    the balance may go below zero, flagged as on any return."""
    ret = PurchaseReturn.objects.select_related("purchase").get(pk=return_id)
    purchase = ret.purchase
    rules = ProgramRules.load()
    reward = ReferralReward.objects.filter(purchase=purchase, reversed_at__isnull=True).first()
    if reward is None or not rules.referral_reverse_days:
        return None
    if ret.created_at > purchase.created_at + timedelta(days=rules.referral_reverse_days):
        return None
    left = (
        purchase.amount
        - PurchaseReturn.objects.filter(purchase=purchase, pk__lte=ret.pk).aggregate(s=Sum("amount"))["s"]
    )
    if left >= rules.referral_min_purchase:
        return None
    with transaction.atomic():
        if not ReferralReward.objects.filter(pk=reward.pk, reversed_at__isnull=True).update(reversed_at=ret.created_at):
            return None  # taken back by another delivery of the same return
        points.take_back(
            member=reward.inviter_id,
            points=reward.points,
            source=PointsEntry.Source.REFERRAL,
            source_ref=ret.reference,
            idempotency_key=f"referral:{reward.invited_id}:reverse",
            at=ret.created_at,
        )
    reward.reversed_at = ret.created_at
    return reward
