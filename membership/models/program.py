"""Program configuration (merchant settings, edited in admin)."""

from datetime import time
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.constraints import in_order

from .stores import Store


class Tier(models.Model):
    """A membership level. `reach_growth` lifts a member at once; `keep_growth` is what the
    periodic review asks for within its window (product.md, "Tiers and growth value")."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("Higher is better."))
    reach_growth = models.PositiveIntegerField(_("growth to reach"), default=0)
    keep_growth = models.PositiveIntegerField(_("growth to keep"), default=0)
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(10)],
    )
    discount_rate = models.DecimalField(
        _("member discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    instant_sale_amount = models.DecimalField(
        _("instant tier on one sale of (¥)"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_(
            "A single sale paying at least this (after discounts and coupons) lifts the member to this "
            "tier at once (满999送金卡). Empty: only growth lifts."
        ),
    )
    monthly_coupons = models.PositiveSmallIntegerField(_("coupons per month"), default=0)
    birthday_gift = models.BooleanField(_("birthday gift"), default=False)
    benefits = models.TextField(_("benefits shown to members"), blank=True, help_text=_("One per line."))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(keep_growth__lte=models.F("reach_growth")),
                name="tier_keep_not_above_reach",
                violation_error_message=_("Growth to keep cannot exceed growth to reach."),
            ),
            models.CheckConstraint(condition=models.Q(points_multiplier__gt=0), name="tier_multiplier_positive"),
        ]

    def __str__(self):
        return self.name

    def benefit_list(self):
        return [line.strip() for line in self.benefits.splitlines() if line.strip()]

    def clean(self):
        """Tiers are a ladder: each rank asks more growth to reach than the rank below it, and less to
        keep than to reach (the lowest tier, reached with nothing, keeps with nothing)."""
        from django.core.exceptions import ValidationError

        errors = {}
        if self.reach_growth and self.keep_growth >= self.reach_growth:
            errors["keep_growth"] = _("Growth to keep must be below growth to reach.")
        if self.rank is not None:
            others = Tier.objects.exclude(pk=self.pk)
            below = others.filter(rank__lt=self.rank, reach_growth__gte=self.reach_growth).order_by("-rank").first()
            above = others.filter(rank__gt=self.rank, reach_growth__lte=self.reach_growth).order_by("rank").first()
            if other := below or above:
                errors["reach_growth"] = _(
                    "Growth to reach must rise with the rank: %(other)s (rank %(rank)s) asks %(growth)s."
                ) % {"other": other.name, "rank": other.rank, "growth": other.reach_growth}
        if errors:
            raise ValidationError(errors)


class ExpiryPolicy(models.TextChoices):
    NEVER = "never", _("Never")
    ROLLING = "rolling", _("Rolling N months after earning")
    YEAR_END = "year_end", _("End of the calendar year after the year earned")


class ReviewPeriod(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    YEARLY = "yearly", _("Yearly")


class ReviewWindow(models.TextChoices):
    ALL_TIME = "all_time", _("All time")
    CALENDAR_YEAR = "calendar_year", _("Calendar year")
    ROLLING_12M = "rolling_12m", _("Rolling 12 months")


class StoredValuePayOrder(models.TextChoices):
    PRINCIPAL_FIRST = "principal_first", _("Principal first, then bonus")
    PROPORTIONAL = "proportional", _("Principal and bonus in proportion")


class TierBasis(models.TextChoices):
    SPEND = "spend", _("Spend (1 per whole yuan paid)")
    PURCHASES = "purchases", _("Number of purchases")
    POINTS = "points", _("Points earned on purchases")


class ProgramSettings(models.Model):
    """The single row of merchant-editable program rules (pk is always 1)."""

    earn_rate = models.DecimalField(
        _("points per yuan"),
        max_digits=8,
        decimal_places=4,
        default=1,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    redeem_points_per_yuan = models.PositiveIntegerField(
        _("points worth ¥1 when paying"), default=100, validators=[MinValueValidator(1), MaxValueValidator(100_000)]
    )
    redeem_cap_percent = models.DecimalField(
        _("points may pay at most this percent of a sale"),
        max_digits=5,
        decimal_places=2,
        default=50,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    expiry_policy = models.CharField(
        _("points expiry"), max_length=10, choices=ExpiryPolicy.choices, default=ExpiryPolicy.YEAR_END
    )
    expiry_months = models.PositiveSmallIntegerField(
        _("months (rolling expiry)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    expiry_notice_days = models.PositiveSmallIntegerField(_("notice days before expiry"), default=30)
    pending_days = models.PositiveSmallIntegerField(_("return window before points are available (days)"), default=0)
    per_sale_cap = models.PositiveIntegerField(_("most points per sale"), null=True, blank=True)
    per_day_cap = models.PositiveIntegerField(_("most points per member per day"), null=True, blank=True)
    review_period = models.CharField(
        _("tier review"), max_length=10, choices=ReviewPeriod.choices, default=ReviewPeriod.MONTHLY
    )
    review_window = models.CharField(
        _("tier review window"), max_length=15, choices=ReviewWindow.choices, default=ReviewWindow.ROLLING_12M
    )
    reset_growth_on_promotion = models.BooleanField(_("reset growth on promotion"), default=False)
    tier_basis = models.CharField(
        _("tiers qualify by"),
        max_length=10,
        choices=TierBasis.choices,
        default=TierBasis.SPEND,
        help_text=_("What a sale adds to growth: the tiers' reach and keep thresholds and the review count in it."),
    )
    adjustment_limit = models.PositiveIntegerField(_("manual adjustments above this need a manager"), default=1000)
    stored_value_pay_order = models.CharField(
        _("stored value pays from"),
        max_length=20,
        choices=StoredValuePayOrder.choices,
        default=StoredValuePayOrder.PRINCIPAL_FIRST,
    )
    max_sale_amount = models.DecimalField(
        _("largest sale accepted (¥)"), max_digits=12, decimal_places=2, default=1_000_000
    )
    max_topup_amount = models.DecimalField(
        _("largest single top-up (¥)"),
        max_digits=12,
        decimal_places=2,
        default=50_000,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    profile_birthday_points = models.PositiveIntegerField(
        _("points for giving a birthday"),
        default=0,
        help_text=_("Once per member, when the profile has a birthday; 0 = off."),
    )
    profile_gender_points = models.PositiveIntegerField(
        _("points for giving a gender"),
        default=0,
        help_text=_("Once per member, when the profile says F or M; 0 = off."),
    )
    birthday_month_discount = models.DecimalField(
        _("extra member discount in the birthday month (%)"),
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Added to the tier's discount on sales in the member's birthday month; 0 = off."),
    )
    offline_payments = models.BooleanField(
        _("tills may take points and stored value offline"),
        default=False,
        help_text=_(
            "A sale a till queued while its network was down may pay with points and stored value up to the "
            "limit below; it is recorded even when the balance has gone below zero since, and flagged for the "
            "store manager."
        ),
    )
    offline_payment_limit = models.DecimalField(
        _("most paid with points and stored value per offline sale (¥)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("50.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    offline_sale_days = models.PositiveSmallIntegerField(
        _("a till's queued sale is accepted for (days)"),
        default=7,
        validators=[MinValueValidator(1)],
        help_text=_("A sale sent with its original time older than this is refused (sale_too_old)."),
    )
    api_token_days = models.PositiveSmallIntegerField(
        _("API tokens expire after (days)"),
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_("A till signs in again for a new token; a password change ends its tokens at once."),
    )
    # marketing messages (campaigns.services.notifications): never one-time codes, never notices
    quiet_hours_start = models.TimeField(
        _("quiet hours from"),
        default=time(21, 0),
        help_text=_(
            "Local time. SMS and WeChat marketing messages are held until the quiet hours end; "
            "the inbox is never held. The same time in both fields: no quiet hours."
        ),
    )
    quiet_hours_end = models.TimeField(_("quiet hours until"), default=time(9, 0))
    message_cap = models.PositiveSmallIntegerField(
        _("marketing messages per member at most"),
        default=2,
        help_text=_("Across all scenes, within the days below, by SMS, WeChat or e-mail (not the inbox); 0 = no cap."),
    )
    message_cap_days = models.PositiveSmallIntegerField(
        _("within (days)"), default=7, validators=[MinValueValidator(1)]
    )

    class Meta:
        verbose_name = _("program settings")
        verbose_name_plural = _("program settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="program_settings_single_row"),
            models.CheckConstraint(
                condition=models.Q(redeem_cap_percent__gte=0, redeem_cap_percent__lte=100),
                name="program_redeem_cap_is_percent",
            ),
            models.CheckConstraint(
                condition=models.Q(redeem_points_per_yuan__gte=1, expiry_months__gte=1),
                name="program_redeem_rate_and_expiry_positive",
            ),
        ]

    def __str__(self):
        return str(_("Program settings"))

    @classmethod
    def load(cls) -> "ProgramSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class EarnStage(models.Model):
    """Staged rate (阶梯): the part of a sale's eligible amount above `from_amount` earns at `rate`
    points per yuan, until the next stage starts. Without stages the base rate applies."""

    from_amount = models.DecimalField(_("from amount (¥)"), max_digits=12, decimal_places=2, unique=True)
    rate = models.DecimalField(
        _("points per yuan"), max_digits=8, decimal_places=4, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )

    class Meta:
        verbose_name = _("staged earn rate")
        verbose_name_plural = _("staged earn rates")
        ordering = ["from_amount"]
        constraints = [
            models.CheckConstraint(condition=models.Q(from_amount__gte=0, rate__gte=0), name="earn_stage_non_negative")
        ]

    def __str__(self):
        return f"≥ ¥{self.from_amount}: {self.rate}"


class EarnMultiplier(models.Model):
    """A category or SKU that earns more (or less) during a date range."""

    class Kind(models.TextChoices):
        CATEGORY = "category", _("Category")
        SKU = "sku", _("SKU")

    kind = models.CharField(_("applies to"), max_length=10, choices=Kind.choices)
    key = models.CharField(_("category or SKU"), max_length=64)
    multiplier = models.DecimalField(
        _("multiplier"), max_digits=4, decimal_places=2, validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("category/SKU multiplier")
        verbose_name_plural = _("category/SKU multipliers")
        indexes = [models.Index(fields=["kind", "key"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(multiplier__gte=0), name="earn_mult_non_negative"),
            in_order(
                "starts_on",
                "ends_on",
                name="earn_mult_dates_in_order",
                message=_("The multiplier must start on or before its last day."),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.key} ×{self.multiplier}"


class PaidCardProduct(models.Model):
    """A paid membership card (付费会员卡 / 权益卡) the merchant sells: its price in money or points, how
    many days it lasts, and what it gives while it lasts (demo: PLUS, demo-program.md)."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    price = models.DecimalField(
        _("price (¥)"), max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    points_price = models.PositiveIntegerField(
        _("price in points"), null=True, blank=True, help_text=_("Empty: it cannot be bought with points.")
    )
    days = models.PositiveSmallIntegerField(_("days"), validators=[MinValueValidator(1)])
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("On top of the tier's multiplier while the card lasts."),
    )
    discount_rate = models.DecimalField(
        _("member discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Added to the tier's discount while the card lasts; 0 = none."),
    )
    monthly_coupon_code = models.CharField(
        _("monthly coupon"),
        max_length=20,
        blank=True,
        help_text=_(
            "Code of the coupon template given on the 1st of each month "
            "(and on the day of purchase) while the card lasts."
        ),
    )
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("paid membership card")
        verbose_name_plural = _("paid membership cards")

    def __str__(self):
        return f"{self.code} {self.name}"


