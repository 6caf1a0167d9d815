"""Members: the lifecycle by week and the members by tier."""

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from membership.models import Tier

from .. import definitions as d
from ..models import AnalyticsSettings, LifecycleDay, TierDay
from ..services.rollups import LIFECYCLE_FIELDS
from .base import DAY, PCT, Column, Scope, Table

# ---------------------------------------------------------------------------------------------
# members: lifecycle and tiers
# ---------------------------------------------------------------------------------------------


def week_ends(scope: Scope) -> list[date]:
    """The Sundays in the period (each ends a week); the period's end when none falls in it."""
    first = d.week_end(scope.start)
    out = [
        first + timedelta(days=7 * k)
        for k in range(0, (scope.end - first).days // 7 + 1)
        if first + timedelta(days=7 * k) <= scope.end
    ]
    return out or [scope.end]


def lifecycle(scope: Scope) -> Table:
    ends = week_ends(scope)
    fields = LIFECYCLE_FIELDS
    by_day = {
        r["day"]: r
        for r in LifecycleDay.objects.filter(scope.stores_q(), day__in=ends + [e - timedelta(days=7) for e in ends])
        .order_by("day")
        .values("day")
        .annotate(**{f: Sum(f) for f in fields})
    }
    rows = []
    for end in ends:
        r = by_day.get(end)
        if r is None:
            continue
        before = by_day.get(end - timedelta(days=7)) or {f: 0 for f in fields}
        rows.append(
            {
                **r,
                "week": f"{end - timedelta(days=6):%m-%d}–{end:%m-%d}",
                "net_new_active": r["active"] - (before["active"] or 0)
                if end - timedelta(days=7) in by_day
                else r["new_active"] + r["revived"] - r["went_silent"],
                "churn_rate": d.churn_rate(r["newly_churned"], (before["active"] or 0) + (before["silent"] or 0))
                if end - timedelta(days=7) in by_day
                else None,
            }
        )
    settings = AnalyticsSettings.load()
    return Table(
        "lifecycle",
        _("Lifecycle by week"),
        [
            Column("day", _("Week ending"), DAY),
            Column("net_new_active", _("Net new active")),
            Column("new_active", _("New active")),
            Column("revived", _("Revived")),
            Column("went_silent", _("Went silent")),
            Column("newly_churned", _("Churned")),
            Column("churn_rate", _("Churn rate"), PCT),
            Column("members", _("Members")),
            Column("active", _("Active")),
            Column("silent", _("Silent")),
            Column("churned", _("Churned (all)")),
            Column("prospects", _("No purchase yet")),
        ],
        rows,
        note=_(
            "Active: a purchase in the last %(active)s days; silent: the last one %(active)s–%(silent)s days ago; "
            "churned: none for %(silent)s days."
        )
        % {"active": settings.active_days, "silent": settings.silent_days},
    )


def tiers(scope: Scope) -> Table:
    ends = week_ends(scope)
    if ends[-1] != scope.end:
        ends.append(scope.end)
    all_tiers = list(Tier.objects.order_by("rank"))
    counts = defaultdict(dict)
    for r in (
        TierDay.objects.filter(scope.stores_q(), day__in=ends)
        .order_by()
        .values("day", "tier")
        .annotate(n=Sum("members"))
    ):
        counts[r["day"]][r["tier"]] = r["n"]
    rows = [
        {"day": day, "total": sum(counts[day].values()), **{f"t{t.pk}": counts[day].get(t.pk, 0) for t in all_tiers}}
        for day in ends
        if day in counts
    ]
    return Table(
        "tiers",
        _("Members by tier"),
        [Column("day", _("Day"), DAY)]
        + [Column(f"t{t.pk}", t.name) for t in all_tiers]
        + [Column("total", _("Members"))],
        rows,
    )
