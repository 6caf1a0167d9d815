"""Ledgers: points, stored value, growth, purchases and returns, tier changes, expiry notices, audit."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .members import Member
from .program import Tier, TopUpPlan
from .stores import Store, User


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

    @property
    def kind_label(self) -> str:
        """The entry's kind as the member and staff read it: a reversal that gives points back (the
        points a sale paid with, refunded by its return) is "refunded", not "reversed" (扣回 +400 was
        shown, issue 31)."""
        if self.kind == self.Kind.REVERSE and self.amount > 0:
            return str(pgettext_lazy("points entry", "Refunded"))
        return self.get_kind_display()


class StoredValueEntry(models.Model):
    """Append-only stored-value ledger; principal and bonus kept apart (product.md, Stored value)."""

    class Kind(models.TextChoices):
        TOPUP = "topup", _("Top-up")
        PAY = "pay", _("Payment")
        REFUND = "refund", _("Refund to member")
        TOPUP_REFUND = "topup_refund", _("Top-up refunded")
        ADJUST = "adjust", _("Adjusted")

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
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    operator = models.ForeignKey(
        User, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
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

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="tier_changes")
    from_tier = models.ForeignKey(
        Tier, verbose_name=_("from tier"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_tier = models.ForeignKey(Tier, verbose_name=_("to tier"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    operator = models.ForeignKey(
        User, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
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


# The audit actions (services.common.audit(code, …)) and their labels: the manager's desk log and
# admin show these, never the codes. A new audit code gets its label here.
AUDIT_ACTIONS = {
    "card.bind": _("Card bound"),
    "card.replace": _("Card reported lost and replaced"),
    "coupon_void": _("Coupon voided"),
    "member.close": _("Membership closed"),
    "member.consent": _("Marketing consent changed"),
    "member.data_export": _("Personal data exported"),
    "member.enrol": _("Member enrolled"),
    "member.merge": _("Accounts merged"),
    "member.password_reset": _("Member password reset"),
    "member.password_set": _("Member password set"),
    "member.phone_change": _("Mobile number changed"),
    "member.profile": _("Profile changed"),
    "member.sign_in_locked": _("Member sign-in locked"),
    "member.sign_up": _("Member signed up"),
    "member.wechat_bound": _("WeChat bound"),
    "paid_card.buy": _("Paid card sold"),
    "paid_card.refund": _("Paid card refunded"),
    "points.adjust": _("Points adjusted"),
    "points.adjust_approved": _("Points adjustment approved"),
    "points.adjust_rejected": _("Points adjustment rejected"),
    "points.adjust_requested": _("Points adjustment asked for approval"),
    "setup.bootstrap": _("First setup"),
    "staff.sign_in_locked": _("Staff sign-in locked"),
    "sv.pin_locked": _("Stored value locked (wrong PINs)"),
    "sv.set_pin": _("Stored-value PIN set"),
    "sv.topup_refund": _("Top-up refunded"),
    "tier.manual": _("Tier set by hand"),
}


class AuditLog(models.Model):
    """Who did what to which member, for every write that is not itself a ledger entry."""

    action = models.CharField(_("action"), max_length=40)
    member = models.ForeignKey(
        Member, verbose_name=_("member"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    operator = models.ForeignKey(
        User, verbose_name=_("operator"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    @property
    def action_label(self) -> str:
        """The action's label (AUDIT_ACTIONS); an unknown code as it is."""
        return str(AUDIT_ACTIONS.get(self.action, self.action))

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["member", "-created_at"], name="audit_member_recent")]


class PurchaseReturn(models.Model):
    """A return against a member purchase, with what it reversed and refunded."""

    purchase = models.ForeignKey(Purchase, verbose_name=_("purchase"), on_delete=models.PROTECT, related_name="returns")
    reference = models.CharField(_("receipt"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    points_reversed = models.IntegerField(default=0)
    points_refunded = models.IntegerField(default=0)
    growth_reversed = models.IntegerField(default=0)
    sv_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    operator = models.ForeignKey(
        User, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("time"))
    idempotency_key = models.CharField(max_length=100, unique=True)

    class Meta:
        verbose_name = _("member return")
        verbose_name_plural = _("member returns")
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="return_amount_positive")]
