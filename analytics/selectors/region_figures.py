"""Every figure rolled up by region (issue 20)."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .. import definitions as d
from ..models import LifecycleDay, MonthStats, RepurchaseWindow
from .base import MONEY, PCT, TEXT, Column, Scope, Table
from .sales import store_sums
from .sums import SUM_FIELDS, cents, derive

# ---------------------------------------------------------------------------------------------
# regions: every figure rolled up by region (issue 20)
# ---------------------------------------------------------------------------------------------


def regions(scope: Scope) -> Table:
    """Per region of the scope (every node with nodes under it, the scope's own included): the
    additive figures summed over its subtree, and the distinct-member ones (repurchase) from the
    rows the roll-ups computed over the subtree as a whole (definitions, "Regions")."""
    tree = scope.tree
    inside = set(scope.store_ids) if scope.store else set(tree.nodes)
    nodes = [n for n in tree.regions() if n.pk in inside]
    whole = len(tree.nodes)
    if not [n for n in nodes if len(tree.subtree_ids(n.pk)) < whole]:
        nodes = []  # no region but the root over the whole chain: the KPIs above are its figures
    columns = [
        Column("store", _("Region"), TEXT),
        Column("stores", _("Stores")),
        Column("sales_count", _("Sales")),
        Column("net_sales", _("Net sales"), MONEY),
        Column("member_net_sales", _("Member net sales"), MONEY),
        Column("member_share", _("Member share"), PCT),
        Column("new_members", _("New members")),
        Column("development_rate", _("Development rate"), PCT),
        Column("members", _("Members")),
        Column("active", _("Active members")),
        Column("activity_rate", _("Activity rate"), PCT),
        Column("repurchase_rate", _("Repurchase rate (month)"), PCT),
        Column("window_repurchase_rate", _("Repurchase rate, last %(days)s days") % {"days": scope.window}, PCT),
    ]
    if not nodes:
        return Table("regions", _("Figures by region"), columns, [])
    sums = {r["store"]: r for r in store_sums(scope)}
    life = {
        r["store"]: r
        for r in LifecycleDay.objects.filter(scope.stores_q(), day=scope.end)
        .order_by()
        .values("store", "members", "active")
    }
    key = {n.pk: (None if len(tree.subtree_ids(n.pk)) == whole else n.pk) for n in nodes}
    month = d.month_start(scope.end)
    monthly = {
        m.store_id: m
        for m in MonthStats.objects.filter(month=month).filter(
            Q(store__in=[k for k in key.values() if k]) | Q(store__isnull=True)
        )
    }
    windows = {
        w.store_id: w
        for w in RepurchaseWindow.objects.filter(day=scope.end, window_days=scope.window).filter(
            Q(store__in=[k for k in key.values() if k]) | Q(store__isnull=True)
        )
    }
    rows = []
    for node in nodes:
        ids = tree.subtree_ids(node.pk)
        t = derive({f: sum((sums[pk][f] or 0 for pk in ids if pk in sums), 0) for f in SUM_FIELDS})
        t = {k: cents(v) for k, v in t.items()}
        members = sum(life[pk]["members"] for pk in ids if pk in life)
        active = sum(life[pk]["active"] for pk in ids if pk in life)
        m, w = monthly.get(key[node.pk]), windows.get(key[node.pk])
        rows.append(
            {
                **t,
                "store": f"{node.code} {node.name}",
                "stores": sum(1 for pk in ids if tree.is_leaf(pk)),
                "members": members,
                "active": active,
                "activity_rate": d.activity_rate(active, members),
                "development_rate": d.development_rate(t["new_members"], t["sales_count"], t["member_sales_count"]),
                "repurchase_rate": d.repurchase_rate(m.repeat_buyers, m.buyers) if m else None,
                "window_repurchase_rate": d.window_repurchase_rate(w.repeat_buyers, w.buyers) if w else None,
            }
        )
    return Table(
        "regions",
        _("Figures by region"),
        columns,
        rows,
        note=_(
            "Sales, new members and members are sums over each region's stores; repurchase rates count "
            "each member once over the whole region. Repurchase (month): %(month)s."
        )
        % {"month": f"{month:%Y-%m}"},
    )
