"""Helpers shared by the services: locking, time, money rounding, audit."""

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from core import rows
from core.errors import NotFound

from .. import config
from ..models import AuditLog, Member

CENT = Decimal("0.01")


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def now() -> datetime:
    return timezone.now()


def local(dt: datetime) -> datetime:
    return dt.astimezone(tz())


def day_start(day: date) -> datetime:
    """00:00 local time of `day`: the first instant of the day."""
    return datetime.combine(day, time.min, tzinfo=tz())


def money(value) -> Decimal:
    """A Decimal with exactly two places, rounded down (never in the member's disfavour twice)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class MemberRef:
    """A member as a till names them (member number or card number), found when locked: a sale's
    lock is then also its lookup, one statement (lock_member)."""

    value: str


def lock_member(member_or_id) -> Member:
    """Lock the member row for the rest of the transaction and return it fresh: a member, an id, or a
    MemberRef (an active member by number or card; NotFound when there is none).

    Lock order everywhere: the member first, then coupon or stock rows by id. The member's tier
    comes from the program's kept tiers (membership.config), not from another query."""
    if isinstance(member_or_id, MemberRef):
        from ..selectors import member_by_no_or_card

        member = member_by_no_or_card(member_or_id.value, lock=True)
    elif (member := rows.lock(Member, getattr(member_or_id, "pk", member_or_id))) is None:
        raise NotFound(field="member")
    member.tier = config.tier(member.tier_id)
    return member


def audit(action: str, *, member=None, operator=None, **data) -> None:
    AuditLog.objects.create(action=action, member=member, operator=operator, data=data)
