"""Sales tables: by day, by store (the per-store sums shared with the regions table) and the
repurchase and conversion months."""

from datetime import timedelta

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from .. import definitions as d
from ..models import MonthStats, StoreDay
from .base import DAY, MONEY, PCT, RATIO, TEXT, Column, Scope, Table
from .sums import SUM_FIELDS, derive

# ---------------------------------------------------------------------------------------------
# sales
# ---------------------------------------------------------------------------------------------


def daily(scope: Scope) -> Table:
    rows = {
        r["day"]: derive({**{f: r[f] or 0 for f in SUM_FIELDS}, "day": r["day"]})
        for r in (
            StoreDay.objects.filter(scope.stores_q(), day__gte=scope.start, day__lte=scope.end)
            .order_by("day")
            .values("day")
            .annotate(**{f: Sum(f) for f in SUM_FIELDS})
        )
    }
    out, day = [], scope.start
    while day <= scope.end:
        out.append(rows.get(day) or derive({**{f: 0 for f in SUM_FIELDS}, "day": day}))
        day += timedelta(days=1)
    return Table(
        "daily",
        _("Sales by day"),
        [
            Column("day", _("Day"), DAY),
            Column("sales_count", _("Sales")),
            Column("net_sales", _("Net sales"), MONEY),
            Column("returns_amount", _("Returns"), MONEY),
            Column("member_sales_count", _("Member sales")),
            Column("member_net_sales", _("Member net sales"), MONEY),
            Column("member_share", _("Member share"), PCT),
            Column("card_opening_rate", _("Card-opening rate"), PCT),
            Column("average_ticket", _("Average ticket"), MONEY),
            Column("new_members", _("New members")),
        ],
        out,
    )


def store_sums(scope: Scope) -> list[dict]:
    """SUM_FIELDS per store over the period, read once per scope (the stores and regions tables)."""
    if "_store_sums" not in scope.__dict__:
        scope.__dict__["_store_sums"] = list(
            StoreDay.objects.filter(scope.stores_q(), day__gte=scope.start, day__lte=scope.end)
            .order_by("store")
            .values("store")
            .annotate(**{f: Sum(f) for f in SUM_FIELDS})
        )
    return scope.__dict__["_store_sums"]


def by_store(scope: Scope) -> Table:
    nodes = scope.tree.nodes
    rows = [
        derive(
            {
                **{f: r[f] or 0 for f in SUM_FIELDS},
                "store": f"{nodes[r['store']].code} {nodes[r['store']].name}",
            }
        )
        for r in store_sums(scope)
    ]
    return Table(
        "stores",
        _("Sales by store"),
        [
            Column("store", _("Store"), TEXT),
            Column("sales_count", _("Sales")),
            Column("net_sales", _("Net sales"), MONEY),
            Column("member_net_sales", _("Member net sales"), MONEY),
            Column("member_share", _("Member share"), PCT),
            Column("card_opening_rate", _("Card-opening rate"), PCT),
            Column("average_ticket", _("Average ticket"), MONEY),
            Column("new_members", _("New members")),
            Column("points_issued", _("Points issued")),
            Column("coupons_used", _("Coupons used")),
        ],
        rows,
    )


def months(scope: Scope) -> Table:
    rows = []
    for m in MonthStats.objects.filter(
        store=scope.stats_store, month__gte=d.month_start(scope.start), month__lte=scope.end
    ).order_by("month"):
        rows.append(
            {
                "month": f"{m.month:%Y-%m}",
                "buyers": m.buyers,
                "repeat_buyers": m.repeat_buyers,
                "repurchase_rate": d.repurchase_rate(m.repeat_buyers, m.buyers),
                "repurchase_amount_share": d.repurchase_amount_share(m.repeat_amount, m.member_amount),
                "purchases": m.purchases,
                "purchase_frequency": d.purchase_frequency(m.purchases, m.buyers),
                "member_amount": m.member_amount,
                "new_members": m.new_members,
                "converted": m.converted,
                "conversion_rate": d.conversion_rate(m.converted, m.new_members),
            }
        )
    return Table(
        "months",
        _("Repurchase and conversion by month"),
        [
            Column("month", _("Month"), TEXT),
            Column("buyers", _("Buyers")),
            Column("repeat_buyers", _("Repeat buyers")),
            Column("repurchase_rate", _("Repurchase rate"), PCT),
            Column("repurchase_amount_share", _("Repurchase amount share"), PCT),
            Column("purchases", _("Purchases")),
            Column("purchase_frequency", _("Purchases per buyer"), RATIO),
            Column("member_amount", _("Member net sales"), MONEY),
            Column("new_members", _("New members")),
            Column("converted", _("New members who bought")),
            Column("conversion_rate", _("Conversion rate"), PCT),
        ],
        rows,
        note=_("Counts of distinct members per calendar month (month to date for the current month)."),
    )
