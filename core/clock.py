"""The clock: the program's time zone and the current time, in one place."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def now() -> datetime:
    return timezone.now()


def local(dt: datetime) -> datetime:
    return dt.astimezone(tz())


def day_start(day: date) -> datetime:
    """00:00 local time of `day`: the first instant of the day."""
    return datetime.combine(day, time.min, tzinfo=tz())
