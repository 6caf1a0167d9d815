"""The read side of the funnel and product-preference dashboard (/analytics/funnel/): figures from
the member snapshot only (definitions.funnel_step, preferred_category), for a period and the stores a
user may see. Kept apart from the selectors package; its tables join selectors.TABLES (the exports)
when this module is imported (by views.py)."""

from datetime import timedelta

from django.db.models import Avg, Count, F, Q
from django.utils.translation import gettext_lazy as _

from . import definitions as d
from .models import MemberSnapshot
from .selectors import MONEY, PCT, TABLES, TEXT, Column, Scope, Table, cents, snapshot_day

STEP_LABELS = {
    "acquired": _("Acquired"),
    "activated": _("Activated"),
    "retained": _("Retained"),
    "referred": _("Referred someone"),
}
STEP_FORMULAS = {
    "acquired": _("Members enrolled in the period (accounts active now)."),
    "activated": _("Acquired members who made a first purchase by the snapshot day."),
    "retained": _("Activated members whose second purchase came within %(days)s days of the first."),
    "referred": _("Retained members with at least one member enrolled with them as referrer."),
}


def funnel_counts(scope: Scope) -> dict[str, int]:
    """Members at each funnel step for the members enrolled in the scope's period at its stores."""
    start, end = d.day_start(scope.start), d.day_start(scope.end + timedelta(days=1))
    retained = Q(
        first_purchase_at__isnull=False,
        second_purchase_at__isnull=False,
        second_purchase_at__lte=F("first_purchase_at") + timedelta(days=d.RETAINED_WITHIN_DAYS),
    )
    return MemberSnapshot.objects.filter(
        scope.stores_q("home_store"), member__joined_at__gte=start, member__joined_at__lt=end
    ).aggregate(
        acquired=Count("pk"),
        activated=Count("pk", filter=Q(first_purchase_at__isnull=False)),
        retained=Count("pk", filter=retained),
        referred=Count("pk", filter=retained & Q(referrals__gt=0)),
    )


def funnel(scope: Scope) -> Table:
    counts = funnel_counts(scope)
    rows, previous = [], None
    for step in d.FUNNEL_STEPS:
        n = counts[step]
        rows.append(
            {
                "key": step,
                "step": STEP_LABELS[step],
                "members": n,
                "from_previous": d.funnel_rate(n, previous) if previous is not None else None,
                "of_acquired": d.funnel_rate(n, counts["acquired"]),
                "formula": str(STEP_FORMULAS[step]) % {"days": d.RETAINED_WITHIN_DAYS}
                if step == "retained"
                else STEP_FORMULAS[step],
            }
        )
        previous = n
    day = snapshot_day()
    return Table(
        "funnel",
        _("Member funnel"),
        [
            Column("step", _("Step"), TEXT),
            Column("members", _("Members")),
            Column("from_previous", _("Of the step before"), PCT),
            Column("of_acquired", _("Of acquired"), PCT),
            Column("formula", _("Definition"), TEXT),
        ],
        rows,
        note=(
            _("Members enrolled from %(start)s to %(end)s at their home store, followed up to the snapshot of %(day)s.")
            % {"start": scope.start, "end": scope.end, "day": day}
            if day
            else _("No member snapshot yet.")
        ),
    )


def preferences(scope: Scope) -> Table:
    """Members per preferred category at the scope's stores, as of the latest snapshot."""
    rows = list(
        MemberSnapshot.objects.filter(scope.stores_q("home_store"))
        .exclude(preferred_category="")
        .order_by()
        .values("preferred_category")
        .annotate(members=Count("pk"), average=Avg("monetary"))
    )
    total = sum(r["members"] for r in rows)
    out = [
        {
            "category": r["preferred_category"],
            "members": r["members"],
            "share": d.ratio(r["members"], total),
            "average": cents(r["average"]) if r["average"] is not None else None,
        }
        for r in sorted(rows, key=lambda r: (-r["members"], r["preferred_category"]))
    ]
    day = snapshot_day()
    return Table(
        "preferences",
        _("Members per preferred category"),
        [
            Column("category", _("Preferred category"), TEXT),
            Column("members", _("Members")),
            Column("share", _("Share of members with a preference"), PCT),
            Column("average", _("Average spend in the window"), MONEY),
        ],
        out,
        note=_(
            "Preferred category: the sale-line category with the highest net spend over the RFM window (returns"
            " deducted, ties to the most recent); as of %(day)s."
        )
        % {"day": day}
        if day
        else _("No member snapshot yet."),
    )


TABLES.update({"funnel": funnel, "preferences": preferences})
