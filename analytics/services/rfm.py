"""The member snapshot: recency, frequency, monetary, lifecycle stage, RFM scores and class of every
active member as of a day, in one INSERT … SELECT (definitions.rfm_measures, quintile_score,
rfm_class, stage); and the RFM and lifecycle segments that campaign scenes can target.

The snapshot table holds the latest day only: building it deletes the previous rows and inserts the
new ones in one transaction, so readers see either the old snapshot or the new one. RfmDay keeps the
class counts of every snapshot day."""

import time
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Sum

from membership.models import Member
from pos.models import Return, Sale, SaleLine

from .. import definitions as d
from ..models import AnalyticsSettings, MemberSnapshot, RfmClass, RfmDay, Stage
from .sql import dt, record_run, table, work_mem


def _score(column: str) -> str:
    """definitions.quintile_score over a PERCENT_RANK column: 1 + ⌊5 × rank⌋, at most 5."""
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} >= 0.8 THEN 5 WHEN {column} >= 0.6 THEN 4 "
        f"WHEN {column} >= 0.4 THEN 3 WHEN {column} >= 0.2 THEN 2 ELSE 1 END"
    )


def _recency_sql(day: date) -> tuple[str, list]:
    """Days from the local day of s.last_at to `day`, in this database's SQL."""
    if connection.vendor == "postgresql":
        return "(%s::date - (s.last_at AT TIME ZONE %s)::date)", [day, str(d.tz())]
    offset = int(d.tz().utcoffset(d.day_start(day)).total_seconds())
    return (
        "CAST(julianday(%s) - julianday(date(s.last_at, %s)) AS INTEGER)",
        [day.isoformat(), f"{offset:+d} seconds"],
    )


def snapshot_sql(day: date, settings: AnalyticsSettings) -> tuple[str, list]:
    _start, end = d.day_bounds(day)
    active, silent = d.active_since(day, settings.active_days), d.silent_since(day, settings.silent_days)
    recency, recency_params = _recency_sql(day)
    member, snap = table(Member), table(MemberSnapshot)
    sql = f"""
    INSERT INTO {snap} (member_id, day, home_store_id, tier_id, last_purchase_at, recency_days, frequency,
                        monetary, stage, r_score, f_score, m_score, rfm_class,
                        preferred_category, first_purchase_at, second_purchase_at, referrals)
    SELECT member_id, %s, home_store_id, tier_id, last_at, recency, freq, monetary, stage, r, f, m,
      CASE WHEN r IS NULL THEN ''
           WHEN top_pr < 0.2 THEN 'high_value'
           WHEN bottom_pr < 0.2 THEN 'churn_warning'
           WHEN r >= 4 THEN 'potential_growth'
           WHEN r = 3 THEN 'potential_mining'
           ELSE 'low_frequency_keep' END,
      COALESCE(preferred, ''), first_at, second_at, COALESCE(referrals, 0)
    FROM (
      SELECT sc.*,
        CASE WHEN scored = 1 THEN PERCENT_RANK() OVER (PARTITION BY scored ORDER BY r + f + m DESC) END AS top_pr,
        CASE WHEN scored = 1 THEN PERCENT_RANK() OVER (PARTITION BY scored ORDER BY r + f + m ASC) END AS bottom_pr
      FROM (
        SELECT pr.*, {_score("pr_r")} AS r, {_score("pr_f")} AS f, {_score("pr_m")} AS m
        FROM (
          SELECT x.*,
            CASE WHEN scored = 1 THEN PERCENT_RANK() OVER (PARTITION BY scored ORDER BY recency DESC) END AS pr_r,
            CASE WHEN scored = 1 THEN PERCENT_RANK() OVER (PARTITION BY scored ORDER BY freq ASC) END AS pr_f,
            CASE WHEN scored = 1 THEN PERCENT_RANK() OVER (PARTITION BY scored ORDER BY monetary ASC) END AS pr_m
          FROM (
            SELECT m.id AS member_id, m.home_store_id, m.tier_id, s.last_at, s.first_at, s2.second_at,
              pc.category AS preferred, rf.referrals,
              {recency} AS recency,
              COALESCE(s.freq, 0) AS freq,
              COALESCE(s.spend, 0) - COALESCE(rt.back, 0) AS monetary,
              CASE WHEN s.last_at IS NULL THEN 'prospect'
                   WHEN s.last_at >= %s THEN 'active'
                   WHEN s.last_at >= %s THEN 'silent'
                   ELSE 'churned' END AS stage,
              CASE WHEN COALESCE(s.freq, 0) > 0 THEN 1 ELSE 0 END AS scored
            FROM {member} m
            LEFT JOIN {SALES_TMP} s ON s.member_id = m.id
            LEFT JOIN {RETURNS_TMP} rt ON rt.member_id = m.id
            LEFT JOIN {SECOND_TMP} s2 ON s2.member_id = m.id
            LEFT JOIN {PREFERRED_TMP} pc ON pc.member_id = m.id
            LEFT JOIN {REFERRALS_TMP} rf ON rf.member_id = m.id
            WHERE m.status = 'active' AND m.joined_at < %s
          ) x
        ) pr
      ) sc
    ) w
    ORDER BY member_id"""  # nosec B608
    params = [connection.ops.adapt_datefield_value(day), *recency_params, dt(active), dt(silent), dt(end)]
    return sql, params


