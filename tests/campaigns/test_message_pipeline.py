"""Whether and when a message goes out (campaigns.services.notifications): recorded in the grant's
transaction, sent after commit from the outbox, outside any lock, exactly once; message-only scenes
and the demo's 48-hour thank-you; quiet hours and the per-member frequency cap."""

import threading
from datetime import datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import translation

from campaigns import tasks
from campaigns.models import BenefitPackage, Coupon, Notification, Scene, SceneGrant
from campaigns.services import notifications, scenes
from core import outbox
from core.models import OutboxEvent
from core.sms import LocmemSmsBackend
from membership.models import Member, PointsEntry

SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


@pytest.fixture(autouse=True)
def sms_in_memory(settings):
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    outbox._delivered.clear()
    outbox._paused_until = 0.0
    yield LocmemSmsBackend.outbox
    LocmemSmsBackend.outbox.clear()
    outbox._delivered.clear()


def sms_scene(**kwargs):
    pkg = BenefitPackage.objects.create(name=kwargs.pop("package_name", "10 points"), bonus_points=10)
    fields = dict(
        name="member day",
        kind="member_day",
        day=1,
        end_day=28,
        package=pkg,
        channel="sms",
        message_title="会员日",
        message_body="{name} 您好",
    )
    fields.update(kwargs)
    return Scene.objects.create(**fields)


# ---------------------------------------------------------------------------------------------
# after commit, outside any lock, exactly once
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rollback_after_a_grant_sends_nothing(program, enrol, sms_in_memory, django_capture_on_commit_callbacks):
    scene = sms_scene()
    enrol(name="甲", marketing_consent=True)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            assert scenes.run_scene(scene, at=at(2026, 6, 5, 10)).granted == 1
            raise RuntimeError("the caller's transaction fails after the grant")
    assert sms_in_memory == []
    assert not SceneGrant.objects.exists() and not Notification.objects.exists()
    assert not OutboxEvent.objects.filter(type=notifications.JOB).exists()


@pytest.mark.django_db
def test_the_message_is_recorded_queued_in_the_grant_and_sent_after_commit(
    program, enrol, sms_in_memory, django_capture_on_commit_callbacks
):
    scene = sms_scene()
    member = enrol(name="甲", marketing_consent=True)
    with django_capture_on_commit_callbacks(execute=True):
        scenes.run_scene(scene, at=at(2026, 6, 5, 10))
        note = Notification.objects.get(member=member)
        assert note.status == "queued" and note.sent_at is None and sms_in_memory == []
        job = OutboxEvent.objects.get(type=notifications.JOB)
        assert job.payload == {"notification_id": note.pk}
    note.refresh_from_db()
    assert note.status == "sent" and note.sent_at is not None
    assert sms_in_memory == [(member.phone, "会员日 甲 您好")]


@pytest.mark.django_db
def test_a_replayed_delivery_event_sends_once(program, enrol, sms_in_memory, django_capture_on_commit_callbacks):
    scene = sms_scene()
    member = enrol(name="甲", marketing_consent=True)
    with django_capture_on_commit_callbacks(execute=True):
        scenes.run_scene(scene, at=at(2026, 6, 5, 10))
    assert len(sms_in_memory) == 1
    job = OutboxEvent.objects.get(type=notifications.JOB)
    note = Notification.objects.get(member=member)
    # the same event delivered again (a lost mark), through the relay and by hand
    outbox.flush_marks()
    OutboxEvent.objects.exclude(pk=job.pk).update(sent_at=job.occurred_at)
    OutboxEvent.objects.filter(pk=job.pk).update(sent_at=None, occurred_at=job.occurred_at - timedelta(minutes=1))
    assert outbox.relay(settle_seconds=0) == 1
    assert tasks.deliver_notification(note.pk, event_id=str(job.pk)) is None
    # even without the receipt (another event for the same row), the claim sends once
    assert tasks.deliver_notification(note.pk, event_id="00000000-0000-0000-0000-000000000001") is None
    assert tasks.deliver_notification(note.pk) is None
    assert sms_in_memory == [(member.phone, "会员日 甲 您好")]
    note.refresh_from_db()
    assert note.status == "sent"


