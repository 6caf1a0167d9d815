"""The read side of membership: lookups, summaries and histories for the counter, the API and the
member site."""

from datetime import UTC, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import DecimalField, ExpressionWrapper, F
from django.utils.dateparse import parse_datetime

from core import rows
from core.clock import local, now
from core.errors import NotFound

from . import config, qr
from .identity import PHONE_RE, is_valid_number, normalise_phone
from .models import Card, Member, PointsEntry, Purchase, Store, StoredValueEntry

ACTIVE = Member.Status.ACTIVE


def find_members(q: str) -> list[Member]:
    """Members matching what a clerk typed or scanned: a member QR token, a phone, a card number or
    a member number. At most a short list; a QR token that expired or was forged raises Invalid."""
    q = (q or "").strip()
    if not q:
        return []
    base = Member.objects.select_related("tier", "home_store").filter(status=ACTIVE)
    if qr.looks_like_token(q):
        return list(base.filter(member_no=qr.read_token(q)))
    if phone := _as_phone(q):
        found = list(base.filter(phone=phone))
        if found:
            return found
    digits = "".join(ch for ch in q if ch.isdigit() or ch == "+").lstrip("+")
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


def _as_phone(q: str) -> str | None:
    """The mobile number a clerk typed or scanned, if it is one."""
    digits = "".join(ch for ch in q if ch.isdigit() or ch == "+")
    try:
        phone = normalise_phone(digits)
    except Exception:
        return None
    return phone if phone and PHONE_RE.match(phone) and not qr.looks_like_token(q) else None


def blocked_card(q: str) -> Card | None:
    """The blocked (reported lost) card a clerk scanned or typed, with its member: find_members finds
    nobody by it, and the counter says whose card it is rather than offering to enrol (issue 31)."""
    digits = "".join(ch for ch in (q or "") if ch.isdigit())
    if not digits or not is_valid_number(digits):
        return None
    return (
        Card.objects.filter(number=digits, status=Card.Status.BLOCKED, member__isnull=False)
        .select_related("member__tier")
        .first()
    )


def find_member(q: str) -> Member:
    found = find_members(q)
    if not found:
        raise NotFound(field="q")
    return found[0]


def member_by_no_or_card(value: str, *, lock: bool = False) -> Member:
    """An active member by member number or card number. `lock`: locked for the rest of the
    transaction with every field (rows.lock), in one statement when named by member number (a sale's
    lookup is its lock: services.common.MemberRef)."""
    value = (value or "").strip()

    def read(**key) -> Member | None:
        if lock:
            return rows.lock(Member, **key)
        return Member.objects.select_related("tier", "home_store").filter(**key).first()

    member = read(member_no=value, status=ACTIVE)
    if member is None and value.isdigit():
        card = Card.objects.filter(number=value, status=Card.Status.ACTIVE, member__status=ACTIVE).first()
        member = card and read(pk=card.member_id)
    if member is None:
        raise NotFound(field="member")
    return member


def discount_fraction(percent) -> str:
    """A discount in percent as the API's fraction: 2.00 → "0.02", 2.5 → "0.025", 0 → "0.00"."""
    text = f"{(Decimal(percent) / 100).quantize(Decimal('0.0001')):f}".rstrip("0")
    return text + "0" * max(0, 2 - len(text.split(".")[1]))


def member_summary(member: Member, *, reveal_phone: bool = False) -> dict:
    """The member summary of pos-api.md (the API, the counter and the member pages), as stored now:
    one statement (SUMMARY_BY_ID) reads the member with their home store, primary card and the points
    expiring soon."""
    found = _read_summary(SUMMARY_BY_ID, id=member.pk)
    if found is None:
        raise NotFound(field="member")
    return _summary(*found, reveal_phone=reveal_phone)


def _summary(member: Member, card_no: str | None, soon: int, first, *, reveal_phone: bool) -> dict:
    nxt, needed = config.growth_to_next(member)
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


# The member summary in one statement (issue 17: the lookup's web CPU was the ORM compiling three
# queries; issue 27: the only read of a summary, by phone for the till's lookup or by id): the member
# with their home store, primary card (Card.PRIMARY_ORDER) and the points expiring within the notice
# period (what points.send_expiry_notices tells members about).
SUMMARY = """
SELECT m.id, m.member_no, m.name, m.phone, m.tier_id, m.growth_value, m.points_balance, m.points_pending,
       m.sv_principal, m.sv_bonus, m.birth_month, m.birth_day, m.joined_at, m.home_store_id, s.code,
       (SELECT c.number FROM membership_card c WHERE c.member_id = m.id AND c.status = %(card_active)s
        ORDER BY {card_order} LIMIT 1),
       (SELECT SUM(e.remaining) FROM membership_pointsentry e WHERE {due}),
       (SELECT MIN(e.expires_at) FROM membership_pointsentry e WHERE {due})
FROM membership_member m JOIN membership_store s ON s.id = m.home_store_id
WHERE {where}
ORDER BY m.id LIMIT 1"""
_PARTS = dict(
    due="e.member_id = m.id AND e.remaining > 0 AND NOT e.pending AND e.expires_at > %(at)s "
    "AND e.expires_at <= %(until)s",
    card_order=", ".join(f"c.{f.lstrip('-')} {'DESC' if f.startswith('-') else 'ASC'}" for f in Card.PRIMARY_ORDER),
)
SUMMARY_BY_PHONE = SUMMARY.format(where="m.phone = %(phone)s AND m.status = %(active)s", **_PARTS)
SUMMARY_BY_ID = SUMMARY.format(where="m.id = %(id)s", **_PARTS)


