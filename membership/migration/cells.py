"""One cell of a member file read as text, a time, a date, a whole number or an amount; a bad cell
raises ValueError with the message the row's error report gives."""

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.clock import tz
from core.errors import MembershipError
from core.money import CENT

from .. import identity
from .columns import (
    MAX_MONEY,
    MAX_WHOLE,
    MIN_YEAR,
    MSG_DATE,
    MSG_DATETIME,
    MSG_EARLY_YEAR,
    MSG_MONEY,
    MSG_MONEY_TOO_LARGE,
    MSG_NEGATIVE_POINTS,
    MSG_WHOLE_NUMBER,
    MSG_WHOLE_TOO_LARGE,
)


def as_text(value) -> str:
    if type(value) is str:  # a CSV cell: the common case first
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _aware(at: datetime) -> datetime:
    return timezone.make_aware(at, tz()) if timezone.is_naive(at) else at


def _from_min_year(d):
    """A date or time of the file is from MIN_YEAR on: year 1 overflowed once moved to UTC (SQLite)."""
    if d.year < MIN_YEAR:
        raise ValueError(MSG_EARLY_YEAR % {"year": MIN_YEAR})
    return d


def as_datetime(value, message=MSG_DATETIME) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return _aware(_from_min_year(value))
    if isinstance(value, date):
        return _aware(datetime.combine(_from_min_year(value), time.min))
    text = as_text(value)
    try:
        at = parse_datetime(text) or (datetime.combine(d, time.min) if (d := parse_date(text)) else None)
    except ValueError:
        at = None
    if at is None:
        raise ValueError(message)
    return _aware(_from_min_year(at))


def as_date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return _from_min_year(value.date())
    if isinstance(value, date):
        return _from_min_year(value)
    try:
        d = parse_date(as_text(value))
    except ValueError:
        d = None
    if d is None:
        raise ValueError(MSG_DATE)
    return _from_min_year(d)


def as_whole(value, *, column: str) -> int | None:
    text = as_text(value)
    if not text:
        return None
    if re.fullmatch(r"-[0-9]+", text):
        raise ValueError(MSG_NEGATIVE_POINTS if column == "points" else MSG_WHOLE_NUMBER)
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(MSG_WHOLE_NUMBER)
    # within the tables' integer columns (the length first: int() refuses over 4,300 digits)
    if len(text.lstrip("0")) > len(str(MAX_WHOLE)) or int(text) > MAX_WHOLE:
        raise ValueError(MSG_WHOLE_TOO_LARGE % {"max": MAX_WHOLE})
    return int(text)


def as_money(value) -> Decimal:
    text = as_text(value)
    if not text:
        return Decimal("0.00")
    if not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", text):
        raise ValueError(MSG_MONEY)
    try:
        amount = Decimal(text).quantize(CENT)
    except InvalidOperation as exc:  # more digits than the context's precision
        raise ValueError(MSG_MONEY_TOO_LARGE % {"max": MAX_MONEY}) from exc
    if amount > MAX_MONEY:  # within the tables' decimal columns
        raise ValueError(MSG_MONEY_TOO_LARGE % {"max": MAX_MONEY})
    return amount


def domain_text(exc: MembershipError) -> str:
    """A service's error as the message the admin's forms show for it."""
    from ..forms import domain_message

    return str(domain_message(exc))


def phone_or_blank(value) -> str:
    """The cell's mobile number normalised, or "" when it is not one."""
    try:
        return identity.normalise_phone(as_text(value))
    except MembershipError:
        return ""
