"""Shapes of the POS API (pos-api.md). They check form only; every rule is the services'."""

import copy

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from membership.models import Gender
from membership.services import stored_value

from .services.sales import MSG_OCCURRED_OFFSET

MONEY = dict(max_digits=12, decimal_places=2, coerce_to_string=True)


class TokenRequest(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenResponse(serializers.Serializer):
    token = serializers.CharField()


class EnrolRequest(serializers.Serializer):
    phone = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    gender = serializers.ChoiceField(choices=Gender.values, required=False, default=Gender.UNKNOWN)
    birthday = serializers.CharField(
        max_length=10,
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        help_text='"1990-05-20", or "--05-20" without the year',
    )
    card_no = serializers.CharField(max_length=19, required=False, allow_blank=True, allow_null=True, default=None)
    referral_code = serializers.CharField(max_length=8, required=False, allow_blank=True, allow_null=True, default=None)
    marketing_consent = serializers.BooleanField(required=False, default=False)


class TierRef(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class MemberTier(TierRef):
    discount_rate = serializers.CharField(help_text='the member discount as a fraction: "0.02" is 2% off')


class NextTier(TierRef):
    growth_needed = serializers.IntegerField()


class PointsSummary(serializers.Serializer):
    balance = serializers.IntegerField()
    pending = serializers.IntegerField()
    expiring_soon = serializers.IntegerField()
    expiring_on = serializers.DateField(allow_null=True)


class StoredValueSummary(serializers.Serializer):
    principal = serializers.DecimalField(**MONEY)
    bonus = serializers.DecimalField(**MONEY)


class MemberSummary(serializers.Serializer):
    member_no = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    phone = serializers.CharField()
    card_no = serializers.CharField(allow_null=True)
    tier = MemberTier()
    growth_value = serializers.IntegerField()
    points = PointsSummary()
    stored_value = StoredValueSummary()
    next_tier = NextTier(allow_null=True)
    birthday = serializers.CharField(allow_null=True)
    joined_at = serializers.DateTimeField()
    home_store = serializers.CharField()


class LedgerEntry(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    points = serializers.IntegerField(source="amount")
    balance_after = serializers.IntegerField()
    source = serializers.CharField()
    store = serializers.CharField(source="store.code", read_only=True, allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class AdjustRequest(serializers.Serializer):
    points = serializers.IntegerField(min_value=-10_000_000, max_value=10_000_000)
    reason = serializers.CharField(max_length=200)


class OccurredAt(serializers.DateTimeField):
    """When a queued offline sale or return happened: ISO 8601 with its offset (a time without one is
    refused rather than guessed in the server's zone)."""

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:  # well formed but impossible: 30 February, an offset of +25:00
            self.fail("invalid", format="YYYY-MM-DDThh:mm:ss+hh:mm")
        if parsed is not None and parsed.tzinfo is None:
            raise serializers.ValidationError(str(MSG_OCCURRED_OFFSET))
        return super().to_internal_value(value)


class SaleLineRequest(serializers.Serializer):
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    qty = serializers.IntegerField(min_value=1, max_value=100_000, required=False, default=1)
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, help_text="the line's list price when the sale sends list_amount"
    )
    discountable = serializers.BooleanField(
        required=False, default=True, help_text="false keeps the line out of the member discount"
    )


class FieldsCopiedShallow(serializers.Serializer):
    """A serializer on the sale's path whose instances copy the declared fields shallowly. DRF
    deep-copies every declared field for every instance, which rebuilds each field and its
    validators (and a nested list's child serializer with its fields): 0.23 of a sale's 0.37 ms of
    request validation (bench/README.md). A field keeps nothing of a request: binding sets the
    copy's own name and parent, and validators and choices are only read; a nested list's child
    serializer, shared by the copies, keeps its fields bound to itself."""

    def get_fields(self):
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class SaleRequest(FieldsCopiedShallow):
    receipt_no = serializers.CharField(max_length=64)
    member = serializers.CharField(
        max_length=19,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="member number or card number",
    )
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        default=None,
        help_text="what the member owes before paying with points, stored value "
        "or a coupon, any discount already applied by the till",
    )
    list_amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        default=None,
        help_text="instead of amount: the shelf price, for the portal to apply the member's tier discount",
    )
    lines = SaleLineRequest(many=True, required=False, default=list)
    pay_points = serializers.IntegerField(min_value=0, max_value=100_000_000, required=False, default=0)
    pay_stored_value = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, default="0.00"
    )
    coupon_code = serializers.CharField(max_length=40, required=False, allow_null=True, allow_blank=True, default=None)
    pin = serializers.CharField(
        max_length=6,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="stored-value PIN, where the member set one",
    )
    best_price = serializers.BooleanField(
        required=False,
        default=False,
        help_text="with a coupon that does not stack with the member discount: "
        "use whichever gives the lower price instead of refusing",
    )
    occurred_at = OccurredAt(
        required=False,
        allow_null=True,
        default=None,
        help_text="a sale the till queued while offline: when it happened (ISO 8601 with offset); not in "
        "the future, not older than the program's offline_sale_days (400 sale_too_old)",
    )


