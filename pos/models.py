"""The till's records: every sale (with or without a member), its lines and payments, returns,
and the stored responses that make API writes idempotent."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from membership.models import Member, Purchase, PurchaseReturn, Store


class Sale(models.Model):
    # no index of their own: (store, receipt_no), (store, created_at) and (clerk, created_at) begin with
    # them, and every sale would write two index entries more (issue 17)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="sales", db_index=False
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("clerk"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sales",
        db_index=False,
    )
    member = models.ForeignKey(
        Member, verbose_name=_("member"), null=True, blank=True, on_delete=models.PROTECT, related_name="sales"
    )
    purchase = models.OneToOneField(Purchase, null=True, blank=True, on_delete=models.PROTECT, related_name="sale")
    receipt_no = models.CharField(_("receipt number"), max_length=64)
    amount = models.DecimalField(
        _("amount"),
        max_digits=12,
        decimal_places=2,
        help_text=_("After the member discount: returns are against this."),
    )
    member_discount = models.DecimalField(_("member discount"), max_digits=12, decimal_places=2, default=0)
    points_redeemed = models.IntegerField(_("points paid"), default=0)
    points_value = models.DecimalField(_("paid with points"), max_digits=12, decimal_places=2, default=0)
    coupon_code = models.CharField(_("coupon"), max_length=40, blank=True)
    coupon_value = models.DecimalField(_("coupon value"), max_digits=12, decimal_places=2, default=0)
    stored_value_paid = models.DecimalField(_("paid with stored value"), max_digits=12, decimal_places=2, default=0)
    cash_due = models.DecimalField(_("cash due"), max_digits=12, decimal_places=2)
    points_earned = models.IntegerField(_("points earned"), default=0)
    returned_amount = models.DecimalField(_("returned"), max_digits=12, decimal_places=2, default=0)
    offline = models.BooleanField(
        _("queued offline"), default=False, help_text=_("Sent by a till with its original time, after the fact.")
    )
    flagged = models.BooleanField(
        _("flagged"),
        default=False,
        help_text=_(
            "For the store manager: paid offline with more points or stored value than the member had (a balance "
            "went below zero), or backdated."
        ),
    )
    backdated = models.BooleanField(
        _("backdated"),
        default=False,
        db_default=False,  # the previous release, still serving while this migrates, inserts without it
        help_text=_("Sent with a time before the till was last seen online: not a till that was offline then."),
    )
    request_hash = models.CharField(max_length=64)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        constraints = [
            models.UniqueConstraint(fields=["store", "receipt_no"], name="sale_receipt_unique_per_store"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="sale_amount_positive"),
        ]
        indexes = [models.Index(fields=["store", "created_at"]), models.Index(fields=["clerk", "created_at"])]

    def __str__(self):
        return f"{self.store.code}/{self.receipt_no}"

    @property
    def left_to_return(self):
        return self.amount - self.returned_amount


class SaleLine(models.Model):
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    category = models.CharField(_("category"), max_length=64, blank=True)
    qty = models.PositiveIntegerField(_("quantity"), default=1)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("sale line")
        verbose_name_plural = _("sale lines")


class Return(models.Model):
    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name="returns")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="returns")
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    purchase_return = models.OneToOneField(
        PurchaseReturn, null=True, blank=True, on_delete=models.PROTECT, related_name="till_return"
    )
    receipt_no = models.CharField(_("receipt number"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    request_hash = models.CharField(max_length=64)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        constraints = [
            models.UniqueConstraint(fields=["store", "receipt_no"], name="return_receipt_unique_per_store"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="till_return_amount_positive"),
        ]


class IdempotentResponse(models.Model):
    """The first response to a write sent with an Idempotency-Key, replayed for repeats."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]
