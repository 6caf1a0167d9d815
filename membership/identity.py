"""How a member is named: the mobile number (normalised, masked) and the card number (Luhn). Pure rules
over strings, below the models, the selectors and the services, which all read them from here."""

import re
import unicodedata

from django.utils.translation import gettext_lazy as _

from core.errors import Invalid

PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII digits only: normalise_phone folds the others
MSG_PHONE = _("Enter an 11-digit mainland mobile number starting with 1.")


def normalise_phone(raw) -> str:
    """'+86 138-0013-8000' → '13800138000'; raises Invalid on anything else. Unicode NFKC first, so
    full-width digits and signs typed on a phone keyboard ('１３８００１３８０００', '＋８６') are the same
    number in ASCII digits, never a second member."""
    digits = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", str(raw or "")))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not PHONE_RE.match(digits):
        raise Invalid(MSG_PHONE, field="phone")
    return digits


def mask_phone(phone: str) -> str:
    """'13800138000' → '138****8000': how a number is shown to anyone but HQ, and written to logs."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone or "") == 11 else phone


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits added


def luhn_check_digit(payload: str) -> str:
    digits = [int(ch) for ch in reversed(payload)]
    # every second digit from the right, starting next to the check digit, is doubled
    total = sum(_DOUBLED[d] for d in digits[0::2]) + sum(digits[1::2])
    return str((10 - total % 10) % 10)


def is_valid_number(number: str) -> bool:
    """A card number: 12 to 19 ASCII digits with a valid Luhn check digit."""
    return (
        isinstance(number, str)
        and number.isascii()
        and number.isdigit()
        and 12 <= len(number) <= 19
        and luhn_check_digit(number[:-1]) == number[-1]
    )
