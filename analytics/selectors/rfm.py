"""RFM: the classes by store, the drill-down cards and the members of a class."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from membership.models import Store

from .. import definitions as d
from ..models import MemberSnapshot, RfmClass, RfmDay
from .base import MONEY, TEXT, Column, Scope, Table, snapshot_day

# ---------------------------------------------------------------------------------------------
# RFM
# ---------------------------------------------------------------------------------------------


def rfm_counts(scope: Scope) -> Table:
    day = snapshot_day()
    stores = {s.pk: s for s in Store.objects.all()}
    counts = defaultdict(lambda: {c: 0 for c in RfmClass.values})
    spend = defaultdict(Decimal)
    if day:
        for r in RfmDay.objects.filter(scope.stores_q(), day=day).values("store", "rfm_class", "members", "monetary"):
            counts[r["store"]][r["rfm_class"]] = r["members"]
            spend[r["rfm_class"]] += r["monetary"]
    rows = []
    for store_id in sorted(counts, key=lambda pk: stores[pk].code):
        c = counts[store_id]
        rows.append({"store": f"{stores[store_id].code} {stores[store_id].name}", **c, "total": sum(c.values())})
    if len(rows) > 1:
        total = {k: sum(r[k] for r in rows) for k in [*RfmClass.values, "total"]}
        rows.append({"store": _("All stores"), **total, "total_row": True})
    return Table(
        "rfm",
        _("RFM classes by store"),
        [Column("store", _("Store"), TEXT)]
        + [Column(c.value, c.label) for c in RfmClass]
        + [Column("total", _("Members scored"))],
        rows,
        note=_("As of %(day)s.") % {"day": day} if day else "",
    )


def rfm_summary(scope: Scope) -> list[dict]:
    """Per class: members, share and average spend in the window (the drill-down cards)."""
    day = snapshot_day()
    agg = (
        {
            r["rfm_class"]: r
            for r in RfmDay.objects.filter(scope.stores_q(), day=day)
            .order_by()
            .values("rfm_class")
            .annotate(n=Sum("members"), spend=Sum("monetary"))
        }
        if day
        else {}
    )
    total = sum(r["n"] for r in agg.values())
    return [
        {
            "key": c.value,
            "label": c.label,
            "members": agg.get(c.value, {}).get("n", 0),
            "share": d.ratio(agg.get(c.value, {}).get("n", 0), total),
            "average": d.ratio(agg.get(c.value, {}).get("spend", 0), agg.get(c.value, {}).get("n", 0)),
        }
        for c in RfmClass
    ]


def rfm_members(scope: Scope, rfm_class: str):
    """The drill-down: members of a class at the scope's stores, best spenders first."""
    return (
        MemberSnapshot.objects.filter(scope.stores_q("home_store"), rfm_class=rfm_class)
        .select_related("member", "home_store", "tier")
        .order_by("-monetary", "member_id")
    )


def rfm_member_table(scope: Scope, rfm_class: str, rows) -> Table:
    label = dict(RfmClass.choices).get(rfm_class, rfm_class)
    return Table(
        f"rfm-{rfm_class}",
        _("Members: %(cls)s") % {"cls": label},
        [
            Column("member_no", _("Member number"), TEXT),
            Column("name", _("Name"), TEXT),
            Column("phone", _("Mobile"), TEXT),
            Column("store", _("Home store"), TEXT),
            Column("tier", _("Tier"), TEXT),
            Column("recency_days", _("Days since last purchase")),
            Column("frequency", _("Purchases")),
            Column("monetary", _("Spend"), MONEY),
            Column("rfm", _("R-F-M"), TEXT),
            Column("stage", _("Stage"), TEXT),
        ],
        [
            {
                "member_no": s.member.member_no,
                "name": s.member.name,
                "phone": s.member.masked_phone,
                "store": s.home_store.code,
                "tier": s.tier.name,
                "recency_days": s.recency_days,
                "frequency": s.frequency,
                "monetary": s.monetary,
                "rfm": f"{s.r_score}-{s.f_score}-{s.m_score}",
                "stage": s.get_stage_display(),
            }
            for s in rows
        ],
    )
