"""Points and stored value by week, with the balances at each week's end."""

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from membership.models import ProgramSettings

from .. import definitions as d
from ..models import StoreDay
from .base import DAY, MONEY, Column, Scope, Table
from .members import week_ends
from .sums import balances

# ---------------------------------------------------------------------------------------------
# points and stored value
# ---------------------------------------------------------------------------------------------


def points_weeks(scope: Scope) -> Table:
    """Per week (Monday to Sunday, cut to the period): points issued, redeemed, expired; stored value in
    and out; and the balances at the week's last day."""
    flows = [
        "points_issued",
        "points_redeemed",
        "points_expired",
        "points_net",
        "sv_in",
        "sv_out",
        "sv_principal_net",
        "sv_bonus_net",
    ]
    base = balances(scope, scope.start - timedelta(days=1))
    rate = ProgramSettings.load().redeem_points_per_yuan
    points, principal, bonus = base["points"], base["sv_principal"], base["sv_bonus"]
    weeks: dict[date, dict] = {}
    for r in (
        StoreDay.objects.filter(scope.stores_q(), day__gte=scope.start, day__lte=scope.end)
        .order_by("day")
        .values("day")
        .annotate(**{f: Sum(f) for f in flows})
    ):
        w = weeks.setdefault(min(d.week_end(r["day"]), scope.end), {f: 0 for f in flows})
        for f in flows:
            w[f] += r[f] or 0
    rows = []
    ends = sorted(set([min(e, scope.end) for e in week_ends(scope)] + [scope.end]))
    for end in ends:
        w = weeks.get(end, {f: 0 for f in flows})
        points += w["points_net"]
        principal += Decimal(w["sv_principal_net"])
        bonus += Decimal(w["sv_bonus_net"])
        rows.append(
            {
                "day": end,
                **w,
                "points_outstanding": points,
                "points_liability": d.points_liability(points, rate),
                "sv_liability": d.sv_liability(principal, bonus),
                "sv_principal": principal,
            }
        )
    return Table(
        "points",
        _("Points and stored value by week"),
        [
            Column("day", _("Week ending"), DAY),
            Column("points_issued", _("Points issued")),
            Column("points_redeemed", _("Points redeemed")),
            Column("points_expired", _("Points expired")),
            Column("points_outstanding", _("Points outstanding")),
            Column("points_liability", _("Points liability"), MONEY),
            Column("sv_in", _("Stored value in"), MONEY),
            Column("sv_out", _("Stored value out"), MONEY),
            Column("sv_principal", _("Stored-value principal"), MONEY),
            Column("sv_liability", _("Stored-value liability"), MONEY),
        ],
        rows,
        note=_("Points liability: outstanding points ÷ %(rate)s points per ¥1.") % {"rate": rate},
    )
