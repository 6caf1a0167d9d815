"""Analytics: the settings row, and the roll-up tables the dashboards read (product.md, Analytics).

Design overview:
- The dashboards never read the raw ledgers or the till's sales on a page view. A nightly task
  (analytics/tasks.py) and the `rebuild_rollups` command fill the tables below from the raw tables
  with set-based queries, day by day; analytics/definitions.py states what every figure means.
- Every daily table is keyed by a local (Asia/Shanghai) day and a store. Rebuilding a day deletes
  that day's rows and inserts them again inside one transaction, so a rebuild is idempotent: the same
  raw data gives the same rows, however often it runs.
- Member figures are by the member's home store (the store that enrolled them); money and ledger
  figures are by the store where they happened (a ledger entry without a store, such as a campaign
  bonus or an expiry, counts for the member's home store).
- MemberSnapshot holds one row per member as of the latest snapshot day (recency, frequency,
  monetary, lifecycle stage, RFM scores and class); RfmDay keeps the class counts of each snapshot
  day, so history survives the nightly replacement of the snapshot.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from membership.models import Member, Store, Tier


class AnalyticsSettings(models.Model):
    """The windows and thresholds of the definitions (single row, pk 1), edited in admin."""

    active_days = models.PositiveSmallIntegerField(
        _("active: a purchase within (days)"),
        default=90,
        help_text=_("A member is active with at least one purchase in this many days, today included."),
    )
    silent_days = models.PositiveSmallIntegerField(
        _("churned: no purchase for (days)"),
        default=180,
        help_text=_("Silent between the active window and this; churned from this many days without a purchase."),
    )
    rfm_window_days = models.PositiveSmallIntegerField(
        _("RFM window (days)"), default=365, help_text=_("Frequency and monetary count purchases in this window.")
    )
    low_usage_threshold = models.DecimalField(
        _("low usage below (%)"),
        max_digits=5,
        decimal_places=2,
        default=30,
        help_text=_("A campaign benefit used by fewer of those who got it is flagged."),
    )
    attribution_days = models.PositiveSmallIntegerField(
        _("campaign sales window (days)"),
        default=30,
        help_text=_("Sales of a member within this many days after a grant count for the campaign."),
    )
    watch_idle_days = models.PositiveSmallIntegerField(
        _("campaign watch: no grants for (days)"),
        default=3,
        help_text=_("A running scene that grants nothing for this many days is flagged."),
    )
    watch_pace_days = models.PositiveSmallIntegerField(
        _("campaign watch: pace over (days)"),
        default=7,
        help_text=_(
            "A scene's budget use over this many days sets its pace; a budget that runs out before the scene ends"
            " at that pace is flagged."
        ),
    )

    class Meta:
        verbose_name = _("analytics settings")
        verbose_name_plural = _("analytics settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="analytics_settings_single_row"),
            models.CheckConstraint(
                condition=models.Q(
                    active_days__gte=1,
                    rfm_window_days__gte=1,
                    attribution_days__gte=1,
                    watch_idle_days__gte=1,
                    watch_pace_days__gte=1,
                ),
                name="analytics_windows_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(silent_days__gt=models.F("active_days")),
                name="analytics_silent_after_active",
                violation_error_message=_("The churn window must be longer than the active window."),
            ),
            models.CheckConstraint(
                condition=models.Q(low_usage_threshold__gte=0, low_usage_threshold__lte=100),
                name="analytics_low_usage_is_percent",
            ),
        ]

    def __str__(self):
        return str(_("Analytics settings"))

    @classmethod
    def load(cls) -> "AnalyticsSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


MONEY = {"max_digits": 14, "decimal_places": 2, "default": 0}


class StoreDay(models.Model):
    """Per local day and store: till sales and returns, new members, points, stored value, coupons."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    sales_count = models.IntegerField(_("sales"), default=0)
    sales_amount = models.DecimalField(_("sales amount"), **MONEY)
    returns_count = models.IntegerField(_("returns"), default=0)
    returns_amount = models.DecimalField(_("returns amount"), **MONEY)
    member_sales_count = models.IntegerField(_("member sales"), default=0)
    member_sales_amount = models.DecimalField(_("member sales amount"), **MONEY)
    member_returns_amount = models.DecimalField(_("member returns amount"), **MONEY)
    new_members = models.IntegerField(_("new members"), default=0)
    points_issued = models.BigIntegerField(_("points issued"), default=0)
    points_redeemed = models.BigIntegerField(_("points redeemed"), default=0)
    points_expired = models.BigIntegerField(_("points expired"), default=0)
    points_net = models.BigIntegerField(_("points balance change"), default=0)
    sv_in = models.DecimalField(_("stored value in"), **MONEY)
    sv_out = models.DecimalField(_("stored value out"), **MONEY)
    sv_principal_net = models.DecimalField(_("stored value principal change"), **MONEY)
    sv_bonus_net = models.DecimalField(_("stored value bonus change"), **MONEY)
    coupons_granted = models.IntegerField(_("coupons granted"), default=0)
    coupons_used = models.IntegerField(_("coupons used"), default=0)
    coupon_discount = models.DecimalField(_("coupon discount"), **MONEY)

    class Meta:
        verbose_name = _("store day")
        verbose_name_plural = _("store days")
        constraints = [models.UniqueConstraint(fields=["day", "store"], name="analytics_storeday_once")]
        indexes = [models.Index(fields=["store", "day"], name="analytics_storeday_store")]