@pytest.mark.django_db
def test_a_gateway_that_raises_is_recorded_on_the_row_and_the_grant_stands(
    program, enrol, sms_in_memory, django_capture_on_commit_callbacks
):
    scene = sms_scene()
    member = enrol(name="甲", marketing_consent=True)
    with mock.patch.object(notifications, "_deliver", side_effect=TimeoutError("gateway timed out")):
        with django_capture_on_commit_callbacks(execute=True):
            result = scenes.run_scene(scene, at=at(2026, 6, 5, 10))
    assert result.granted == 1
    assert SceneGrant.objects.get(member=member).status == "granted"
    assert Member.objects.get(pk=member.pk).points_balance == 10
    note = Notification.objects.get(member=member)
    assert note.status == "failed" and note.sent_at is None
    assert note.error == "TimeoutError: gateway timed out"
    # a failed message is not sent again by a replay either
    assert tasks.deliver_notification(note.pk) is None


@pytest.mark.django_db
def test_the_channel_answer_is_copied_onto_the_row(program, enrol, django_capture_on_commit_callbacks):
    member = enrol(marketing_consent=True)
    answer = notifications.Delivery("sent", provider_id="SMS-4711", error="")
    with mock.patch.object(notifications, "_deliver", return_value=answer) as channel:
        with django_capture_on_commit_callbacks(execute=True):
            note = notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, 5, 10))
    channel.assert_called_once()
    assert channel.call_args.args == (member, "sms", "t", "b")
    assert channel.call_args.kwargs["notification"].pk == note.pk and channel.call_args.kwargs["claimed"]
    note.refresh_from_db()
    assert (note.status, note.provider_id, note.error) == ("sent", "SMS-4711", "")
    rejected = notifications.Delivery("failed", error="template not approved")
    with mock.patch.object(notifications, "_deliver", return_value=rejected):
        with django_capture_on_commit_callbacks(execute=True):
            other = notifications.notify(member=member, channel="email", title="t", body="b", at=at(2026, 6, 5, 11))
    other.refresh_from_db()
    assert (other.status, other.error, other.sent_at) == ("failed", "template not approved", None)


@pytest.mark.django_db(transaction=True)
def test_the_channel_is_called_after_the_grant_committed_outside_any_transaction(program, enrol):
    scene = sms_scene()
    member = enrol(name="甲", marketing_consent=True)
    seen = {}

    def channel(m, ch, title, body, **kw):
        seen["in_transaction"] = connection.in_atomic_block
        seen["granted"] = SceneGrant.objects.filter(scene=scene, member=m).exists()
        return notifications.Delivery("sent")

    with mock.patch.object(notifications, "_deliver", side_effect=channel):
        scenes.run_scene(scene, at=at(2026, 6, 5, 10))
    assert seen == {"in_transaction": False, "granted": True}
    assert Notification.objects.get(member=member).status == "sent"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hanging_gateway_does_not_hold_the_scene_lock(on_postgres, program, enrol):
    scene = sms_scene()
    first = enrol(name="甲", marketing_consent=True)
    started, release = threading.Event(), threading.Event()

    def hanging(m, ch, title, body, **kw):
        started.set()
        release.wait(60)
        return notifications.Delivery("sent", provider_id="late")

    def run():
        try:
            scenes.run_scene(scene, at=at(2026, 6, 5, 10))
        finally:
            connection.close()

    with mock.patch.object(notifications, "_deliver", side_effect=hanging):
        worker = threading.Thread(target=run)
        worker.start()
        try:
            assert started.wait(60), "the channel was never called"
            # while the gateway hangs: the scene row is free, the grant is committed, another run goes on
            with transaction.atomic():
                Scene.objects.select_for_update(nowait=True).get(pk=scene.pk)
            assert SceneGrant.objects.filter(member=first).count() == 1
            assert Member.objects.get(pk=first.pk).points_balance == 10
            second = enrol(name="乙", marketing_consent=False)
            assert scenes.run_scene(scene, at=at(2026, 6, 5, 10, 5)).granted == 1
            assert SceneGrant.objects.filter(member=second).exists()
        finally:
            release.set()
            worker.join(60)
    assert Notification.objects.get(member=first).status == "sent"


