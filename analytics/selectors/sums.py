"""Store days summed over a period, the balances at a day's end, the lifecycle counts of a day, a
month's distinct-member row and the rolling repurchase rates."""

from datetime import date
from decimal import Decimal

from django.db.models import Q, Sum

from membership.models import ProgramSettings

from .. import definitions as d
from ..models import LifecycleDay, MonthStats, RepurchaseWindow, StoreDay
from ..services.rollups import LIFECYCLE_FIELDS
from .base import Scope

# ---------------------------------------------------------------------------------------------
# store days: sums over a period
# ---------------------------------------------------------------------------------------------

SUM_FIELDS = [
    "sales_count",
    "sales_amount",
    "returns_count",
    "returns_amount",
    "member_sales_count",
    "member_sales_amount",
    "member_returns_amount",
    "new_members",
    "points_issued",
    "points_redeemed",
    "points_expired",
    "points_net",
    "sv_in",
    "sv_out",
    "sv_principal_net",
    "sv_bonus_net",
    "coupons_granted",
    "coupons_used",
    "coupon_discount",
]


def cents(value):
    """Money sums to the fen (SQLite adds decimals as floats; the error is far below a fen)."""
    return value.quantize(d.CENT) if isinstance(value, Decimal) else value


def _sums(queryset, fields=SUM_FIELDS) -> dict:
    row = queryset.aggregate(**{f: Sum(f) for f in fields})
    return {k: (cents(v) if v is not None else 0) for k, v in row.items()}


def totals(scope: Scope, start: date | None = None, end: date | None = None) -> dict:
    """Sums of StoreDay over [start, end] (default the scope's period) plus the derived figures."""
    start, end = start or scope.start, end or scope.end
    t = _sums(StoreDay.objects.filter(scope.stores_q(), day__gte=start, day__lte=end))
    return derive(t)


def derive(t: dict) -> dict:
    t["net_sales"] = d.net_sales(t["sales_amount"], t["returns_amount"])
    t["member_net_sales"] = d.net_sales(t["member_sales_amount"], t["member_returns_amount"])
    t["card_opening_rate"] = d.card_opening_rate(t["member_sales_count"], t["sales_count"])
    t["member_share"] = d.member_share(t["member_net_sales"], t["net_sales"])
    t["average_ticket"] = d.average_ticket(t["net_sales"], t["sales_count"])
    return t


BALANCE_FIELDS = [
    "points_net",
    "sv_principal_net",
    "sv_bonus_net",
    "member_sales_amount",
    "member_returns_amount",
    "new_members",
]


def balances(scope: Scope, end: date) -> dict:
    """Outstanding points, stored value and members' net sales up to the end of `end` (LTV too)."""
    return balances_at(scope, [end])[end]


def balances_at(scope: Scope, ends: list[date]) -> dict[date, dict]:
    """balances() at several days, in one pass over the store days."""
    last = max(ends)
    row = StoreDay.objects.filter(scope.stores_q(), day__lte=last).aggregate(
        **{f"{f}_{i}": Sum(f, filter=Q(day__lte=end)) for i, end in enumerate(ends) for f in BALANCE_FIELDS}
    )
    rate = ProgramSettings.load().redeem_points_per_yuan
    out = {}
    for i, end in enumerate(ends):
        t = {f: cents(row[f"{f}_{i}"]) if row[f"{f}_{i}"] is not None else 0 for f in BALANCE_FIELDS}
        points = d.points_outstanding(t["points_net"])
        member_net = d.net_sales(t["member_sales_amount"], t["member_returns_amount"])
        out[end] = {
            "points": points,
            "points_liability": d.points_liability(points, rate),
            "sv_principal": Decimal(t["sv_principal_net"]),
            "sv_bonus": Decimal(t["sv_bonus_net"]),
            "sv_liability": d.sv_liability(t["sv_principal_net"], t["sv_bonus_net"]),
            "member_net_sales": member_net,
            "members_enrolled": t["new_members"],
            "ltv": d.ltv(member_net, t["new_members"]),
        }
    return out


def lifecycle_at(scope: Scope, day: date) -> dict:
    return lifecycle_on(scope, [day])[day]


def lifecycle_on(scope: Scope, days: list[date]) -> dict[date, dict]:
    """lifecycle_at() of several days in one query (members by home store: sums over the stores)."""
    found = {
        r["day"]: {f: r[f] or 0 for f in LIFECYCLE_FIELDS}
        for r in LifecycleDay.objects.filter(scope.stores_q(), day__in=days)
        .order_by()
        .values("day")
        .annotate(**{f: Sum(f) for f in LIFECYCLE_FIELDS})
    }
    return {day: found.get(day) or {f: 0 for f in LIFECYCLE_FIELDS} for day in days}


def month_row(scope: Scope, month: date) -> MonthStats | None:
    return MonthStats.objects.filter(month=month, store=scope.stats_store).first()


def window_rates(scope: Scope, days: list[date]) -> dict[date, Decimal | None]:
    """The repurchase rate over the scope's window ending on each of `days` (None where that day's
    windows were not rolled up)."""
    rows = {
        r.day: r
        for r in RepurchaseWindow.objects.filter(day__in=days, store=scope.stats_store, window_days=scope.window)
    }
    return {
        day: d.window_repurchase_rate(rows[day].repeat_buyers, rows[day].buyers) if day in rows else None
        for day in days
    }
