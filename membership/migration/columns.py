"""The member file's columns (the contract of the import and the export) and the words and messages
its cells are read with."""

import re
from decimal import Decimal

from django.utils.translation import gettext_lazy

from ..models import Gender, Member

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
# what the tables take: points, growth and balances are integer columns (PostgreSQL's integer), amounts
# and balances of stored value decimals of 12 digits, 2 of them decimals; the name is Member.name
MAX_WHOLE = 2_147_483_647
_SV = Member._meta.get_field("sv_principal")
MAX_MONEY = Decimal(10) ** (_SV.max_digits - _SV.decimal_places) - Decimal("0.01")
NAME_LENGTH = Member._meta.get_field("name").max_length
MIN_YEAR = 1900  # the earliest year of a time or date in the file (year 1 overflowed once moved to UTC)
MAX_CELL = 1000  # characters: no column takes more (several cards or tags included)

MSG_FULL_WIDTH = gettext_lazy("Use ordinary (half-width) digits 0-9 and letters, not full-width ones.")
MSG_PHONE_TAKEN = gettext_lazy("This mobile number already belongs to a member.")
MSG_NEGATIVE_POINTS = gettext_lazy("Points cannot be negative.")
MSG_WHOLE_NUMBER = gettext_lazy("Enter a whole number.")
MSG_MONEY = gettext_lazy("Enter an amount of zero or more with at most two decimals.")
MSG_DATE = gettext_lazy("Enter a date as YYYY-MM-DD.")
MSG_DATETIME = gettext_lazy("Enter a time as YYYY-MM-DD or YYYY-MM-DD HH:MM.")
MSG_WHOLE_TOO_LARGE = gettext_lazy("Enter a whole number of at most %(max)s.")
MSG_MONEY_TOO_LARGE = gettext_lazy("Enter an amount of at most %(max)s.")
MSG_EARLY_YEAR = gettext_lazy("Enter a date in %(year)s or later.")
MSG_NAME_LENGTH = gettext_lazy("A name is at most %(length)s characters.")
MSG_CELL_TOO_LONG = gettext_lazy("This cell holds %(length)s characters; a cell of this column holds at most %(max)s.")
MSG_POINTS_SUM = gettext_lazy("The member's points in this file add up to more than %(max)s.")
MSG_MONEY_SUM = gettext_lazy("The member's stored value in this file adds up to more than %(max)s.")