# ---------------------------------------------------------------------------------------------
# message-only scenes
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_message_only_scene_records_a_grant_per_member_and_occurrence_and_sends_the_message(program, enrol):
    nothing = BenefitPackage.objects.create(name="message only")
    scene = Scene.objects.create(
        name="会员日通知",
        kind="member_day",
        day=1,
        end_day=28,
        package=nothing,
        claim_mode=Scene.ClaimMode.CLAIM,  # nothing to claim: the grant is the message
        channel="inbox",
        message_title="会员日",
        message_body="{name}，本周三会员日双倍积分",
    )
    a, b = enrol(name="甲"), enrol(name="乙")
    result = scenes.run_scene(scene, at=at(2026, 6, 5, 10))
    assert result.granted == 2 and result.occurrence
    grants = SceneGrant.objects.filter(scene=scene)
    assert sorted(grants.values_list("member_id", "status", "points")) == [
        (a.pk, "granted", 0),
        (b.pk, "granted", 0),
    ]
    assert scenes.run_scene(scene, at=at(2026, 6, 6, 10)).granted == 0  # once per occurrence
    scene.refresh_from_db()
    assert scene.granted == 2
    assert list(Notification.objects.filter(scene=scene).order_by("member_id").values_list("body", "status")) == [
        ("甲，本周三会员日双倍积分", "sent"),
        ("乙，本周三会员日双倍积分", "sent"),
    ]
    assert not PointsEntry.objects.exists() and not Coupon.objects.exists()


@pytest.mark.django_db
def test_a_scene_must_give_something_or_say_something(program):
    nothing = BenefitPackage.objects.create(name="nothing")
    silent = Scene(name="silent", kind="member_day", day=1, package=nothing)
    with pytest.raises(ValidationError) as refused, translation.override("en"):
        silent.full_clean()
    with translation.override("en"):
        assert "gives nothing" in refused.value.message_dict["package"][0]
    with translation.override("zh-hans"):
        assert "什么也不给" in refused.value.message_dict["package"][0]
    no_text = Scene(name="no text", kind="member_day", day=1, package=nothing, channel="inbox")
    with pytest.raises(ValidationError) as refused:
        no_text.full_clean()
    assert list(refused.value.message_dict) == ["message_body"]
    Scene(
        name="message only", kind="member_day", day=1, package=nothing, channel="inbox", message_title="Hi"
    ).full_clean()
    doubled = BenefitPackage.objects.create(name="x2", multiplier=2)
    Scene(name="multiplier", kind="member_day", day=1, package=doubled).full_clean()


@pytest.mark.django_db
def test_admin_saves_a_message_only_scene_and_refuses_an_empty_one(program, signed_in):
    nothing = BenefitPackage.objects.create(name="nothing")
    client = signed_in("admin")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    form = {
        "name": "感谢",
        "kind": "member_day",
        "is_active": "on",
        "day": "1",
        "days_before": "0",
        "days_after": "0",
        "package": str(nothing.pk),
        "holdout_percent": "0",
        "claim_mode": "auto",
        "claim_valid_days": "7",
        "channel": "",
        "message_title": "",
        "message_body": "",
    }
    refused = client.post("/admin/campaigns/scene/add/", form)
    assert refused.status_code == 200 and not Scene.objects.exists()
    assert "gives nothing" in refused.content.decode()
    saved = client.post(
        "/admin/campaigns/scene/add/", {**form, "channel": "inbox", "message_title": "感谢光临", "message_body": "谢谢"}
    )
    assert saved.status_code == 302 and Scene.objects.get().channel == "inbox"