class PaidCard(models.Model):
    """One purchase (or renewal) of a paid card by a member: the days it added, what was paid, and
    what a pro-rata refund gave back."""

    member = models.ForeignKey("Member", verbose_name=_("member"), on_delete=models.PROTECT, related_name="paid_cards")
    product = models.ForeignKey(
        PaidCardProduct, verbose_name=_("card"), on_delete=models.PROTECT, related_name="purchases"
    )
    paid_amount = models.DecimalField(_("paid (¥)"), max_digits=10, decimal_places=2, default=0)
    paid_points = models.PositiveIntegerField(_("paid (points)"), default=0)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    operator = models.ForeignKey("User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("time"))
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True)
    refund_amount = models.DecimalField(_("refunded (¥)"), max_digits=10, decimal_places=2, default=0)
    refund_points = models.PositiveIntegerField(_("refunded (points)"), default=0)
    idempotency_key = models.CharField(max_length=100, unique=True)

    class Meta:
        verbose_name = _("paid card purchase")
        verbose_name_plural = _("paid card purchases")
        indexes = [models.Index(fields=["member", "-ends_at"])]


class TopUpPlan(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    pay_amount = models.DecimalField(_("pay (¥)"), max_digits=10, decimal_places=2)
    bonus_amount = models.DecimalField(_("bonus (¥)"), max_digits=10, decimal_places=2, default=0)
    bonus_points = models.PositiveIntegerField(
        _("bonus points"), default=0, help_text=_("Points given with the top-up; taken back if it is refunded.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("top-up plan")
        verbose_name_plural = _("top-up plans")
        ordering = ["pay_amount"]
        constraints = [
            models.CheckConstraint(condition=models.Q(pay_amount__gt=0, bonus_amount__gte=0), name="topup_plan_amounts")
        ]

    def __str__(self):
        return f"{self.name}: ¥{self.pay_amount} + ¥{self.bonus_amount}"


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self):
        return self.name
