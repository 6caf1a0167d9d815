"""Proof that every cached balance equals its ledger, and that a balance below zero is flagged for
the manager (`manage.py check_ledger`).

Set-based: a handful of grouped queries over the whole table, compared member by member."""

from dataclasses import dataclass

from django.db.models import Q, Sum

from core.money import to_cents

from .models import Member, PointsEntry, StoredValueEntry


@dataclass(frozen=True)
class Discrepancy:
    member_no: str
    what: str
    cached: object
    ledger: object

    def __str__(self):
        return f"{self.member_no}: {self.what} is {self.cached}, the ledger says {self.ledger}"


def discrepancies(member_ids=None) -> list[Discrepancy]:
    members = Member.objects.all()
    entries = PointsEntry.objects.all()
    sv_entries = StoredValueEntry.objects.all()
    if member_ids is not None:
        members = members.filter(pk__in=member_ids)
        entries = entries.filter(member_id__in=member_ids)
        sv_entries = sv_entries.filter(member_id__in=member_ids)
    points = {
        row["member_id"]: row
        for row in entries.values("member_id").annotate(
            total=Sum("amount"),
            lots_pending=Sum("remaining", filter=Q(pending=True)),
            lots_available=Sum("remaining", filter=Q(pending=False)),
        )
    }
    sv = {
        row["member_id"]: row
        for row in sv_entries.values("member_id").annotate(principal=Sum("principal"), bonus=Sum("bonus"))
    }
    found = []
    rows = members.values_list(
        "pk",
        "member_no",
        "points_balance",
        "points_pending",
        "sv_principal",
        "sv_bonus",
        "points_flagged",
        "sv_flagged",
    )
    for pk, no, balance, pending, principal, bonus, points_flagged, sv_flagged in rows.iterator(chunk_size=10_000):
        p = points.get(pk, {})
        total, lots_pending, lots_available = (
            p.get("total") or 0,
            p.get("lots_pending") or 0,
            p.get("lots_available") or 0,
        )
        if balance + pending != total:
            found.append(Discrepancy(no, "points balance + pending", balance + pending, total))
        if pending != lots_pending:
            found.append(Discrepancy(no, "pending points", pending, lots_pending))
        if lots_available != max(balance, 0):
            found.append(Discrepancy(no, "points left in available lots", max(balance, 0), lots_available))
        s = sv.get(pk, {})
        ledger_principal, ledger_bonus = to_cents(s.get("principal")), to_cents(s.get("bonus"))
        if principal != ledger_principal:
            found.append(Discrepancy(no, "stored-value principal", principal, ledger_principal))
        if bonus != ledger_bonus:
            found.append(Discrepancy(no, "stored-value bonus", bonus, ledger_bonus))
        # a balance below zero is only ever a flagged one (a return's reversal, an offline sale's payment)
        if balance < 0 and not points_flagged:
            found.append(Discrepancy(no, "points below zero, not flagged", balance, "flagged"))
        if (principal < 0 or bonus < 0) and not sv_flagged:
            found.append(Discrepancy(no, "stored value below zero, not flagged", principal + bonus, "flagged"))
    return found
