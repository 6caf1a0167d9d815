"""The clerk ledger: enrolments and member sales per clerk, against their share of the store's target."""

from django.db.models import Count, Sum
from django.utils.translation import gettext_lazy as _

from membership.models import Role, User

from .. import definitions as d
from ..models import ClerkDay
from .base import MONEY, PCT, RATIO, TEXT, Column, Scope, Table
from .targets import period_targets

# ---------------------------------------------------------------------------------------------
# clerks
# ---------------------------------------------------------------------------------------------


def clerks(scope: Scope) -> Table:
    fields = [
        "enrolments",
        "sales_count",
        "sales_amount",
        "returns_amount",
        "member_sales_count",
        "member_sales_amount",
        "member_returns_amount",
    ]
    stores = scope.tree.nodes
    rows = list(
        ClerkDay.objects.filter(scope.stores_q(), day__gte=scope.start, day__lte=scope.end)
        .order_by()
        .values("store", "clerk")
        .annotate(**{f: Sum(f) for f in fields})
    )
    users = {u.pk: u for u in User.objects.filter(pk__in={r["clerk"] for r in rows if r["clerk"]})}
    out = []
    for r in rows:
        user = users.get(r["clerk"])
        out.append(
            {
                **r,
                "store_name": f"{stores[r['store']].code} {stores[r['store']].name}",
                "clerk_name": (user.get_full_name() or user.username) if user else _("No clerk (web, poster)"),
                "username": user.username if user else "",
                "member_net_sales": d.net_sales(r["member_sales_amount"], r["member_returns_amount"]),
                "card_opening_rate": d.card_opening_rate(r["member_sales_count"], r["sales_count"]),
            }
        )
    store_ids = {r["store"] for r in rows}
    targets = period_targets(scope, store_ids)
    staff = dict(
        User.objects.filter(store__in=store_ids, is_active=True, role__in=[Role.CLERK, Role.MANAGER])
        .order_by()
        .values("store")
        .annotate(n=Count("id"))
        .values_list("store", "n")
    )
    for r in out:
        share = d.clerk_target_share(targets.get(r["store"]), staff.get(r["store"], 0)) if r["clerk"] else None
        r["target_share"] = share
        r["target_progress"] = d.target_progress(r["enrolments"], share) if share else None
    out.sort(key=lambda r: (r["store_name"], -r["enrolments"], -r["member_sales_count"], r["username"]))
    return Table(
        "clerks",
        _("Clerk ledger"),
        [
            Column("store_name", _("Store"), TEXT),
            Column("clerk_name", _("Clerk"), TEXT),
            Column("username", _("Username"), TEXT),
            Column("enrolments", _("Enrolments")),
            Column("target_share", _("Enrolment target share"), RATIO),
            Column("target_progress", _("Of the share"), PCT),
            Column("sales_count", _("Sales")),
            Column("member_sales_count", _("Member sales")),
            Column("card_opening_rate", _("Card-opening rate"), PCT),
            Column("member_net_sales", _("Member net sales"), MONEY),
        ],
        out,
        note=_(
            "Target share: the store's new-member target for the period (each month's target by its days in the "
            "period) ÷ the store's active clerks and managers."
        ),
    )
