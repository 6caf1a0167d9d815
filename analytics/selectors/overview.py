"""The KPI cards of the overview: each figure of the period beside the previous period's."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .. import definitions as d
from ..models import MonthSameDays
from .base import INT, MONEY, PCT, Scope
from .sums import balances_at, lifecycle_on, month_row, totals, window_rates

# ---------------------------------------------------------------------------------------------
# KPI cards
# ---------------------------------------------------------------------------------------------


@dataclass
class Kpi:
    key: str
    label: str
    kind: str
    value: object
    previous: object
    note: str = ""
    formula: str = ""

    @property
    def change(self):
        if self.kind in (PCT,):
            return None if self.value is None or self.previous is None else self.value - self.previous
        return d.change(self.value, self.previous)

    @property
    def change_kind(self) -> str:
        return "points" if self.kind == PCT else "pct"


def kpis(scope: Scope) -> list[Kpi]:
    now, before = totals(scope), totals(scope, scope.prev_start, scope.prev_end)
    both = balances_at(scope, [scope.end, scope.prev_end])
    bal_now, bal_before = both[scope.end], both[scope.prev_end]
    base_before = scope.prev_start - timedelta(days=1)
    lives = lifecycle_on(scope, [scope.end, scope.prev_end, base_before])
    life_now, life_before = lives[scope.end], lives[scope.prev_end]
    windows = window_rates(scope, [scope.end, scope.prev_end])
    month = d.month_start(scope.end)
    m_now = month_row(scope, month)
    m_before, note = month_before(scope, month)
    return [
        *_sales_kpis(now, before),
        *_member_kpis(now, before, life_now, life_before, lives[base_before]),
        *_repurchase_kpis(scope, note, m_now, m_before, windows),
        *_liability_kpis(bal_now, bal_before),
    ]


def month_before(scope: Scope, month) -> tuple[object, str]:
    """What the month's distinct-member figures compare with, and the card's note saying so: like
    periods (issue 31). A month under way (month to date) against the same days of the month before
    (MonthSameDays, rolled with it); a whole month against the whole month before."""
    mine = Q(store__isnull=True) | (Q(store=scope.stats_store) if scope.stats_store else Q(pk__in=[]))
    same = {r.store_id: r for r in MonthSameDays.objects.filter(mine, month=month)}
    if same:
        row = next(iter(same.values()))  # the chain's row is always written while the month is under way
        return same.get(scope.stats_store.pk if scope.stats_store else None), _(
            "%(start)s to %(end)s, against the same days of the month before (%(pstart)s to %(pend)s)"
        ) % {
            "start": f"{month:%Y-%m-%d}",
            "end": f"{row.to_date:%m-%d}",
            "pstart": f"{d.month_start(row.through):%m-%d}",
            "pend": f"{row.through:%m-%d}",
        }
    prev_month = d.month_start(month - timedelta(days=1))
    return month_row(scope, prev_month), _("%(month)s, against the month before") % {"month": f"{month:%Y-%m}"}


def _repurchase(m):
    return d.repurchase_rate(m.repeat_buyers, m.buyers) if m else None


def _sales_kpis(now: dict, before: dict) -> list[Kpi]:
    """Net sales, sales, average ticket, member share, card-opening rate (member tickets)."""
    f = d.FORMULAS
    return [
        Kpi("net_sales", _("Net sales"), MONEY, now["net_sales"], before["net_sales"], formula=f["net_sales"]),
        Kpi("sales_count", _("Sales"), INT, now["sales_count"], before["sales_count"]),
        Kpi(
            "average_ticket",
            _("Average ticket"),
            MONEY,
            now["average_ticket"],
            before["average_ticket"],
            formula=f["average_ticket"],
        ),
        Kpi(
            "member_share",
            _("Member share of sales"),
            PCT,
            now["member_share"],
            before["member_share"],
            formula=f["member_share"],
        ),
        Kpi(
            "card_opening_rate",
            _("Card-opening rate (member tickets)"),
            PCT,
            now["card_opening_rate"],
            before["card_opening_rate"],
            formula=f["card_opening_rate"],
        ),
    ]


def _member_kpis(now: dict, before: dict, life_now: dict, life_before: dict, life_base: dict) -> list[Kpi]:
    """New cards and members, development, member growth (`life_base`: the day before the previous
    period), active members and the activity rate."""
    f = d.FORMULAS
    return [
        Kpi(
            "new_card_rate",
            _("Card-opening rate (new cards)"),
            PCT,
            d.new_card_rate(now["new_members"], now["sales_count"]),
            d.new_card_rate(before["new_members"], before["sales_count"]),
            formula=f["new_card_rate"],
        ),
        Kpi("new_members", _("New members"), INT, now["new_members"], before["new_members"]),
        Kpi(
            "development_rate",
            _("Development rate"),
            PCT,
            d.development_rate(now["new_members"], now["sales_count"], now["member_sales_count"]),
            d.development_rate(before["new_members"], before["sales_count"], before["member_sales_count"]),
            formula=f["development_rate"],
        ),
        Kpi(
            "member_growth_rate",
            _("Member growth rate"),
            PCT,
            d.member_growth_rate(life_now["members"], life_before["members"]),
            d.member_growth_rate(life_before["members"], life_base["members"]),
            formula=f["member_growth_rate"],
        ),
        Kpi(
            "active",
            _("Active members"),
            INT,
            life_now["active"],
            life_before["active"],
            note=_("at the end of the period"),
        ),
        Kpi(
            "activity_rate",
            _("Activity rate"),
            PCT,
            d.activity_rate(life_now["active"], life_now["members"]),
            d.activity_rate(life_before["active"], life_before["members"]),
            formula=f["activity_rate"],
        ),
    ]


def _repurchase_kpis(scope: Scope, note: str, m_now, m_before, windows: dict) -> list[Kpi]:
    """The month's repurchase rate against the month before's (`note`: which days), and the rolling
    window's."""
    f = d.FORMULAS
    return [
        Kpi(
            "repurchase_rate",
            _("Repurchase rate"),
            PCT,
            _repurchase(m_now),
            _repurchase(m_before),
            note=note,
            formula=f["repurchase_rate"],
        ),
        Kpi(
            "window_repurchase_rate",
            _("Repurchase rate, last %(days)s days") % {"days": scope.window},
            PCT,
            windows[scope.end],
            windows[scope.prev_end],
            note=_("the %(days)s days to the end of the period") % {"days": scope.window},
            formula=f["window_repurchase_rate"] % {"days": scope.window},
        ),
    ]


def _liability_kpis(bal_now: dict, bal_before: dict) -> list[Kpi]:
    """Points and stored-value liability at the end of each period."""
    return [
        Kpi(
            "points_liability",
            _("Points liability"),
            MONEY,
            bal_now["points_liability"],
            bal_before["points_liability"],
            note=_("at the end of the period"),
        ),
        Kpi(
            "sv_liability",
            _("Stored-value liability"),
            MONEY,
            bal_now["sv_liability"],
            bal_before["sv_liability"],
            note=_("at the end of the period"),
        ),
    ]
