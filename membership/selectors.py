"""The read side of membership: lookups and summaries for the counter, the API and member pages."""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Min, OuterRef, Subquery, Sum

from . import config, qr
from .errors import NotFound
from .models import Card, Member, PointsEntry, ProgramSettings
from .services import tiers
from .services.cards import is_valid_number
from .services.common import local, now
from .services.enrolment import PHONE_RE, normalise_phone

ACTIVE = Member.Status.ACTIVE


def find_members(q: str) -> list[Member]:
    """Members matching what a clerk typed or scanned: a member QR token, a phone, a card number or
    a member number. At most a short list; a QR token that expired or was forged raises Invalid."""
    q = (q or "").strip()
    if not q:
        return []
    base = with_card_no(Member.objects.select_related("tier", "home_store").filter(status=ACTIVE))
    if qr.looks_like_token(q):
        return list(base.filter(member_no=qr.read_token(q)))
    digits = "".join(ch for ch in q if ch.isdigit() or ch == "+")
    try:
        phone = normalise_phone(digits)
    except Exception:
        phone = None
    if phone and PHONE_RE.match(phone):
        found = list(base.filter(phone=phone))
        if found:
            return found
    digits = digits.lstrip("+")
    if digits.isdigit():
        if is_valid_number(digits):
            card = (
                Card.objects.filter(number=digits, status=Card.Status.ACTIVE)
                .select_related("member__tier", "member__home_store")
                .first()
            )
            if card and card.member.status == ACTIVE:
                return [card.member]
        if len(digits) == 10:
            found = list(base.filter(member_no=digits))
            if found:
                return found
        if 4 <= len(digits) < 11:  # the last digits of a phone: a short list to choose from
            return list(base.filter(phone__endswith=digits).order_by("-last_purchase_at")[:10])
    return []


def find_member(q: str) -> Member:
    found = find_members(q)
    if not found:
        raise NotFound(field="q")
    return found[0]


def member_by_no_or_card(value: str, *, ref_only: bool = False) -> Member:
    """An active member by member number or card number. `ref_only`: just the id and member number,
    for a write whose service locks and reads the row itself (a sale)."""
    value = (value or "").strip()
    members = (
        Member.objects.only("id", "member_no") if ref_only else Member.objects.select_related("tier", "home_store")
    )
    member = members.filter(member_no=value, status=ACTIVE).first()
    if member is None and value.isdigit():
        card = Card.objects.filter(number=value, status=Card.Status.ACTIVE, member__status=ACTIVE).first()
        member = card and members.get(pk=card.member_id)
    if member is None:
        raise NotFound(field="member")
    return member


def expiring(member: Member, program: ProgramSettings | None = None) -> tuple[int, object]:
    """Points that expire within the notice period, and the first date they do."""
    program = program or config.program()
    at = now()
    row = PointsEntry.objects.filter(
        member=member,
        remaining__gt=0,
        pending=False,
        expires_at__gt=at,
        expires_at__lte=at + timedelta(days=program.expiry_notice_days),
    ).aggregate(points=Sum("remaining"), first=Min("expires_at"))
    return row["points"] or 0, row["first"]


def with_card_no(queryset):
    """Annotate each member with the number of their primary active card (physical first)."""
    cards = Card.objects.filter(member=OuterRef("pk"), status=Card.Status.ACTIVE).order_by("-kind", "-bound_at")
    return queryset.annotate(primary_card_no=Subquery(cards.values("number")[:1]))


def discount_fraction(percent) -> str:
    """A discount in percent as the API's fraction: 2.00 → "0.02", 2.5 → "0.025", 0 → "0.00"."""
    text = f"{(Decimal(percent) / 100).quantize(Decimal('0.0001')):f}".rstrip("0")
    return text + "0" * max(0, 2 - len(text.split(".")[1]))


def member_summary(member: Member, *, reveal_phone: bool = False) -> dict:
    """The member summary of pos-api.md (also used by the counter and the member pages).
    One query for the expiring points, plus one for the card unless the member came from a
    queryset annotated with with_card_no()."""
    program = config.program()
    soon, first = expiring(member, program)
    nxt, needed = tiers.growth_to_next(member)
    card_no = getattr(member, "primary_card_no", None)
    if card_no is None:
        card = member.cards.filter(status=Card.Status.ACTIVE).order_by("-kind", "-bound_at").first()
        card_no = card.number if card else None
    return {
        "member_no": member.member_no,
        "name": member.name,
        "phone": member.phone if reveal_phone else member.masked_phone,
        "card_no": card_no,
        "tier": {
            "code": member.tier.code,
            "name": member.tier.name,
            "discount_rate": discount_fraction(member.tier.discount_rate),
        },
        "growth_value": member.growth_value,
        "points": {
            "balance": member.points_balance,
            "pending": member.points_pending,
            "expiring_soon": soon,
            "expiring_on": local(first).date().isoformat() if first else None,
        },
        "stored_value": {"principal": f"{member.sv_principal:.2f}", "bonus": f"{member.sv_bonus:.2f}"},
        "next_tier": {"code": nxt.code, "name": nxt.name, "growth_needed": needed} if nxt else None,
        # the year stays private at the till: "--MM-DD" (pos-api.md)
        "birthday": f"--{member.birth_month:02d}-{member.birth_day:02d}" if member.birth_month else None,
        "joined_at": member.joined_at.isoformat(),
        "home_store": member.home_store.code,
    }


def points_history(member: Member):
    return PointsEntry.objects.filter(member=member).select_related("store").order_by("-created_at", "-id")


def tier_progress(member: Member, next_tier) -> int | None:
    """Percent of the way from the member's tier to the next one, by growth (None at the top)."""
    if next_tier is None:
        return None
    span = max(1, next_tier.reach_growth - member.tier.reach_growth)
    return min(100, max(0, int((member.growth_value - member.tier.reach_growth) * 100 / span)))


def flagged_members(store=None, limit: int = 100):
    """Members whose balance a return took below zero, to be settled by a manager (their home store's)."""
    qs = Member.objects.filter(points_flagged=True, status=ACTIVE).select_related("tier", "home_store")
    if store is not None:
        qs = qs.filter(home_store=store)
    return list(qs.order_by("points_balance")[:limit])


def staff_log(store, since, limit: int = 200):
    """The desk operations (audit entries) and manual point adjustments made by a store's staff since
    `since`, newest first."""
    from .models import AuditLog

    entries = (
        AuditLog.objects.filter(created_at__gte=since, operator__store=store)
        .select_related("operator", "member")
        .order_by("-created_at")[:limit]
    )
    adjustments = (
        PointsEntry.objects.filter(created_at__gte=since, kind=PointsEntry.Kind.ADJUST, store=store)
        .select_related("operator", "member")
        .order_by("-created_at")[:limit]
    )
    return list(entries), list(adjustments)


def waiting_adjustments(store):
    """Adjustments the store's clerks asked for above the limit, oldest first."""
    from .models import AdjustmentRequest

    return list(
        AdjustmentRequest.objects.filter(store=store, status=AdjustmentRequest.Status.PENDING)
        .select_related("member", "requested_by")
        .order_by("created_at")
    )
