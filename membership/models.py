from datetime import time
from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .identity import mask_phone


class Store(models.Model):
    """A shop of the chain, or a node above shops (HQ, a region) through `parent`."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"

    def subtree_ids(self) -> list[int]:
        """This node and every node under it (a region's stores, a store alone)."""
        return StoreTree.load().subtree_ids(self.pk)


class StoreTree:
    """The whole store tree (HQ → region → store) read in one query: a chain has hundreds of nodes,
    not millions, so walking it in memory beats a recursive query per page."""

    def __init__(self, stores):
        self.nodes = {s.pk: s for s in stores}
        self.children: dict[int | None, list] = {}
        for s in sorted(self.nodes.values(), key=lambda s: s.code):
            self.children.setdefault(s.parent_id if s.parent_id in self.nodes else None, []).append(s)

    @classmethod
    def load(cls) -> "StoreTree":
        return cls(Store.objects.all())

    def subtree_ids(self, pk: int) -> list[int]:
        out, todo = [], [pk]
        while todo:
            node = todo.pop()
            out.append(node)
            todo.extend(c.pk for c in self.children.get(node, []))
        return sorted(out)

    def is_leaf(self, pk: int) -> bool:
        return not self.children.get(pk)

    def regions(self) -> list:
        """The nodes that have nodes under them (HQ, regions), in tree order."""
        return [s for s, _depth in self.walk() if not self.is_leaf(s.pk)]

    def walk(self, root: int | None = None, depth: int = 0):
        """(node, depth) in tree order, children by code, from the roots (or under `root`)."""
        for s in self.children.get(root, []):
            yield s, depth
            yield from self.walk(s.pk, depth + 1)


class Role(models.TextChoices):
    CLERK = "clerk", _("Clerk")
    MANAGER = "manager", _("Store manager")
    REGIONAL = "regional", _("Regional manager")
    HQ = "hq", _("HQ operator")


class User(AbstractUser):
    """A staff account: clerk, store manager or HQ operator. Members sign in separately.

    Admin access (is_staff) follows the role: only HQ operators and superusers get it; what they may do
    there is decided by `membership.permissions.RoleBackend` (an authentication backend in settings)."""

    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.CLERK)

    class Meta(AbstractUser.Meta):
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="hq") | models.Q(store__isnull=False),
                name="staff_outside_hq_has_store",
                violation_error_message=_("Clerks and store managers belong to a store."),
            )
        ]

    def clean(self):
        super().clean()
        if self.role == Role.REGIONAL and self.store_id and not Store.objects.filter(parent_id=self.store_id).exists():
            raise ValidationError(
                {"store": _("A regional manager belongs to a region: a store node with stores under it.")}
            )

    def save(self, *args, **kwargs):
        if self.is_superuser:
            self.role = Role.HQ
        self.is_staff = self.role == Role.HQ
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ("role" in update_fields or "is_superuser" in update_fields):
            kwargs["update_fields"] = set(update_fields) | {"is_staff", "role"}
        super().save(*args, **kwargs)


# ---------------------------------------------------------------------------------------
# Program configuration (merchant settings, edited in admin)
# ---------------------------------------------------------------------------------------


