"""What every analytics figure means: the one place that says it (product.md, "Analytics").

The roll-ups (services/rollups.py, services/rfm.py) compute these definitions in SQL over many rows
at once; the functions here state them precisely and compute them for one case, and the dashboards
and the tests use them. Windows and thresholds are the admin-editable AnalyticsSettings row.

Ground rules that every definition below builds on:

- Day: a local day in settings.TIME_ZONE (Asia/Shanghai), from 00:00:00 inclusive to the next
  00:00:00 exclusive. A sale at 23:59:59 counts for its day, one at 00:00:00 for the next.
- Sale: a till sale (pos.Sale), with or without a member. A member sale is one with a member; it is
  the member's *purchase*, whatever is returned of it later.
- Returns lower sales on their own day: the net sales of a day (or of any span of days) are the sale
  amounts of the day minus the return amounts (pos.Return) recorded that day, at the store that
  recorded each (a return may happen at another store than the sale). A past day's figures
  therefore never change when something is returned later. Member net sales subtract the returns
  of member sales.
- Store: sales, returns, ledger entries and coupon use count for the store where they happened; a
  ledger entry without a store (campaign bonus, check-in, expiry) and member figures (new members,
  lifecycle, tiers, RFM) count for the member's home store (the store that enrolled them).
- Members: member accounts that are active now (merged and closed accounts are left out of member
  counts, stages and RFM); new members are every account enrolled on the day.
- Regions: stores form a tree (HQ → region → store, Store.parent). A region's figure is the figure
  of its subtree: additive figures (sales, returns, new members, points, members and active members
  by home store, each member having one home store) are the sums of its stores; distinct-member
  figures over purchases (buyers, repeat buyers, repurchase rates) are computed over the subtree's
  purchases as a whole (a member buying once at each of two stores of a region repurchased there).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.money import CENT

# ---------------------------------------------------------------------------------------------
# days
# ---------------------------------------------------------------------------------------------


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: date) -> datetime:
    """00:00:00 local time of `day`, as an aware datetime: the first instant of the day."""
    return datetime.combine(day, time.min, tzinfo=tz())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a local day: start inclusive, end (the next day's start) exclusive."""
    return day_start(day), day_start(day + timedelta(days=1))


def local_day(at: datetime) -> date:
    """The local day an instant belongs to."""
    return at.astimezone(tz()).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def week_end(day: date) -> date:
    """The Sunday that ends the ISO week (Monday to Sunday) of `day`."""
    return day + timedelta(days=6 - day.weekday())


# ---------------------------------------------------------------------------------------------
# lifecycle stages
# ---------------------------------------------------------------------------------------------

PROSPECT, ACTIVE, SILENT, CHURNED = "prospect", "active", "silent", "churned"


def stage(last_purchase_day: date | None, on: date, *, active_days: int = 90, silent_days: int = 180) -> str:
    """A member's lifecycle stage at the end of day `on`, from the day of their last purchase on or
    before it (days since = on − last purchase day):

    - active: at least one purchase in the last `active_days` days (90), `on` included: days since
      0 … 89;
    - silent: last purchase `active_days` to `silent_days` − 1 days ago (90 … 179);
    - churned: no purchase for `silent_days` days (180) or more;
    - prospect: no purchase yet.
    """
    if last_purchase_day is None:
        return PROSPECT
    since = (on - last_purchase_day).days
    if since < active_days:
        return ACTIVE
    if since < silent_days:
        return SILENT
    return CHURNED


def active_since(on: date, active_days: int) -> datetime:
    """The earliest instant a purchase keeps a member active at the end of `on`."""
    return day_start(on - timedelta(days=active_days - 1))


def silent_since(on: date, silent_days: int) -> datetime:
    """The earliest instant a purchase keeps a member from being churned at the end of `on`."""
    return day_start(on - timedelta(days=silent_days - 1))