@pytest.mark.django_db
def test_the_demo_thanks_each_purchase_48_hours_after_it_once(campaigns_demo, enrol, buy):
    care = Scene.objects.get(name="购后关怀")
    assert care.kind == "post_purchase" and care.channel == "inbox" and care.offsets == "2"
    assert not scenes._grantable(care.package)
    zhang = enrol(name="张")
    li = enrol(name="李")
    first = buy(zhang, "30.00", at=at(2026, 6, 1, 14)).purchase
    second = buy(zhang, "20.00", at=at(2026, 6, 1, 21, 30)).purchase
    lis = buy(li, "60.00", at=at(2026, 6, 2, 9)).purchase

    def run(*args):
        return scenes.run_daily(kinds=[Scene.Kind.POST_PURCHASE], at=at(*args))[0].granted

    def thanked():
        return list(
            SceneGrant.objects.filter(scene=care).order_by("pk").values_list("member_id", "occurrence", "created_at")
        )

    assert run(2026, 6, 3, 13, 59) == 0  # 47 h 59 min
    assert run(2026, 6, 3, 14, 0) == 1
    assert run(2026, 6, 3, 14, 15) == 0  # once per purchase
    assert run(2026, 6, 3, 21, 30) == 1  # zhang's second purchase is thanked too, in quiet hours (inbox)
    assert scenes.run_daily(at=at(2026, 6, 4, 8, 30))  # the daily run at 08:30 adds nothing: li is due at 09:00
    assert len(thanked()) == 2
    assert run(2026, 6, 4, 9, 0) == 1
    assert thanked() == [
        (zhang.pk, f"purchase:{first.pk}+2", at(2026, 6, 3, 14, 0)),
        (zhang.pk, f"purchase:{second.pk}+2", at(2026, 6, 3, 21, 30)),
        (li.pk, f"purchase:{lis.pk}+2", at(2026, 6, 4, 9, 0)),
    ]
    notes = Notification.objects.filter(scene=care).order_by("pk")
    assert [(n.member_id, n.channel, n.title, n.status) for n in notes] == [
        (zhang.pk, "inbox", "感谢光临", "sent"),
        (zhang.pk, "inbox", "感谢光临", "sent"),
        (li.pk, "inbox", "感谢光临", "sent"),
    ]
    assert notes[0].body.startswith("张，感谢您的光临")
    assert Member.objects.get(pk=zhang.pk).points_balance == 50  # only the purchases' own points: no gift
    assert not Coupon.objects.filter(source=f"scene:{care.pk}").exists()
    # a re-run of those days grants nothing twice
    for day in (3, 4, 5):
        assert run(2026, 6, day, 23, 59) == 0


@pytest.mark.django_db
def test_a_purchase_returned_in_full_is_not_thanked(campaigns_demo, enrol, buy):
    from membership.services import purchases

    care = Scene.objects.get(name="购后关怀")
    member = enrol()
    sale = buy(member, "30.00", at=at(2026, 6, 1, 14)).purchase
    purchases.record_return(purchase=sale, amount="30.00", reference="RET-1", idempotency_key="ret-1")
    assert scenes.run_scene(care, at=at(2026, 6, 3, 14)).granted == 0


# ---------------------------------------------------------------------------------------------
# quiet hours
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "when, held_until",
    [
        ((2026, 6, 5, 20, 59), None),
        ((2026, 6, 5, 21, 0), (2026, 6, 6, 9, 0)),
        ((2026, 6, 5, 23, 59), (2026, 6, 6, 9, 0)),
        ((2026, 6, 6, 0, 0), (2026, 6, 6, 9, 0)),
        ((2026, 6, 6, 8, 59), (2026, 6, 6, 9, 0)),
        ((2026, 6, 6, 9, 0), None),
    ],
)
def test_quiet_hours_hold_sms_and_wechat_from_2100_until_0900(program, enrol, when, held_until):
    member = enrol(marketing_consent=True)
    for channel in ("sms", "wechat"):
        note = notifications.notify(member=member, channel=channel, title="t", body="b", at=at(*when))
        if held_until is None:
            assert (note.status, note.deliver_after) == ("queued", None), channel
        else:
            assert (note.status, note.deliver_after) == ("held", at(*held_until)), channel
    assert OutboxEvent.objects.filter(type=notifications.JOB).exists() == (held_until is None)


