"""The nightly task, its beat schedule, the rebuild command."""

import io
from datetime import date

import pytest
from django.core.management import call_command

from analytics.models import LifecycleDay, MemberSnapshot, RollupRun, StoreDay
from analytics.services import rollups

from .conftest import sh

pytestmark = pytest.mark.django_db


def test_nightly_schedule_is_in_the_database():
    from django_celery_beat.models import PeriodicTask

    from core.schedules import install_default_schedules

    install_default_schedules()
    task = PeriodicTask.objects.get(name="analytics: nightly roll-ups")
    assert task.task == "analytics.tasks.nightly_rollups" and task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("2", "0", "Asia/Shanghai")


def test_nightly_task_rolls_up_the_day_and_the_snapshot(shop):
    from analytics.tasks import nightly_rollups

    member = shop.join(sh(2026, 7, 1))
    shop.sell(120, sh(2026, 7, 2, 23, 59, 59), member=member)
    result = nightly_rollups.delay("2026-07-02").get()
    assert result["store"] == 1 and result["snapshot"] == 1
    row = StoreDay.objects.get(day=date(2026, 7, 2))
    assert (row.sales_count, row.member_sales_amount) == (1, 120)
    assert MemberSnapshot.objects.get(member=member).day == date(2026, 7, 2)
    nightly_rollups.delay("2026-07-02").get()  # twice: the same rows
    assert StoreDay.objects.filter(day=date(2026, 7, 2)).count() == 1


def test_nightly_catches_up_the_days_it_missed(shop):
    member = shop.join(sh(2026, 7, 1))
    shop.sell(50, sh(2026, 7, 3), member=member)
    rollups.nightly(date(2026, 7, 1))
    report = rollups.nightly(date(2026, 7, 4))
    assert report.days == 3
    assert set(RollupRun.objects.filter(kind="lifecycle").values_list("day", flat=True)) == {
        date(2026, 7, d) for d in (1, 2, 3, 4)
    }
    assert StoreDay.objects.get(day=date(2026, 7, 3)).sales_count == 1


def test_rebuild_command_for_a_range(shop):
    member = shop.join(sh(2026, 7, 1))
    shop.sell(80, sh(2026, 7, 2), "S002", member=member)
    out = io.StringIO()
    call_command("rebuild_rollups", "--from", "2026-07-01", "--to", "2026-07-03", stdout=out)
    assert "rolled up 3 days, 2026-07-01 to 2026-07-03" in out.getvalue() and "snapshot: 1 rows" in out.getvalue()
    first = list(StoreDay.objects.order_by("day", "store").values_list())
    call_command("rebuild_rollups", "--from", "2026-07-01", "--to", "2026-07-03", stdout=io.StringIO())
    again = list(StoreDay.objects.order_by("day", "store").values_list())
    assert [r[1:] for r in again] == [r[1:] for r in first]  # the same rows (new ids)
    assert LifecycleDay.objects.filter(day=date(2026, 7, 3)).get().active == 1
    call_command(
        "rebuild_rollups", "--from", "2026-07-01", "--to", "2026-07-01", "--only", "store", stdout=io.StringIO()
    )


def test_rebuild_command_refuses_a_backwards_range(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("rebuild_rollups", "--from", "2026-07-03", "--to", "2026-07-01", stdout=io.StringIO())
