"""Monthly targets (issue 20): the effective targets of a month, the progress of the period's month,
the targets prorated to a period."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from membership.models import StoreTree

from .. import definitions as d
from ..models import StoreDay, Target
from .base import INT, MONEY, PCT, Scope
from .sums import _sums, month_row

# ---------------------------------------------------------------------------------------------
# monthly targets (issue 20)
# ---------------------------------------------------------------------------------------------

TARGET_ADDITIVE = ("new_members", "member_sales")


def effective_targets(month: date, tree: StoreTree | None = None) -> dict[int | None, dict]:
    """{node: {new_members, member_sales, repurchase_rate, covers}} of a month: a node's own target,
    or (without one) the sums of its child nodes' for the additive ones; the chain (None): the sums
    over the roots. Nodes with no target anywhere under them are left out. `covers`: the nodes whose
    figures the target is for (a node's own target covers its subtree; a sum, the nodes its parts
    cover), so progress compares like with like: a region where only some stores have targets is
    measured on those stores' figures, never on the whole region's."""
    tree = tree or StoreTree.load()
    own = {t.store_id: t for t in Target.objects.filter(month=month)}
    return _effective(tree, own)


def _effective(tree: StoreTree, own: dict) -> dict[int | None, dict]:
    out: dict[int | None, dict] = {}

    def visit(pk):
        children = [visit(c.pk) for c in tree.children.get(pk, [])]
        children = [c for c in children if c]
        if pk in own:
            t = own[pk]
            got = {"new_members": t.new_members, "member_sales": t.member_sales, "repurchase_rate": t.repurchase_rate}
            got["covers"] = frozenset(tree.subtree_ids(pk))
        elif children:
            got = _summed(children)
        else:
            return None
        out[pk] = got
        return got

    roots = [visit(r.pk) for r in tree.children.get(None, [])]
    roots = [r for r in roots if r]
    if len(roots) == 1:
        out[None] = roots[0]
    elif roots:
        out[None] = _summed(roots)
    return out


def _summed(parts: list[dict]) -> dict:
    """The additive targets of `parts` summed, for the nodes they cover (no repurchase rate: rates do
    not add up)."""
    got = {k: sum((p[k] for p in parts), Decimal(0) if k == "member_sales" else 0) for k in TARGET_ADDITIVE}
    got["repurchase_rate"] = None
    got["covers"] = frozenset().union(*(p["covers"] for p in parts))
    return got


def scope_targets(scope: Scope, month: date) -> dict[int | None, dict]:
    """effective_targets() of the months of a scope, read once per scope (the page and its ledger)."""
    cache = scope.__dict__.setdefault("_targets", {})
    if not cache:
        first, last = d.month_start(min(scope.start, scope.end.replace(day=1))), d.month_start(scope.end)
        rows = defaultdict(dict)
        for t in Target.objects.filter(month__gte=first, month__lte=last):
            rows[t.month][t.store_id] = t
        m = first
        while m <= last:
            cache[m] = _effective(scope.tree, rows.get(m, {}))
            m = d.next_month(m)
    if month not in cache:
        cache[month] = effective_targets(month, scope.tree)
    return cache[month]


def _scope_target(scope: Scope) -> dict | None:
    return scope_targets(scope, d.month_start(scope.end)).get(scope.store.pk if scope.store else None)


def _partly_covered(scope: Scope, target: dict) -> bool:
    """Whether the scope's target covers only some of its stores (the leaves: a region node itself
    sells nothing), i.e. some stores have no target."""
    inside = scope.store_ids if scope.store else list(scope.tree.nodes)
    return any(scope.tree.is_leaf(pk) and pk not in target["covers"] for pk in inside)


def target_progress(scope: Scope) -> list[dict]:
    """Progress against the targets of the month of the period's end, month to date (the first of
    the month to the period's end): [{key, label, kind, actual, target, progress, bar}]. The actual
    figures are those of the stores the target covers (effective_targets), like with like."""
    month = d.month_start(scope.end)
    target = _scope_target(scope)
    if not target:
        return []
    stores = Q(store__in=target["covers"]) if _partly_covered(scope, target) else scope.stores_q()
    t = _sums(
        StoreDay.objects.filter(stores, day__gte=month, day__lte=scope.end),
        ["new_members", "member_sales_amount", "member_returns_amount"],
    )
    m = month_row(scope, month)
    actual = {
        "new_members": t["new_members"],
        "member_sales": d.net_sales(t["member_sales_amount"], t["member_returns_amount"]),
        "repurchase_rate": d.repurchase_rate(m.repeat_buyers, m.buyers) if m else None,
    }
    wanted = {k: target[k] for k in (*TARGET_ADDITIVE, "repurchase_rate")}
    if wanted["repurchase_rate"] is not None:
        wanted["repurchase_rate"] = Decimal(wanted["repurchase_rate"]) / 100
    out = []
    for key, label, kind in [
        ("new_members", _("New members"), INT),
        ("member_sales", _("Member net sales"), MONEY),
        ("repurchase_rate", _("Repurchase rate"), PCT),
    ]:
        if not wanted[key]:
            continue
        progress = d.target_progress(actual[key] or 0, wanted[key])
        out.append(
            {
                "key": key,
                "label": label,
                "kind": kind,
                "actual": actual[key],
                "target": wanted[key],
                "progress": progress,
                "bar": min(100, int((progress or 0) * 100)),
            }
        )
    return out


def target_coverage(scope: Scope) -> str:
    """What the target card compares, said on it when the scope's target covers only some of its
    stores: "" when every store of the scope has its target."""
    target = _scope_target(scope)
    if not target or not _partly_covered(scope, target):
        return ""
    tree = scope.tree
    inside = scope.store_ids if scope.store else list(tree.nodes)
    stores = [pk for pk in inside if tree.is_leaf(pk)]
    covered = [tree.nodes[pk] for pk in stores if pk in target["covers"]]
    return _(
        "Only %(stores)s have targets (%(count)s of %(total)s stores): the figures are theirs, "
        "measured against the sum of their targets."
    ) % {
        "stores": "、".join(f"{s.code} {s.name}" for s in sorted(covered, key=lambda s: s.code)),
        "count": len(covered),
        "total": len(stores),
    }


def period_targets(scope: Scope, store_ids) -> dict[int, Decimal]:
    """{store: its new-member target over the scope's period}: each month's target prorated to the
    days of the month in the period (definitions.prorated_target)."""
    out: dict[int, Decimal] = defaultdict(Decimal)
    month = d.month_start(scope.start)
    while month <= scope.end:
        last = d.next_month(month) - timedelta(days=1)
        days = (min(last, scope.end) - max(month, scope.start)).days + 1
        targets = scope_targets(scope, month)
        for pk in store_ids:
            if pk in targets and targets[pk]["new_members"]:
                out[pk] += d.prorated_target(targets[pk]["new_members"], days, last.day)
        month = d.next_month(month)
    return out
