"""Daily housekeeping: stored Idempotency-Key responses, SMS codes, sign-in counters and sessions are
deleted once nothing counts them any more, and only then; the schedules are installed."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.models import LoginThrottle
from membership.models import OneTimeCode
from membership.services import accounts, otp
from pos.api_support import purge_idempotent_responses
from pos.models import IdempotentResponse

pytestmark = pytest.mark.django_db


def test_the_housekeeping_schedules_are_installed():
    from django_celery_beat.models import PeriodicTask

    from core.schedules import install_default_schedules

    install_default_schedules()
    tasks = dict(PeriodicTask.objects.filter(name__startswith="housekeeping:").values_list("name", "task"))
    assert tasks == {
        "housekeeping: codes and sign-in counters": "membership.tasks.purge_codes_and_counters",
        "housekeeping: idempotency keys": "pos.tasks.purge_idempotent_responses",
        "housekeeping: outbox": "membership.tasks.purge_outbox",
        "housekeeping: sessions": "portal.tasks.clear_sessions",
    }


def test_idempotency_responses_older_than_the_setting_go(demo_staff, settings):
    settings.IDEMPOTENCY_KEY_DAYS = 30
    now = timezone.now()
    for key, age in (("old", 31), ("recent", 29)):
        row = IdempotentResponse.objects.create(
            user=demo_staff["clerk1"], key=key, method="POST", path="/x", request_hash="h", status=201, body={}
        )
        IdempotentResponse.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=age))
    assert purge_idempotent_responses(now) == 1
    assert list(IdempotentResponse.objects.values_list("key", flat=True)) == ["recent"]
    assert purge_idempotent_responses(now) == 0


def test_codes_go_only_after_the_daily_limit_stops_counting_them():
    now = timezone.now()
    for phone, age in (("13800000001", timedelta(days=3)), ("13800000002", timedelta(hours=20))):
        OneTimeCode.objects.create(
            phone=phone,
            purpose="signup",
            code_hash="x",
            created_at=now - age,
            expires_at=now - age + timedelta(minutes=5),
        )
    assert otp.purge(now) == 1
    assert list(OneTimeCode.objects.values_list("phone", flat=True)) == ["13800000002"]


def test_sign_in_counters_go_when_their_window_and_lock_have_passed():
    now = timezone.now()
    LoginThrottle.objects.create(key="phone:old", failures=2, window_started_at=now - timedelta(hours=1))
    LoginThrottle.objects.create(key="phone:counting", failures=2, window_started_at=now - timedelta(minutes=5))
    LoginThrottle.objects.create(key="phone:locked", locked_until=now + timedelta(minutes=5))
    LoginThrottle.objects.create(key="phone:unlocked", locked_until=now - timedelta(minutes=1))
    assert accounts.purge_throttles(now) == 2
    assert set(LoginThrottle.objects.values_list("key", flat=True)) == {"phone:counting", "phone:locked"}


def test_expired_sessions_are_cleared(client, demo_staff):
    from portal.tasks import clear_sessions

    client.force_login(demo_staff["clerk1"])
    Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1))
    clear_sessions()
    assert Session.objects.count() == 1 and not Session.objects.filter(session_key="x" * 32).exists()
