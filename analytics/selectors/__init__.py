"""The read side of the dashboards: figures and tables from the roll-up tables only (never the raw
sales or ledgers), for a period and the stores a user may see. Every figure is a definition of
analytics/definitions.py applied to sums of the roll-ups.

A Scope is the period [start, end] (local days, inclusive), its previous period (as many days,
ending the day before start), and the store: a node of the store tree (one store, or a region and
every store under it), or None for every store (HQ only).

The package's modules, by concern (this module re-exports their names and holds TABLES):
`base` (the scope, the tables, freshness), `sums` (store days summed over a period, balances,
lifecycle counts, month rows, repurchase windows), `overview` (the KPI cards), `sales`, `members`
(lifecycle and tiers), `ledgers` (points and stored value), `rfm`, `campaign_results`,
`clerk_ledger`, `region_figures` and `targets` (monthly targets)."""

from .base import DAY, INT, MONEY, PCT, RATIO, TEXT, ZERO, Column, Scope, Table, last_rolled_day, snapshot_day
from .campaign_results import campaigns
from .clerk_ledger import clerks
from .ledgers import points_weeks
from .members import lifecycle, tiers, week_ends
from .overview import Kpi, kpis
from .region_figures import regions
from .rfm import rfm_counts, rfm_member_table, rfm_members, rfm_summary
from .sales import by_store, daily, months, store_sums
from .sums import (
    BALANCE_FIELDS,
    SUM_FIELDS,
    balances,
    balances_at,
    cents,
    derive,
    lifecycle_at,
    lifecycle_on,
    month_row,
    totals,
    window_rates,
)
from .targets import (
    TARGET_ADDITIVE,
    effective_targets,
    period_targets,
    scope_targets,
    target_coverage,
    target_progress,
)

__all__ = [
    "BALANCE_FIELDS",
    "DAY",
    "INT",
    "MONEY",
    "PCT",
    "RATIO",
    "SUM_FIELDS",
    "TABLES",
    "TARGET_ADDITIVE",
    "TEXT",
    "ZERO",
    "Column",
    "Kpi",
    "Scope",
    "Table",
    "balances",
    "balances_at",
    "by_store",
    "campaigns",
    "cents",
    "clerks",
    "daily",
    "derive",
    "effective_targets",
    "kpis",
    "last_rolled_day",
    "lifecycle",
    "lifecycle_at",
    "lifecycle_on",
    "month_row",
    "months",
    "period_targets",
    "points_weeks",
    "regions",
    "rfm_counts",
    "rfm_member_table",
    "rfm_members",
    "rfm_summary",
    "scope_targets",
    "snapshot_day",
    "store_sums",
    "target_coverage",
    "target_progress",
    "tiers",
    "totals",
    "week_ends",
    "window_rates",
]

TABLES = {
    "daily": daily,
    "stores": by_store,
    "months": months,
    "lifecycle": lifecycle,
    "tiers": tiers,
    "points": points_weeks,
    "rfm": rfm_counts,
    "campaigns": campaigns,
    "clerks": clerks,
    "regions": regions,
}