class ClerkDay(models.Model):
    """Per local day, store and clerk: enrolments and sales (the clerk ledger, 台账)."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("clerk"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    enrolments = models.IntegerField(_("enrolments"), default=0)
    sales_count = models.IntegerField(_("sales"), default=0)
    sales_amount = models.DecimalField(_("sales amount"), **MONEY)
    returns_amount = models.DecimalField(_("returns amount"), **MONEY)
    member_sales_count = models.IntegerField(_("member sales"), default=0)
    member_sales_amount = models.DecimalField(_("member sales amount"), **MONEY)
    member_returns_amount = models.DecimalField(_("member returns amount"), **MONEY)

    class Meta:
        verbose_name = _("clerk day")
        verbose_name_plural = _("clerk days")
        indexes = [
            models.Index(fields=["day", "store"], name="analytics_clerkday_day"),
            models.Index(fields=["store", "day"], name="analytics_clerkday_store"),
        ]


class TierDay(models.Model):
    """Members per tier at the end of a local day, by home store."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    tier = models.ForeignKey(Tier, verbose_name=_("tier"), on_delete=models.CASCADE, related_name="+")
    members = models.IntegerField(_("members"), default=0)

    class Meta:
        verbose_name = _("tier day")
        verbose_name_plural = _("tier days")
        constraints = [models.UniqueConstraint(fields=["day", "store", "tier"], name="analytics_tierday_once")]