@dataclass(frozen=True)
class Moves:
    """Moves between stages over the seven days that end on a day D (the week, when D is a Sunday),
    comparing each member's stage at the end of D − 7 with their stage at the end of D:

    - new active: a prospect at D − 7 (or not yet a member) and active at D: their first purchase
      was in the week (新用户活跃);
    - revived: silent or churned at D − 7, active at D (活过来);
    - went silent: active at D − 7, silent at D;
    - churned: active or silent at D − 7, churned at D (流失);
    - net new active: active members at D minus active members at D − 7 (净增活跃); it equals
      new active + revived − went silent (a member cannot go from active to churned within a week
      while the silent span is longer than seven days)."""

    new_active: int = 0
    revived: int = 0
    went_silent: int = 0
    churned: int = 0
    net_new_active: int = 0


def move(before: str, after: str) -> str | None:
    """The move a member made between two stages (a key of Moves), or None."""
    if after == ACTIVE and before == PROSPECT:
        return "new_active"
    if after == ACTIVE and before in (SILENT, CHURNED):
        return "revived"
    if before == ACTIVE and after == SILENT:
        return "went_silent"
    if before in (ACTIVE, SILENT) and after == CHURNED:
        return "churned"
    return None


# ---------------------------------------------------------------------------------------------
# ratios
# ---------------------------------------------------------------------------------------------


def ratio(part, whole) -> Decimal | None:
    """part ÷ whole as a Decimal, None where the whole is zero (shown as "—")."""
    if not whole:
        return None
    return Decimal(part) / Decimal(whole)


def net_sales(sales_amount, returns_amount) -> Decimal:
    """Net sales = sale amounts of the days − return amounts recorded on those days."""
    return Decimal(sales_amount or 0) - Decimal(returns_amount or 0)


def card_opening_rate(member_sales: int, sales: int) -> Decimal | None:
    """Card-opening rate (开卡率) = member sales ÷ all sales, counted in sales (tickets), not yuan:
    the share of the till's sales in which a member card was presented."""
    return ratio(member_sales, sales)


def new_card_rate(new_members: int, sales: int) -> Decimal | None:
    """Card-opening rate, new cards (开卡率, 新开卡) = new members (cards opened: every account
    enrolled in the period, at the counter, on the web or by import) ÷ all sales (tickets) of the
    period. Shown beside card_opening_rate (member tickets ÷ tickets), each labelled plainly."""
    return ratio(new_members, sales)


def new_customers(new_members: int, sales: int, member_sales: int) -> int:
    """New customers of a period = members enrolled in the period + walk-in sales (tickets without
    a member) of the period: a walk-in is nobody we know, so each walk-in ticket counts as one
    customer who could have been enrolled and was not."""
    return new_members + (sales - member_sales)


def development_rate(new_members: int, sales: int, member_sales: int) -> Decimal | None:
    """Development rate (发展率) = new members ÷ new customers (new members + walk-in tickets) of
    the period: of the customers who were not members yet, the share that was enrolled."""
    return ratio(new_members, new_customers(new_members, sales, member_sales))


def activity_rate(active: int, members: int) -> Decimal | None:
    """Activity rate (活跃度) = active members ÷ members, both at the end of the period (stage())."""
    return ratio(active, members)


def member_growth_rate(members_end: int, members_base: int) -> Decimal | None:
    """Member growth rate (会员增长率) = (members at the end of the period − members at the end of
    the day before it starts, the base) ÷ the base: net growth, enrolments less accounts merged or
    closed."""
    if not members_base:
        return None
    return Decimal(members_end - members_base) / Decimal(members_base)


REPURCHASE_WINDOWS = (30, 90, 365)


def window_start(on: date, days: int) -> date:
    """The first day of the `days` days that end on `on` (`on` included)."""
    return on - timedelta(days=days - 1)


def window_repurchase_rate(repeat_buyers: int, buyers: int) -> Decimal | None:
    """Repurchase rate over a window (近 N 天回购率, N = 30, 90 or 365) ending on day D = members with
    ≥ 2 purchases in the days D − N + 1 … D ÷ members with ≥ 1 purchase in them; for a store its
    purchases, for a region its subtree's, for the chain any store's (as repurchase_rate)."""
    return ratio(repeat_buyers, buyers)


def target_progress(actual, target) -> Decimal | None:
    """Progress against a monthly target = month-to-date actual ÷ the month's target (None without
    a target). Targets: new members and member net sales add up over a region's stores (a region
    without its own target has the sum of its nodes' targets); the repurchase-rate target is the
    node's own."""
    return ratio(actual, target)


