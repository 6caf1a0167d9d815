"""Members and cards."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..identity import mask_phone
from .program import PaidCardProduct, Tag, Tier
from .stores import Store, User


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
