"""Campaign watch (计划异常提醒): grants that stopped for N days, a budget that runs out before the scene
ends at the current pace, and neither where they do not hold; the daily alerts and the dashboard."""

from datetime import date, timedelta

import pytest

from analytics import definitions as d
from analytics.models import AnalyticsSettings, CampaignAlert, RollupRun
from analytics.services import watch

from .conftest import sh

pytestmark = pytest.mark.django_db
D = date(2026, 6, 30)  # idle window (3 days): 06-28 … 06-30; pace window (7 days): 06-24 … 06-30


def at(day, hh=12, mm=0, ss=0):
    return sh(day.year, day.month, day.day, hh, mm, ss)


@pytest.fixture
def member(shop):
    return shop.join(sh(2025, 1, 1))


@pytest.fixture
def make(member, program):
    from campaigns.models import BenefitPackage, Scene, SceneGrant

    points20 = BenefitPackage.objects.create(name="20 points", bonus_points=20)

    def scene(name, kind=Scene.Kind.WINBACK, grants=(), held=(), **kwargs):
        s = Scene.objects.create(name=name, kind=kind, package=points20, **kwargs)
        for n, when in enumerate(grants):
            SceneGrant.objects.create(
                scene=s, member=member, occurrence=f"g{n}", status="granted", points=20, created_at=when
            )
        for n, when in enumerate(held):
            SceneGrant.objects.create(
                scene=s, member=member, occurrence=f"h{n}", variant="holdout", status="holdout", created_at=when
            )
        return s

    return scene


def flags(on=D):
    return sorted((f.scene.name, f.kind) for f in watch.check(on))


def test_grants_stopped_and_its_absence(make):
    from campaigns.models import Scene

    make("stopped", grants=[at(D - timedelta(days=3), 23, 59, 59)])  # last grant the day before the window
    make("busy", grants=[at(D - timedelta(days=10)), at(D - timedelta(days=2), 0, 0, 0)])  # first second of it
    make("held out only", grants=[at(D - timedelta(days=9))], held=[at(D)])  # held-out members are no grants
    make("never granted, running 3 days", kind=Scene.Kind.WELCOME, starts_on=D - timedelta(days=2))
    make("never granted, running 2 days", kind=Scene.Kind.WELCOME, starts_on=D - timedelta(days=1))
    make("holiday between windows", kind=Scene.Kind.FIXED_HOLIDAY, month=10, day=1, grants=[at(D - timedelta(days=90))])
    make("switched off", grants=[at(D - timedelta(days=20))], is_active=False)
    make("ended", grants=[at(D - timedelta(days=20))], ends_on=D - timedelta(days=1))
    make("granted after the day", grants=[at(D - timedelta(days=20)), at(D + timedelta(days=1), 0, 0, 0)])
    assert flags() == [
        ("granted after the day", "stopped"),
        ("held out only", "stopped"),
        ("never granted, running 3 days", "stopped"),
        ("stopped", "stopped"),
    ]
    detail = next(f.detail for f in watch.check(D) if f.scene.name == "stopped")
    assert "3" in detail and "2026-06-28" in detail and "2026-06-30" in detail
    # the window is a setting: over 11 days (06-20 … 06-30) "stopped" and "held out only" granted,
    # the never-granted scene has not run that long; only the one granted on 06-10 stopped
    s = AnalyticsSettings.load()
    s.watch_idle_days = 11
    s.save()
    assert flags() == [("granted after the day", "stopped")]