def prorated_target(monthly, days_in_period: int, days_in_month: int) -> Decimal:
    """The part of a monthly target that falls on `days_in_period` days of a month."""
    return Decimal(monthly) * Decimal(days_in_period) / Decimal(days_in_month)


def clerk_target_share(store_target, clerks: int) -> Decimal | None:
    """A clerk's share of the store's new-member target = the store's target for the period ÷ the
    store's active clerks and store managers (the staff who enrol at its counter); None without a
    target."""
    if store_target is None:
        return None
    return ratio(store_target, clerks)


# What each KPI card says it computes (shown under the card).
FORMULAS = {
    "net_sales": _("sales − returns"),
    "average_ticket": _("net sales ÷ sales"),
    "member_share": _("member net sales ÷ net sales"),
    "card_opening_rate": _("member tickets ÷ tickets"),
    "new_card_rate": _("new cards opened ÷ tickets"),
    "development_rate": _("new members ÷ (new members + walk-in tickets)"),
    "activity_rate": _("active members ÷ members, at the end of the period"),
    "member_growth_rate": _("(members at the end − members before the period) ÷ members before the period"),
    "repurchase_rate": _("members with ≥ 2 purchases in the month ÷ members with ≥ 1"),
    "window_repurchase_rate": _("members with ≥ 2 purchases in the last %(days)s days ÷ members with ≥ 1"),
}


def member_share(member_net_sales, net_sales_) -> Decimal | None:
    """Member share of sales (会员消费占比) = member net sales ÷ net sales, in yuan."""
    return ratio(member_net_sales, net_sales_)


def average_ticket(net_sales_, sales: int) -> Decimal | None:
    """Average ticket (客单价) = net sales ÷ number of sales."""
    return ratio(net_sales_, sales)


def repurchase_rate(repeat_buyers: int, buyers: int) -> Decimal | None:
    """Repurchase rate (回购率) of a calendar month = members with ≥ 2 purchases in the month ÷
    members with ≥ 1 purchase in the month. For a store: purchases at that store; for the chain:
    purchases at any store (a member buying once at each of two stores repurchased for the chain)."""
    return ratio(repeat_buyers, buyers)


def repurchase_amount_share(repeat_amount, member_amount) -> Decimal | None:
    """Repurchase amount share (回购金额占比) of a month = member net sales of the members with ≥ 2
    purchases in the month ÷ all member net sales of the month."""
    return ratio(repeat_amount, member_amount)


def purchase_frequency(purchases: int, buyers: int) -> Decimal | None:
    """Purchase frequency of a month = member purchases ÷ members with ≥ 1 purchase."""
    return ratio(purchases, buyers)


def conversion_rate(converted: int, new_members: int) -> Decimal | None:
    """Conversion rate of a month = members enrolled in the month who made a purchase in that
    month (on or after enrolling) ÷ members enrolled in the month."""
    return ratio(converted, new_members)


def churn_rate(newly_churned: int, active_or_silent_before: int) -> Decimal | None:
    """Churn rate of a week = members who became churned during the week ÷ members who were active
    or silent at the end of the week before."""
    return ratio(newly_churned, active_or_silent_before)


def ltv(member_net_sales_to_date, members_to_date: int) -> Decimal | None:
    """LTV = member net sales since the first day rolled up, up to the end of the period ÷ members
    enrolled up to then (for a store: its member sales ÷ the members it enrolled)."""
    return ratio(member_net_sales_to_date, members_to_date)


def change(current, previous) -> Decimal | None:
    """Change against the previous period = (current − previous) ÷ |previous|; None when the
    previous figure is zero or missing. The previous period is the span of the same number of days
    that ends the day before the period starts."""
    if current is None or previous in (None, 0):
        return None
    return (Decimal(current) - Decimal(previous)) / abs(Decimal(previous))


# ---------------------------------------------------------------------------------------------
# points and stored value
# ---------------------------------------------------------------------------------------------

POINTS_ISSUED_KINDS = ("earn", "bonus")


def points_issued(kind: str, amount: int) -> int:
    """Points issued = earned at sales, bonuses (campaigns, check-in, referral) and positive manual
    adjustments. Not issued: refunds of points paid on a returned sale and transfers between merged
    accounts (they return or move points that were issued before)."""
    return amount if (kind in POINTS_ISSUED_KINDS or (kind == "adjust" and amount > 0)) else 0


