"""Enrolment and member records: phone rules, member numbers, referral codes, merging
(product.md, "Membership and cards")."""

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from core.clock import local, now
from core.errors import Forbidden, Invalid, NotFound, PhoneTaken
from core.models import LoginThrottle
from core.outbox import send_after_commit

from .. import config, hooks
from ..identity import normalise_phone
from ..models import (
    Card,
    Channel,
    ExpiryNotice,
    Gender,
    GrowthEntry,
    Member,
    OneTimeCode,
    PointsEntry,
    Purchase,
    Store,
    StoredValueEntry,
)
from ..permissions import can_manage_members
from ..signals import member_closed, member_enrolled, member_merged
from . import cards, points, tiers
from .common import audit, lock_member

REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MSG_BIRTHDAY = _("Enter a real birthday: month and day, year optional.")


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int
    year: int | None = None

    @classmethod
    def parse(cls, value) -> "Birthday | None":
        """'1990-05-20', '--05-20' (no year) or a date; None for empty."""
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return cls(value.month, value.day, value.year)
        m = re.fullmatch(r"(\d{4}|-)-(\d{1,2})-(\d{1,2})", str(value).strip())
        if not m:
            raise Invalid(MSG_BIRTHDAY, field="birthday")
        year = None if m.group(1) == "-" else int(m.group(1))
        return cls.validated(int(m.group(2)), int(m.group(3)), year)

    @classmethod
    def validated(cls, month: int, day: int, year: int | None = None) -> "Birthday":
        try:
            date(year or 2000, month, day)  # 2000 is a leap year: 29 February is fine without a year
        except (TypeError, ValueError) as exc:
            raise Invalid(MSG_BIRTHDAY, field="birthday") from exc
        if year is not None and not (1900 <= year <= now().year):
            raise Invalid(MSG_BIRTHDAY, field="birthday")
        return cls(month, day, year)


def _new_member_no() -> str:
    return str(10**9 + secrets.randbelow(9 * 10**9))  # 10 digits, random so it reveals no count


def _new_referral_code() -> str:
    bits = secrets.randbits(30)  # six characters of a 32-letter alphabet: one draw, not six
    return "".join(REFERRAL_ALPHABET[(bits >> shift) & 31] for shift in range(0, 30, 5))


def active_member_by_phone(phone: str) -> Member | None:
    return Member.objects.filter(phone=phone, status=Member.Status.ACTIVE).first()


def enrol(
    *,
    phone,
    store: Store,
    name: str = "",
    gender: str = Gender.UNKNOWN,
    birthday=None,
    card_no: str | None = None,
    referral_code: str | None = None,
    marketing_consent: bool = False,
    channel: str = Channel.COUNTER,
    acting_user=None,
    joined_at: datetime | None = None,
) -> Member:
    """Enrol a member: one transaction that creates the member at the entry tier with a card (the
    scanned physical one, or a new virtual one). A phone that belongs to an active member raises
    PhoneTaken carrying that member, so the counter can open them instead."""
    phone = normalise_phone(phone)
    birthday = birthday if isinstance(birthday, Birthday) or birthday is None else Birthday.parse(birthday)
    name = (name or "").strip()
    if len(name) > 50:
        raise Invalid(_("A name is at most 50 characters."), field="name")
    if gender not in Gender.values:
        raise Invalid(_("Gender is F, M or U."), field="gender")
    if channel not in Channel.values:
        raise Invalid(_("Unknown channel."), field="channel")
    if existing := active_member_by_phone(phone):
        raise PhoneTaken(field="phone", member=existing)
    referrer = None
    if referral_code:
        referrer = Member.objects.filter(
            referral_code=referral_code.strip().upper(), status=Member.Status.ACTIVE
        ).first()
        if referrer is None:
            raise Invalid(_("No member has this referral code."), field="referral_code")
    at = joined_at or now()
    try:
        with transaction.atomic():
            member = _create(
                phone=phone,
                store=store,
                name=name,
                gender=gender,
                birthday=birthday,
                referrer=referrer,
                consent=marketing_consent,
                channel=channel,
                acting_user=acting_user,
                at=at,
            )
            if card_no:
                cards.bind_physical(member, card_no)
            else:
                cards.issue_virtual(member)
            tiers.TierChange.objects.create(
                member=member,
                from_tier=None,
                to_tier=member.tier,
                reason=tiers.TierChange.Reason.ENROL,
                created_at=at,
                operator=acting_user,
            )
            if channel != Channel.IMPORT and points.reward_profile_locked(member, at=at, program=config.program()):
                member.save(update_fields=["points_balance", "points_pending", "points_flagged"])
            audit("member.enrol", member=member, operator=acting_user, channel=channel, store=store.code)
            send_after_commit(
                member_enrolled,
                member_id=member.pk,
                data={"member_no": member.member_no, "store": store.code, "tier": member.tier.code, "channel": channel},
            )
    except IntegrityError as exc:
        if active_member_by_phone(phone):  # a parallel enrolment of the same phone won the race
            raise PhoneTaken(field="phone", member=active_member_by_phone(phone)) from exc
        raise
    return member


