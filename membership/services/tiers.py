"""Tiers and growth value (product.md, "Tiers and growth value").

Upgrades happen at once inside the transaction that made the member qualify; downgrades only at
the periodic review; a tier set by HQ is a floor until its date."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from core import rows
from core.clock import local, now
from core.errors import Forbidden, Invalid
from core.outbox import send_after_commit, send_all_after_commit

from .. import config
from ..models import GrowthEntry, Member, ProgramSettings, ReviewWindow, Tier, TierChange
from ..permissions import is_hq
from ..signals import tier_changed
from .common import audit, lock_member

MSG_REASON_REQUIRED = _("A reason is required to set a tier by hand.")


def tiers_by_rank() -> list[Tier]:
    return list(Tier.objects.order_by("rank"))


def entry_tier() -> Tier:
    tier = Tier.objects.order_by("rank").first()
    if tier is None:
        raise Invalid(_("No tiers are configured: add at least one tier in admin."), field="tier")
    return tier


def next_tier(tier: Tier) -> Tier | None:
    return config.next_tier(tier)


def _change(
    member: Member,
    to_tier: Tier,
    *,
    reason: str,
    at: datetime,
    operator=None,
    note: str = "",
    idempotency_key: str | None = None,
) -> TierChange:
    change = TierChange.objects.create(
        member=member,
        from_tier=member.tier,
        to_tier=to_tier,
        reason=reason,
        note=note,
        operator=operator,
        created_at=at,
        idempotency_key=idempotency_key,
    )
    from_tier = member.tier
    member.tier, member.tier_since = to_tier, at
    send_after_commit(
        tier_changed,
        member_id=member.pk,
        from_tier_id=from_tier.pk,
        to_tier_id=to_tier.pk,
        reason=reason,
        data={"member_no": member.member_no, "from_tier": from_tier.code, "to_tier": to_tier.code, "reason": reason},
    )
    return change


def upgrade_target(current: Tier, growth_value: int, amount: int, paid: Decimal | None) -> tuple[Tier | None, bool]:
    """The tier one sale lifts a member to, and whether growth reached it (else the ticket did): the
    highest tier above `current` that the member's growth (`growth_value`, with the sale's `amount`
    added) reaches, or that one ticket paying `paid` qualifies for (满999送金卡, the tier's instant
    amount); (None, False) without an upgrade. add_growth applies it; the sale preview shows it
    (pricing.price_sale's `tier_after`)."""
    above = [t for t in reversed(config.tiers()) if t.rank > current.rank]
    by_growth = next((t for t in above if amount > 0 and t.reach_growth <= growth_value), None)
    by_ticket = next(
        (t for t in above if paid is not None and t.instant_sale_amount is not None and paid >= t.instant_sale_amount),
        None,
    )
    target = max((t for t in (by_growth, by_ticket) if t is not None), key=lambda t: t.rank, default=None)
    return target, target is not None and target is by_growth


def add_growth(
    member: Member, amount: int, *, at: datetime, purchase=None, program: ProgramSettings, paid: Decimal | None = None
) -> bool:
    """Add (or reverse, when negative) growth on a locked member and upgrade at once to the highest tier
    it now qualifies for: by growth, or by one ticket paying `paid` (满999送金卡, the tier's instant
    amount). One sale is one tier change, to the tier finally reached: NORMAL → GOLD on a ¥1,190 sale
    was two changes (SILVER by growth, GOLD by the ticket) and two upgrade benefits (issue 31).
    Returns True when the member was upgraded. Saving the member is the caller's job."""
    if amount:
        rows.insert(GrowthEntry(member=member, amount=amount, purchase=purchase, created_at=at))
        member.growth_value = max(0, member.growth_value + amount)
    if amount < 0:
        return False  # downgrades happen only at the review
    target, by_growth = upgrade_target(member.tier, member.growth_value, amount, paid)
    if target is None:
        return False
    note = "" if by_growth else f"one sale of ¥{paid} (instant tier from ¥{target.instant_sale_amount})"
    _change(member, target, reason=TierChange.Reason.UPGRADE, at=at, note=note)
    if by_growth and program.reset_growth_on_promotion:
        member.growth_value = 0
    return True


def window_start(at: datetime, window: str) -> datetime | None:
    if window == ReviewWindow.ALL_TIME:
        return None
    d = local(at)
    if window == ReviewWindow.CALENDAR_YEAR:
        return d.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


@dataclass(frozen=True)
class KeepStatus:
    """What a member must do to keep their tier at the next review."""

    keep: int  # the tier's keep threshold
    window_growth: int  # growth in the review window so far
    missing: int  # still needed by the next review (0: kept)
    next_review: date


def next_review_on(at: datetime, program: ProgramSettings) -> date:
    """The day of the next tier review: the 1st of next month, or of next January for a yearly review."""
    d = local(at).date()
    if program.review_period == "yearly":
        return date(d.year + 1, 1, 1)
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def keep_status(member: Member, at: datetime | None = None) -> KeepStatus | None:
    """The keep threshold, the growth in the review window so far and the next review date (None for
    the entry tier, which nobody drops from)."""
    at = at or now()
    tier = config.tier(member.tier_id)
    if tier.rank <= config.tiers()[0].rank:
        return None
    program = config.program()
    growth = window_growth(at, program).filter(member=member).aggregate(s=Sum("amount"))["s"] or 0
    return KeepStatus(
        keep=tier.keep_growth,
        window_growth=growth,
        missing=max(0, tier.keep_growth - growth),
        next_review=next_review_on(at, program),
    )


def window_growth(at: datetime, program: ProgramSettings):
    """The growth entries that count at a review at `at`: those of the review window up to `at`."""
    start = window_start(at, program.review_window)
    entries = GrowthEntry.objects.filter(created_at__lte=at)
    return entries.filter(created_at__gte=start) if start is not None else entries


def review_key(at: datetime, program: ProgramSettings) -> str:
    d = local(at)
    return f"review:{d.year}" if program.review_period == "yearly" else f"review:{d:%Y-%m}"


def reviewed_tier(current: Tier, window_growth: int, tiers: list[Tier], floor: Tier | None) -> Tier:
    """The highest tier at or below the current one whose keep threshold the growth meets,
    never below an active floor."""
    candidates = [t for t in tiers if t.rank <= current.rank and t.keep_growth <= window_growth]
    best = max(candidates, key=lambda t: t.rank) if candidates else tiers[0]
    if floor is not None and floor.rank > best.rank:
        best = floor
    return best


def review(*, at: datetime | None = None, batch_size: int = 5000, force: bool = False) -> int:
    """Periodic review: drop members whose growth in the window is below their tier's keep threshold.

    Batches by member id, each one transaction that locks its members, reads their window growth in
    one query and writes only the changes. Re-running the same period changes nothing."""
    at = at or now()
    program = config.program()
    if program.review_period == "yearly" and local(at).month != 1 and not force:
        return 0  # a yearly review runs from the January schedule only
    tiers = tiers_by_rank()
    if not tiers:
        return 0
    tier_by_id = {t.pk: t for t in tiers}
    growth = window_growth(at, program).filter(member=OuterRef("pk"))
    growth = growth.values("member").annotate(s=Sum("amount")).values("s")
    key = review_key(at, program)
    today = local(at).date()
    changed = 0
    last_id = 0
    lowest = tiers[0]
    while True:
        with transaction.atomic():
            batch = list(
                Member.objects.select_for_update(no_key=True)
                .filter(pk__gt=last_id, status=Member.Status.ACTIVE)
                .exclude(tier=lowest)
                .order_by("pk")
                .annotate(window_growth=Coalesce(Subquery(growth), 0))
                .only("pk", "member_no", "tier_id", "tier_floor_id", "tier_floor_until")[:batch_size]
            )
            if not batch:
                break
            last_id = batch[-1].pk
            changes, updated = [], []
            for m in batch:
                floor = (
                    tier_by_id.get(m.tier_floor_id)
                    if m.tier_floor_id and (m.tier_floor_until is None or m.tier_floor_until >= today)
                    else None
                )
                current = tier_by_id[m.tier_id]
                target = reviewed_tier(current, m.window_growth, tiers, floor)
                if target.pk != current.pk:
                    changes.append(
                        TierChange(
                            member_id=m.pk,
                            from_tier=current,
                            to_tier=target,
                            reason=TierChange.Reason.REVIEW,
                            created_at=at,
                            note=f"window growth {m.window_growth}",
                            idempotency_key=f"{key}:{m.pk}",
                        )
                    )
                    m.tier_id, m.tier_since = target.pk, at
                    updated.append(m)
            if updated:
                Member.objects.bulk_update(updated, ["tier", "tier_since"])
                TierChange.objects.bulk_create(changes)
                member_no = {m.pk: m.member_no for m in updated}
                send_all_after_commit(
                    tier_changed,
                    [
                        dict(
                            member_id=c.member_id,
                            from_tier_id=c.from_tier_id,
                            to_tier_id=c.to_tier_id,
                            reason=c.reason,
                            data={
                                "member_no": member_no[c.member_id],
                                "from_tier": c.from_tier.code,
                                "to_tier": c.to_tier.code,
                                "reason": c.reason,
                            },
                        )
                        for c in changes
                    ],
                )
                changed += len(updated)
    return changed


def set_manual(*, member, tier: Tier, reason: str, acting_user, floor_until: date | None = None) -> TierChange:
    """HQ sets a tier by hand, with a reason; it is a floor for reviews until `floor_until`."""
    if not is_hq(acting_user):
        raise Forbidden(_("Only HQ can set a tier by hand."), field="tier")
    if not reason or not reason.strip():
        raise Invalid(MSG_REASON_REQUIRED, field="reason")
    with transaction.atomic():
        member = lock_member(member)
        at = now()
        change = _change(
            member, tier, reason=TierChange.Reason.MANUAL, at=at, operator=acting_user, note=reason.strip()
        )
        member.tier_floor, member.tier_floor_until = tier, floor_until
        member.save(update_fields=["tier", "tier_since", "tier_floor", "tier_floor_until"])
        audit(
            "tier.manual",
            member=member,
            operator=acting_user,
            tier=tier.code,
            reason=reason.strip(),
            floor_until=floor_until.isoformat() if floor_until else None,
        )
        return change