def _read_summary(statement: str, **key) -> tuple | None:
    """(member, primary card number, points expiring soon, first expiry) read by `statement`, or None."""
    at = now()
    until = at + timedelta(days=config.program().expiry_notice_days)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cur:
        cur.execute(
            statement,
            {"card_active": Card.Status.ACTIVE, "at": adapt(at), "until": adapt(until), "active": ACTIVE, **key},
        )
        row = cur.fetchone()
    if row is None:
        return None
    (pk, member_no, name, member_phone, tier_id, growth, balance, pending, principal, bonus, month, day,
     joined, store_id, store_code, card_no, soon, first) = row  # fmt: skip
    member = Member(
        id=pk,
        member_no=member_no,
        name=name,
        phone=member_phone,
        tier_id=tier_id,
        growth_value=growth,
        points_balance=balance,
        points_pending=pending,
        sv_principal=Decimal(str(principal)),
        sv_bonus=Decimal(str(bonus)),
        birth_month=month,
        birth_day=day,
        joined_at=_utc(joined),
    )
    member.tier = config.tier(tier_id)
    member.home_store = Store(id=store_id, code=store_code)
    return member, card_no, int(soon or 0), _utc(first)


def _utc(value):
    """A timestamp as read by a raw query: aware on PostgreSQL, naive UTC (or text) on SQLite."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def lookup_summary(q: str, *, reveal_phone: bool = False) -> dict:
    """The member summary of what a clerk typed or scanned (the API's lookup): a phone in one
    statement, anything else found by find_member, then summarised."""
    phone = _as_phone((q or "").strip())
    if phone:
        if (found := _read_summary(SUMMARY_BY_PHONE, phone=phone)) is not None:
            return _summary(*found, reveal_phone=reveal_phone)
        if "".join(ch for ch in q if ch.isdigit()) == phone:  # nothing else in find_members reads 11 digits
            raise NotFound(field="q")
    return member_summary(find_member(q), reveal_phone=reveal_phone)


def active_member(member_id) -> Member | None:
    """The active member with this id, with their tier and home store (a signed-in member's pages)."""
    return Member.objects.select_related("tier", "home_store").filter(pk=member_id, status=ACTIVE).first()


def points_history(member: Member):
    return PointsEntry.objects.filter(member=member).select_related("store").order_by("-created_at", "-id")


def stored_value_history(member: Member):
    """The stored-value ledger, newest first, each entry with its total (principal + bonus) and the
    total after it."""
    money = DecimalField(max_digits=14, decimal_places=2)
    return (
        StoredValueEntry.objects.filter(member=member)
        .select_related("store")
        .annotate(
            total=ExpressionWrapper(F("principal") + F("bonus"), output_field=money),
            total_after=ExpressionWrapper(F("principal_after") + F("bonus_after"), output_field=money),
        )
        .order_by("-created_at", "-id")
    )


def purchase_history(member: Member):
    """The member's purchases, newest first."""
    return Purchase.objects.filter(member=member).select_related("store").order_by("-created_at", "-id")


def purchase_points(purchase: Purchase, member: Member):
    """What a purchase earned and spent in points for its member, in order."""
    return purchase.points_entries.filter(member=member).order_by("created_at", "id")


def purchase_returns(purchase: Purchase):
    return purchase.returns.select_related("store").order_by("created_at", "id")


def active_referrals(member: Member):
    """The active members this member invited, newest first (only what the invite page shows of them)."""
    return (
        member.referrals.filter(status=ACTIVE)
        .order_by("-joined_at")
        .only("name", "phone", "joined_at", "purchase_count")
    )


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
    """The desk operations (audit entries, a query to page through) and the manual point adjustments
    (the latest `limit`) made by a store's staff since `since`, newest first."""
    from .models import AuditLog

    entries = (
        AuditLog.objects.filter(created_at__gte=since, operator__store=store)
        .select_related("operator", "member")
        .order_by("-created_at", "-pk")
    )
    adjustments = (
        PointsEntry.objects.filter(created_at__gte=since, kind=PointsEntry.Kind.ADJUST, store=store)
        .select_related("operator", "member")
        .order_by("-created_at")[:limit]
    )
    return entries, list(adjustments)


def waiting_adjustments(store):
    """Adjustments the store's clerks asked for above the limit, oldest first."""
    from .models import AdjustmentRequest

    return list(
        AdjustmentRequest.objects.filter(store=store, status=AdjustmentRequest.Status.PENDING)
        .select_related("member", "requested_by")
        .order_by("created_at")
    )