def test_budget_runs_out_before_the_end_and_its_absence(make):
    from campaigns.models import Scene

    pace = [at(D - timedelta(days=n % 7)) for n in range(14)]  # 14 grants × 20 points in 06-24 … 06-30
    before = [at(D - timedelta(days=7), 23, 59, 59)]  # 06-23: outside the pace window
    # 300 points left at 40 a day: ⌈7.5⌉ = 8 more days → runs out 07-08
    make("short", grants=pace + before, budget_points=1000, points_granted=700, ends_on=date(2026, 7, 31))
    make("just enough", grants=pace + before, budget_points=1000, points_granted=700, ends_on=date(2026, 7, 8))
    make(
        "spent",
        kind=Scene.Kind.MEMBER_DAY,
        day=1,
        end_day=31,
        budget_points=100,
        points_granted=100,
        ends_on=date(2026, 7, 31),
    )
    # grants budget, no end date: 60 left; 15 grants in 7 days → ⌈28⌉ days → 07-28, within 30 days
    make("open-ended short", grants=[*pace, at(D)], budget_grants=100, granted=40)
    # 14 grants in 7 days → 30 days → 07-30: not within the 30 days (runs out on the horizon's day)
    make("open-ended enough", grants=pace, budget_grants=100, granted=40)
    make("no budget", grants=pace)
    assert flags() == [("open-ended short", "budget"), ("short", "budget"), ("spent", "budget")]
    by_name = {f.scene.name: f for f in watch.check(D)}
    assert by_name["short"].runs_out == date(2026, 7, 8)
    assert "2026-07-08" in by_name["short"].detail and "300" in by_name["short"].detail
    assert by_name["spent"].runs_out == D and "已用完" in by_name["spent"].detail  # all used (Chinese by default)
    assert by_name["open-ended short"].runs_out == date(2026, 7, 28)


def test_budget_arithmetic():
    assert d.budget_runs_out_on(300, 280, 7, D) == date(2026, 7, 8)
    assert d.budget_runs_out_on(280, 280, 7, D) == date(2026, 7, 7)
    assert d.budget_runs_out_on(0, 0, 7, D) == D
    assert d.budget_runs_out_on(10, 0, 7, D) is None
    assert d.budget_short(date(2026, 7, 8), date(2026, 7, 9), D)
    assert not d.budget_short(date(2026, 7, 8), date(2026, 7, 8), D)
    assert not d.budget_short(None, date(2026, 7, 8), D)
    assert d.budget_short(D + timedelta(days=29), None, D) and not d.budget_short(D + timedelta(days=30), None, D)


def test_daily_alerts_open_once_and_close(make, member):
    from analytics.tasks import watch_campaigns
    from campaigns.models import SceneGrant

    stopped = make("stopped", grants=[at(D - timedelta(days=5))])
    make("busy", grants=[at(D)])
    assert watch_campaigns(D.isoformat()) == {"raised": 1, "kept": 0, "closed": 0}
    assert watch_campaigns(D.isoformat()) == {"raised": 0, "kept": 1, "closed": 0}  # a rerun: no second alert
    alert = CampaignAlert.objects.get()
    assert (alert.scene, alert.kind, alert.raised_on, alert.closed_on) == (stopped, "stopped", D, None)
    assert list(watch.open_alerts()) == [alert]
    # the next day it is still stopped: the same alert, checked again
    assert watch.record(D + timedelta(days=1)) == {"raised": 0, "kept": 1, "closed": 0}
    # it grants again on 07-02: the alert closes that day
    SceneGrant.objects.create(
        scene=stopped, member=member, occurrence="again", status="granted", created_at=at(D + timedelta(days=2))
    )
    assert watch.record(D + timedelta(days=2)) == {"raised": 0, "kept": 0, "closed": 1}
    alert.refresh_from_db()
    assert (alert.checked_on, alert.closed_on) == (D + timedelta(days=1), D + timedelta(days=2))
    assert not watch.open_alerts().exists()


def test_the_watch_is_scheduled_daily():
    from core.schedules import registered

    (item,) = [s for s in registered() if s.task == "analytics.tasks.watch_campaigns"]
    assert item.crontab == {"minute": "30", "hour": "2"}


def test_campaigns_dashboard_shows_the_watch(make, signed_in):
    from django.utils.timezone import now

    RollupRun.objects.create(kind="store", day=D, finished_at=now())
    admin = signed_in("admin")
    html = admin.get("/analytics/campaigns/", {"start": "2026-06-01", "end": "2026-06-30"}).content.decode()
    assert 'data-testid="watch-none"' in html and 'data-testid="watch-stopped"' not in html
    make("stopped scene", grants=[at(D - timedelta(days=5))])
    watch.record(D)
    html = admin.get("/analytics/campaigns/", {"start": "2026-06-01", "end": "2026-06-30"}).content.decode()
    assert 'data-testid="watch-stopped"' in html and "stopped scene" in html
    assert 'data-testid="watch-none"' not in html and "/admin/analytics/campaignalert/" in html
    manager = signed_in("manager1")
    html = manager.get("/analytics/campaigns/").content.decode()
    assert "stopped scene" in html and "/admin/analytics/campaignalert/" not in html
