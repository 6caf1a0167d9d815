"""Export of members with their balances, open lots and cards in the import's columns."""

from datetime import datetime

from core.clock import local

from ..models import Card, Member, PointsEntry
from .columns import COLUMNS


def export_rows(queryset=None):
    """Rows of the import's columns for members with their balances: the member's first row holds the
    member, its cards, its growth, tier and stored value and its first open lot; each further open lot
    is one more row of the same phone and member number. Importing them into an empty database
    reproduces every balance (with the tier floor date chosen at import)."""
    queryset = queryset if queryset is not None else Member.objects.filter(status=Member.Status.ACTIVE)
    queryset = queryset.select_related("home_store", "tier", "referrer").prefetch_related("tags").order_by("pk")
    chunk = []
    for member in queryset.iterator(chunk_size=2000):
        chunk.append(member)
        if len(chunk) >= 2000:
            yield from _export_chunk(chunk)
            chunk = []
    if chunk:
        yield from _export_chunk(chunk)


def _export_chunk(members):
    """Rows of a chunk of members: their open lots and physical cards in one query each."""
    ids = [m.pk for m in members]
    lots: dict[int, list] = {}
    for lot in (
        PointsEntry.objects.filter(member_id__in=ids, remaining__gt=0)
        .order_by("member_id", "expires_at", "id")
        .values("member_id", "remaining", "pending", "available_at", "expires_at")
    ):
        lots.setdefault(lot["member_id"], []).append(lot)
    physical: dict[int, list] = {}
    for member_id, number in (
        Card.objects.filter(member_id__in=ids, status=Card.Status.ACTIVE, kind=Card.Kind.PHYSICAL)
        .order_by("pk")
        .values_list("member_id", "number")
    ):
        physical.setdefault(member_id, []).append(number)
    for member in members:
        yield from _export_member(member, lots.get(member.pk, []), physical.get(member.pk, []))


def _export_member(member, lots, numbers):
    """The rows of one member: the first holds the member and its first open lot, one more per lot."""
    birthday = ""
    if member.birth_month:
        birthday = (
            f"{member.birth_year:04d}-{member.birth_month:02d}-{member.birth_day:02d}"
            if member.birth_year
            else f"--{member.birth_month:02d}-{member.birth_day:02d}"
        )
    base = {"member_no": member.member_no, "phone": member.phone}
    first = dict(
        base,
        name=member.name,
        gender=member.gender,
        birthday=birthday,
        home_store=member.home_store.code,
        marketing_consent="1" if member.marketing_consent else "0",
        consent_at=_fmt(member.consent_at),
        joined_at=_fmt(member.joined_at),
        card_no=";".join(numbers),
        growth_value=str(member.growth_value),
        tier=member.tier.code,
        sv_principal=f"{member.sv_principal:.2f}" if member.sv_principal else "",
        sv_bonus=f"{member.sv_bonus:.2f}" if member.sv_bonus else "",
        referrer_phone=member.referrer.phone if member.referrer else "",
        tags=";".join(sorted(t.name for t in member.tags.all())),
    )
    rows = [first] if not lots else []
    for i, lot in enumerate(lots):
        row = dict(first) if i == 0 else dict(base, home_store=member.home_store.code)
        row.update(
            points=str(lot["remaining"]),
            points_expire_on=local(lot["expires_at"]).date().isoformat() if lot["expires_at"] else "",
            points_pending_until=_fmt(lot["available_at"]) if lot["pending"] else "",
        )
        rows.append(row)
    for row in rows:
        yield [row.get(c, "") for c in COLUMNS]


def _fmt(at: datetime | None) -> str:
    return local(at).strftime("%Y-%m-%d %H:%M:%S") if at else ""