def points_redeemed(kind: str, amount: int) -> int:
    """Points redeemed = points spent paying at the till or in the points mall (entries of kind
    redeem), as a positive number."""
    return -amount if kind == "redeem" else 0


def points_expired(kind: str, amount: int) -> int:
    """Points expired = points taken by expiry runs, as a positive number."""
    return -amount if kind == "expire" else 0


def points_outstanding(entries_to_date: int) -> int:
    """Outstanding points at the end of a day = the sum of every points entry up to then (available
    and pending): the balance members hold."""
    return entries_to_date


def points_liability(outstanding_points: int, points_per_yuan: int) -> Decimal:
    """Points liability in yuan = outstanding points ÷ the points worth ¥1 when paying
    (ProgramSettings.redeem_points_per_yuan, 100 in the demo program)."""
    return (Decimal(outstanding_points) / Decimal(points_per_yuan or 1)).quantize(CENT, ROUND_HALF_UP)


def sv_flows(principal: Decimal, bonus: Decimal) -> tuple[Decimal, Decimal]:
    """(in, out) of one stored-value entry: an entry that adds (top-up with its bonus, refund to the
    member, positive adjustment) counts its principal + bonus as in; one that takes (payment, top-up
    refunded, negative adjustment) counts as out, as a positive number."""
    total = Decimal(principal) + Decimal(bonus)
    return (total, Decimal(0)) if total > 0 else (Decimal(0), -total)


def sv_liability(principal_to_date: Decimal, bonus_to_date: Decimal) -> Decimal:
    """Stored-value liability in yuan = the principal and bonus members hold at the end of the day
    (the sum of every stored-value entry up to then); the principal alone is the cash received."""
    return Decimal(principal_to_date) + Decimal(bonus_to_date)


# ---------------------------------------------------------------------------------------------
# RFM
# ---------------------------------------------------------------------------------------------

HIGH_VALUE, POTENTIAL_GROWTH, POTENTIAL_MINING, LOW_FREQUENCY_KEEP, CHURN_WARNING = (
    "high_value",
    "potential_growth",
    "potential_mining",
    "low_frequency_keep",
    "churn_warning",
)
RFM_CLASSES = [HIGH_VALUE, POTENTIAL_GROWTH, POTENTIAL_MINING, LOW_FREQUENCY_KEEP, CHURN_WARNING]


def rfm_measures(sales, returns, on: date, *, window_days: int = 365) -> tuple[int | None, int, Decimal]:
    """(recency, frequency, monetary) of a member at the end of the snapshot day D = `on`, over the
    RFM window (365 days: the days D − 364 … D), from their sales [(time, amount)] and the returns
    of their sales [(time, amount)]:

    - recency: days from the local day of their last purchase on or before D to D (0 = bought on D;
      None: no purchase yet);
    - frequency: their purchases (member sales) in the window;
    - monetary: their net spend in the window: the amounts of those sales minus the returns of
      their sales recorded in the window.

    Scored: active members with at least one purchase in the window; the others have no scores and
    no class (their lifecycle stage still says where they are)."""
    first = on - timedelta(days=window_days - 1)
    days = [local_day(at) for at, _amount in sales if local_day(at) <= on]
    recency = (on - max(days)).days if days else None
    inside = [(local_day(at), amount) for at, amount in sales if first <= local_day(at) <= on]
    back = sum((Decimal(a) for at, a in returns if first <= local_day(at) <= on), Decimal(0))
    return recency, len(inside), sum((Decimal(a) for _d, a in inside), Decimal(0)) - back


def quintile_score(rank: int, n: int) -> int:
    """A score 1 … 5 by quintile: with the n scored members ordered from worst to best, a member
    whose rank (1 = worst, equal values share the lowest rank of their group, as SQL RANK() does)
    is `rank` scores 1 + ⌊5 × (rank − 1) ÷ (n − 1)⌋ (5 × SQL PERCENT_RANK()), at most 5; a lone
    scored member scores 1. Equal values always score the same. Worst to best: R by recency
    descending, F by frequency ascending, M by monetary ascending."""
    if n <= 1:
        return 1
    return min(5, 1 + int(Fraction(5 * (rank - 1), n - 1)))


