"""Counter forms: shape only (required fields, formats); every rule is in the services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from membership.forms import BirthdayFields
from membership.models import Gender, TopUpPlan


class LookupForm(forms.Form):
    q = forms.CharField(label=_("Phone, card or member QR"), max_length=200)


class EnrolForm(BirthdayFields):
    """The birthday's rules (both month and day or neither, the year only with them) come from
    BirthdayFields; a till types the numbers instead of picking them from lists."""

    field_order = [
        "phone",
        "name",
        "gender",
        "birth_month",
        "birth_day",
        "birth_year",
        "card_no",
        "referral_code",
        "marketing_consent",
    ]
    phone = forms.CharField(label=_("Mobile"), max_length=30)
    name = forms.CharField(label=_("Name"), max_length=50, required=False)
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, initial=Gender.UNKNOWN, required=False)
    birth_month = forms.IntegerField(label=_("Birth month"), min_value=1, max_value=12, required=False)
    birth_day = forms.IntegerField(label=_("Birth day"), min_value=1, max_value=31, required=False)
    birth_year = forms.IntegerField(label=_("Birth year (optional)"), min_value=1900, max_value=2100, required=False)
    card_no = forms.CharField(label=_("Scan a physical card (optional)"), max_length=25, required=False)
    referral_code = forms.CharField(label=_("Referral code (optional)"), max_length=8, required=False)
    marketing_consent = forms.BooleanField(label=_("Agrees to receive offers"), required=False)


class SaleForm(forms.Form):
    member_no = forms.CharField(required=False, widget=forms.HiddenInput)
    receipt_no = forms.CharField(label=_("Receipt number"), max_length=64)
    # the shelf price: the counter applies the member price (the tier's discount) on every sale
    amount = forms.DecimalField(label=_("List price (¥)"), max_digits=12, decimal_places=2, min_value=0)
    not_discountable = forms.DecimalField(
        label=_("Of which without member discount (¥)"),
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("Tobacco, gift cards and other goods the discount excludes."),
    )
    pay_points = forms.IntegerField(label=_("Pay with points"), min_value=0, required=False)
    pay_stored_value = forms.DecimalField(
        label=_("Pay with stored value (¥)"), max_digits=12, decimal_places=2, min_value=0, required=False
    )
    pin = forms.CharField(
        label=_("Stored-value PIN"),
        max_length=6,
        required=False,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    coupon_code = forms.CharField(label=_("Coupon code"), max_length=40, required=False)

    def clean(self):
        data = super().clean()
        if data.get("amount") is not None and (data.get("not_discountable") or 0) > data["amount"]:
            self.add_error("not_discountable", _("This part cannot be more than the list price."))
        return data


class ReturnForm(forms.Form):
    sale_receipt_no = forms.CharField(label=_("Receipt number of the sale"), max_length=64)
    receipt_no = forms.CharField(label=_("Return receipt number"), max_length=64)
    amount = forms.DecimalField(label=_("Amount returned (¥)"), max_digits=12, decimal_places=2, min_value=0)


class TopUpForm(forms.Form):
    member_no = forms.CharField(widget=forms.HiddenInput)
    plan = forms.ModelChoiceField(
        label=_("Plan"),
        queryset=TopUpPlan.objects.filter(is_active=True),
        to_field_name="code",
        required=False,
        empty_label=_("No plan"),
    )
    amount = forms.DecimalField(label=_("Amount (¥)"), max_digits=12, decimal_places=2, min_value=0, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("plan") and not data.get("amount"):
            raise forms.ValidationError(_("Choose a plan or enter an amount."))
        if data.get("plan") and not data.get("amount"):
            data["amount"] = data["plan"].pay_amount
        return data
