"""Helpers shared by the services: locking and audit (time and money rounding: core.clock, core.money)."""

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core import rows
from core.errors import Invalid, NotFound

from .. import config
from ..models import AuditLog, Member
from ..selectors import member_by_no_or_card


@dataclass(frozen=True)
class MemberRef:
    """A member as a till names them (member number or card number), found when locked: a sale's
    lock is then also its lookup, one statement (lock_member)."""

    value: str


MSG_CLOSED = _("This member account is closed.")


def lock_member(member_or_id, *, active: bool = False) -> Member:
    """Lock the member row for the rest of the transaction and return it fresh: a member, an id, or a
    MemberRef (an active member by number or card; NotFound when there is none). `active`: a closed
    member is refused (Invalid naming `member`), as a sale refuses them.

    Lock order everywhere: the member first, then coupon or stock rows by id. The member's tier
    comes from the program's kept tiers (membership.config), not from another query."""
    if isinstance(member_or_id, MemberRef):
        member = member_by_no_or_card(member_or_id.value, lock=True)
    elif (member := rows.lock(Member, getattr(member_or_id, "pk", member_or_id))) is None:
        raise NotFound(field="member")
    if active and member.status != Member.Status.ACTIVE:
        raise Invalid(MSG_CLOSED, field="member")
    member.tier = config.tier(member.tier_id)
    return member


def audit(action: str, *, member=None, operator=None, **data) -> None:
    AuditLog.objects.create(action=action, member=member, operator=operator, data=data)


class _DryRun(Exception):  # noqa: N818 (not an error: carries the figures out of the rolled-back block)
    pass


def dry_run(operation):
    """Run `operation` (a service call and what the caller reads of its outcome) in a transaction that
    is rolled back: the figures an irreversible desk action would give, from the same service, with
    nothing written and nothing sent (on_commit hooks of a rolled-back block are dropped). Its domain
    errors come out as they would; the counter shows them before asking to confirm (issue 31)."""
    try:
        with transaction.atomic():
            raise _DryRun(operation())
    except _DryRun as done:
        return done.args[0]
