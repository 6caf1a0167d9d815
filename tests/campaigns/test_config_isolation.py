"""Issue 29: configuration that cannot stop a till. A holiday scene saved without its month and day
made every member sale at every till raise (TypeError in the multiplier's window) and aborted the
daily run for every scene after it. The form and the model refuse it now; a row written past them
is skipped (logged, counted, shown in admin) while sales, returns, lookups and the other scenes go on."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from prometheus_client import REGISTRY

from campaigns.models import BenefitPackage, Scene, SceneGrant
from campaigns.services import scenes

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def double_points(program):
    return BenefitPackage.objects.create(name="双倍积分", multiplier=Decimal("2.00"))


@pytest.mark.parametrize(
    "kind,fields,missing",
    [
        ("fixed_holiday", {}, {"month", "day"}),
        ("fixed_holiday", {"month": 2, "day": 30}, {"day"}),
        ("fixed_holiday", {"month": 10, "day": 1, "end_month": 10}, {"end_day"}),
        ("lunar_holiday", {"month": 8}, {"day"}),
        ("lunar_holiday", {"month": 13, "day": 1}, {"month"}),
        ("nth_weekday", {"month": 5}, {"nth", "weekday"}),
        ("nth_weekday", {"month": 5, "nth": 6, "weekday": 7}, {"nth", "weekday"}),
        ("member_day", {}, {"day"}),
        ("member_day", {"day": 20, "end_day": 10}, {"end_day"}),
        ("milestone", {}, {"step"}),
        ("post_purchase", {"offsets": "2,x,7"}, {"offsets"}),
        ("activation", {}, {"offsets"}),
    ],
)
def test_the_model_refuses_a_scene_without_its_when(double_points, kind, fields, missing):
    scene = Scene(name="节日", kind=kind, package=double_points, **fields)
    with pytest.raises(ValidationError) as refused:
        scene.full_clean()
    assert missing <= set(refused.value.message_dict)


def test_the_admin_form_refuses_a_holiday_without_month_and_day(double_points, signed_in):
    client = signed_in("admin")
    form = {
        "name": "国庆",
        "kind": "fixed_holiday",
        "is_active": "on",
        "days_before": "0",
        "days_after": "0",
        "package": double_points.pk,
        "holdout_percent": "0",
        "claim_mode": "auto",
        "claim_valid_days": "7",
    }
    response = client.post("/admin/campaigns/scene/add/", form)
    assert response.status_code == 200 and not Scene.objects.exists()
    errors = response.context["adminform"].form.errors
    assert {"month", "day"} <= set(errors)
    saved = client.post("/admin/campaigns/scene/add/", {**form, "month": "10", "day": "1"})
    assert saved.status_code == 302 and Scene.objects.get().month == 10


def _counter(where):
    return REGISTRY.get_sample_value("portal_scene_errors_total", {"where": where}) or 0


def test_a_half_filled_scene_written_past_validation_stops_nothing(
    program, double_points, api, enrol, signed_in, django_capture_on_commit_callbacks
):
    Scene.objects.create(name="半填双倍", kind="fixed_holiday", package=double_points)  # no month, day
    bonus = BenefitPackage.objects.create(name="生日礼", bonus_points=88)
    broken = Scene.objects.create(name="半填节日", kind="lunar_holiday", package=bonus)  # no month, day
    today = datetime.now(SH).date()
    birthday = Scene.objects.create(name="生日", kind="birthday", package=bonus)
    member = enrol(phone="13800138001", birthday=f"--{today.month:02d}-{min(today.day, 28):02d}")
    scenes.clear_cache()
    before = _counter("multiplier")
    clerk = api("clerk1")
    sale = clerk.post(
        "/api/v1/sales/", {"receipt_no": "R1", "member": member.member_no, "amount": "100.00"}, format="json"
    )
    assert sale.status_code == 201, sale.content
    assert sale.json()["points_earned"] == 100  # the broken ×2 is skipped, not applied
    assert _counter("multiplier") > before
    lookup = clerk.get(f"/api/v1/members/lookup/?q={member.phone}")
    assert lookup.status_code == 200
    ret = clerk.post(
        f"/api/v1/sales/{sale.json()['sale_id']}/returns/", {"receipt_no": "B1", "amount": "10.00"}, format="json"
    )
    assert ret.status_code == 201, ret.content
    # the daily run: the broken scene is skipped and recorded, the birthday scene still grants
    with django_capture_on_commit_callbacks(execute=True):
        results = scenes.run_daily(on=date(today.year, today.month, min(today.day, 28)))
    assert [r.scene for r in results] == [Scene.objects.get(name="半填双倍").pk, birthday.pk]  # ×2: earn rule only
    assert SceneGrant.objects.filter(scene=birthday, member=member).exists()
    broken.refresh_from_db()
    assert "TypeError" in broken.last_error and broken.last_error_at is not None
    # admin shows it
    page = signed_in("admin").get("/admin/campaigns/scene/").content.decode()
    assert "半填节日" in page and "⚠" in page
    # corrected, the next run clears the error
    Scene.objects.filter(pk=broken.pk).update(month=10, day=1)
    scenes.run_daily(on=date(today.year, today.month, min(today.day, 28)) + timedelta(days=1))
    broken.refresh_from_db()
    assert broken.last_error == "" and broken.last_error_at is None


def test_a_database_failure_in_a_scene_is_not_skipped_but_fails_the_handling_so_it_is_done_again(
    program, enrol, monkeypatch
):
    """A broken scene is skipped so the others go on; a database failure inside one (a deadlock, a lock
    timeout, a lost connection) is not the scene's fault: skipped, the welcome coupon was lost for good,
    the event's receipt committing without it. It fails the handling instead, receipt and all, and the
    redelivered event grants it once."""
    from django.db import OperationalError

    from campaigns import tasks
    from campaigns.models import CouponTemplate
    from core import outbox
    from core.models import EventReceipt

    template = CouponTemplate.objects.create(code="WELCOME10", name="迎新券", value="10.00", threshold="50.00")
    package = BenefitPackage.objects.create(name="迎新礼", bonus_points=50)
    package.coupons.add(template)
    Scene.objects.create(name="迎新", kind="welcome", package=package)
    member = enrol(phone="13800138002")
    real = scenes.grant_batch
    calls = {"n": 0}

    def deadlocked(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("deadlock detected")
        return real(*args, **kwargs)

    monkeypatch.setattr(scenes, "grant_batch", deadlocked)
    event_id = "6f1c2a4e-0000-4000-8000-000000000001"
    with pytest.raises(OperationalError):
        tasks.member_enrolled(member.pk, event_id=event_id)
    assert not EventReceipt.objects.filter(event_id=event_id).exists()  # not marked handled
    assert tasks.member_enrolled(member.pk, event_id=event_id) == 1  # handled again: the coupon
    assert tasks.member_enrolled(member.pk, event_id=event_id) == 0  # and once
    assert SceneGrant.objects.filter(member=member).count() == 1
    assert outbox.confirmed(tasks.MEMBER_ENROLLED, event_id)