SALES_TMP, RETURNS_TMP = "analytics_snapshot_sales", "analytics_snapshot_returns"
SECOND_TMP, PREFERRED_TMP, REFERRALS_TMP = (
    "analytics_snapshot_second",
    "analytics_snapshot_preferred",
    "analytics_snapshot_referrals",
)
TEMP_TABLES = (SALES_TMP, RETURNS_TMP, SECOND_TMP, PREFERRED_TMP, REFERRALS_TMP)


def measures_sql(day: date, settings: AnalyticsSettings) -> list[tuple[str, list]]:
    """Two temporary tables of per-member measures: every member sale up to the end of `day` (last
    purchase, and purchases and spend in the window), and the returns of their sales in the window.
    A CREATE TABLE … AS SELECT may aggregate with parallel workers on PostgreSQL; an INSERT may not."""
    _start, end = d.day_bounds(day)
    window_start = d.day_start(day - timedelta(days=settings.rfm_window_days - 1))
    sale, ret = table(Sale), table(Return)
    return [
        (f"DROP TABLE IF EXISTS {SALES_TMP}", []),
        (f"DROP TABLE IF EXISTS {RETURNS_TMP}", []),
        (
            f"""CREATE TEMPORARY TABLE {SALES_TMP} AS
             SELECT member_id, MAX(created_at) AS last_at, MIN(created_at) AS first_at,
                    SUM(CASE WHEN created_at >= %s THEN 1 ELSE 0 END) AS freq,
                    SUM(CASE WHEN created_at >= %s THEN amount ELSE 0 END) AS spend
             FROM {sale} WHERE member_id IS NOT NULL AND created_at < %s
             GROUP BY member_id""",  # nosec B608
            [dt(window_start), dt(window_start), dt(end)],
        ),
        # a return finds its sale's member by the sale's key: returns are few, sales many
        (
            f"""CREATE TEMPORARY TABLE {RETURNS_TMP} AS
             SELECT member_id, SUM(amount) AS back FROM (
                 SELECT (SELECT sa.member_id FROM {sale} sa WHERE sa.id = r.sale_id) AS member_id, r.amount
                 FROM {ret} r WHERE r.created_at >= %s AND r.created_at < %s) x
             WHERE member_id IS NOT NULL GROUP BY member_id""",  # nosec B608
            [dt(window_start), dt(end)],
        ),
        (f"CREATE INDEX {SALES_TMP}_m ON {SALES_TMP} (member_id)", []),
        *funnel_sql(day),
        *preference_sql(day, settings),
    ]


def funnel_sql(day: date) -> list[tuple[str, list]]:
    """The second purchase of every member who has one (the earliest sale after their first), and
    the members each member referred, up to the end of `day` (definitions.funnel_step)."""
    _start, end = d.day_bounds(day)
    sale, member = table(Sale), table(Member)
    return [
        (f"DROP TABLE IF EXISTS {SECOND_TMP}", []),
        (f"DROP TABLE IF EXISTS {REFERRALS_TMP}", []),
        (
            f"""CREATE TEMPORARY TABLE {SECOND_TMP} AS
             SELECT sa.member_id, MIN(sa.created_at) AS second_at
             FROM {sale} sa JOIN {SALES_TMP} f ON f.member_id = sa.member_id
             WHERE sa.created_at > f.first_at AND sa.created_at < %s
             GROUP BY sa.member_id""",  # nosec B608
            [dt(end)],
        ),
        (
            f"""CREATE TEMPORARY TABLE {REFERRALS_TMP} AS
             SELECT referrer_id AS member_id, COUNT(*) AS referrals FROM {member}
             WHERE referrer_id IS NOT NULL AND joined_at < %s GROUP BY referrer_id""",  # nosec B608
            [dt(end)],
        ),
    ]