def _create(*, phone, store, name, gender, birthday, referrer, consent, channel, acting_user, at) -> Member:
    entry = tiers.entry_tier()
    for attempt in range(6):
        try:
            with transaction.atomic():
                return Member.objects.create(
                    member_no=_new_member_no(),
                    phone=phone,
                    name=name,
                    gender=gender,
                    birth_year=birthday.year if birthday else None,
                    birth_month=birthday.month if birthday else None,
                    birth_day=birthday.day if birthday else None,
                    home_store=store,
                    channel=channel,
                    enrolled_by=acting_user if getattr(acting_user, "pk", None) else None,
                    joined_at=at,
                    referrer=referrer,
                    referral_code=_new_referral_code(),
                    marketing_consent=bool(consent),
                    consent_at=at if consent else None,
                    tier=entry,
                    tier_since=at,
                )
        except IntegrityError:
            if attempt == 5 or active_member_by_phone(phone):
                raise
    raise AssertionError("unreachable")


def set_consent(*, member, consent: bool, acting_user=None) -> Member:
    with transaction.atomic():
        member = lock_member(member)
        member.marketing_consent = bool(consent)
        member.consent_at = now()
        member.save(update_fields=["marketing_consent", "consent_at"])
        audit("member.consent", member=member, operator=acting_user, consent=bool(consent))
        return member


def merge(*, source, target, acting_user, reason: str = "") -> Member:
    """Merge two accounts of one person into `target` (manager or HQ). Ledger rows, purchases,
    growth, cards, tags and expiry notices move over with their history; balances add up; the better
    tier stays; the other apps move what they keep (coupons, mall orders, grants, sales, check-ins,
    referrals, notifications) through `hooks.member_merge_movers`; `source` is closed as merged."""
    if not can_manage_members(acting_user):
        raise Forbidden(_("Only a store manager or HQ can merge members."), field="member")
    if getattr(source, "pk", source) == getattr(target, "pk", target):
        raise Invalid(_("A member cannot be merged into itself."), field="member")
    with transaction.atomic():
        first, second = sorted([getattr(source, "pk", source), getattr(target, "pk", target)])
        locked = {m.pk: m for m in (lock_member(first), lock_member(second))}  # lock in id order
        source, target = locked[getattr(source, "pk", source)], locked[getattr(target, "pk", target)]
        for m in (source, target):
            if m.status != Member.Status.ACTIVE:
                raise Invalid(_("Member %s is not active.") % m.member_no, field="member")
        PointsEntry.objects.filter(member=source).update(member=target)
        StoredValueEntry.objects.filter(member=source).update(member=target)
        GrowthEntry.objects.filter(member=source).update(member=target)
        Purchase.objects.filter(member=source).update(member=target)
        Card.objects.filter(member=source).update(member=target)
        target.points_balance += source.points_balance
        target.points_pending += source.points_pending
        target.sv_principal += source.sv_principal
        target.sv_bonus += source.sv_bonus
        target.sv_flagged = target.sv_principal < 0 or target.sv_bonus < 0
        target.growth_value += source.growth_value
        target.purchase_count += source.purchase_count
        if source.last_purchase_at and (
            not target.last_purchase_at or source.last_purchase_at > target.last_purchase_at
        ):
            target.last_purchase_at = source.last_purchase_at
        _settle_lots_after_merge(target)
        if source.tier.rank > target.tier.rank:
            tiers._change(
                target,
                source.tier,
                reason=tiers.TierChange.Reason.MERGE,
                at=now(),
                operator=acting_user,
                note=f"merged {source.member_no}",
            )
        target.points_flagged = target.points_balance < 0
        # one WeChat account per member: the merged member's openid moves to the target unless it has one
        if source.wechat_openid:
            Member.objects.filter(pk=source.pk).update(wechat_openid="")
            target.wechat_openid = target.wechat_openid or source.wechat_openid
        target.email = target.email or source.email
        # the merged stored value stays behind a PIN: the target's own, else the merged account's (R16)
        target.sv_pin = target.sv_pin or source.sv_pin
        target.save()
        Member.objects.filter(pk=source.pk).update(
            status=Member.Status.MERGED,
            merged_into=target,
            points_balance=0,
            points_pending=0,
            sv_principal=0,
            sv_bonus=0,
            growth_value=0,
            purchase_count=0,
            points_flagged=False,
        )
        Member.objects.filter(referrer=source).update(referrer=target)
        target.tags.add(*source.tags.all())
        source.tags.clear()
        ExpiryNotice.objects.filter(member=source).exclude(
            expires_at__in=ExpiryNotice.objects.filter(member=target).values("expires_at")
        ).update(member=target)
        for mover in hooks.member_merge_movers:
            mover(source, target)
        audit("member.merge", member=target, operator=acting_user, merged=source.member_no, reason=reason)
        data = {
            "member_no": target.member_no,
            "merged_member_no": source.member_no,
            "occurred_at": local(now()).isoformat(),
        }
        send_after_commit(member_merged, member_id=target.pk, merged_member_id=source.pk, data=data)
        return target


