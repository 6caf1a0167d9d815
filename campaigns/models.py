"""Campaigns: scenes and their grants, benefit packages, coupons, the points mall, check-in,
referral rewards and notifications (product.md, "Campaigns and scenes").

Offers follow condition + benefit + scope with explicit caps and running counters: a Scene says
when and to whom, its BenefitPackage what; a SceneGrant row per member and occurrence is the
"once" (a unique constraint), and counters on Scene, CouponTemplate and MallItem move with F()."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.constraints import in_order
from membership.models import Member, Store, Tag, Tier, User

MSG_PERCENT = _("A percentage off is more than 0 and less than 100.")


class CouponTemplate(models.Model):
    class Kind(models.TextChoices):
        CASH_OFF = "cash_off", _("Cash off over a threshold (满减)")
        PERCENT_OFF = "percent_off", _("Percentage off")
        GIFT = "gift", _("Gift")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CASH_OFF)
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        default=0,
        help_text=_("¥ off for cash off; percent off (e.g. 10 for 10%) for percentage off."),
    )
    threshold = models.DecimalField(_("minimum spend (¥)"), max_digits=10, decimal_places=2, default=0)
    max_discount = models.DecimalField(
        _("largest discount (¥)"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("For percentage off; empty for no limit."),
    )
    gift_description = models.CharField(_("gift"), max_length=100, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(
        _("valid days after grant"), null=True, blank=True, help_text=_("Used when no fixed dates are given.")
    )
    stores = models.ManyToManyField(Store, verbose_name=_("stores"), blank=True, help_text=_("Empty: every store."))
    stackable = models.BooleanField(
        _("stacks with the member discount"),
        default=True,
        help_text=_("Off: a sale takes either the tier's member discount or this coupon, not both."),
    )
    total_quantity = models.PositiveIntegerField(
        _("total quantity"), null=True, blank=True, help_text=_("Empty: unlimited.")
    )
    issued = models.PositiveIntegerField(_("issued"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_quantity__isnull=True) | models.Q(issued__lte=models.F("total_quantity")),
                name="coupon_template_issued_within_quantity",
            ),
            models.CheckConstraint(condition=models.Q(value__gte=0, threshold__gte=0), name="coupon_template_amounts"),
            models.CheckConstraint(
                condition=~models.Q(kind="percent_off") | models.Q(value__gt=0, value__lt=100),
                name="coupon_template_percent_in_range",
                violation_error_message=MSG_PERCENT,
            ),
            in_order(
                "valid_from",
                "valid_until",
                name="coupon_template_validity_in_order",
                message=_("A coupon's validity must end after it starts."),
                strict=True,
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    def clean(self):
        """A coupon says what it takes off and for how long: cash off more than ¥0, a percentage in
        (0, 100), a gift named, and fixed dates or a number of days after the grant."""
        from django.core.exceptions import ValidationError

        errors = {}
        if self.kind == self.Kind.CASH_OFF and not (self.value and self.value > 0):
            errors["value"] = _("A cash-off coupon takes more than ¥0 off.")
        if self.kind == self.Kind.PERCENT_OFF and not (self.value is not None and 0 < self.value < 100):
            errors["value"] = MSG_PERCENT
        if self.kind == self.Kind.GIFT and not self.gift_description.strip():
            errors["gift_description"] = _("Name the gift.")
        if not self.valid_until and not self.valid_days:
            errors["valid_days"] = _("Give the coupon a validity: a last day, or a number of days after the grant.")
        if errors:
            raise ValidationError(errors)


class Coupon(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        USED = "used", _("Used")
        EXPIRED = "expired", _("Expired")
        VOID = "void", _("Void")

    template = models.ForeignKey(
        CouponTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="coupons"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="coupons")
    code = models.CharField(_("code"), max_length=16, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    source = models.CharField(_("source"), max_length=20, blank=True)
    granted_at = models.DateTimeField(_("granted"))
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    used_store = models.ForeignKey(
        Store, verbose_name=_("used at"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    used_sale_ref = models.CharField(_("sale"), max_length=64, blank=True)
    discount = models.DecimalField(_("discount given"), max_digits=10, decimal_places=2, default=0)
    idempotency_key = models.CharField(max_length=120, unique=True)
    # voided by HQ in admin (campaigns.services.coupons.void), with why; expand-only columns
    void_reason = models.CharField(_("why voided"), max_length=200, blank=True, default="", db_default="")
    voided_at = models.DateTimeField(_("voided"), null=True, blank=True)
    voided_by = models.ForeignKey(
        User,
        verbose_name=_("voided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # never looked up by; no index built on a large table while sales use it
    )

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        indexes = [models.Index(fields=["member", "status"]), models.Index(fields=["status", "valid_until"])]

    def __str__(self):
        return self.code

    @property
    def current_status(self) -> str:
        """The status as a member or a clerk should see it now: past its validity an unused coupon is
        expired, even before the daily job has marked it so."""
        if self.status == self.Status.AVAILABLE and self.valid_until and self.valid_until < timezone.now():
            return self.Status.EXPIRED
        return self.status


class BenefitPackage(models.Model):
    """What a scene gives: any of bonus points, coupons, a points multiplier during the window,
    a mall gift."""

    name = models.CharField(_("name"), max_length=60)
    bonus_points = models.PositiveIntegerField(_("bonus points"), default=0)
    coupons = models.ManyToManyField(CouponTemplate, verbose_name=_("coupons"), blank=True)
    multiplier = models.DecimalField(
        _("points multiplier during the window"),
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1.01")), MaxValueValidator(10)],
        help_text=_("More than 1, at most 10; empty: none."),
    )
    mall_item = models.ForeignKey(
        "MallItem", verbose_name=_("mall gift"), null=True, blank=True, on_delete=models.PROTECT
    )
    cost_per_grant = models.DecimalField(
        _("cost per grant (¥)"), max_digits=10, decimal_places=2, default=0, help_text=_("For campaign ROI.")
    )

    class Meta:
        verbose_name = _("benefit package")
        verbose_name_plural = _("benefit packages")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(multiplier__isnull=True) | models.Q(multiplier__gt=0, multiplier__lte=10),
                name="benefit_multiplier_in_range",
            ),
            models.CheckConstraint(condition=models.Q(cost_per_grant__gte=0), name="benefit_cost_not_negative"),
        ]

    def __str__(self):
        return self.name


class Scene(models.Model):
    """When X happens to a member in the audience, give package Y within window Z, at most N
    times, within budget B, and tell them through channel C."""

    class Kind(models.TextChoices):
        BIRTHDAY = "birthday", _("Birthday")
        ANNIVERSARY = "anniversary", _("Membership anniversary")
        FIXED_HOLIDAY = "fixed_holiday", _("Fixed-date holiday")
        LUNAR_HOLIDAY = "lunar_holiday", _("Lunar holiday")
        NTH_WEEKDAY = "nth_weekday", _("Nth-weekday holiday")
        MEMBER_DAY = "member_day", _("Member day")
        TIER_UPGRADE = "tier_upgrade", _("Tier upgrade")
        MILESTONE = "milestone", _("Milestone")
        WELCOME = "welcome", _("Welcome")
        ACTIVATION = "activation", _("New-member activation")
        POST_PURCHASE = "post_purchase", _("Post-purchase care")
        WINBACK = "winback", _("Win-back")

    class ClaimMode(models.TextChoices):
        AUTO = "auto", _("Granted automatically")
        CLAIM = "claim", _("Claimed by the member on the web")

    class Channel(models.TextChoices):
        NONE = "", _("No message")
        INBOX = "inbox", _("On-site inbox")
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")
        WECHAT = "wechat", _("WeChat")

    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    starts_on = models.DateField(_("runs from"), null=True, blank=True)
    ends_on = models.DateField(_("runs until"), null=True, blank=True)
    # when (which fields apply depends on the kind)
    month = models.PositiveSmallIntegerField(_("month"), null=True, blank=True)
    day = models.PositiveSmallIntegerField(_("day"), null=True, blank=True)
    end_month = models.PositiveSmallIntegerField(_("end month"), null=True, blank=True)
    end_day = models.PositiveSmallIntegerField(_("end day"), null=True, blank=True)
    lunar_leap = models.BooleanField(_("leap lunar month"), default=False)
    nth = models.PositiveSmallIntegerField(_("nth (1–5, or 5 for the last)"), null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(_("weekday (0 = Monday)"), null=True, blank=True)
    days_before = models.PositiveSmallIntegerField(_("days before"), default=0)
    days_after = models.PositiveSmallIntegerField(_("days after"), default=0)
    whole_month = models.BooleanField(_("whole birthday month"), default=False)
    step = models.PositiveIntegerField(_("milestone step"), null=True, blank=True)
    milestone_of = models.CharField(
        _("milestone counts"),
        max_length=10,
        blank=True,
        choices=[("count", _("purchases")), ("days", _("purchase days"))],
    )
    offsets = models.CharField(
        _("offsets (days)"),
        max_length=100,
        blank=True,
        help_text=_("Post-purchase touches, e.g. 2,7,30,60,120; activation days, e.g. 1,3,7."),
    )
    inactive_days = models.PositiveSmallIntegerField(_("days without a purchase"), null=True, blank=True)
    cooldown_days = models.PositiveSmallIntegerField(
        _("at most once per (days)"), null=True, blank=True, help_text=_("Empty: no limit; for a win-back, 180 days.")
    )
    # who
    tiers = models.ManyToManyField(Tier, verbose_name=_("tiers"), blank=True, help_text=_("Empty: all tiers."))
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, help_text=_("Empty: any tags."))
    stores = models.ManyToManyField(Store, verbose_name=_("home stores"), blank=True, help_text=_("Empty: all stores."))
    consent_required = models.BooleanField(_("only members who agreed to offers"), default=False)
    birthday_gift_tiers = models.BooleanField(
        _("only tiers with a birthday gift"),
        default=False,
        help_text=_("Members whose tier has 'birthday gift' ticked in the tier's settings."),
    )
    audience_segment = models.CharField(_("RFM or lifecycle segment"), max_length=40, blank=True)
    preferred_category = models.CharField(
        _("preferred category"),
        max_length=64,
        blank=True,
        help_text=_(
            "Only members whose preferred category in the nightly snapshot is this (the sale-line category with the"
            " highest net spend over the last 365 days), e.g. beauty; empty: any."
        ),
    )
    # what
    package = models.ForeignKey(
        BenefitPackage, verbose_name=_("benefit package"), on_delete=models.PROTECT, related_name="scenes"
    )
    package_b = models.ForeignKey(
        BenefitPackage,
        verbose_name=_("package B (A/B split)"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (%)"), default=0, help_text=_("Members kept out to measure the effect.")
    )
    claim_mode = models.CharField(_("claim mode"), max_length=5, choices=ClaimMode.choices, default=ClaimMode.AUTO)
    claim_valid_days = models.PositiveSmallIntegerField(_("valid days after claiming"), default=7)
    # limits
    budget_grants = models.PositiveIntegerField(_("budget: grants"), null=True, blank=True)
    budget_points = models.PositiveIntegerField(_("budget: points"), null=True, blank=True)
    granted = models.PositiveIntegerField(_("granted"), default=0)
    points_granted = models.PositiveIntegerField(_("points granted"), default=0)
    # tell
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True, default="")
    message_title = models.CharField(_("message title"), max_length=100, blank=True)
    message_body = models.TextField(_("message"), blank=True, help_text=_("May use {name}, {tier}, {points}, {scene}."))
    # SMS and WeChat go out only as templates approved by the provider: the template and which of
    # our fields fill its variables (core.sms.parse_template)
    sms_template = models.CharField(
        _("SMS template"),
        max_length=200,
        blank=True,
        help_text=_(
            "The provider's template code and its variables from name, tier, points, scene, title, body, "
            "e.g. SMS_123456:name,points (Alibaba Cloud) or 1234567:name,points (Tencent Cloud, in the "
            "template's order); empty: the general notice template."
        ),
    )
    # what went wrong when it last failed (services.scenes.skipped): shown in admin; a run clears it
    last_error = models.CharField(_("last error"), max_length=500, blank=True, default="", db_default="")
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    wechat_template = models.CharField(
        _("WeChat template"),
        max_length=200,
        blank=True,
        help_text=_(
            "The official account's template id and its keywords from name, tier, points, scene, title, body, "
            "e.g. TEMPLATE_ID:thing1=scene,character_string2=points; empty: the general notice template."
        ),
    )

    class Meta:
        verbose_name = _("scene")
        verbose_name_plural = _("scenes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(budget_grants__isnull=True) | models.Q(granted__lte=models.F("budget_grants")),
                name="scene_within_grant_budget",
            ),
            models.CheckConstraint(condition=models.Q(holdout_percent__lte=50), name="scene_holdout_at_most_half"),
            in_order(
                "starts_on",
                "ends_on",
                name="scene_run_dates_in_order",
                message=_("A scene must run from a day on or before its last day."),
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        """A scene must give something or say something: a package with points, a coupon, a gift or a
        multiplier, or a message (a message-only scene: a thank-you, a greeting, a notice)."""
        from django.core.exceptions import ValidationError

        from . import kinds

        if errors := kinds.of(self).validate(self):
            raise ValidationError(errors)
        if self.channel and not (self.message_title or self.message_body):
            raise ValidationError(
                {"message_body": _("A scene with a channel needs a message: give it a title or a text.")}
            )
        packages = [p for p in (getattr(self, "package", None), getattr(self, "package_b", None)) if p is not None]
        gives = any(p.bonus_points or p.mall_item_id or p.multiplier or (p.pk and p.coupons.exists()) for p in packages)
        if packages and not gives and not self.channel:
            raise ValidationError(
                {
                    "package": _(
                        "This package gives nothing (no points, coupon, gift or multiplier) and the scene sends "
                        "no message: add something to the package, or choose a channel and write a message."
                    )
                }
            )


class SceneGrant(models.Model):
    class Variant(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        HOLDOUT = "holdout", _("Holdout")

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        CLAIMABLE = "claimable", _("Claimable")
        CLAIMED = "claimed", _("Claimed")
        LAPSED = "lapsed", _("Not claimed in time")
        HOLDOUT = "holdout", _("Held out")

    scene = models.ForeignKey(Scene, verbose_name=_("scene"), on_delete=models.PROTECT, related_name="grants")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="scene_grants")
    occurrence = models.CharField(_("occurrence"), max_length=40)
    variant = models.CharField(_("variant"), max_length=7, choices=Variant.choices, default=Variant.A)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    points = models.PositiveIntegerField(_("points"), default=0)
    window_ends = models.DateTimeField(_("window ends"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"))
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)

    class Meta:
        verbose_name = _("scene grant")
        verbose_name_plural = _("scene grants")
        constraints = [models.UniqueConstraint(fields=["scene", "member", "occurrence"], name="scene_grant_once")]
        indexes = [models.Index(fields=["member", "status"]), models.Index(fields=["scene", "created_at"])]


class MallItem(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    description = models.TextField(_("description"), blank=True)
    image = models.ImageField(_("image"), upload_to="mall/", blank=True)
    points_price = models.PositiveIntegerField(_("points"))
    cash_price = models.DecimalField(_("cash part (¥)"), max_digits=10, decimal_places=2, default=0)
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    per_member_limit = models.PositiveIntegerField(_("per member"), null=True, blank=True)
    tiers = models.ManyToManyField(Tier, verbose_name=_("only for tiers"), blank=True)
    coupon_template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("issues coupon"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("For coupon items: issued at once."),
    )
    valid_from = models.DateTimeField(_("on sale from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("on sale until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    sort = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("mall item")
        verbose_name_plural = _("mall items")
        ordering = ["sort", "points_price"]
        constraints = [models.CheckConstraint(condition=models.Q(points_price__gt=0), name="mall_item_has_price")]

    def __str__(self):
        return f"{self.code} {self.name}"


class MallOrder(models.Model):
    class Status(models.TextChoices):
        RESERVED = "reserved", _("Awaiting pickup")
        FULFILLED = "fulfilled", _("Picked up")
        CANCELLED = "cancelled", _("Cancelled")

    order_no = models.CharField(_("order number"), max_length=20, unique=True)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="mall_orders")
    item = models.ForeignKey(MallItem, verbose_name=_("item"), on_delete=models.PROTECT, related_name="orders")
    qty = models.PositiveIntegerField(_("quantity"), default=1)
    points_spent = models.PositiveIntegerField(_("points"))
    cash_due = models.DecimalField(_("cash due"), max_digits=10, decimal_places=2, default=0)
    pickup_code = models.CharField(_("pickup code"), max_length=12, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RESERVED)
    created_at = models.DateTimeField(_("time"))
    fulfilled_at = models.DateTimeField(_("picked up"), null=True, blank=True)
    fulfilled_store = models.ForeignKey(
        Store, verbose_name=_("picked up at"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fulfilled_by = models.ForeignKey(
        User, verbose_name=_("handed over by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cash_collected = models.DecimalField(
        _("cash collected"),
        max_digits=10,
        decimal_places=2,
        default=0,
        help_text=_("The cash part of a points-plus-cash item, taken at pickup."),
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)

    class Meta:
        verbose_name = _("mall order")
        verbose_name_plural = _("mall orders")
        indexes = [models.Index(fields=["member", "item", "status"])]
        constraints = [models.CheckConstraint(condition=models.Q(qty__gte=1), name="mall_order_qty_positive")]


class CheckIn(models.Model):
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="checkins")
    day = models.DateField(_("day"))
    streak = models.PositiveIntegerField(_("streak"))
    points = models.PositiveIntegerField(_("points"))

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        constraints = [models.UniqueConstraint(fields=["member", "day"], name="checkin_once_a_day")]


class ReferralReward(models.Model):
    """One per invited member: the inviter's reward, on the qualifying purchase (taken back when that
    purchase is returned below the threshold within the window) or on the invited member's sign-up."""

    inviter = models.ForeignKey(
        Member, verbose_name=_("inviter"), on_delete=models.PROTECT, related_name="referral_rewards"
    )
    invited = models.OneToOneField(Member, verbose_name=_("invited member"), on_delete=models.PROTECT, related_name="+")
    points = models.PositiveIntegerField(_("points"))
    purchase = models.ForeignKey(
        "membership.Purchase", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    purchase_ref = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("time"))
    reversed_at = models.DateTimeField(_("taken back"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral reward")
        verbose_name_plural = _("referral rewards")


class ProgramRules(models.Model):
    """Check-in and referral rules (single row, pk 1), edited in admin."""

    checkin_points = models.PositiveIntegerField(_("check-in points a day"), default=5)
    checkin_streak_every = models.PositiveSmallIntegerField(_("streak bonus every (days)"), default=7)
    checkin_streak_bonus = models.PositiveIntegerField(_("streak bonus points"), default=30)
    referral_points = models.PositiveIntegerField(_("referral reward points"), default=100)
    referral_min_purchase = models.DecimalField(
        _("invited member's first purchase at least (¥)"), max_digits=10, decimal_places=2, default=50
    )

    class ReferralOn(models.TextChoices):
        PURCHASE = "purchase", _("the invited member's first purchase over the threshold")
        SIGNUP = "signup", _("the invited member's sign-up")

    referral_reward_on = models.CharField(
        _("referral reward on"), max_length=10, choices=ReferralOn.choices, default=ReferralOn.PURCHASE
    )
    referral_monthly_limit = models.PositiveSmallIntegerField(
        _("rewarded referrals per inviter a month"), default=10, help_text=_("0 = no limit.")
    )
    referral_reverse_days = models.PositiveSmallIntegerField(
        _("reward taken back on a return within (days)"),
        default=30,
        help_text=_(
            "When the qualifying purchase is returned below the threshold within this many days of the purchase,"
            " the inviter's reward is taken back; 0 = never."
        ),
    )
    mall_pickup_days = models.PositiveSmallIntegerField(
        _("mall orders lapse after (days)"),
        default=30,
        help_text=_(
            "An order not picked up within this many days is cancelled, its points and stock given back; 0 = never."
        ),
    )
    monthly_coupon_template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("monthly tier coupon"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("Each member gets their tier's monthly number of this coupon on the 1st."),
    )

    class Meta:
        verbose_name = _("check-in and referral rules")
        verbose_name_plural = _("check-in and referral rules")
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="program_rules_single_row")]

    def __str__(self):
        return str(_("Check-in and referral rules"))

    @classmethod
    def load(cls):
        return cls.objects.get_or_create(pk=1)[0]