class SaleResponse(serializers.Serializer):
    sale_id = serializers.CharField()
    receipt_no = serializers.CharField()
    member_no = serializers.CharField(allow_null=True)
    # a replay of a sale recorded before the member price answers what was stored then: no list_amount
    list_amount = serializers.DecimalField(**MONEY, required=False)
    member_discount = serializers.DecimalField(**MONEY, default="0.00")
    amount = serializers.DecimalField(**MONEY)
    points_value = serializers.DecimalField(**MONEY)
    coupon_value = serializers.DecimalField(**MONEY)
    stored_value_paid = serializers.DecimalField(**MONEY)
    cash_due = serializers.DecimalField(**MONEY)
    points_earned = serializers.IntegerField()
    points_pending = serializers.IntegerField()
    points_redeemed = serializers.IntegerField()
    points_balance = serializers.IntegerField(allow_null=True)
    growth_value = serializers.IntegerField(allow_null=True)
    tier = TierRef(allow_null=True)
    upgraded = serializers.BooleanField()
    price_basis = serializers.ChoiceField(
        choices=["none", "member_discount", "coupon", "both"], required=False, help_text="which offers priced the sale"
    )
    occurred_at = serializers.DateTimeField(required=False, help_text="a queued offline sale: when it happened")
    flagged = serializers.BooleanField(
        required=False,
        help_text="a queued offline sale for the store manager: it paid with more points or stored value than the "
        "member had, or it is backdated (the till was online after its time)",
    )


class ReturnRequest(serializers.Serializer):
    receipt_no = serializers.CharField(max_length=64)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    occurred_at = OccurredAt(
        required=False,
        allow_null=True,
        default=None,
        help_text="a return the till queued while offline: when it happened (as for sales)",
    )


class ReturnResponse(serializers.Serializer):
    return_id = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    cash_back = serializers.DecimalField(
        **MONEY,
        required=False,
        help_text="the cash to hand back (the sale's cash part of it); "
        "absent on returns recorded before it was answered",
    )
    points_reversed = serializers.IntegerField()
    growth_reversed = serializers.IntegerField()
    points_refunded = serializers.IntegerField()
    stored_value_refunded = serializers.DecimalField(**MONEY)
    points_balance = serializers.IntegerField(allow_null=True)