class Tier(models.Model):
    """A membership level. `reach_growth` lifts a member at once; `keep_growth` is what the
    periodic review asks for within its window (product.md, "Tiers and growth value")."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("Higher is better."))
    reach_growth = models.PositiveIntegerField(_("growth to reach"), default=0)
    keep_growth = models.PositiveIntegerField(_("growth to keep"), default=0)
    points_multiplier = models.DecimalField(_("points multiplier"), max_digits=4, decimal_places=2, default=1)
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

    earn_rate = models.DecimalField(_("points per yuan"), max_digits=8, decimal_places=4, default=1)
    redeem_points_per_yuan = models.PositiveIntegerField(_("points worth ¥1 when paying"), default=100)
    redeem_cap_percent = models.DecimalField(
        _("points may pay at most this percent of a sale"), max_digits=5, decimal_places=2, default=50
    )
    expiry_policy = models.CharField(
        _("points expiry"), max_length=10, choices=ExpiryPolicy.choices, default=ExpiryPolicy.YEAR_END
    )
    expiry_months = models.PositiveSmallIntegerField(_("months (rolling expiry)"), default=12)
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
    rate = models.DecimalField(_("points per yuan"), max_digits=8, decimal_places=4)

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
    multiplier = models.DecimalField(_("multiplier"), max_digits=4, decimal_places=2)
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("category/SKU multiplier")
        verbose_name_plural = _("category/SKU multipliers")
        indexes = [models.Index(fields=["kind", "key"])]
        constraints = [models.CheckConstraint(condition=models.Q(multiplier__gte=0), name="earn_mult_non_negative")]

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


# ---------------------------------------------------------------------------------------
# Members and cards
# ---------------------------------------------------------------------------------------


class Channel(models.TextChoices):
    COUNTER = "counter", _("Counter")
    WEB = "web", _("Web sign-up")
    POSTER = "poster", _("Store QR poster")
    IMPORT = "import", _("Import")


class Gender(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    UNKNOWN = "U", _("Not given")


class Member(models.Model):
    """A member and the cached balances of their ledgers.

    Design: points_balance (available) + points_pending always equals the sum of the member's
    PointsEntry amounts; sv_principal and sv_bonus equal the sums of StoredValueEntry. Only the
    services in membership/services/ change these columns, inside the transaction that writes the
    ledger entry, with the member row locked (select_for_update)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        MERGED = "merged", _("Merged into another")
        CLOSED = "closed", _("Closed")

    member_no = models.CharField(_("member number"), max_length=12, unique=True)
    phone = models.CharField(_("mobile"), max_length=11, db_index=True)
    name = models.CharField(_("name"), max_length=50, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, default=Gender.UNKNOWN)
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    birth_month = models.PositiveSmallIntegerField(_("birth month"), null=True, blank=True)
    birth_day = models.PositiveSmallIntegerField(_("birth day"), null=True, blank=True)
    # no index of its own: (home_store, joined_at) below serves every query by home store
    home_store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.PROTECT, related_name="members", db_index=False
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.COUNTER)
    enrolled_by = models.ForeignKey(
        User,
        verbose_name=_("enrolled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enrolled_members",
    )
    joined_at = models.DateTimeField(_("joined"), db_index=True)
    referrer = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
    )
    referral_code = models.CharField(_("referral code"), max_length=8, unique=True)
    email = models.EmailField(
        _("e-mail"),
        blank=True,
        help_text=_("Optional; messages by e-mail go here (the member edits it on their profile)."),
    )
    wechat_openid = models.CharField(
        _("WeChat openid"),
        max_length=64,
        blank=True,
        help_text=_(
            "Bound when the member proves their phone inside WeChat; signs them in there and receives messages."
        ),
    )
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    consent_at = models.DateTimeField(_("consent recorded"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_members",
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="members")

    tier = models.ForeignKey(Tier, verbose_name=_("tier"), on_delete=models.PROTECT, related_name="members")
    tier_since = models.DateTimeField(_("tier since"))
    tier_floor = models.ForeignKey(
        Tier, verbose_name=_("tier floor"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tier_floor_until = models.DateField(_("floor until"), null=True, blank=True)
    # the paid card the member holds and until when (a copy of their PaidCard rows, for the sale's rules)
    paid_card_product = models.ForeignKey(
        PaidCardProduct, verbose_name=_("paid card"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_card_until = models.DateTimeField(_("paid card until"), null=True, blank=True)
    growth_value = models.PositiveIntegerField(_("growth value"), default=0)

    points_balance = models.IntegerField(_("points available"), default=0)
    points_pending = models.IntegerField(_("points pending"), default=0)
    points_flagged = models.BooleanField(
        _("negative balance flagged"),
        default=False,
        help_text=_("Set when a return reversed more points than the member had."),
    )
    sv_principal = models.DecimalField(_("stored value principal"), max_digits=12, decimal_places=2, default=0)
    sv_bonus = models.DecimalField(_("stored value bonus"), max_digits=12, decimal_places=2, default=0)
    sv_flagged = models.BooleanField(
        _("negative stored value flagged"),
        default=False,
        help_text=_("Set when a till's offline sale paid with more stored value than the member had."),
    )
    sv_pin = models.CharField(_("stored value PIN (hashed)"), max_length=128, blank=True)

    purchase_count = models.PositiveIntegerField(_("purchases"), default=0)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    password = models.CharField(_("member password (hashed)"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(
                fields=["phone"],
                condition=models.Q(status="active"),
                name="member_phone_unique_when_active",
                violation_error_message=_("This mobile number already belongs to a member."),
            ),
            models.CheckConstraint(
                condition=models.Q(sv_principal__gte=0, sv_bonus__gte=0) | models.Q(sv_flagged=True),
                name="member_stored_value_not_negative",
            ),
            models.CheckConstraint(condition=models.Q(points_pending__gte=0), name="member_pending_not_negative"),
            models.UniqueConstraint(
                fields=["wechat_openid"],
                condition=~models.Q(wechat_openid=""),
                name="member_wechat_openid_unique",
                violation_error_message=_("This WeChat account is already bound to a member."),
            ),
            models.CheckConstraint(
                condition=models.Q(birth_month__isnull=True) | models.Q(birth_month__gte=1, birth_month__lte=12),
                name="member_birth_month_valid",
            ),
        ]
        # No index on a column a sale writes (membership.services.purchases.PURCHASE_FIELDS; the tier
        # only on an upgrade): with free room in each page (fillfactor 90, migration 0014) the balance
        # update of a sale is a HOT update, which writes no index entry. The tier has the foreign
        # key's index. docs/decisions.md lists which query needs each index.
        indexes = [
            models.Index(fields=["home_store", "joined_at"]),
            models.Index(fields=["birth_month", "birth_day"]),
        ]

    def __str__(self):
        return f"{self.member_no} {self.name}"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def birthday_display(self) -> str | None:
        if not self.birth_month or not self.birth_day:
            return None
        year = f"{self.birth_year:04d}" if self.birth_year else "-"
        return f"{year}-{self.birth_month:02d}-{self.birth_day:02d}"


class CardQuerySet(models.QuerySet):
    def primary_first(self):
        """The active cards, the primary one first: physical before virtual, then the latest bound."""
        return self.filter(status=Card.Status.ACTIVE).order_by(*Card.PRIMARY_ORDER)


class Card(models.Model):
    """A membership card: 12–19 digits ending in a Luhn check digit."""

    PRIMARY_ORDER = ("-kind", "-bound_at")  # which active card is the member's: primary_first()

    class Kind(models.TextChoices):
        VIRTUAL = "virtual", _("Virtual")
        PHYSICAL = "physical", _("Physical")

    class Status(models.TextChoices):
        STOCK = "stock", _("In stock (not bound)")
        ACTIVE = "active", _("Active")
        BLOCKED = "blocked", _("Blocked (lost)")

    number = models.CharField(_("card number"), max_length=19, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.STOCK)
    member = models.ForeignKey(
        Member, verbose_name=_("member"), null=True, blank=True, on_delete=models.PROTECT, related_name="cards"
    )
    batch = models.CharField(_("stock batch"), max_length=40, blank=True)
    replaces = models.OneToOneField(
        "self", verbose_name=_("replaces"), null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    bound_at = models.DateTimeField(_("bound"), null=True, blank=True)
    blocked_at = models.DateTimeField(_("blocked"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = CardQuerySet.as_manager()

    class Meta:
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="active") | models.Q(member__isnull=False), name="card_active_has_member"
            ),
        ]

    def __str__(self):
        return self.number


# ---------------------------------------------------------------------------------------
# Ledgers
# ---------------------------------------------------------------------------------------


class PointsEntry(models.Model):
    """Append-only points ledger; positive entries are also lots.

    Design overview:
    - Every change of a member's points is one row here, written in the same transaction as the
      cached columns on Member; rows are never updated except `remaining` and `pending` on lots.
    - A positive entry (earn, bonus, positive adjust, refund of paid points) is a lot: `remaining`
      starts at `amount`, `available_at` says when it stops being pending, `expires_at` when it
      expires. Negative entries (redeem, expire, reversal, negative adjust) take from lots, those
      that expire first first (FIFO by expiry), and have remaining 0.
    - Invariants (checked by `manage.py check_ledger`):
        points_balance + points_pending == Σ amount
        points_pending == Σ remaining of pending lots
        points_balance == Σ remaining of available lots when the balance is ≥ 0 (0 lots otherwise)
    - A balance goes below zero only when a return reverses points already spent; the entry and the
      member are flagged, and later credits pay that debt before they become a lot.
    """

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        REVERSE = "reverse", _("Reversed")
        ADJUST = "adjust", _("Adjusted")
        BONUS = "bonus", _("Bonus")
        TRANSFER = "transfer", _("Transferred")

    class Source(models.TextChoices):
        SALE = "sale", _("Sale")
        RETURN = "return", _("Return")
        MALL_ORDER = "mall_order", _("Mall order")
        SCENE = "scene", _("Campaign")
        CHECKIN = "checkin", _("Check-in")
        REFERRAL = "referral", _("Referral")
        MANUAL = "manual", _("Manual")
        EXPIRY = "expiry", _("Expiry")
        PAID_CARD = "paid_card", _("Paid card")
        PROFILE = "profile", _("Profile completed")
        MERGE = "merge", _("Account merge")
        IMPORT = "import", _("Import")
        TOPUP = "topup", _("Top-up")

    # no index of its own: points_member_recent (member, -created_at) serves every query by member
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="points_entries", db_index=False
    )
    amount = models.IntegerField(_("points"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    source_ref = models.CharField(_("source reference"), max_length=64, blank=True)
    purchase = models.ForeignKey(
        "Purchase",
        verbose_name=_("purchase"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="points_entries",
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    operator = models.ForeignKey(
        User, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), db_index=True)
    balance_after = models.IntegerField(_("balance after"))
    # lot fields (positive entries)
    remaining = models.IntegerField(_("remaining"), default=0)
    pending = models.BooleanField(_("pending"), default=False)
    available_at = models.DateTimeField(_("available from"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    flagged = models.BooleanField(_("flagged"), default=False)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="points_entry_not_zero"),
            models.CheckConstraint(condition=models.Q(remaining__gte=0), name="points_lot_remaining_not_negative"),
            models.CheckConstraint(
                condition=models.Q(remaining__lte=models.F("amount")) | models.Q(remaining=0),
                name="points_lot_remaining_within_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="points_member_recent"),
            # open lots, FIFO by expiry
            models.Index(fields=["member", "expires_at"], name="points_open_lots", condition=models.Q(remaining__gt=0)),
            models.Index(fields=["expires_at"], name="points_expiring_lots", condition=models.Q(remaining__gt=0)),
            models.Index(fields=["available_at"], name="points_pending_lots", condition=models.Q(pending=True)),
        ]

    def __str__(self):
        return f"{self.member_id} {self.amount:+d} {self.kind}"


class StoredValueEntry(models.Model):
    """Append-only stored-value ledger; principal and bonus kept apart (product.md, Stored value)."""

    class Kind(models.TextChoices):
        TOPUP = "topup", _("Top-up")
        PAY = "pay", _("Payment")
        REFUND = "refund", _("Refund to member")
        TOPUP_REFUND = "topup_refund", _("Top-up refunded")
        ADJUST = "adjust", _("Adjusted")
        TRANSFER = "transfer", _("Transferred")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="sv_entries")
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices)
    principal = models.DecimalField(_("principal"), max_digits=12, decimal_places=2)
    bonus = models.DecimalField(_("bonus"), max_digits=12, decimal_places=2)
    principal_after = models.DecimalField(_("principal after"), max_digits=12, decimal_places=2)
    bonus_after = models.DecimalField(_("bonus after"), max_digits=12, decimal_places=2)
    plan = models.ForeignKey(TopUpPlan, verbose_name=_("plan"), null=True, blank=True, on_delete=models.PROTECT)
    topup = models.ForeignKey(
        "self",
        verbose_name=_("top-up refunded"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
    )
    purchase = models.ForeignKey(
        "Purchase",
        verbose_name=_("purchase"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sv_entries",
    )
    source_ref = models.CharField(_("source reference"), max_length=64, blank=True)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    operator = models.ForeignKey(
        User, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("time"), db_index=True)
    flagged = models.BooleanField(
        _("flagged"), default=False, help_text=_("The balance after it is below zero (a till's offline sale).")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("stored-value entry")
        verbose_name_plural = _("stored-value entries")
        constraints = [
            models.CheckConstraint(condition=~models.Q(principal=0, bonus=0), name="sv_entry_not_zero"),
            models.CheckConstraint(
                condition=models.Q(principal_after__gte=0, bonus_after__gte=0) | models.Q(flagged=True),
                name="sv_entry_after_not_negative",
            ),
            models.UniqueConstraint(
                fields=["topup"], condition=models.Q(kind="topup_refund"), name="sv_topup_refunded_once"
            ),
        ]
        indexes = [models.Index(fields=["member", "-created_at"], name="sv_member_recent")]


class GrowthEntry(models.Model):
    """Growth value earned (+) or reversed (−); the tier review sums these over its window."""

    member = models.ForeignKey(  # growth_member_time (member, created_at) serves it
        Member, on_delete=models.PROTECT, related_name="growth_entries", db_index=False
    )
    amount = models.IntegerField(_("growth"))
    purchase = models.ForeignKey(
        "Purchase", null=True, blank=True, on_delete=models.PROTECT, related_name="growth_entries"
    )
    created_at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("growth entry")
        verbose_name_plural = _("growth entries")
        indexes = [models.Index(fields=["member", "created_at"], name="growth_member_time")]
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="growth_entry_not_zero")]


class Purchase(models.Model):
    """A sale as the membership engine sees it: what the member paid with points and stored value,
    what was eligible, what was earned, and how much has been returned. Returns reverse in
    proportion using these running totals (product.md, Points)."""

    member = models.ForeignKey(  # purchase_member_recent (member, -created_at) serves it
        Member, on_delete=models.PROTECT, related_name="purchases", db_index=False
    )
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    operator = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(_("receipt"), max_length=64)
    created_at = models.DateTimeField(_("time"))
    amount = models.DecimalField(
        _("amount"),
        max_digits=12,
        decimal_places=2,
        help_text=_("After the member discount: returns are against this."),
    )
    member_discount = models.DecimalField(_("member discount"), max_digits=12, decimal_places=2, default=0)
    points_paid = models.IntegerField(_("points paid"), default=0)
    points_value = models.DecimalField(_("points value"), max_digits=12, decimal_places=2, default=0)
    coupon_value = models.DecimalField(_("coupon value"), max_digits=12, decimal_places=2, default=0)
    sv_principal_paid = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    sv_bonus_paid = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    eligible_amount = models.DecimalField(_("eligible amount"), max_digits=12, decimal_places=2)
    points_earned = models.IntegerField(_("points earned"), default=0)
    growth = models.IntegerField(_("growth"), default=0)
    tier_at_sale = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    returned_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    points_reversed = models.IntegerField(default=0)
    points_refunded = models.IntegerField(default=0)
    growth_reversed = models.IntegerField(default=0)
    sv_principal_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    sv_bonus_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    idempotency_key = models.CharField(max_length=100, unique=True)

    class Meta:
        verbose_name = _("member purchase")
        verbose_name_plural = _("member purchases")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="purchase_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(returned_amount__lte=models.F("amount")), name="purchase_returned_within_amount"
            ),
        ]
        indexes = [models.Index(fields=["member", "-created_at"], name="purchase_member_recent")]

    @property
    def sv_paid(self):
        return self.sv_principal_paid + self.sv_bonus_paid


class TierChange(models.Model):
    class Reason(models.TextChoices):
        ENROL = "enrol", _("Enrolment")
        UPGRADE = "upgrade", _("Upgrade")
        REVIEW = "review", _("Review")
        MANUAL = "manual", _("Set by HQ")
        MERGE = "merge", _("Account merge")
        MIGRATION = "migration", _("Migration")

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    operator = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("time"))
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        indexes = [models.Index(fields=["member", "-created_at"], name="tierchange_member_recent")]


class ExpiryNotice(models.Model):
    """One notice per member and expiry date, so a re-run sends nothing twice."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="expiry_notices")
    expires_at = models.DateTimeField()
    points = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "expires_at"], name="expiry_notice_once")]


class AuditLog(models.Model):
    """Who did what to which member, for every write that is not itself a ledger entry."""

    action = models.CharField(_("action"), max_length=40)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    operator = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["member", "-created_at"], name="audit_member_recent")]


class PurchaseReturn(models.Model):
    """A return against a member purchase, with what it reversed and refunded."""

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="returns")
    reference = models.CharField(_("receipt"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    points_reversed = models.IntegerField(default=0)
    points_refunded = models.IntegerField(default=0)
    growth_reversed = models.IntegerField(default=0)
    sv_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    operator = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("time"))
    idempotency_key = models.CharField(max_length=100, unique=True)

    class Meta:
        verbose_name = _("member return")
        verbose_name_plural = _("member returns")
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="return_amount_positive")]


# ---------------------------------------------------------------------------------------
# Member web accounts: one-time codes and sign-in throttling
# ---------------------------------------------------------------------------------------


class OneTimeCode(models.Model):
    """A 6-digit code sent by SMS to prove a member holds a phone (sign-up, password reset, first
    password after a counter enrolment). Only a keyed hash is stored; a code is good for one use,
    a few attempts and a few minutes (membership/services/otp.py)."""

    class Purpose(models.TextChoices):
        SIGNUP = "signup", _("Sign-up")
        RESET = "reset", _("Password reset")
        SET_PASSWORD = "set_password", _("First password")
        CHANGE_PHONE = "change_phone", _("Phone change")
        SET_PIN = "set_pin", _("Stored-value PIN")
        BIND_WECHAT = "bind_wechat", _("WeChat binding")

    phone = models.CharField(_("mobile"), max_length=11)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(_("sent"))
    expires_at = models.DateTimeField(_("expires"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [
            models.Index(fields=["phone", "-created_at"], name="otp_phone_recent"),
            models.Index(fields=["ip", "-created_at"], name="otp_ip_recent"),
        ]


# ---------------------------------------------------------------------------------------
# Member migration jobs (large files imported in the background)
# ---------------------------------------------------------------------------------------


class MemberImportJob(models.Model):
    """A member file imported by a Celery worker (membership/migration/jobs.py). The progress and
    the reconciliation live here, so the admin page shows them again after a reload."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file = models.FileField(_("file"), upload_to="member-imports/")
    dry_run = models.BooleanField(
        _("dry run"), default=True, help_text=_("Check the file and show what would be written; write nothing.")
    )
    skip_bad_rows = models.BooleanField(_("skip rows with errors"), default=False)
    tier_floor_until = models.DateField(
        _("keep the file's tiers until"),
        null=True,
        blank=True,
        help_text=_(
            "Tiers given in the file are kept as a floor until this date; without it, the tier is "
            "computed from the growth value."
        ),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows in the file"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows processed"), default=0)
    result = models.JSONField(_("reconciliation"), default=dict, blank=True)
    created_by = models.ForeignKey(
        User, verbose_name=_("started by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("member import")
        verbose_name_plural = _("member imports")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.file.name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.rows_done / self.rows_total))


class AdjustmentRequest(models.Model):
    """A clerk's manual point adjustment above the program's limit, waiting for a store manager."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a manager")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+")
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=200)
    requested_by = models.ForeignKey(User, verbose_name=_("asked by"), on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("time"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        User, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    entry = models.ForeignKey(PointsEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("adjustment waiting for approval")
        verbose_name_plural = _("adjustments waiting for approval")
        indexes = [models.Index(fields=["store", "status"])]
