"""The counter's reads: the queries the till's pages show, in one place (views build none)."""

from decimal import Decimal

from django.db.models import Case, Count, Q, Sum, When

from membership.models import Member, StoredValueEntry, TopUpPlan

from .models import Return, Sale


def returnable_sales(member: Member, limit: int = 10) -> list[Sale]:
    """The member's latest sales that still have something to return."""
    return [
        s for s in Sale.objects.filter(member=member).order_by("-created_at")[:limit] if s.returned_amount < s.amount
    ]


def top_up_plans():
    return TopUpPlan.objects.filter(is_active=True)


def sale_to_return(receipt_no: str, store) -> Sale | None:
    """The sale a return names by its receipt number: at any store of the chain, the clerk's own
    store's receipt winning a tie, then the latest."""
    return (
        Sale.objects.filter(receipt_no=receipt_no.strip())
        .select_related("member")
        .order_by(Case(When(store=store, then=0), default=1), "-created_at")
        .first()
    )


def clerk_day(clerk, start) -> dict:
    """A clerk's day since `start`: sales, returns, top-ups, members enrolled, the latest sales."""
    mine = Sale.objects.filter(clerk=clerk, created_at__gte=start)
    totals = mine.aggregate(
        count=Count("id"),
        members=Count("id", filter=Q(member__isnull=False)),
        amount=Sum("amount"),
        points=Sum("points_earned"),
    )
    returns = Return.objects.filter(clerk=clerk, created_at__gte=start).aggregate(
        count=Count("id"), amount=Sum("amount")
    )
    topups = StoredValueEntry.objects.filter(
        operator=clerk, kind=StoredValueEntry.Kind.TOPUP, created_at__gte=start
    ).aggregate(count=Count("id"), amount=Sum("principal"))
    net = (totals["amount"] or Decimal(0)) - (returns["amount"] or Decimal(0))
    enrolled = Member.objects.filter(enrolled_by=clerk, joined_at__gte=start).count()
    recent = list(
        mine.select_related("member")
        .annotate(points_reversed=Sum("returns__purchase_return__points_reversed"))
        .order_by("-created_at")[:20]
    )
    for sale in recent:  # a returned sale is marked, with the points it keeps (issue 31)
        sale.points_net = sale.points_earned - (sale.points_reversed or 0)
        sale.fully_returned = sale.returned_amount >= sale.amount
    return {"totals": totals, "returns": returns, "topups": topups, "net": net, "enrolled": enrolled, "recent": recent}


def flagged_sales(store, limit: int = 50):
    """The store's sales flagged for the manager (a queued sale that overdrew a balance or is backdated)."""
    return (
        Sale.objects.filter(store=store, flagged=True).select_related("member", "clerk").order_by("-created_at")[:limit]
    )


def recent_top_ups(member: Member, limit: int = 5):
    """The member's latest top-ups with their refunds (the desk's refund list)."""
    return (
        StoredValueEntry.objects.filter(member=member, kind=StoredValueEntry.Kind.TOPUP)
        .prefetch_related("refunds")
        .order_by("-created_at")[:limit]
    )
