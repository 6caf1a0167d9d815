"""The nightly roll-ups: raw sales, returns, members, ledgers, coupons and grants of a local day,
aggregated per store into the small tables the dashboards read (analytics/models.py).

Every roll-up is set-based: a handful of aggregate queries (ORM `values().annotate()` or one
INSERT/SELECT in SQL that runs on PostgreSQL and SQLite alike) per day, never a loop over members or
sales. Each roll-up of a day deletes that day's rows and inserts them again in one transaction, so
running it twice gives the same rows, and a day can be rebuilt at any time (`rebuild_rollups`).
What each column means is stated in analytics/definitions.py."""

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Cast, Coalesce, Substr
from django.utils import timezone

from campaigns.models import Coupon, Scene, SceneGrant
from membership.models import Member, PointsEntry, StoredValueEntry, StoreTree, TierChange
from pos.models import Return, Sale

from .. import definitions as d
from ..models import (
    AnalyticsSettings,
    CampaignDay,
    ClerkDay,
    LifecycleDay,
    MonthSameDays,
    MonthStats,
    RepurchaseWindow,
    RollupRun,
    StoreDay,
    TierDay,
)
from .sql import dt, record_run, table, work_mem

ZERO = Decimal("0.00")
# Campaign rows of the grant days this far back are recomputed every night: their sales window is
# still open, and their coupons may still be used (at least the attribution window).
CAMPAIGN_REFRESH_DAYS = 90


