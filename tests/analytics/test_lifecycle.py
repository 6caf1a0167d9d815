"""Lifecycle stages at the end of a day and the moves of the week that ends on it (definitions.stage,
definitions.Moves), with the 90/180-day edges and the local midnight."""

from datetime import date, timedelta

import pytest

from analytics import definitions as d
from analytics.models import AnalyticsSettings, LifecycleDay
from analytics.services import rollups

from .conftest import sh

pytestmark = pytest.mark.django_db
SUNDAY = date(2026, 6, 14)  # D1: the week is Mon 06-08 … Sun 06-14
BEFORE = SUNDAY - timedelta(days=7)  # D0


def at(day, hh=12, mm=0, ss=0):
    return sh(day.year, day.month, day.day, hh, mm, ss)


@pytest.fixture
def people(shop):
    joined = sh(2025, 1, 1)
    m = {
        name: shop.join(joined)
        for name in [
            "prospect",
            "new",
            "silent_back",
            "churned_back",
            "goes_silent",
            "goes_churned",
            "still_silent",
            "last_second",
        ]
    }
    m["tomorrow"] = shop.join(joined, "S002")
    shop.sell(10, at(SUNDAY - timedelta(days=3)), member=m["new"])
    shop.sell(10, at(BEFORE - timedelta(days=95)), member=m["silent_back"])
    shop.sell(10, at(SUNDAY - timedelta(days=1)), member=m["silent_back"])
    shop.sell(10, at(BEFORE - timedelta(days=200)), member=m["churned_back"])
    shop.sell(10, at(SUNDAY), member=m["churned_back"])
    shop.sell(10, at(SUNDAY - timedelta(days=90)), member=m["goes_silent"])  # 90 days ago: silent now
    shop.sell(10, at(SUNDAY - timedelta(days=180)), member=m["goes_churned"])  # 180 days ago: churned now
    shop.sell(10, at(SUNDAY - timedelta(days=179), 23, 59, 59), member=m["still_silent"])
    shop.sell(10, at(SUNDAY, 23, 59, 59), member=m["last_second"])  # counts for Sunday
    shop.sell(10, at(SUNDAY + timedelta(days=1), 0, 0, 0), member=m["tomorrow"])  # counts for Monday
    return m


def test_stages_and_moves_of_the_week(people):
    rollups.roll_lifecycle_day(SUNDAY)
    s1 = LifecycleDay.objects.get(day=SUNDAY, store__code="S001")
    s2 = LifecycleDay.objects.get(day=SUNDAY, store__code="S002")
    assert (s1.members, s1.prospects, s1.active, s1.silent, s1.churned) == (8, 1, 4, 2, 1)
    assert (s1.new_active, s1.revived, s1.went_silent, s1.newly_churned) == (2, 2, 1, 1)
    assert (s2.members, s2.prospects, s2.active) == (1, 1, 0)  # the Monday 00:00 sale is next week's
    # net new active = active now − active a week before (only goes_silent was) = 4 − 1
    rollups.roll_lifecycle_day(BEFORE)
    s0 = LifecycleDay.objects.get(day=BEFORE, store__code="S001")
    assert s0.active == 1 and s1.active - s0.active == s1.new_active + s1.revived - s1.went_silent == 3


def test_the_sql_agrees_with_the_definition_member_by_member(people):
    from pos.models import Sale

    rollups.roll_lifecycle_day(SUNDAY)
    expected = {d.PROSPECT: 0, d.ACTIVE: 0, d.SILENT: 0, d.CHURNED: 0}
    moves = {"new_active": 0, "revived": 0, "went_silent": 0, "churned": 0}
    for member in people.values():
        if member.home_store.code != "S001":
            continue
        days = [d.local_day(s.created_at) for s in Sale.objects.filter(member=member)]
        last1 = max((x for x in days if x <= SUNDAY), default=None)
        last0 = max((x for x in days if x <= BEFORE), default=None)
        after, before = d.stage(last1, SUNDAY), d.stage(last0, BEFORE)
        expected[after] += 1
        if mv := d.move(before, after):
            moves[mv] += 1
    row = LifecycleDay.objects.get(day=SUNDAY, store__code="S001")
    assert (row.prospects, row.active, row.silent, row.churned) == tuple(expected.values())
    assert (row.new_active, row.revived, row.went_silent, row.newly_churned) == tuple(moves.values())


def test_windows_are_settings(people):
    s = AnalyticsSettings.load()
    s.active_days, s.silent_days = 30, 60
    s.save()
    rollups.roll_lifecycle_day(SUNDAY)
    row = LifecycleDay.objects.get(day=SUNDAY, store__code="S001")
    # active within 30 days: new, silent_back, churned_back, last_second; nobody 30–59; the rest churned
    assert (row.active, row.silent, row.churned) == (4, 0, 3)


def test_stage_edges():
    on = date(2026, 6, 14)
    assert d.stage(None, on) == d.PROSPECT
    assert d.stage(on, on) == d.ACTIVE
    assert d.stage(on - timedelta(days=89), on) == d.ACTIVE
    assert d.stage(on - timedelta(days=90), on) == d.SILENT
    assert d.stage(on - timedelta(days=179), on) == d.SILENT
    assert d.stage(on - timedelta(days=180), on) == d.CHURNED


def test_the_weekly_table_net_new_active_and_churn_rate(people):
    from analytics import selectors

    rollups.roll_lifecycle_day(BEFORE)
    rollups.roll_lifecycle_day(SUNDAY)
    rows = selectors.lifecycle(selectors.Scope(BEFORE + timedelta(days=1), SUNDAY)).rows
    assert len(rows) == 1 and rows[0]["day"] == SUNDAY
    # a week before: goes_silent active; silent_back, goes_churned, still_silent silent → 1 churned of 4
    assert (rows[0]["net_new_active"], rows[0]["churn_rate"]) == (3, d.churn_rate(1, 4))