def rfm_class(r: int, f: int, m: int, *, top_rank: int, bottom_rank: int, n: int) -> str:
    """The class of a scored member (the five classes of product.md):

    1. high value: RFM top 20%: ranked by the total score R + F + M from highest, fewer than 20% of
       the others score strictly higher: (top_rank − 1) ÷ (n − 1) < 0.2 (ties stay together);
    2. churn warning: RFM bottom 20%: the same from the lowest total (bottom_rank);
    3. the middle band goes by recency level: R high (4–5) → potential growth, R mid (3) → potential
       mining, R low (1–2) → low-frequency keep. These are the R levels of the spec's profiles
       (R high F mid M mid / R mid F mid M low / R low F mid M mid); F and M describe what such
       members typically look like and do not decide.
    A member in both the top and the bottom 20% (everyone tied) is high value."""
    del f, m  # F and M act through the total score only
    if n <= 1 or Fraction(top_rank - 1, n - 1) < Fraction(1, 5):
        return HIGH_VALUE
    if Fraction(bottom_rank - 1, n - 1) < Fraction(1, 5):
        return CHURN_WARNING
    if r >= 4:
        return POTENTIAL_GROWTH
    if r == 3:
        return POTENTIAL_MINING
    return LOW_FREQUENCY_KEEP


# ---------------------------------------------------------------------------------------------
# campaigns
# ---------------------------------------------------------------------------------------------


def campaign_sales_after(amounts_kept, *, days: int = 30) -> Decimal:
    """Sales after a grant = what the member paid in member sales made within `days` (the
    attribution window, 30) from the grant's time, less what has been returned of those sales so
    far (amount − returned amount: the basis of the campaigns app's results page, so both agree).
    A scene's figure is the sum over its grants (a member granted twice counts twice)."""
    return sum((Decimal(a) for a in amounts_kept), Decimal(0))


def sales_per_member(sales_after, members: int) -> Decimal | None:
    """Sales per member of a variant = its sales after the grant ÷ its members (grants)."""
    return ratio(sales_after, members)


def incremental_sales(sales_after, members: int, base_sales_after, base_members: int) -> Decimal | None:
    """Incremental sales of a variant = (its sales per member − the baseline's sales per member) ×
    its members. Baseline: the scene's holdout; without a holdout, the other A/B half; without
    either, none."""
    own, base = sales_per_member(sales_after, members), sales_per_member(base_sales_after, base_members)
    if own is None or base is None:
        return None
    return (own - base) * members


def campaign_cost(grants: int, cost_per_grant, coupon_discount) -> Decimal:
    """Cost of a variant = its grants × the package's cost per grant + the money its coupons took
    off sales. The holdout costs nothing."""
    return Decimal(grants) * Decimal(cost_per_grant) + Decimal(coupon_discount)


def roi(incremental, cost) -> Decimal | None:
    """ROI = incremental sales ÷ cost (None without a cost or a baseline)."""
    if incremental is None or not cost:
        return None
    return Decimal(incremental) / Decimal(cost)


def usage_rate(coupons_used: int, coupons_issued: int) -> Decimal | None:
    """Usage rate of a benefit = the scene's coupons used at a sale ÷ its coupons issued. A benefit
    used by fewer than AnalyticsSettings.low_usage_threshold (30%) of those who got it is flagged;
    packages without coupons (points, multipliers) have no usage rate."""
    return ratio(coupons_used, coupons_issued)


def low_usage(rate: Decimal | None, threshold_percent) -> bool:
    return rate is not None and rate * 100 < Decimal(threshold_percent)


# ---------------------------------------------------------------------------------------------
# product preference (the member snapshot's preferred category)
# ---------------------------------------------------------------------------------------------