@pytest.mark.django_db
def test_quiet_hours_never_hold_the_inbox_e_mail_or_notices(program, enrol):
    member = enrol(marketing_consent=True)
    night = at(2026, 6, 5, 23)
    assert notifications.notify(member=member, channel="inbox", title="t", body="b", at=night).status == "sent"
    assert notifications.notify(member=member, channel="email", title="t", body="b", at=night).status == "queued"
    notice = notifications.notify(member=member, channel="sms", title="t", body="b", marketing=False, at=night)
    assert (notice.status, notice.deliver_after) == ("queued", None)


@pytest.mark.django_db
def test_quiet_hours_are_program_settings(program, enrol):
    from datetime import time

    member = enrol(marketing_consent=True)
    program.quiet_hours_start, program.quiet_hours_end = time(12, 0), time(14, 0)
    program.save()
    assert (
        notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, 5, 11, 59)).status
        == "queued"
    )
    noon = notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, 5, 12))
    assert (noon.status, noon.deliver_after) == ("held", at(2026, 6, 5, 14))
    program.quiet_hours_end = time(12, 0)  # the same time twice: no quiet hours
    program.message_cap = 0
    program.save()
    assert (
        notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, 5, 12)).status
        == "queued"
    )


@pytest.mark.django_db
def test_held_messages_go_out_when_the_quiet_hours_end(
    program, enrol, sms_in_memory, django_capture_on_commit_callbacks
):
    scene = sms_scene()
    agreed = enrol(name="甲", marketing_consent=True)
    changed_mind = enrol(name="乙", marketing_consent=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert scenes.run_scene(scene, at=at(2026, 6, 5, 22)).granted == 2  # the grant is not held
    assert sms_in_memory == []
    assert Member.objects.get(pk=agreed.pk).points_balance == 10
    assert set(Notification.objects.values_list("status", "deliver_after")) == {("held", at(2026, 6, 6, 9))}
    Member.objects.filter(pk=changed_mind.pk).update(marketing_consent=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.release_held(at=at(2026, 6, 6, 8, 59, 59)) == 0
    assert sms_in_memory == []
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.release_held(at=at(2026, 6, 6, 9)) == 1
    assert sms_in_memory == [(agreed.phone, "会员日 甲 您好")]
    assert Notification.objects.get(member=agreed).status == "sent"
    assert Notification.objects.get(member=changed_mind).status == "no_consent"
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.release_held(at=at(2026, 6, 6, 9, 5)) == 0
    assert len(sms_in_memory) == 1


@pytest.mark.django_db
def test_the_release_and_the_post_purchase_runs_are_scheduled_in_the_database():
    from django_celery_beat.models import PeriodicTask

    from core.schedules import install_default_schedules

    install_default_schedules()
    release = PeriodicTask.objects.get(name="notifications: release held")
    assert release.task == "campaigns.tasks.release_held_notifications" and release.interval.every == 300
    care = PeriodicTask.objects.get(name="scenes: post-purchase care")
    assert care.task == "campaigns.tasks.run_post_purchase_scenes" and care.crontab.minute == "*/15"


@pytest.mark.django_db
def test_one_time_codes_ignore_quiet_hours(program, sms_in_memory, time_machine):
    from membership.services import otp

    time_machine.move_to(at(2026, 6, 5, 23, 30))
    otp.request_code(phone="13900139000", purpose=otp.Purpose.values[0])
    assert len(sms_in_memory) == 1 and sms_in_memory[0][0] == "13900139000"
    assert not Notification.objects.exists()


# ---------------------------------------------------------------------------------------------
# the frequency cap
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_at_most_two_marketing_messages_a_week_across_scenes(
    program, enrol, sms_in_memory, django_capture_on_commit_callbacks
):
    member = enrol(name="甲", marketing_consent=True)
    first, second, third = (sms_scene(name=f"scene {i}", package_name=f"p{i}") for i in range(3))
    with django_capture_on_commit_callbacks(execute=True):
        scenes.run_scene(first, at=at(2026, 6, 1, 10))
        scenes.run_scene(second, at=at(2026, 6, 3, 10))  # the 2nd in a week
        scenes.run_scene(third, at=at(2026, 6, 5, 10))  # the 3rd: capped, the grant stands
    statuses = dict(Notification.objects.values_list("scene__name", "status"))
    assert statuses == {"scene 0": "sent", "scene 1": "sent", "scene 2": "capped"}
    assert len(sms_in_memory) == 2
    assert SceneGrant.objects.filter(member=member).count() == 3


@pytest.mark.django_db
def test_the_cap_window_edges_and_what_it_counts(program, enrol):
    member = enrol(marketing_consent=True)

    def send(*when, channel="sms", marketing=True):
        return notifications.notify(
            member=member, channel=channel, title="t", body="b", marketing=marketing, at=at(*when)
        ).status

    assert send(2026, 6, 1, 10) == "queued"
    assert send(2026, 6, 1, 22) == "held"  # held counts: it will be sent
    assert send(2026, 6, 2, 10, channel="email") == "capped"  # e-mail counts too
    assert send(2026, 6, 2, 10, channel="inbox") == "sent"  # the inbox is never capped
    assert send(2026, 6, 2, 10, marketing=False) == "queued"  # notices are never capped
    assert send(2026, 6, 8, 9, 59) == "capped"  # 10:00 on the 1st is still within 7 days
    assert send(2026, 6, 8, 10, 0) == "queued"  # exactly 7 days later it is not: one in the window
    assert send(2026, 6, 8, 11, 0) == "capped"
    Notification.objects.filter(member=member, created_at=at(2026, 6, 8, 10)).update(status="failed")
    assert send(2026, 6, 8, 11, 30) == "queued"  # a failed message reached nobody: not counted


@pytest.mark.django_db
def test_the_cap_is_a_program_setting_and_zero_means_none(program, enrol):
    member = enrol(marketing_consent=True)
    program.message_cap = 0
    program.save()
    for day in range(1, 6):
        assert (
            notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, day, 10)).status
            == "queued"
        )
    program.message_cap, program.message_cap_days = 6, 30
    program.save()
    assert (
        notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, 20, 10)).status
        == "queued"
    )
    assert (
        notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, 21, 10)).status
        == "capped"
    )