class LifecycleDay(models.Model):
    """Members by lifecycle stage at the end of a local day, and the moves between stages over the
    seven days that end on it (a week when the day is a Sunday), by home store."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    members = models.IntegerField(_("members"), default=0)
    prospects = models.IntegerField(_("no purchase yet"), default=0)
    active = models.IntegerField(_("active"), default=0)
    silent = models.IntegerField(_("silent"), default=0)
    churned = models.IntegerField(_("churned"), default=0)
    new_active = models.IntegerField(_("new active"), default=0)
    revived = models.IntegerField(_("revived"), default=0)
    went_silent = models.IntegerField(_("went silent"), default=0)
    newly_churned = models.IntegerField(_("newly churned"), default=0)

    class Meta:
        verbose_name = _("lifecycle day")
        verbose_name_plural = _("lifecycle days")
        constraints = [models.UniqueConstraint(fields=["day", "store"], name="analytics_lifecycleday_once")]


class MonthFigures(models.Model):
    """The distinct-member figures of a stretch of days from a month's first: per store, and for the
    chain (store empty), since counts of distinct members do not add up across stores."""

    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    buyers = models.IntegerField(_("buyers"), default=0)
    repeat_buyers = models.IntegerField(_("repeat buyers"), default=0)
    purchases = models.IntegerField(_("purchases"), default=0)
    member_amount = models.DecimalField(_("member sales"), **MONEY)
    repeat_amount = models.DecimalField(_("repeat buyers' sales"), **MONEY)
    new_members = models.IntegerField(_("new members"), default=0)
    converted = models.IntegerField(_("new members who bought"), default=0)

    class Meta:
        abstract = True


class MonthStats(MonthFigures):
    """Distinct-member figures of a calendar month (month to date for the current one). Counts of
    distinct members do not add up across stores, so the chain has rows of its own (store empty)."""

    month = models.DateField(_("month"), help_text=_("The first day of the month."))

    class Meta:
        verbose_name = _("month figures")
        verbose_name_plural = _("month figures")
        indexes = [models.Index(fields=["month", "store"], name="analytics_monthstats_month")]


class MonthSameDays(MonthFigures):
    """The same figures over the first days of the month before a month still under way: its 1st up
    to the same day of the month (or its last day), which the month-to-date KPI compares with
    (issue 31: like periods, not a few days against a whole month). Rows exist only while `month` is
    under way; the run that completes the month deletes them, and whole months compare with whole
    months."""

    month = models.DateField(_("month"), help_text=_("The first day of the month under way."))
    to_date = models.DateField(_("month to date until"), help_text=_("The last day of its month to date."))
    through = models.DateField(
        _("month before until"), help_text=_("The last day counted in the month before: the same day, or its last.")
    )

    class Meta:
        verbose_name = _("same days of the month before")
        verbose_name_plural = _("same days of the month before")
        indexes = [models.Index(fields=["month", "store"], name="analytics_samedays_month")]


class CampaignDay(models.Model):
    """Per campaign scene, variant, local day and home store: the grants made that day and what
    came of them, and the scene's coupons issued that day (definitions.campaign_*)."""

    day = models.DateField(_("day"))
    scene = models.ForeignKey("campaigns.Scene", verbose_name=_("scene"), on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(_("variant"), max_length=7)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    grants = models.IntegerField(_("members"), default=0)
    claimed = models.IntegerField(_("claimed or granted"), default=0)
    points = models.BigIntegerField(_("points"), default=0)
    sales_after = models.DecimalField(_("sales after the grant"), **MONEY)
    coupons_issued = models.IntegerField(_("coupons issued"), default=0)
    coupons_used = models.IntegerField(_("coupons used"), default=0)
    coupon_discount = models.DecimalField(_("coupon discount"), **MONEY)
    cost = models.DecimalField(_("cost"), **MONEY)

    class Meta:
        verbose_name = _("campaign day")
        verbose_name_plural = _("campaign days")
        indexes = [models.Index(fields=["day", "store"], name="analytics_campaignday_day")]


class Stage(models.TextChoices):
    PROSPECT = "prospect", _("No purchase yet")
    ACTIVE = "active", _("Active")
    SILENT = "silent", _("Silent")
    CHURNED = "churned", _("Churned")


class RfmClass(models.TextChoices):
    HIGH_VALUE = "high_value", _("High value")
    POTENTIAL_GROWTH = "potential_growth", _("Potential growth")
    POTENTIAL_MINING = "potential_mining", _("Potential mining")
    LOW_FREQUENCY_KEEP = "low_frequency_keep", _("Low-frequency keep")
    CHURN_WARNING = "churn_warning", _("Churn warning")


class MemberSnapshot(models.Model):
    """One row per active member as of `day` (the latest snapshot): recency, frequency, monetary,
    lifecycle stage, RFM scores and class (definitions.rfm_*)."""

    member = models.OneToOneField(
        Member,
        verbose_name=_("member"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="analytics_snapshot",
        db_constraint=False,
    )
    day = models.DateField(_("as of"))
    home_store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    recency_days = models.IntegerField(_("days since last purchase"), null=True, blank=True)
    frequency = models.IntegerField(_("purchases in the window"), default=0)
    monetary = models.DecimalField(_("spend in the window"), **MONEY)
    stage = models.CharField(_("lifecycle stage"), max_length=10, choices=Stage.choices)
    r_score = models.PositiveSmallIntegerField(_("R"), null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(_("F"), null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(_("M"), null=True, blank=True)
    rfm_class = models.CharField(_("RFM class"), max_length=20, choices=RfmClass.choices, blank=True)
    # preference and funnel (definitions.preferred_category, funnel_step)
    preferred_category = models.CharField(_("preferred category"), max_length=64, blank=True)
    first_purchase_at = models.DateTimeField(_("first purchase"), null=True, blank=True)
    second_purchase_at = models.DateTimeField(_("second purchase"), null=True, blank=True)
    referrals = models.IntegerField(_("members referred"), default=0)

    class Meta:
        verbose_name = _("member snapshot")
        verbose_name_plural = _("member snapshots")
        indexes = [
            models.Index(fields=["rfm_class", "monetary"], name="analytics_snap_class"),
            models.Index(fields=["home_store", "rfm_class", "monetary"], name="analytics_snap_store_class"),
            models.Index(fields=["preferred_category", "home_store"], name="analytics_snap_category"),
        ]


class RfmDay(models.Model):
    """Members and their spend per RFM class and home store on each snapshot day."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+")
    rfm_class = models.CharField(_("RFM class"), max_length=20, choices=RfmClass.choices)
    members = models.IntegerField(_("members"), default=0)
    monetary = models.DecimalField(_("spend in the window"), **MONEY)

    class Meta:
        verbose_name = _("RFM day")
        verbose_name_plural = _("RFM days")
        constraints = [models.UniqueConstraint(fields=["day", "store", "rfm_class"], name="analytics_rfmday_once")]


class RollupRun(models.Model):
    """When each roll-up last ran for a day, and how long it took (the dashboards say what is fresh)."""

    kind = models.CharField(_("roll-up"), max_length=20)
    day = models.DateField(_("day"))
    finished_at = models.DateTimeField(_("finished"))
    seconds = models.FloatField(_("seconds"), default=0)
    rows = models.IntegerField(_("rows"), default=0)

    class Meta:
        verbose_name = _("roll-up run")
        verbose_name_plural = _("roll-up runs")
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="analytics_rollup_run_once")]


class CampaignAlert(models.Model):
    """A campaign scene flagged by the daily campaign watch (services/watch.py, 计划异常提醒): open
    while the condition lasts (one open alert per scene and kind), closed on the first day it no
    longer holds. HQ sees the open ones on the campaigns dashboard and in admin."""

    class Kind(models.TextChoices):
        STOPPED = "stopped", _("Grants stopped")
        BUDGET = "budget", _("Budget runs out early")

    scene = models.ForeignKey("campaigns.Scene", verbose_name=_("scene"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("alert"), max_length=10, choices=Kind.choices)
    detail = models.CharField(_("detail"), max_length=300)
    raised_on = models.DateField(_("raised on"))
    checked_on = models.DateField(_("last checked"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign alert")
        verbose_name_plural = _("campaign alerts")
        ordering = ["closed_on", "-raised_on", "scene_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scene", "kind"], condition=models.Q(closed_on__isnull=True), name="analytics_alert_one_open"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.scene}"


# ---------------------------------------------------------------------------------------------
# regions, KPIs and targets (issue 20)
# ---------------------------------------------------------------------------------------------


class RepurchaseWindow(models.Model):
    """Buyers and repeat buyers over the 30, 90 and 365 days that end on a day
    (definitions.window_repurchase_rate), per store, per region (its subtree's purchases) and for
    the chain (store empty). Rolled up nightly for yesterday, and by a rebuild for its last day and
    each month end it passes."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    window_days = models.PositiveSmallIntegerField(_("window (days)"))
    buyers = models.IntegerField(_("buyers"), default=0)
    repeat_buyers = models.IntegerField(_("repeat buyers"), default=0)

    class Meta:
        verbose_name = _("repurchase window")
        verbose_name_plural = _("repurchase windows")
        indexes = [models.Index(fields=["day", "window_days", "store"], name="analytics_repwindow_day")]


class Target(models.Model):
    """A monthly target of a node of the store tree (a store, a region, HQ for the chain)."""

    month = models.DateField(_("month"), help_text=_("Any day of the month; kept as its first day."))
    store = models.ForeignKey(
        Store, verbose_name=_("store or region"), on_delete=models.CASCADE, related_name="analytics_targets"
    )
    new_members = models.PositiveIntegerField(_("new members"), default=0)
    member_sales = models.DecimalField(
        _("member net sales (¥)"),
        max_digits=14,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
    )
    repurchase_rate = models.DecimalField(
        _("repurchase rate (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Of the month's member buyers, the share with two purchases or more."),
    )

    class Meta:
        verbose_name = _("monthly target")
        verbose_name_plural = _("monthly targets")
        ordering = ["-month", "store__code"]
        constraints = [
            models.UniqueConstraint(fields=["store", "month"], name="analytics_target_once"),
            models.CheckConstraint(
                condition=models.Q(member_sales__gte=0)
                & (models.Q(repurchase_rate__isnull=True) | models.Q(repurchase_rate__gte=0, repurchase_rate__lte=100)),
                name="analytics_target_sensible",
                violation_error_message=_("Member net sales cannot be negative; a repurchase rate is 0 to 100%."),
            ),
        ]

    def __str__(self):
        return f"{self.store.code} {self.month:%Y-%m}"

    def clean(self):
        if self.month:
            self.month = self.month.replace(day=1)

    def save(self, *args, **kwargs):
        self.clean()
        super().save(*args, **kwargs)
