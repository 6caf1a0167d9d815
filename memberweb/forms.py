"""Forms of the member pages (/m/): shape only (required fields, lengths, formats); the rules
(who may sign up, codes, lockout, the birthday set once) are in membership's services.accounts and
services.otp."""

from django import forms
from django.utils.translation import gettext_lazy as _

from membership.forms import BirthdayFields
from membership.models import Gender, PointsEntry

PHONE_ATTRS = {"inputmode": "tel", "autocomplete": "tel", "placeholder": _("11-digit mobile number")}
CODE_ATTRS = {"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "6", "pattern": "[0-9]*"}


def _phone(**kwargs):
    return forms.CharField(label=_("Mobile"), max_length=20, widget=forms.TextInput(attrs=PHONE_ATTRS), **kwargs)


def _new_password():
    return forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        help_text=_("At least 8 characters, not only digits."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class SignInForm(forms.Form):
    phone = _phone()
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeRequestForm(forms.Form):
    phone = _phone()


class SignUpForm(BirthdayFields):
    field_order = [
        "phone",
        "code",
        "name",
        "birth_month",
        "birth_day",
        "birth_year",
        "password",
        "referral_code",
        "terms",
        "marketing_consent",
    ]

    phone = _phone()
    code = forms.CharField(label=_("SMS code"), max_length=6, widget=forms.TextInput(attrs=CODE_ATTRS))
    name = forms.CharField(label=_("Name"), max_length=50, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    password = _new_password()
    referral_code = forms.CharField(label=_("Referral code (optional)"), max_length=8, required=False)
    terms = forms.BooleanField(
        label=_("I have read and agree to the member terms and privacy notice"),
        error_messages={"required": _("Please agree to the member terms and privacy notice to join.")},
    )
    marketing_consent = forms.BooleanField(
        label=_("Send me offers and news (you can turn this off any time)"), required=False
    )


class PasswordForm(forms.Form):
    phone = _phone()
    code = forms.CharField(label=_("SMS code"), max_length=6, widget=forms.TextInput(attrs=CODE_ATTRS))
    password = _new_password()


class WeChatBindForm(forms.Form):
    phone = _phone()
    code = forms.CharField(label=_("SMS code"), max_length=6, widget=forms.TextInput(attrs=CODE_ATTRS))


class ProfileForm(BirthdayFields):
    field_order = ["name", "email", "gender", "birth_month", "birth_day", "birth_year", "marketing_consent"]

    name = forms.CharField(label=_("Name"), max_length=50, required=False)
    # checked by accounts.clean_email (one rule for every caller); here only its shape on the page
    email = forms.CharField(
        label=_("E-mail (optional)"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, required=False)
    marketing_consent = forms.BooleanField(label=_("Send me offers and news"), required=False)

    def __init__(self, *args, birthday_locked: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if birthday_locked:  # shown as text: only the counter changes it
            for name in ("birth_month", "birth_day", "birth_year"):
                del self.fields[name]

    def birthday(self):
        return super().birthday() if "birth_month" in self.fields else None


class PointsFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds"))] + list(PointsEntry.Kind.choices)
    )
    month = forms.RegexField(label=_("Month"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False)
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)


class PinForm(forms.Form):
    """The member sets or resets their stored-value PIN with the code sent to their phone."""

    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    pin = forms.CharField(
        label=_("New PIN (6 digits)"),
        max_length=6,
        required=False,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    pin_again = forms.CharField(
        label=_("The PIN again"),
        max_length=6,
        required=False,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("pin") != data.get("pin_again"):
            self.add_error("pin_again", _("The two PINs differ."))
        return data
