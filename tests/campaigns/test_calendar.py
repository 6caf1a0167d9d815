"""Occurrence windows on every kind of date (issue: campaigns, Done when: date tests)."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from campaigns import calendar as cal
from campaigns import kinds

MID_AUTUMN = {
    2024: date(2024, 9, 17),
    2025: date(2025, 10, 6),
    2026: date(2026, 9, 25),
    2027: date(2027, 9, 15),
    2028: date(2028, 10, 3),
    2029: date(2029, 9, 22),
    2030: date(2030, 9, 12),
}
DOUBLE_NINTH = {
    2024: date(2024, 10, 11),
    2025: date(2025, 10, 29),
    2026: date(2026, 10, 18),
    2027: date(2027, 10, 8),
    2028: date(2028, 10, 26),
    2029: date(2029, 10, 16),
    2030: date(2030, 10, 5),
}
THANKSGIVING = {
    2024: date(2024, 11, 28),
    2025: date(2025, 11, 27),
    2026: date(2026, 11, 26),
    2027: date(2027, 11, 25),
    2028: date(2028, 11, 23),
    2029: date(2029, 11, 22),
    2030: date(2030, 11, 28),
}


def scene(kind, **kw):
    defaults = dict(
        month=None,
        day=None,
        end_month=None,
        end_day=None,
        lunar_leap=False,
        nth=None,
        weekday=None,
        days_before=0,
        days_after=0,
    )
    return SimpleNamespace(kind=kind, **{**defaults, **kw})


def holiday_occurrence(scene, on):
    return kinds.of(scene).occurrence(scene, on)


@pytest.mark.parametrize("year", range(2024, 2031))
def test_mid_autumn_and_double_ninth(year):
    assert cal.lunar_to_solar(year, 8, 15) == MID_AUTUMN[year]
    assert cal.lunar_to_solar(year, 9, 9) == DOUBLE_NINTH[year]
    mid_autumn = scene("lunar_holiday", month=8, day=15, days_before=7)
    occ = holiday_occurrence(mid_autumn, MID_AUTUMN[year])
    assert occ.key == str(year) and occ.starts == MID_AUTUMN[year] - timedelta(days=7)
    assert holiday_occurrence(mid_autumn, MID_AUTUMN[year] + timedelta(days=1)) is None


@pytest.mark.parametrize("year", range(2024, 2031))
def test_thanksgiving_is_the_fourth_thursday_with_six_days_before(year):
    assert cal.nth_weekday(year, 11, 4, 3) == THANKSGIVING[year]
    occ = holiday_occurrence(
        scene("nth_weekday", month=11, nth=4, weekday=3, days_before=6), THANKSGIVING[year] - timedelta(days=6)
    )
    assert occ is not None and occ.anchor == THANKSGIVING[year]


def test_spring_festival_and_a_leap_month():
    assert cal.lunar_to_solar(2026, 1, 1) == date(2026, 2, 17)
    assert cal.lunar_to_solar(2025, 6, 1, leap=True) == date(2025, 7, 25)  # 2025 has a leap 6th month
    assert cal.lunar_to_solar(2026, 6, 1, leap=True) is None  # 2026 has none
    # a lunar new year window crossing the Gregorian year: key is the lunar year
    occ = holiday_occurrence(scene("lunar_holiday", month=1, day=1, days_before=3, days_after=3), date(2028, 1, 24))
    assert occ.key == "2028" and occ.anchor == date(2028, 1, 26)


def test_a_fixed_range_across_new_year():
    s = scene("fixed_holiday", month=12, day=25, end_month=1, end_day=5)
    assert holiday_occurrence(s, date(2027, 1, 3)).key == "2026"
    assert holiday_occurrence(s, date(2026, 12, 25)).key == "2026"
    assert holiday_occurrence(s, date(2027, 1, 6)) is None
    halloween = scene("fixed_holiday", month=10, day=25, end_month=10, end_day=31)
    assert holiday_occurrence(halloween, date(2026, 10, 31)).key == "2026"
    assert holiday_occurrence(halloween, date(2026, 11, 1)) is None


def test_member_day_is_monthly():
    s = scene("member_day", day=12, end_day=14)
    assert holiday_occurrence(s, date(2026, 2, 13)).key == "2026-02"
    assert holiday_occurrence(s, date(2026, 2, 15)) is None


def test_birthday_windows_and_29_february():
    # the birthday and the 6 days before
    assert cal.birthday_occurrence(5, 20, date(2026, 5, 14), before=6, after=0).key == "2026"
    assert cal.birthday_occurrence(5, 20, date(2026, 5, 13), before=6, after=0) is None
    # a 2 January birthday's window starts in the old year, keyed by the birthday's year
    assert cal.birthday_occurrence(1, 2, date(2026, 12, 28), before=6, after=0).key == "2027"
    # 29 February: on the 28th in common years, on the 29th in leap years
    assert cal.birthday_occurrence(2, 29, date(2027, 2, 28), before=0, after=0).anchor == date(2027, 2, 28)
    assert cal.birthday_occurrence(2, 29, date(2028, 2, 28), before=0, after=0) is None
    assert cal.birthday_occurrence(2, 29, date(2028, 2, 29), before=0, after=0).key == "2028"
    assert cal.anchors_for_window(date(2027, 2, 28), 0, 0) == {(2, 28): "2027", (2, 29): "2027"}
    assert (2, 29) not in cal.anchors_for_window(date(2028, 2, 28), 0, 0)
    # the whole birthday month
    assert cal.birthday_occurrence(5, 20, date(2026, 5, 1), before=0, after=0, whole_month=True).key == "2026"
