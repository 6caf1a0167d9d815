"""The member file's columns (the contract of the import and the export) and the words and messages
its cells are read with."""

import re

from django.utils.translation import gettext_lazy

from ..models import Gender

COLUMNS = (
    "member_no",
    "phone",
    "name",
    "gender",
    "birthday",
    "home_store",
    "marketing_consent",
    "consent_at",
    "joined_at",
    "card_no",
    "points",
    "points_expire_on",
    "points_pending_until",
    "growth_value",
    "tier",
    "sv_principal",
    "sv_bonus",
    "referrer_phone",
    "tags",
)
REQUIRED = ("phone", "home_store")
BATCH_ROWS = 5000

TRUE_WORDS = {"1", "true", "yes", "y", "是", "同意"}
FALSE_WORDS = {"", "0", "false", "no", "n", "否", "不同意"}
GENDER_WORDS = {
    "": Gender.UNKNOWN,
    "u": Gender.UNKNOWN,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "女": Gender.FEMALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "男": Gender.MALE,
}
NUMERIC_COLUMNS = (
    "member_no",
    "phone",
    "card_no",
    "points",
    "points_expire_on",
    "points_pending_until",
    "growth_value",
    "sv_principal",
    "sv_bonus",
    "referrer_phone",
    "consent_at",
    "joined_at",
    "birthday",
)
MEMBER_NO_RE = re.compile(r"^[0-9A-Za-z]{1,12}$")

MSG_FULL_WIDTH = gettext_lazy("Use ordinary (half-width) digits 0-9 and letters, not full-width ones.")
MSG_PHONE_TAKEN = gettext_lazy("This mobile number already belongs to a member.")
MSG_NEGATIVE_POINTS = gettext_lazy("Points cannot be negative.")
MSG_WHOLE_NUMBER = gettext_lazy("Enter a whole number.")
MSG_MONEY = gettext_lazy("Enter an amount of zero or more with at most two decimals.")
MSG_DATE = gettext_lazy("Enter a date as YYYY-MM-DD.")
MSG_DATETIME = gettext_lazy("Enter a time as YYYY-MM-DD or YYYY-MM-DD HH:MM.")