def money(value) -> Decimal:
    """A sum from raw SQL as Decimal with two places (SQLite sums decimals as floats)."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(d.CENT)


def _in_day(field_name: str, day: date) -> dict:
    start, end = d.day_bounds(day)
    return {f"{field_name}__gte": start, f"{field_name}__lt": end}


def materialized() -> str:
    """WITH x AS MATERIALIZED (…): PostgreSQL then aggregates the sales once, rather than once in each
    parallel worker that builds its own hash of the subquery (SQLite plans a CTE its own way)."""
    return "MATERIALIZED" if connection.vendor == "postgresql" else ""


def _fetch(sql: str, params) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        work_mem(cursor)
        cursor.execute(sql, params)
        return cursor.fetchall()


# ---------------------------------------------------------------------------------------------
# store day
# ---------------------------------------------------------------------------------------------

STORE_DAY_FIELDS = [f.name for f in StoreDay._meta.fields if f.name not in ("id", "day", "store")]
ISSUED = Q(kind__in=d.POINTS_ISSUED_KINDS) | Q(kind=PointsEntry.Kind.ADJUST, amount__gt=0)


def _by_store(queryset, store_field: str, home_field: str = "member__home_store_id"):
    """Group rows by their store, or by the member's home store where they have none: two grouped
    queries, so only the rows without a store join the member."""
    yield queryset.filter(**{f"{store_field}__isnull": False}).order_by().values(store_field)
    yield queryset.filter(**{f"{store_field}__isnull": True}).order_by().values(home_field)


def store_day_figures(day: date) -> dict[int, dict]:
    """{store id: {column: value}} of StoreDay for `day`, straight from the raw tables."""
    rows: dict[int, dict] = defaultdict(dict)

    def merge(grouped, negate=(), **aggregates):
        for values in grouped:
            for row in values.annotate(**aggregates):
                store = next(row.pop(k) for k in list(row) if k not in aggregates)
                for name, value in row.items():
                    if value is not None:
                        rows[store][name] = rows[store].get(name, 0) + (-value if name in negate else value)

    member = Q(member_id__isnull=False)
    sales = Sale.objects.filter(**_in_day("created_at", day)).order_by()
    merge(
        [sales.values("store_id")],
        sales_count=Count("id"),
        sales_amount=Sum("amount"),
        member_sales_count=Count("id", filter=member),
        member_sales_amount=Sum("amount", filter=member),
    )
    returns = Return.objects.filter(**_in_day("created_at", day)).order_by()
    merge(
        [returns.values("store_id")],
        returns_count=Count("id"),
        returns_amount=Sum("amount"),
        member_returns_amount=Sum("amount", filter=Q(sale__member_id__isnull=False)),
    )
    joined = Member.objects.filter(**_in_day("joined_at", day)).order_by()
    merge([joined.values("home_store_id")], new_members=Count("id"))
    entries = PointsEntry.objects.filter(**_in_day("created_at", day))
    merge(
        _by_store(entries, "store_id"),
        negate=("points_redeemed", "points_expired"),
        points_issued=Sum("amount", filter=ISSUED),
        points_redeemed=Sum("amount", filter=Q(kind="redeem")),
        points_expired=Sum("amount", filter=Q(kind="expire")),
        points_net=Sum("amount"),
    )
    total = ExpressionWrapper(F("principal") + F("bonus"), output_field=DecimalField(max_digits=14, decimal_places=2))
    sv = StoredValueEntry.objects.filter(**_in_day("created_at", day)).annotate(total=total)
    merge(
        _by_store(sv, "store_id"),
        negate=("sv_out",),
        sv_in=Sum("total", filter=Q(total__gt=0)),
        sv_out=Sum("total", filter=Q(total__lt=0)),
        sv_principal_net=Sum("principal"),
        sv_bonus_net=Sum("bonus"),
    )
    granted = Coupon.objects.filter(**_in_day("granted_at", day)).order_by()
    merge([granted.values("member__home_store_id")], coupons_granted=Count("id"))
    used = Coupon.objects.filter(status=Coupon.Status.USED, **_in_day("used_at", day))
    merge(_by_store(used, "used_store_id"), coupons_used=Count("id"), coupon_discount=Sum("discount"))
    return rows


def roll_store_day(day: date) -> int:
    started = time.perf_counter()
    figures = store_day_figures(day)
    with transaction.atomic():
        StoreDay.objects.filter(day=day).delete()
        StoreDay.objects.bulk_create(
            [StoreDay(day=day, store_id=store, **values) for store, values in sorted(figures.items())]
        )
    record_run("store", day, started, len(figures))
    return len(figures)


# ---------------------------------------------------------------------------------------------
# clerk day
# ---------------------------------------------------------------------------------------------


def roll_clerk_day(day: date) -> int:
    started = time.perf_counter()
    rows: dict[tuple, dict] = defaultdict(dict)
    member = Q(member_id__isnull=False)
    for row in (
        Sale.objects.filter(**_in_day("created_at", day))
        .order_by()
        .values("store_id", "clerk_id")
        .annotate(
            sales_count=Count("id"),
            sales_amount=Sum("amount"),
            member_sales_count=Count("id", filter=member),
            member_sales_amount=Sum("amount", filter=member),
        )
    ):
        rows[(row.pop("store_id"), row.pop("clerk_id"))].update({k: v for k, v in row.items() if v is not None})
    for row in (
        Return.objects.filter(**_in_day("created_at", day))
        .order_by()
        .values("store_id", "clerk_id")
        .annotate(
            returns_amount=Sum("amount"), member_returns_amount=Sum("amount", filter=Q(sale__member_id__isnull=False))
        )
    ):
        rows[(row.pop("store_id"), row.pop("clerk_id"))].update({k: v for k, v in row.items() if v is not None})
    for row in (
        Member.objects.filter(**_in_day("joined_at", day))
        .order_by()
        .values("home_store_id", "enrolled_by_id")
        .annotate(enrolments=Count("id"))
    ):
        rows[(row["home_store_id"], row["enrolled_by_id"])]["enrolments"] = row["enrolments"]
    with transaction.atomic():
        ClerkDay.objects.filter(day=day).delete()
        ClerkDay.objects.bulk_create(
            [
                ClerkDay(day=day, store_id=store, clerk_id=clerk, **values)
                for (store, clerk), values in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
            ]
        )
    record_run("clerk", day, started, len(rows))
    return len(rows)


# ---------------------------------------------------------------------------------------------
# tiers at the end of the day
# ---------------------------------------------------------------------------------------------


def tier_day_figures(day: date) -> list[tuple[int, int, int]]:
    """[(home store, tier, members)]: each active member's tier at the end of `day`, from the latest
    tier change up to then (the member's current tier where the history has none)."""
    _start, end = d.day_bounds(day)
    member, change = table(Member), table(TierChange)
    return _fetch(
        f"""
        WITH t AS {materialized()} (
            SELECT member_id, to_tier_id FROM (
                SELECT member_id, to_tier_id,
                       ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY created_at DESC, id DESC) AS rn
                FROM {change} WHERE created_at < %s) x
            WHERE rn = 1)
        SELECT m.home_store_id, COALESCE(t.to_tier_id, m.tier_id) AS tier, COUNT(*)
        FROM {member} m LEFT JOIN t ON t.member_id = m.id
        WHERE m.status = 'active' AND m.joined_at < %s
        GROUP BY m.home_store_id, COALESCE(t.to_tier_id, m.tier_id)""",  # nosec B608
        [dt(end), dt(end)],
    )


def roll_tier_day(day: date) -> int:
    started = time.perf_counter()
    figures = tier_day_figures(day)
    with transaction.atomic():
        TierDay.objects.filter(day=day).delete()
        TierDay.objects.bulk_create([TierDay(day=day, store_id=s, tier_id=t, members=n) for s, t, n in sorted(figures)])
    record_run("tier", day, started, len(figures))
    return len(figures)


# ---------------------------------------------------------------------------------------------
# lifecycle at the end of the day, and the moves over the seven days that end on it
# ---------------------------------------------------------------------------------------------

LIFECYCLE_FIELDS = [
    "members",
    "prospects",
    "active",
    "silent",
    "churned",
    "new_active",
    "revived",
    "went_silent",
    "newly_churned",
]


def lifecycle_figures(day: date, settings: AnalyticsSettings | None = None) -> list[tuple]:
    """[(home store, *LIFECYCLE_FIELDS)] for `day` (definitions.stage and definitions.Moves), in one
    pass over the member sales up to the end of the day."""
    s = settings or AnalyticsSettings.load()
    before = day - timedelta(days=7)
    _start, end1 = d.day_bounds(day)
    _start, end0 = d.day_bounds(before)
    a1, c1 = dt(d.active_since(day, s.active_days)), dt(d.silent_since(day, s.silent_days))
    a0, c0 = dt(d.active_since(before, s.active_days)), dt(d.silent_since(before, s.silent_days))
    member, sale = table(Member), table(Sale)
    return _fetch(
        f"""
        WITH s AS {materialized()} (
            SELECT member_id, MAX(created_at) AS last1,
                   MAX(CASE WHEN created_at < %s THEN created_at END) AS last0
            FROM {sale} WHERE member_id IS NOT NULL AND created_at < %s
            GROUP BY member_id)
        SELECT m.home_store_id,
          COUNT(*),
          SUM(CASE WHEN s.last1 IS NULL THEN 1 ELSE 0 END),
          SUM(CASE WHEN s.last1 >= %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN s.last1 < %s AND s.last1 >= %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN s.last1 < %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN s.last1 >= %s AND s.last0 IS NULL THEN 1 ELSE 0 END),
          SUM(CASE WHEN s.last1 >= %s AND s.last0 < %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN s.last0 >= %s AND s.last1 < %s AND s.last1 >= %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN s.last0 >= %s AND s.last1 < %s THEN 1 ELSE 0 END)
        FROM {member} m LEFT JOIN s ON s.member_id = m.id
        WHERE m.status = 'active' AND m.joined_at < %s
        GROUP BY m.home_store_id""",  # nosec B608
        [dt(end0), dt(end1), a1, a1, c1, c1, a1, a1, a0, a0, a1, c1, c0, c1, dt(end1)],
    )


def roll_lifecycle_day(day: date, settings: AnalyticsSettings | None = None) -> int:
    started = time.perf_counter()
    figures = lifecycle_figures(day, settings)
    with transaction.atomic():
        LifecycleDay.objects.filter(day=day).delete()
        LifecycleDay.objects.bulk_create(
            [
                LifecycleDay(day=day, store_id=row[0], **dict(zip(LIFECYCLE_FIELDS, (int(v or 0) for v in row[1:]))))
                for row in sorted(figures)
            ]
        )
    record_run("lifecycle", day, started, len(figures))
    return len(figures)


# ---------------------------------------------------------------------------------------------
# month to date: distinct-member figures
# ---------------------------------------------------------------------------------------------


def month_figures(day: date) -> list[dict]:
    """MonthStats rows of the month of `day`, from its first day to the end of `day`: one per store
    (purchases at that store) and one for the chain (store None, purchases anywhere)."""
    first = d.month_start(day)
    ms, _end = d.day_bounds(first)
    _start, me = d.day_bounds(day)
    member, sale, ret = table(Member), table(Sale), table(Return)
    flows = f"""
        SELECT member_id, store_id, 1 AS n, amount AS amt FROM {sale}
        WHERE member_id IS NOT NULL AND created_at >= %s AND created_at < %s
        UNION ALL
        SELECT s.member_id, r.store_id, 0, -r.amount FROM {ret} r JOIN {sale} s ON s.id = r.sale_id
        WHERE s.member_id IS NOT NULL AND r.created_at >= %s AND r.created_at < %s"""  # nosec B608
    params = [dt(ms), dt(me), dt(ms), dt(me)]
    rows = _month_buyers(flows, params)
    new = _fetch(
        f"""
        SELECT m.home_store_id, COUNT(*),
               SUM(CASE WHEN EXISTS (SELECT 1 FROM {sale} s WHERE s.member_id = m.id AND s.created_at >= m.joined_at
                                     AND s.created_at < %s) THEN 1 ELSE 0 END)
        FROM {member} m WHERE m.joined_at >= %s AND m.joined_at < %s
        GROUP BY m.home_store_id""",  # nosec B608
        [dt(me), dt(ms), dt(me)],
    )
    subtrees = region_subtrees()
    if subtrees:
        _region_month_buyers(rows, flows, params, subtrees)
    _month_new_members(rows, new, subtrees)
    if set(rows) == {None} and not rows[None]["buyers"] and not rows[None].get("new_members"):
        return []
    return [rows[k] for k in sorted(rows, key=lambda s: -1 if s is None else s)]


# a month's distinct-member figures over the per-member sums (pm) of the month's flows
MONTH_TOTALS = """COUNT(CASE WHEN n >= 1 THEN 1 END), COUNT(CASE WHEN n >= 2 THEN 1 END), SUM(n), SUM(amt),
                SUM(CASE WHEN n >= 2 THEN amt ELSE 0 END)"""


def _month_row(store, buyers, repeat, purchases, amount, repeat_amount) -> dict:
    return dict(
        store_id=store,
        buyers=buyers or 0,
        repeat_buyers=repeat or 0,
        purchases=purchases or 0,
        member_amount=money(amount),
        repeat_amount=money(repeat_amount),
    )


def _month_buyers(flows: str, params: list) -> dict:
    """{store: its month row} from the month's flows: per store (purchases at that store), then the
    chain's (None, purchases anywhere)."""
    totals = MONTH_TOTALS
    rows = {}
    for store, buyers, repeat, purchases, amount, repeat_amount in _fetch(
        f"""
            SELECT store_id, {totals} FROM (
                SELECT member_id, store_id, SUM(n) AS n, SUM(amt) AS amt FROM ({flows}) u
                GROUP BY member_id, store_id) pm
            GROUP BY store_id""",  # nosec B608
        params,
    ) + [
        (None, *r)
        for r in _fetch(
            f"""
            SELECT {totals} FROM (
                SELECT member_id, SUM(n) AS n, SUM(amt) AS amt FROM ({flows}) u GROUP BY member_id) pm""",  # nosec B608
            params,
        )
    ]:
        rows[store] = _month_row(store, buyers, repeat, purchases, amount, repeat_amount)
    return rows


def _region_month_buyers(rows: dict, flows: str, params: list, subtrees) -> None:
    """Each region's row in `rows`: its subtree's purchases as a whole."""
    totals = MONTH_TOTALS
    pairs_sql, pairs_params = region_pairs(subtrees)
    for region, buyers, repeat, purchases, amount, repeat_amount in _fetch(
        f"""
            SELECT region_id, {totals} FROM (
                SELECT u.member_id, t.region_id, SUM(u.n) AS n, SUM(u.amt) AS amt
                FROM ({flows}) u JOIN ({pairs_sql}) t ON t.store_id = u.store_id
                GROUP BY u.member_id, t.region_id) pm
            GROUP BY region_id""",  # nosec B608
        params + pairs_params,
    ):
        # a region's row is its subtree's (it replaces a row of sales made at the region node itself)
        rows[region] = _month_row(region, buyers, repeat, purchases, amount, repeat_amount)


def _month_new_members(rows: dict, new: list[tuple], subtrees) -> None:
    """new_members and converted on every row (a row for each store, region and the chain that has
    new members and no buyers)."""
    # new members are by home store (one per member): a region's are the sums over its subtree
    new_by = {store: (count or 0, converted or 0) for store, count, converted in new}
    joined = dict(new_by)
    for region, ids in subtrees:
        inside = [new_by[pk] for pk in ids if pk in new_by]
        if inside:
            joined[region] = (sum(c for c, _v in inside), sum(v for _c, v in inside))
    joined[None] = (sum(c for c, _v in new_by.values()), sum(v for _c, v in new_by.values()))
    for store, (count, converted) in joined.items():
        row = rows.setdefault(
            store, dict(store_id=store, buyers=0, repeat_buyers=0, purchases=0, member_amount=ZERO, repeat_amount=ZERO)
        )
        row.update(new_members=count or 0, converted=converted or 0)


def region_subtrees() -> list[tuple[int, list[int]]]:
    """[(region, the ids of its subtree)] for every node with nodes under it (HQ, regions), but for
    a root over the whole tree: its figures are the chain's (the rows with no store)."""
    tree = StoreTree.load()
    subtrees = [(node.pk, tree.subtree_ids(node.pk)) for node in tree.regions()]
    return [(pk, ids) for pk, ids in subtrees if len(ids) < len(tree.nodes)]


def region_pairs(subtrees) -> tuple[str, list]:
    """A derived table (store_id, region_id): each node of each region's subtree, with the region;
    joined to purchases, it groups them by every region they count for."""
    pairs = [(pk, region) for region, ids in subtrees for pk in ids]
    sql = " UNION ALL ".join(["SELECT %s AS store_id, %s AS region_id"] + ["SELECT %s, %s"] * (len(pairs) - 1))
    return sql, [v for pair in pairs for v in pair]


def roll_month(day: date) -> int:
    """The month of `day` to the end of `day`, and, while the month is under way, the same days of
    the month before (MonthSameDays: what its KPI compares with)."""
    started = time.perf_counter()
    month = d.month_start(day)
    figures = month_figures(day)
    through = same_days_before(day)
    before = [] if through is None else month_figures(through)
    if through is not None and not any(row["store_id"] is None for row in before):
        before.append(_month_row(None, 0, 0, 0, ZERO, ZERO))  # the chain's row marks the month as under way
    with transaction.atomic():
        MonthStats.objects.filter(month=month).delete()
        MonthStats.objects.bulk_create([MonthStats(month=month, **row) for row in figures])
        MonthSameDays.objects.filter(month=month).delete()
        MonthSameDays.objects.bulk_create(
            [MonthSameDays(month=month, to_date=day, through=through, **row) for row in before]
        )
    record_run("month", day, started, len(figures))
    return len(figures)


def same_days_before(day: date) -> date | None:
    """The last day of the month before that the month to date of `day` compares with: the same day
    of the month, or that month's last day; None when `day` ends its month (whole months compare)."""
    if (day + timedelta(days=1)).month == day.month:
        first = d.month_start(d.month_start(day) - timedelta(days=1))
        return min(first + timedelta(days=day.day - 1), d.month_start(day) - timedelta(days=1))
    return None


# ---------------------------------------------------------------------------------------------
# repurchase over the 30, 90 and 365 days that end on a day
# ---------------------------------------------------------------------------------------------


def repurchase_window_figures(day: date) -> list[dict]:
    """RepurchaseWindow rows of `day` (definitions.window_repurchase_rate): per store, per region
    (its subtree's purchases as a whole) and for the chain (store None), for every window of
    definitions.REPURCHASE_WINDOWS, from one pass over the member sales of the longest window."""
    windows = d.REPURCHASE_WINDOWS
    _start, end = d.day_bounds(day)
    starts = [dt(d.day_start(d.window_start(day, w))) for w in windows]
    sale = table(Sale)
    counts = ", ".join(f"SUM(CASE WHEN created_at >= %s THEN 1 ELSE 0 END) AS n{i}" for i in range(len(windows)))
    picks = ", ".join(
        f"COUNT(CASE WHEN n{i} >= 1 THEN 1 END), COUNT(CASE WHEN n{i} >= 2 THEN 1 END)" for i in range(len(windows))
    )
    base = f"SELECT member_id, store_id, created_at FROM {sale} WHERE member_id IS NOT NULL AND created_at >= %s AND created_at < %s"  # nosec B608
    base_params = [min(starts), dt(end)]
    found: dict = {}
    queries = [
        (
            f"SELECT store_id, {picks} FROM (SELECT member_id, store_id, {counts} FROM ({base}) s GROUP BY member_id, store_id) pm GROUP BY store_id",  # nosec B608
            starts + base_params,
        ),
        (
            f"SELECT NULL, {picks} FROM (SELECT member_id, {counts} FROM ({base}) s GROUP BY member_id) pm",  # nosec B608
            starts + base_params,
        ),
    ]
    subtrees = region_subtrees()
    if subtrees:
        pairs_sql, pairs_params = region_pairs(subtrees)
        queries.append(
            (
                f"""SELECT region_id, {picks} FROM (
                    SELECT s.member_id, t.region_id, {counts} FROM ({base}) s JOIN ({pairs_sql}) t ON t.store_id = s.store_id
                    GROUP BY s.member_id, t.region_id) pm GROUP BY region_id""",  # nosec B608
                starts + base_params + pairs_params,
            )
        )
    for sql, params in queries:
        for store, *pairs in _fetch(sql, params):
            if store is None and not any(pairs):
                continue
            found[store] = pairs  # a region's row replaces one of sales made at the region node itself
    return [
        dict(store_id=store, window_days=w, buyers=pairs[2 * i] or 0, repeat_buyers=pairs[2 * i + 1] or 0)
        for store, pairs in found.items()
        for i, w in enumerate(windows)
    ]


def roll_repurchase_windows(day: date) -> int:
    started = time.perf_counter()
    figures = repurchase_window_figures(day)
    with transaction.atomic():
        RepurchaseWindow.objects.filter(day=day).delete()
        RepurchaseWindow.objects.bulk_create([RepurchaseWindow(day=day, **row) for row in figures])
    record_run("repurchase", day, started, len(figures))
    return len(figures)


# ---------------------------------------------------------------------------------------------
# campaigns: grants of the day and what came of them
# ---------------------------------------------------------------------------------------------


def campaign_figures(day: date, settings: AnalyticsSettings | None = None) -> list[dict]:
    """CampaignDay rows of grant day `day` (definitions.campaign_*): per scene, variant and home
    store, the grants made that day with the sales of their members in the attribution window after
    each grant, and the scene's coupons issued that day with their use so far."""
    s = settings or AnalyticsSettings.load()
    window = timedelta(days=s.attribution_days)
    rows: dict[tuple, dict] = {}
    _add_grants(rows, day, window)
    _add_scene_coupons(rows, day)
    return _with_costs(rows)


def _campaign_row(rows: dict, scene, variant, store) -> dict:
    """The row of (scene, variant, store) in `rows`, added with zeros the first time."""
    return rows.setdefault(
        (scene, variant, store),
        dict(
            scene_id=scene,
            variant=variant,
            store_id=store,
            grants=0,
            claimed=0,
            points=0,
            sales_after=ZERO,
            coupons_issued=0,
            coupons_used=0,
            coupon_discount=ZERO,
        ),
    )


def _add_grants(rows: dict, day: date, window: timedelta) -> None:
    """The grants of `day` per scene, variant and home store, with their members' sales (kept after
    returns) in `window` after each grant."""
    kept = ExpressionWrapper(
        F("amount") - F("returned_amount"), output_field=DecimalField(max_digits=14, decimal_places=2)
    )
    after = (
        Sale.objects.filter(
            member_id=OuterRef("member_id"),
            created_at__gte=OuterRef("created_at"),
            created_at__lt=OuterRef("created_at") + window,
        )
        .order_by()
        .values("member_id")
        .annotate(kept=Sum(kept))
        .values("kept")
    )
    given = [SceneGrant.Status.GRANTED, SceneGrant.Status.CLAIMED]
    for g in (
        SceneGrant.objects.filter(**_in_day("created_at", day))
        .annotate(store=F("member__home_store_id"), sales=Coalesce(Subquery(after), ZERO))
        .order_by()
        .values("scene_id", "variant", "store")
        .annotate(
            n=Count("id"),
            claimed_n=Count("id", filter=Q(status__in=given)),
            points_n=Sum("points"),
            sales_n=Sum("sales"),
        )
    ):
        r = _campaign_row(rows, g["scene_id"], g["variant"], g["store"])
        r.update(grants=g["n"], claimed=g["claimed_n"], points=g["points_n"] or 0, sales_after=g["sales_n"] or ZERO)


def _add_scene_coupons(rows: dict, day: date) -> None:
    """The scenes' coupons issued on `day` (the variant of the member's first grant of the scene), with
    their use so far."""
    variant = (
        SceneGrant.objects.filter(scene_id=OuterRef("scene_ref"), member_id=OuterRef("member_id"))
        .order_by("created_at")
        .values("variant")[:1]
    )
    for c in (
        Coupon.objects.filter(source__startswith="scene:", **_in_day("granted_at", day))
        .annotate(scene_ref=Cast(Substr("source", 7), IntegerField()))
        .annotate(variant=Subquery(variant), store=F("member__home_store_id"))
        .order_by()
        .values("scene_ref", "variant", "store")
        .annotate(
            n=Count("id"),
            used=Count("id", filter=Q(status=Coupon.Status.USED)),
            discount=Sum("discount", filter=Q(status=Coupon.Status.USED)),
        )
    ):
        if c["variant"] not in SceneGrant.Variant.values:
            continue  # a coupon of a scene without a grant row: nothing to compare it with
        r = _campaign_row(rows, c["scene_ref"], c["variant"], c["store"])
        r.update(coupons_issued=c["n"], coupons_used=c["used"], coupon_discount=c["discount"] or ZERO)


def _with_costs(rows: dict) -> list[dict]:
    """The rows of existing scenes in key order, with their cost (definitions.campaign_cost)."""
    scenes = Scene.objects.in_bulk({key[0] for key in rows})
    out = []
    for key in sorted(rows):
        r = rows[key]
        scene = scenes.get(r["scene_id"])
        if scene is None:
            continue
        package = scene.package_b if r["variant"] == SceneGrant.Variant.B else scene.package
        per_grant = ZERO if r["variant"] == SceneGrant.Variant.HOLDOUT or package is None else package.cost_per_grant
        r["cost"] = d.campaign_cost(r["grants"], per_grant, r["coupon_discount"]).quantize(d.CENT)
        r["sales_after"] = Decimal(r["sales_after"]).quantize(d.CENT)
        out.append(r)
    return out


def roll_campaign_day(day: date, settings: AnalyticsSettings | None = None) -> int:
    started = time.perf_counter()
    figures = campaign_figures(day, settings)
    with transaction.atomic():
        CampaignDay.objects.filter(day=day).delete()
        CampaignDay.objects.bulk_create([CampaignDay(day=day, **row) for row in figures])
    record_run("campaign", day, started, len(figures))
    return len(figures)


# ---------------------------------------------------------------------------------------------
# running them
# ---------------------------------------------------------------------------------------------

DAILY = {
    "store": roll_store_day,
    "clerk": roll_clerk_day,
    "tier": roll_tier_day,
    "lifecycle": roll_lifecycle_day,
    "campaign": roll_campaign_day,
}
KINDS = [*DAILY, "month", "repurchase", "snapshot"]


@dataclass
class RunReport:
    days: int = 0
    rows: dict = field(default_factory=lambda: defaultdict(int))
    seconds: dict = field(default_factory=lambda: defaultdict(float))

    def add(self, kind: str, rows: int, seconds: float) -> None:
        self.rows[kind] += rows
        self.seconds[kind] += seconds

    def lines(self):
        for kind in KINDS:
            if kind in self.seconds:
                yield f"{kind}: {self.rows[kind]} rows in {self.seconds[kind]:.2f} s"


def _timed(report: RunReport, kind: str, fn, *args) -> int:
    started = time.perf_counter()
    rows = fn(*args)
    report.add(kind, rows, time.perf_counter() - started)
    return rows


def yesterday() -> date:
    return d.local_day(timezone.now()) - timedelta(days=1)


def rebuild(start: date, end: date, *, kinds=None, snapshot: bool = True, out=None) -> RunReport:
    """Roll up every day from `start` to `end` (inclusive), each month they touch up to its last
    rolled day, the repurchase windows that end on `end` and on each month end in between, and (with `snapshot`) the member snapshot as of `end`."""
    from . import rfm

    kinds = set(kinds or KINDS)
    settings = AnalyticsSettings.load()
    report = RunReport()
    day = start
    while day <= end:
        for kind, fn in DAILY.items():
            if kind in kinds:
                _timed(report, kind, fn, *((day, settings) if kind in ("lifecycle", "campaign") else (day,)))
        if "month" in kinds and (day == end or day.month != (day + timedelta(days=1)).month):
            _timed(report, "month", roll_month, day)
        if "repurchase" in kinds and (day == end or day.month != (day + timedelta(days=1)).month):
            _timed(report, "repurchase", roll_repurchase_windows, day)
        report.days += 1
        day += timedelta(days=1)
    if snapshot and "snapshot" in kinds:
        _timed(report, "snapshot", rfm.build_snapshot, end)
    if out:
        for line in report.lines():
            out.write(line)
    return report


CATCH_UP_DAYS = 31


def nightly(day: date | None = None) -> RunReport:
    """The nightly run (02:00): yesterday's daily tables and month to date, the campaign rows whose
    window is still open, and the member snapshot as of yesterday. Days missed since the last run
    (the worker was down) are rolled up first, up to CATCH_UP_DAYS back."""
    from . import rfm

    day = day or yesterday()
    settings = AnalyticsSettings.load()
    report = RunReport()
    last = last_rolled_day(before=day)
    first = day if last is None else max(last + timedelta(days=1), day - timedelta(days=CATCH_UP_DAYS - 1))
    current = first
    while current <= day:
        for kind in ("store", "clerk", "tier", "lifecycle"):
            _timed(report, kind, DAILY[kind], *((current, settings) if kind == "lifecycle" else (current,)))
        if current == day or current.month != (current + timedelta(days=1)).month:
            _timed(report, "month", roll_month, current)
        report.days += 1
        current += timedelta(days=1)
    refresh = max(CAMPAIGN_REFRESH_DAYS, settings.attribution_days + 1)
    first_grant = SceneGrant.objects.order_by("created_at").values_list("created_at", flat=True).first()
    if first_grant is not None:
        grant_day = max(d.local_day(first_grant), day - timedelta(days=refresh - 1))
        while grant_day <= day:
            _timed(report, "campaign", roll_campaign_day, grant_day, settings)
            grant_day += timedelta(days=1)
    _timed(report, "repurchase", roll_repurchase_windows, day)
    _timed(report, "snapshot", rfm.build_snapshot, day)
    return report


def first_day() -> date | None:
    """The first local day with anything to roll up (the earliest enrolment or sale)."""
    candidates = [
        Member.objects.order_by("joined_at").values_list("joined_at", flat=True).first(),
        Sale.objects.order_by("created_at").values_list("created_at", flat=True).first(),
    ]
    found = [c for c in candidates if c is not None]
    return d.local_day(min(found)) if found else None


def last_rolled_day(before: date | None = None) -> date | None:
    runs = RollupRun.objects.filter(kind="store")
    if before is not None:
        runs = runs.filter(day__lt=before)
    return runs.order_by("-day").values_list("day", flat=True).first()