@pytest.mark.django_db
def test_no_consent_comes_before_the_cap_and_is_not_counted(program, enrol):
    member = enrol()
    for day in (1, 2, 3):
        assert (
            notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, day, 10)).status
            == "no_consent"
        )
    Member.objects.filter(pk=member.pk).update(marketing_consent=True)
    member.refresh_from_db()
    assert (
        notifications.notify(member=member, channel="sms", title="t", body="b", at=at(2026, 6, 4, 10)).status
        == "queued"
    )


@pytest.mark.django_db
def test_statuses_in_admin_and_on_the_scene_results(program, enrol, signed_in):
    scene = sms_scene()
    member = enrol(marketing_consent=True)
    for hour in (10, 22, 23):  # sent … held … capped
        notifications.notify(member=member, channel="sms", title="t", body="b", scene=scene, at=at(2026, 6, 5, hour))
    assert list(Notification.objects.order_by("pk").values_list("status", flat=True)) == ["queued", "held", "capped"]
    client = signed_in("admin")
    listing = client.get("/admin/campaigns/notification/", {"status__exact": "held", "channel__exact": "sms"})
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
    page = client.get(f"/admin/campaigns/scene/{scene.pk}/results/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="messages"' in page
    for label in ("Queued", "Held for quiet hours", "Over the frequency cap"):
        assert f"<td>{label}</td><td>1</td>" in page
    page = client.get(f"/admin/campaigns/scene/{scene.pk}/results/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<td>免打扰时段暂缓</td><td>1</td>" in page and "<td>超出频次上限</td><td>1</td>" in page