def category_spend(sale_amount, returned, line_amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    """Net spend per category of one member sale: the sale's amount less what was returned of it
    (returns recorded up to the end of the snapshot day), shared among its categories in proportion
    to their line amounts. Lines without a category keep their share (it goes to no category), so a
    sale's categories never add up to more than was paid. `line_amounts`: {category or "": amount}."""
    total = sum((Decimal(a) for a in line_amounts.values()), Decimal(0))
    if not total:
        return {}
    kept = Decimal(sale_amount) - Decimal(returned or 0)
    return {c: kept * Decimal(a) / total for c, a in line_amounts.items() if c}


def preferred_category(spend: dict[str, tuple[Decimal, datetime]]) -> str:
    """A member's preferred category (产品偏好) at the end of the snapshot day: the category with the
    highest net spend (category_spend summed) over the member sales of the RFM window (365 days:
    D − 364 … D). Ties go to the category bought most recently, then to the first by name; a
    category whose net spend is zero or less (returned in full) is never preferred; no category
    (no sale lines with one) gives "". `spend`: {category: (net spend, time of the last sale)}."""
    ranked = sorted(
        ((net, last, c) for c, (net, last) in spend.items() if net > 0),
        key=lambda x: (-x[0], -x[1].timestamp(), x[2]),
    )
    return ranked[0][2] if ranked else ""


# ---------------------------------------------------------------------------------------------
# the member funnel (acquired → activated → retained → referred)
# ---------------------------------------------------------------------------------------------

RETAINED_WITHIN_DAYS = 90
FUNNEL_STEPS = ("acquired", "activated", "retained", "referred")


def funnel_step(
    joined_day: date,
    start: date,
    end: date,
    first_purchase: datetime | None,
    second_purchase: datetime | None,
    referrals: int,
) -> str | None:
    """The last funnel step a member reached, for the period [start, end], as of the latest
    snapshot (each step counts the members of the step before it):

    1. acquired: enrolled in the period (local day of joining within start … end); the member's
       account is active now (as for every member count);
    2. activated: acquired, and made a first purchase (a member sale) by the snapshot day;
    3. retained: activated, and made a second purchase within 90 days of the first (second purchase
       time − first purchase time ≤ 90 days);
    4. referred: retained, and at least one member enrolled with them as referrer by the snapshot day.

    None: not acquired in the period."""
    if not start <= joined_day <= end:
        return None
    if first_purchase is None:
        return "acquired"
    if second_purchase is None or second_purchase - first_purchase > timedelta(days=RETAINED_WITHIN_DAYS):
        return "activated"
    return "referred" if referrals > 0 else "retained"


def funnel_rate(step: int, previous: int) -> Decimal | None:
    """Step conversion = members at the step ÷ members at the step before it."""
    return ratio(step, previous)


# ---------------------------------------------------------------------------------------------
# campaign watch (计划异常提醒)
# ---------------------------------------------------------------------------------------------

# scene kinds that grant only inside their calendar windows: a pause between windows is normal
CALENDAR_KINDS = ("fixed_holiday", "lunar_holiday", "nth_weekday", "member_day")
OPEN_ENDED_HORIZON_DAYS = 30


def grants_stopped(kind: str, recent_grants: int, granted_before: bool, running_since_window: bool) -> bool:
    """Grants stopped: a scene running on day D, of a kind that may grant on any day (not a holiday
    or member-day scene), made no grant (held-out members not counted) in the last N days
    (AnalyticsSettings.watch_idle_days: D − N + 1 … D), although it granted before those days or
    has been running since their first day at least."""
    if kind in CALENDAR_KINDS:
        return False
    return recent_grants == 0 and (granted_before or running_since_window)


def budget_runs_out_on(remaining: int, used_recently: int, pace_days: int, on: date) -> date | None:
    """The day a budget (points, or grants) runs out at the current pace: the pace is what the scene
    used over the last P days (AnalyticsSettings.watch_pace_days: D − P + 1 … D) ÷ P a day, and the
    remaining budget lasts ⌈remaining ÷ pace⌉ more days: D + that. A budget already spent runs out
    on D; without use in those days (pace 0) it never runs out (None)."""
    if remaining <= 0:
        return on
    if used_recently <= 0:
        return None
    return on + timedelta(days=-(-remaining * pace_days // used_recently))


def budget_short(runs_out: date | None, ends_on: date | None, on: date) -> bool:
    """Budget short: the budget runs out (budget_runs_out_on) before the last day of the scene's
    window (ends_on); a scene without an end date is flagged when its budget runs out within 30 days
    (D + 30)."""
    if runs_out is None:
        return False
    last = ends_on if ends_on is not None else on + timedelta(days=OPEN_ENDED_HORIZON_DAYS)
    return runs_out < last
