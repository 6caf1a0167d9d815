"""The read side of the dashboards: figures and tables from the roll-up tables only (never the raw
sales or ledgers), for a period and the stores a user may see. Every figure is a definition of
analytics/definitions.py applied to sums of the roll-ups.

A Scope is the period [start, end] (local days, inclusive), its previous period (as many days,
ending the day before start), and the store: a node of the store tree (one store, or a region and
every store under it), or None for every store (HQ only)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, Max, Q, Sum
from django.utils.translation import gettext_lazy as _

from campaigns.models import Scene, SceneGrant
from membership.models import ProgramSettings, Role, Store, StoreTree, Tier, User

from . import definitions as d
from .models import (
    AnalyticsSettings,
    CampaignDay,
    ClerkDay,
    LifecycleDay,
    MemberSnapshot,
    MonthStats,
    RepurchaseWindow,
    RfmClass,
    RfmDay,
    RollupRun,
    StoreDay,
    Target,
    TierDay,
)
from .services.rollups import LIFECYCLE_FIELDS

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Scope:
    start: date
    end: date
    store: Store | None = None
    ids: tuple | None = field(default=None, compare=False)  # the store's subtree, when known
    window: int = 90  # days of the rolling repurchase rate (definitions.REPURCHASE_WINDOWS)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def prev_end(self) -> date:
        return self.start - timedelta(days=1)

    @property
    def prev_start(self) -> date:
        return self.start - timedelta(days=self.days)

    def previous(self) -> "Scope":
        return Scope(self.prev_start, self.prev_end, self.store, self.store_ids, self.window)

    @cached_property
    def store_ids(self) -> tuple | None:
        """The nodes the scope covers (the store's subtree), None for every store."""
        if self.store is None:
            return None
        return self.ids if self.ids is not None else tuple(self.tree.subtree_ids(self.store.pk))

    @cached_property
    def tree(self) -> StoreTree:
        """The store tree (read once per request: forms.resolve hands over the one it read)."""
        return StoreTree.load()

    @cached_property
    def stats_store(self) -> Store | None:
        """The store of the scope's distinct-member rows (MonthStats, RepurchaseWindow): None, the
        chain's rows, for a root whose subtree is the whole tree."""
        if self.store is None or len(self.store_ids) == 1:
            return self.store
        return None if len(self.store_ids) == len(self.tree.nodes) else self.store

    def stores_q(self, field_name: str = "store") -> Q:
        """Rows of the scope's stores: a region's figures are the sums over its subtree."""
        if self.store is None:
            return Q()
        if len(self.store_ids) == 1:
            return Q(**{field_name: self.store})
        return Q(**{f"{field_name}__in": self.store_ids})


# ---------------------------------------------------------------------------------------------
# tables: what the pages show and the exports write
# ---------------------------------------------------------------------------------------------

INT, MONEY, PCT, RATIO, TEXT, DAY = "int", "money", "pct", "ratio", "text", "day"


@dataclass
class Column:
    key: str
    label: str
    kind: str = INT


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    note: str = ""

    def values(self, row: dict) -> list:
        return [row.get(c.key) for c in self.columns]

    def cells(self):
        """[(row, [(kind, value)])] for the templates."""
        return [(row, [(c.kind, row.get(c.key)) for c in self.columns]) for row in self.rows]


# ---------------------------------------------------------------------------------------------
# freshness
# ---------------------------------------------------------------------------------------------


def last_rolled_day() -> date | None:
    return RollupRun.objects.filter(kind="store").aggregate(d=Max("day"))["d"]


def snapshot_day() -> date | None:
    return RollupRun.objects.filter(kind="snapshot").aggregate(d=Max("day"))["d"]


# ---------------------------------------------------------------------------------------------
# store days: sums over a period
# ---------------------------------------------------------------------------------------------

SUM_FIELDS = [
    "sales_count",
    "sales_amount",
    "returns_count",
    "returns_amount",
    "member_sales_count",
    "member_sales_amount",
    "member_returns_amount",
    "new_members",
    "points_issued",
    "points_redeemed",
    "points_expired",
    "points_net",
    "sv_in",
    "sv_out",
    "sv_principal_net",
    "sv_bonus_net",
    "coupons_granted",
    "coupons_used",
    "coupon_discount",
]


def cents(value):
    """Money sums to the fen (SQLite adds decimals as floats; the error is far below a fen)."""
    return value.quantize(d.CENT) if isinstance(value, Decimal) else value


def _sums(queryset, fields=SUM_FIELDS) -> dict:
    row = queryset.aggregate(**{f: Sum(f) for f in fields})
    return {k: (cents(v) if v is not None else 0) for k, v in row.items()}


def totals(scope: Scope, start: date | None = None, end: date | None = None) -> dict:
    """Sums of StoreDay over [start, end] (default the scope's period) plus the derived figures."""
    start, end = start or scope.start, end or scope.end
    t = _sums(StoreDay.objects.filter(scope.stores_q(), day__gte=start, day__lte=end))
    return derive(t)


def derive(t: dict) -> dict:
    t["net_sales"] = d.net_sales(t["sales_amount"], t["returns_amount"])
    t["member_net_sales"] = d.net_sales(t["member_sales_amount"], t["member_returns_amount"])
    t["card_opening_rate"] = d.card_opening_rate(t["member_sales_count"], t["sales_count"])
    t["member_share"] = d.member_share(t["member_net_sales"], t["net_sales"])
    t["average_ticket"] = d.average_ticket(t["net_sales"], t["sales_count"])
    return t


BALANCE_FIELDS = [
    "points_net",
    "sv_principal_net",
    "sv_bonus_net",
    "member_sales_amount",
    "member_returns_amount",
    "new_members",
]


def balances(scope: Scope, end: date) -> dict:
    """Outstanding points, stored value and members' net sales up to the end of `end` (LTV too)."""
    return balances_at(scope, [end])[end]


def balances_at(scope: Scope, ends: list[date]) -> dict[date, dict]:
    """balances() at several days, in one pass over the store days."""
    last = max(ends)
    row = StoreDay.objects.filter(scope.stores_q(), day__lte=last).aggregate(
        **{f"{f}_{i}": Sum(f, filter=Q(day__lte=end)) for i, end in enumerate(ends) for f in BALANCE_FIELDS}
    )
    rate = ProgramSettings.load().redeem_points_per_yuan
    out = {}
    for i, end in enumerate(ends):
        t = {f: cents(row[f"{f}_{i}"]) if row[f"{f}_{i}"] is not None else 0 for f in BALANCE_FIELDS}
        points = d.points_outstanding(t["points_net"])
        member_net = d.net_sales(t["member_sales_amount"], t["member_returns_amount"])
        out[end] = {
            "points": points,
            "points_liability": d.points_liability(points, rate),
            "sv_principal": Decimal(t["sv_principal_net"]),
            "sv_bonus": Decimal(t["sv_bonus_net"]),
            "sv_liability": d.sv_liability(t["sv_principal_net"], t["sv_bonus_net"]),
            "member_net_sales": member_net,
            "members_enrolled": t["new_members"],
            "ltv": d.ltv(member_net, t["new_members"]),
        }
    return out


def lifecycle_at(scope: Scope, day: date) -> dict:
    return lifecycle_on(scope, [day])[day]


def lifecycle_on(scope: Scope, days: list[date]) -> dict[date, dict]:
    """lifecycle_at() of several days in one query (members by home store: sums over the stores)."""
    found = {
        r["day"]: {f: r[f] or 0 for f in LIFECYCLE_FIELDS}
        for r in LifecycleDay.objects.filter(scope.stores_q(), day__in=days)
        .order_by()
        .values("day")
        .annotate(**{f: Sum(f) for f in LIFECYCLE_FIELDS})
    }
    return {day: found.get(day) or {f: 0 for f in LIFECYCLE_FIELDS} for day in days}


def month_row(scope: Scope, month: date) -> MonthStats | None:
    return MonthStats.objects.filter(month=month, store=scope.stats_store).first()


def window_rates(scope: Scope, days: list[date]) -> dict[date, Decimal | None]:
    """The repurchase rate over the scope's window ending on each of `days` (None where that day's
    windows were not rolled up)."""
    rows = {
        r.day: r
        for r in RepurchaseWindow.objects.filter(day__in=days, store=scope.stats_store, window_days=scope.window)
    }
    return {
        day: d.window_repurchase_rate(rows[day].repeat_buyers, rows[day].buyers) if day in rows else None
        for day in days
    }


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
    f = d.FORMULAS
    month = d.month_start(scope.end)
    prev_month = d.month_start(month - timedelta(days=1))
    m_now, m_before = month_row(scope, month), month_row(scope, prev_month)

    def rep(m):
        return d.repurchase_rate(m.repeat_buyers, m.buyers) if m else None

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
            d.member_growth_rate(life_before["members"], lives[base_before]["members"]),
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
        Kpi(
            "repurchase_rate",
            _("Repurchase rate"),
            PCT,
            rep(m_now),
            rep(m_before),
            note=_("%(month)s, against the month before") % {"month": f"{month:%Y-%m}"},
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


# ---------------------------------------------------------------------------------------------
# campaigns
# ---------------------------------------------------------------------------------------------


def campaigns(scope: Scope, settings: AnalyticsSettings | None = None) -> Table:
    """Per scene and variant, for the grants (and the scene's coupons) of the period: members,
    claims, coupons issued and used, usage rate, sales after the grant, incremental sales, cost, ROI."""
    settings = settings or AnalyticsSettings.load()
    agg = {}
    for r in (
        CampaignDay.objects.filter(scope.stores_q(), day__gte=scope.start, day__lte=scope.end)
        .order_by()
        .values("scene", "variant")
        .annotate(
            grants=Sum("grants"),
            claimed=Sum("claimed"),
            points=Sum("points"),
            sales_after=Sum("sales_after"),
            coupons_issued=Sum("coupons_issued"),
            coupons_used=Sum("coupons_used"),
            coupon_discount=Sum("coupon_discount"),
            cost=Sum("cost"),
        )
    ):
        agg[(r["scene"], r["variant"])] = {k: cents(v) for k, v in r.items()}
    scenes = Scene.objects.in_bulk({k[0] for k in agg})
    rows = []
    order = {SceneGrant.Variant.A: 0, SceneGrant.Variant.B: 1, SceneGrant.Variant.HOLDOUT: 2}
    for (scene_id, variant), r in sorted(agg.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
        base = agg.get((scene_id, SceneGrant.Variant.HOLDOUT))
        if variant == SceneGrant.Variant.HOLDOUT:
            base = None
        elif base is None or not base["grants"]:
            other = SceneGrant.Variant.B if variant == SceneGrant.Variant.A else SceneGrant.Variant.A
            base = agg.get((scene_id, other))
        incremental = (
            d.incremental_sales(r["sales_after"], r["grants"], base["sales_after"], base["grants"])
            if base and base["grants"]
            else None
        )
        usage = d.usage_rate(r["coupons_used"], r["coupons_issued"])
        scene = scenes[scene_id]
        rows.append(
            {
                "scene": scene.name,
                "scene_id": scene_id,
                "variant": variant,
                "variant_label": dict(SceneGrant.Variant.choices)[variant],
                "members": r["grants"],
                "claimed": r["claimed"],
                "points": r["points"],
                "coupons_issued": r["coupons_issued"],
                "coupons_used": r["coupons_used"],
                "usage_rate": usage,
                "low_usage": variant != SceneGrant.Variant.HOLDOUT and d.low_usage(usage, settings.low_usage_threshold),
                "sales_after": r["sales_after"],
                "sales_per_member": d.sales_per_member(r["sales_after"], r["grants"]),
                "incremental": incremental,
                "cost": r["cost"],
                "roi": d.roi(incremental, r["cost"]),
                "flag": _("low usage")
                if variant != SceneGrant.Variant.HOLDOUT and d.low_usage(usage, settings.low_usage_threshold)
                else "",
            }
        )
    return Table(
        "campaigns",
        _("Campaign results"),
        [
            Column("scene", _("Scene"), TEXT),
            Column("variant_label", _("Variant"), TEXT),
            Column("members", _("Members")),
            Column("claimed", _("Claimed or granted")),
            Column("coupons_issued", _("Coupons issued")),
            Column("coupons_used", _("Coupons used")),
            Column("usage_rate", _("Usage rate"), PCT),
            Column("sales_after", _("Sales after grant"), MONEY),
            Column("sales_per_member", _("Sales per member"), MONEY),
            Column("incremental", _("Incremental sales"), MONEY),
            Column("cost", _("Cost"), MONEY),
            Column("roi", _("ROI"), RATIO),
            Column("flag", _("Flag"), TEXT),
        ],
        rows,
        note=_(
            "Sales within %(days)s days after each grant; incremental against the holdout, or the other A/B half; "
            "benefits used by under %(low)s%% of those who got them are flagged."
        )
        % {"days": settings.attribution_days, "low": f"{settings.low_usage_threshold:g}"},
    )


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


# ---------------------------------------------------------------------------------------------
# monthly targets (issue 20)
# ---------------------------------------------------------------------------------------------

TARGET_ADDITIVE = ("new_members", "member_sales")


def effective_targets(month: date, tree: StoreTree | None = None) -> dict[int | None, dict]:
    """{node: {new_members, member_sales, repurchase_rate}} of a month: a node's own target, or
    (without one) the sums of its child nodes' for the additive ones; the chain (None): the sums
    over the roots. Nodes with no target anywhere under them are left out."""
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
        elif children:
            got = {k: sum((c[k] for c in children), Decimal(0) if k == "member_sales" else 0) for k in TARGET_ADDITIVE}
            got["repurchase_rate"] = None
        else:
            return None
        out[pk] = got
        return got

    roots = [visit(r.pk) for r in tree.children.get(None, [])]
    roots = [r for r in roots if r]
    if len(roots) == 1:
        out[None] = roots[0]
    elif roots:
        out[None] = {k: sum((r[k] for r in roots), Decimal(0) if k == "member_sales" else 0) for k in TARGET_ADDITIVE}
        out[None]["repurchase_rate"] = None
    return out


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


def target_progress(scope: Scope) -> list[dict]:
    """Progress against the targets of the month of the period's end, month to date (the first of
    the month to the period's end): [{key, label, kind, actual, target, progress, bar}]."""
    month = d.month_start(scope.end)
    target = scope_targets(scope, month).get(scope.store.pk if scope.store else None)
    if not target:
        return []
    t = _sums(
        StoreDay.objects.filter(scope.stores_q(), day__gte=month, day__lte=scope.end),
        ["new_members", "member_sales_amount", "member_returns_amount"],
    )
    m = month_row(scope, month)
    actual = {
        "new_members": t["new_members"],
        "member_sales": d.net_sales(t["member_sales_amount"], t["member_returns_amount"]),
        "repurchase_rate": d.repurchase_rate(m.repeat_buyers, m.buyers) if m else None,
    }
    wanted = {**target}
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