MSG_CLOSE_STORED_VALUE = _("The member still has ¥%(amount)s of stored value: refund it before closing the membership.")


def closed_phone(member: Member) -> str:
    """The placeholder that replaces a closed member's phone: not a mobile number (it starts with 0),
    never found by a lookup, unique by the member number."""
    return ("0" + member.member_no)[:11]


def close(*, member, reason: str, acting_user) -> Member:
    """Close a membership at the member's request (manager or HQ; PIPL erasure). Personal data goes:
    name, gender, birthday, e-mail, WeChat binding and consent are cleared, the phone becomes a placeholder (so the number may
    enrol again), password and PIN are removed, cards blocked, tags dropped, the one-time codes and
    sign-in counters of the phone deleted, and the other apps erase what they keep
    (`hooks.member_close_erasers`). Ledgers, purchases and sales stay under the member number, so
    `check_ledger` still passes. Refused while principal stored value is left (the member's money)."""
    if not can_manage_members(acting_user):
        raise Forbidden(_("Only a store manager or HQ can close a membership."), field="member")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Give the reason for closing the membership."), field="reason")
    with transaction.atomic():
        member = lock_member(member)
        if member.status != Member.Status.ACTIVE:
            raise Invalid(_("Member %s is not active.") % member.member_no, field="member")
        if member.sv_principal > 0:
            raise Invalid(MSG_CLOSE_STORED_VALUE % {"amount": member.sv_principal}, field="stored_value")
        phone, at = member.phone, now()
        member.status = Member.Status.CLOSED
        member.phone, member.name, member.gender = closed_phone(member), "", Gender.UNKNOWN
        member.birth_year = member.birth_month = member.birth_day = None
        member.marketing_consent, member.consent_at = False, at
        member.password, member.sv_pin = "", ""
        member.email, member.wechat_openid = "", ""
        member.save(
            update_fields=[
                "email",
                "wechat_openid",
                "status",
                "phone",
                "name",
                "gender",
                "birth_year",
                "birth_month",
                "birth_day",
                "marketing_consent",
                "consent_at",
                "password",
                "sv_pin",
            ]
        )
        Card.objects.filter(member=member, status=Card.Status.ACTIVE).update(status=Card.Status.BLOCKED, blocked_at=at)
        member.tags.clear()
        OneTimeCode.objects.filter(phone=phone).delete()
        LoginThrottle.objects.filter(key=f"phone:{phone}").delete()
        for eraser in hooks.member_close_erasers:
            eraser(member)
        audit("member.close", member=member, operator=acting_user, reason=reason)
        send_after_commit(
            member_closed,
            member_id=member.pk,
            data={"member_no": member.member_no, "occurred_at": local(at).isoformat()},
        )
        return member


def _settle_lots_after_merge(member: Member) -> None:
    """If one side was in debt, the other's lots pay it, oldest expiry first, so that the available
    balance equals what is left in the lots again."""
    available = list(
        PointsEntry.objects.select_for_update()
        .filter(member=member, remaining__gt=0, pending=False)
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )
    excess = sum(lot.remaining for lot in available) - max(0, member.points_balance)
    for lot in available:
        if excess <= 0:
            break
        use = min(lot.remaining, excess)
        lot.remaining -= use
        excess -= use
        lot.save(update_fields=["remaining"])


def get_member(member_no: str) -> Member:
    try:
        return Member.objects.select_related("tier", "home_store").get(member_no=member_no)
    except Member.DoesNotExist as exc:
        raise NotFound(field="member") from exc
