"""Calendar arithmetic for scenes: occurrence windows and their keys (Asia/Shanghai dates); which
window a scene kind has is the kind's own (campaigns.kinds).

An occurrence is one yearly (or monthly) happening of a scene: a holiday's window in a year, a
member's birthday window in a year. Its key (e.g. "2027", "2027-05") is what makes a grant
"once per member per occurrence"."""

import calendar as cal
from dataclasses import dataclass
from datetime import date, timedelta

from lunardate import LunarDate


@dataclass(frozen=True)
class Occurrence:
    key: str
    anchor: date
    starts: date
    ends: date  # inclusive

    def __contains__(self, day: date) -> bool:
        return self.starts <= day <= self.ends


def yearly_date(year: int, month: int, day: int) -> date:
    """The date in `year`; 29 February falls on 28 February in common years."""
    return date(year, month, min(day, cal.monthrange(year, month)[1]))


def nth_weekday(year: int, month: int, nth: int, weekday: int) -> date:
    """The nth weekday (0 = Monday) of a month; nth 5 means the last one."""
    if nth >= 5:
        last = date(year, month, cal.monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def lunar_to_solar(lunar_year: int, month: int, day: int, leap: bool = False) -> date | None:
    """A Chinese lunar date in the Gregorian calendar; None when that leap month does not exist
    that year. A day 30 in a 29-day month falls on the 29th."""
    for d in (day, day - 1):
        try:
            return LunarDate(lunar_year, month, d, leap).to_solar_date()
        except ValueError:
            if leap:
                return None
    return None


def window(anchor: date, before: int, after: int, key: str, end: date | None = None) -> Occurrence:
    """The occurrence from `before` days before `anchor` to `after` days after `end` (or `anchor`)."""
    return Occurrence(
        key=key, anchor=anchor, starts=anchor - timedelta(days=before), ends=(end or anchor) + timedelta(days=after)
    )


def birthday_occurrence(
    month: int, day: int, on: date, *, before: int, after: int, whole_month: bool = False
) -> Occurrence | None:
    """The member's birthday window containing `on`, keyed by the birthday's year."""
    if whole_month:
        if on.month != month:
            return None
        last = cal.monthrange(on.year, month)[1]
        return Occurrence(
            str(on.year), yearly_date(on.year, month, day), date(on.year, month, 1), date(on.year, month, last)
        )
    for y in (on.year - 1, on.year, on.year + 1):
        occ = window(yearly_date(y, month, day), before, after, str(y))
        if on in occ:
            return occ
    return None


def anchors_for_window(on: date, before: int, after: int) -> dict[tuple[int, int], str]:
    """The (month, day) of every birthday (or anniversary) whose window contains `on`, with the
    occurrence key each gives: a set-based query selects members by these pairs. In a common
    year, 29 February birthdays are celebrated on the 28th."""
    pairs = {}
    for offset in range(-after, before + 1):
        anchor = on + timedelta(days=offset)
        pairs[(anchor.month, anchor.day)] = str(anchor.year)
        if anchor.month == 2 and anchor.day == 28 and not cal.isleap(anchor.year):
            pairs[(2, 29)] = str(anchor.year)
    return pairs