def preference_sql(day: date, settings: AnalyticsSettings) -> list[tuple[str, list]]:
    """Every member's preferred category (definitions.category_spend, preferred_category): each
    member sale of the window shares its amount less its returns (recorded up to the end of `day`)
    among its lines' categories by line amount; the category with the highest net spend wins, ties
    to the most recent, then the first by name."""
    _start, end = d.day_bounds(day)
    window_start = d.day_start(day - timedelta(days=settings.rfm_window_days - 1))
    sale, line, ret = table(Sale), table(SaleLine), table(Return)
    return [
        (f"DROP TABLE IF EXISTS {PREFERRED_TMP}", []),
        (
            f"""CREATE TEMPORARY TABLE {PREFERRED_TMP} AS
             SELECT member_id, category FROM (
               SELECT member_id, category,
                 ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY net DESC, last_at DESC, category) AS n
               FROM (
                 SELECT member_id, category, SUM(share) AS net, MAX(created_at) AS last_at FROM (
                   SELECT sa.member_id, sa.created_at, l.category,
                     l.amount * (sa.amount - COALESCE(
                       (SELECT SUM(r.amount) FROM {ret} r WHERE r.sale_id = sa.id AND r.created_at < %s), 0))
                     / NULLIF(SUM(l.amount) OVER (PARTITION BY l.sale_id), 0) AS share
                   FROM {sale} sa JOIN {line} l ON l.sale_id = sa.id
                   WHERE sa.member_id IS NOT NULL AND sa.created_at >= %s AND sa.created_at < %s
                 ) lines
                 WHERE category <> '' GROUP BY member_id, category
               ) spend
               WHERE net > 0
             ) ranked
             WHERE n = 1""",  # nosec B608
            [dt(end), dt(window_start), dt(end)],
        ),
    ]


def build_snapshot(day: date, settings: AnalyticsSettings | None = None) -> int:
    """Replace the member snapshot with one as of the end of `day`; record its class counts."""
    started = time.perf_counter()
    settings = settings or AnalyticsSettings.load()
    sql, params = snapshot_sql(day, settings)
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        with connection.cursor() as cursor:
            work_mem(cursor)
            for statement, args in measures_sql(day, settings):
                cursor.execute(statement, args)
            if postgres:
                # From here to the commit, readers of the snapshot wait (seconds, at night): a
                # million rows go in far faster into an empty table whose secondary indexes are
                # built afterwards than one by one into live indexes, and TRUNCATE leaves no bloat.
                cursor.execute(f"TRUNCATE {table(MemberSnapshot)}")
                with connection.schema_editor() as editor:
                    for index in MemberSnapshot._meta.indexes:
                        editor.remove_index(MemberSnapshot, index)
            else:
                MemberSnapshot.objects.all().delete()
            cursor.execute(sql, params)
            rows = cursor.rowcount
            if postgres:
                with connection.schema_editor() as editor:
                    for index in MemberSnapshot._meta.indexes:
                        editor.add_index(MemberSnapshot, index)
            for temporary in TEMP_TABLES:
                cursor.execute(f"DROP TABLE {temporary}")
        counts = (
            MemberSnapshot.objects.exclude(rfm_class="")
            .order_by()
            .values("home_store_id", "rfm_class")
            .annotate(n=Count("member_id"), spend=Sum("monetary"))
        )
        RfmDay.objects.filter(day=day).delete()
        RfmDay.objects.bulk_create(
            [
                RfmDay(
                    day=day,
                    store_id=c["home_store_id"],
                    rfm_class=c["rfm_class"],
                    members=c["n"],
                    monetary=c["spend"] or 0,
                )
                for c in sorted(counts, key=lambda c: (c["home_store_id"], c["rfm_class"]))
            ]
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table(MemberSnapshot)}")
    record_run("snapshot", day, started, rows)
    return rows


def snapshot_day() -> date | None:
    return MemberSnapshot.objects.values_list("day", flat=True).first()


# ---------------------------------------------------------------------------------------------
# segments for campaign scenes (campaigns.services.scenes.segment_filters)
# ---------------------------------------------------------------------------------------------


def segment_name(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def _filter(**lookup):
    def apply(queryset):
        return queryset.filter(Exists(MemberSnapshot.objects.filter(member_id=OuterRef("pk"), **lookup)))

    return apply


def segments() -> dict:
    """{"rfm:high_value": filter, …, "lifecycle:active": filter, …}: each takes a Member queryset and
    keeps the members whose latest snapshot is in that class or stage."""
    out = {segment_name("rfm", c): _filter(rfm_class=c) for c in RfmClass.values}
    out.update({segment_name("lifecycle", s): _filter(stage=s) for s in Stage.values})
    return out


def prefers(queryset, category: str):
    """The members of `queryset` whose latest snapshot's preferred category is `category`."""
    return queryset.filter(Exists(MemberSnapshot.objects.filter(member_id=OuterRef("pk"), preferred_category=category)))


def register_segments() -> None:
    from campaigns.services.scenes import preference_filters, segment_filters

    segment_filters.update(segments())
    preference_filters["category"] = prefers