class Notification(models.Model):
    """Every message sent to a member, whatever the channel; the inbox shows channel 'inbox'.
    Recorded in the transaction that decided to send it, delivered after commit
    (campaigns.services.notifications)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        HELD = "held", _("Held for quiet hours")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Not delivered")
        TIMEOUT = "timeout", _("No answer from the provider")
        REJECTED = "rejected", _("Refused by the provider")
        FAILED = "failed", _("Failed")
        CAPPED = "capped", _("Over the frequency cap")
        NO_CONSENT = "no_consent", _("No consent to offers")
        NO_ADDRESS = "no_address", _("No address")
        SKIPPED = "skipped", _("Skipped")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(_("channel"), max_length=10, choices=Scene.Channel.choices)
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("message"))
    scene = models.ForeignKey(
        Scene, verbose_name=_("scene"), null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    marketing = models.BooleanField(
        _("marketing"), default=True, help_text=_("Off for notices (points expiring): no consent, quiet hours or cap.")
    )
    created_at = models.DateTimeField(_("time"))
    # delivery: when it may go out (quiet hours hold it), when it went, the provider's message id or error
    deliver_after = models.DateTimeField(_("not before"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    provider_id = models.CharField(_("provider message id"), max_length=64, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    dedupe_key = models.CharField(max_length=120, unique=True, null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["member", "-created_at"]),
            models.Index(fields=["status", "deliver_after"], name="notification_held_due"),
        ]