class TopUpRequest(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    plan = serializers.CharField(max_length=20, required=False, allow_null=True, allow_blank=True, default=None)


class TopUpResponse(serializers.Serializer):
    topup_id = serializers.SerializerMethodField(help_text="for a refund of this top-up (opaque)")
    principal_added = serializers.DecimalField(**MONEY)
    bonus_added = serializers.DecimalField(**MONEY)
    points_added = serializers.IntegerField(help_text="bonus points of the plan (demo: TOPUP300 +100)")
    principal = serializers.DecimalField(**MONEY)
    bonus = serializers.DecimalField(**MONEY)

    def get_topup_id(self, result) -> str:
        return stored_value.topup_ref(result.entry.pk)


class ErrorBody(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorResponse(serializers.Serializer):
    error = ErrorBody()


class TemplateRef(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class CouponOut(serializers.Serializer):
    code = serializers.CharField()
    template = TemplateRef()
    name = serializers.CharField(source="template.name")
    kind = serializers.CharField(source="template.kind")
    value = serializers.DecimalField(source="template.value", **MONEY)
    threshold = serializers.DecimalField(source="template.threshold", **MONEY)
    stackable = serializers.BooleanField(source="template.stackable")
    status = serializers.ChoiceField(source="current_status", choices=["available", "used", "expired", "void"])
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True)


class MallItemOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    points = serializers.IntegerField(source="points_price")
    cash = serializers.DecimalField(source="cash_price", **MONEY)
    stock = serializers.IntegerField(allow_null=True)
    per_member_limit = serializers.IntegerField(allow_null=True)


class MallOrderRequest(serializers.Serializer):
    member = serializers.CharField(max_length=19, help_text="member number or card number")
    item = serializers.CharField(max_length=20)
    qty = serializers.IntegerField(min_value=1, max_value=99, required=False, default=1)


class MallOrderOut(serializers.Serializer):
    order_no = serializers.CharField()
    pickup_code = serializers.CharField()
    points_spent = serializers.IntegerField()
    points_balance = serializers.IntegerField()


class FulfilOut(serializers.Serializer):
    order_no = serializers.CharField()
    item = serializers.CharField(source="item.code")
    qty = serializers.IntegerField()
    status = serializers.CharField()
    fulfilled_at = serializers.DateTimeField()


# ---------------------------------------------------------------------------------------
# The store desk (pos-api.md, "The store desk")
# ---------------------------------------------------------------------------------------


class CardRequest(serializers.Serializer):
    card_no = serializers.CharField(max_length=30, help_text="a physical card from the imported stock")


class CardOut(serializers.Serializer):
    card_no = serializers.CharField(source="number")
    kind = serializers.ChoiceField(choices=["physical", "virtual"])
    status = serializers.ChoiceField(choices=["stock", "active", "blocked"])


class LostCardRequest(serializers.Serializer):
    replacement_card_no = serializers.CharField(
        max_length=30,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="a physical card from stock; without it a virtual card is issued",
    )


class PhoneCodeRequest(serializers.Serializer):
    phone = serializers.CharField(max_length=30, help_text="the member's new mobile number")


class CodeSentOut(serializers.Serializer):
    phone = serializers.CharField(help_text="where the code went, masked")
    resend_in = serializers.IntegerField(help_text="seconds until another code may be asked for")


class PhoneChangeRequest(serializers.Serializer):
    phone = serializers.CharField(max_length=30)
    code = serializers.CharField(
        max_length=10,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="the code sent to the new phone; a manager may omit it",
    )


class PinRequest(serializers.Serializer):
    pin = serializers.CharField(max_length=6, help_text="6 digits, typed by the member")
    code = serializers.CharField(
        max_length=10,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="the code sent to the member's phone; a manager may omit it",
    )


class MergeRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


# "from" is a Python keyword: declared here so the field keeps the contract's name
MergeRequest._declared_fields["from"] = serializers.CharField(
    max_length=19, help_text="member number of the account merged into this one and closed"
)


class CloseRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class CloseOut(serializers.Serializer):
    member_no = serializers.CharField()
    status = serializers.CharField()


class TopUpRefundOut(serializers.Serializer):
    topup_id = serializers.SerializerMethodField()
    principal_refunded = serializers.SerializerMethodField()
    bonus_removed = serializers.SerializerMethodField()
    principal = serializers.DecimalField(source="principal_after", **MONEY)
    bonus = serializers.DecimalField(source="bonus_after", **MONEY)

    def get_topup_id(self, entry) -> str:
        return stored_value.topup_ref(entry.topup_id)

    def get_principal_refunded(self, entry) -> str:
        return f"{-entry.principal:.2f}"

    def get_bonus_removed(self, entry) -> str:
        return f"{-entry.bonus:.2f}"
