"""The transactional outbox (core.outbox) and the Celery hardening around it: a broker outage
never fails a committed till operation and loses no event; redelivered events and tasks re-run
after dying half-way grant nothing twice and lose nothing; the ledger balances after each."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import OperationalError, transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.models import Coupon, ReferralReward, SceneGrant
from core import outbox
from core.models import EventReceipt, OutboxEvent
from membership import signals
from membership.models import Member, PointsEntry
from portal.celery import app
from pos.models import Sale

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _reset_broker_connections():
    app._pool = None
    app.__dict__.get("amqp") and setattr(app.amqp, "_producer_pool", None)


@pytest.fixture
def broker():
    """broker.down(): tasks go to a broker on a dead port (as in production, not in-process);
    broker.up(): tasks run again (in-process, as the rest of the suite runs them)."""
    saved = app.conf.broker_url, app.conf.task_always_eager
    env = pytest.MonkeyPatch()

    class Broker:
        def down(self):
            env.setenv("CELERY_BROKER_URL", DEAD_BROKER)  # Celery reads it before its settings
            app.conf.broker_url, app.conf.task_always_eager = DEAD_BROKER, False
            _reset_broker_connections()

        def up(self):
            env.undo()
            app.conf.broker_url, app.conf.task_always_eager = saved
            _reset_broker_connections()
            outbox._paused_until = 0.0

    yield Broker()
    env.undo()
    app.conf.broker_url, app.conf.task_always_eager = saved
    _reset_broker_connections()
    outbox._paused_until = 0.0


@pytest.fixture(autouse=True)
def no_marks_from_other_tests():
    outbox._delivered.clear()
    yield
    outbox._delivered.clear()


def ledger_ok():
    call_command("check_ledger")  # raises CommandError on any discrepancy


def clerk_api(demo_staff):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=demo_staff["clerk1"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# ---------------------------------------------------------------------------------------------
# the row is the event
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_event_is_a_row_of_the_transaction_and_goes_with_a_rollback(enrol, program):
    with pytest.raises(RuntimeError), transaction.atomic():
        enrol(phone="13800138001")
        assert OutboxEvent.objects.filter(type="member.enrolled").count() == 1  # inside the transaction
        raise RuntimeError("rolled back")
    assert not OutboxEvent.objects.exists() and not Member.objects.exists()
    member = enrol(phone="13800138002")
    event = OutboxEvent.objects.get(type="member.enrolled")
    assert isinstance(event.id, uuid.UUID) and event.payload == {
        "member_id": member.pk,
        "data": {"member_no": member.member_no, "store": "S001", "tier": member.tier.code, "channel": "counter"},
    }
    assert event.occurred_at is not None and event.sent_at is None  # the test's transaction never commits


@pytest.mark.django_db
def test_every_domain_event_has_its_stable_type_and_a_json_payload(enrol, buy, program):
    from membership.services import points, purchases

    member = enrol()
    result = buy(member, "5200.00")  # upgrades
    purchases.record_return(purchase=result.purchase, amount="100.00", reference="RET-1", idempotency_key="ret-1")
    lot = PointsEntry.objects.filter(member=member, expires_at__isnull=False).first()
    assert points.send_expiry_notices(at=lot.expires_at - timedelta(days=1)) == 1
    types = set(OutboxEvent.objects.values_list("type", flat=True))
    assert types == {
        "member.enrolled",
        "purchase.recorded",
        "member.tier_changed",
        "return.recorded",
        "points.expiring",
    }
    assert types < set(outbox.EVENT_TYPES)  # the rest of the catalogue: tests/integrations/test_catalogue.py
    ret = OutboxEvent.objects.get(type="return.recorded").payload
    assert ret["purchase_id"] == result.purchase.pk and Decimal(ret["amount"]) == Decimal("100.00")
    expiring = OutboxEvent.objects.get(type="points.expiring").payload
    assert isinstance(expiring["expires_at"], str) and expiring["member_id"] == member.pk


@pytest.mark.django_db
def test_delivered_after_commit_and_marked_sent(enrol, program, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(outbox, "MARK_AFTER_SECONDS", 3600)
    received = []
    signals.member_enrolled.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-outbox")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            member = enrol()
    finally:
        signals.member_enrolled.disconnect(dispatch_uid="t-outbox")
    event = OutboxEvent.objects.get(type="member.enrolled")
    assert received == [
        {
            "signal": signals.member_enrolled,
            "sender": None,
            "event_id": str(event.id),
            "member_id": member.pk,
            "data": event.payload["data"],
        }
    ]
    assert event.sent_at is None and outbox.flush_marks() == 1  # marks are written in batches
    event.refresh_from_db()
    assert event.sent_at is not None and outbox.pending_count() == 0
    assert outbox.relay(settle_seconds=0) == 0  # nothing left for the relay


@pytest.mark.django_db
def test_marks_are_written_in_batches_and_a_lost_mark_only_means_a_second_delivery(
    enrol, program, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(outbox, "MARK_AFTER_SECONDS", 3600)
    monkeypatch.setattr(outbox, "MARK_BATCH", 2)
    with django_capture_on_commit_callbacks(execute=True):
        enrol()
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 1  # waiting in the batch
    with django_capture_on_commit_callbacks(execute=True):
        enrol()
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()  # the second one wrote both
    received = []
    signals.member_enrolled.connect(lambda **kw: received.append(kw["event_id"]), weak=False, dispatch_uid="t-m")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            enrol()
        outbox._delivered.clear()  # the process died before writing the mark
        assert outbox.relay(settle_seconds=0) == 1
    finally:
        signals.member_enrolled.disconnect(dispatch_uid="t-m")
    assert len(received) == 2 and len(set(received)) == 1  # the same event twice: consumers use once()
    assert outbox.pending_count() == 0


@pytest.mark.django_db
def test_marks_of_another_database_are_left_to_its_relay(
    enrol, program, monkeypatch, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Issue 28: the at-exit flush of a test run wrote its marks to the plain DATABASE_URL (the test
    database was dropped by then): "relation ... does not exist", or the wrong database's rows."""
    from django.db import connection

    monkeypatch.setattr(outbox, "MARK_AFTER_SECONDS", 3600)
    with django_capture_on_commit_callbacks(execute=True):
        enrol()
    name = connection.settings_dict["NAME"]
    monkeypatch.setitem(connection.settings_dict, "NAME", f"{name}_other")
    with django_assert_num_queries(0):
        assert outbox.flush_marks() == 0
    monkeypatch.setitem(connection.settings_dict, "NAME", name)
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 1  # the relay delivers it again
    assert outbox.relay(settle_seconds=0) == 1


@pytest.mark.django_db
def test_a_receiver_error_leaves_the_event_pending_without_failing_the_caller(
    enrol, program, django_capture_on_commit_callbacks
):
    def broken(**kw):
        raise ValueError("receiver bug")

    signals.member_enrolled.connect(broken, weak=False, dispatch_uid="t-broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            enrol()  # does not raise
        event = OutboxEvent.objects.get(type="member.enrolled")
        assert event.sent_at is None and event.attempts == 1 and "receiver bug" in event.last_error
        assert outbox.relay(settle_seconds=0) == 0
    finally:
        signals.member_enrolled.disconnect(dispatch_uid="t-broken")
    assert outbox.relay(settle_seconds=0) == 1  # fixed: the relay delivers it
    assert outbox.pending_count() == 0


@pytest.mark.django_db
def test_the_relay_leaves_young_events_to_their_writer_and_purge_keeps_pending_ones(enrol, program, settings):
    from django.utils import timezone

    enrol()
    assert outbox.relay() == 0  # younger than OUTBOX_SETTLE_SECONDS
    assert outbox.relay(settle_seconds=0) == 1
    enrol(phone="13800138009")  # stays pending
    OutboxEvent.objects.update(occurred_at=timezone.now() - timedelta(days=settings.OUTBOX_KEEP_DAYS + 1))
    assert outbox.purge() == 0  # a domain event: the event feed keeps it EVENT_RETENTION_DAYS
    OutboxEvent.objects.update(occurred_at=timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS + 1))
    assert outbox.purge() == 1
    assert list(OutboxEvent.objects.values_list("sent_at", flat=True)) == [None]


@pytest.mark.django_db
def test_jobs_go_after_a_week_and_domain_events_after_the_feeds_retention(settings):
    """Issue 32: the feed serves domain events EVENT_RETENTION_DAYS (30); the outbox's own jobs (a
    queued message) are purged after OUTBOX_KEEP_DAYS (7) as before."""
    from django.utils import timezone

    now = timezone.now()
    for days, event_type in ((8, "notification.queued"), (8, "member.enrolled"), (31, "member.enrolled")):
        OutboxEvent.objects.create(
            id=uuid.uuid4(), type=event_type, occurred_at=now - timedelta(days=days), payload={}, sent_at=now
        )
    assert outbox.purge(at=now) == 2
    assert list(OutboxEvent.objects.values_list("type", flat=True)) == ["member.enrolled"]


@pytest.mark.django_db
def test_a_handed_over_event_awaits_its_consumers_receipts_and_is_handed_over_again_until_then(
    enrol, program, settings
):
    """R10 without a broker: a receiver whose work the broker lost (it names its consumer and no
    receipt ever comes) gets the event again once OUTBOX_CONFIRM_SECONDS have passed, at most
    OUTBOX_RESEND_LIMIT times; once the receipt is there the event is no longer awaited. A receiver
    that queued nothing (None) awaits nothing."""
    from django.db.models import F

    handed = []
    signals.member_enrolled.connect(
        lambda event_id, **kw: handed.append(event_id) or "t.lost", weak=False, dispatch_uid="t-lost"
    )
    signals.member_enrolled.connect(lambda **kw: None, weak=False, dispatch_uid="t-none")
    try:
        enrol()
        assert outbox.relay(settle_seconds=0) == 1
        event = OutboxEvent.objects.get(type="member.enrolled")
        assert "t.lost" in event.awaiting and handed == [str(event.pk)]
        assert outbox.reconcile() == 0  # handed over just now: not yet
        for _ in range(settings.OUTBOX_RESEND_LIMIT + 2):
            OutboxEvent.objects.update(sent_at=F("sent_at") - timedelta(seconds=settings.OUTBOX_CONFIRM_SECONDS + 1))
            outbox.reconcile()
        assert len(handed) == 1 + settings.OUTBOX_RESEND_LIMIT  # then it waits for an operator
        event.refresh_from_db()
        assert event.awaiting == ["t.lost"] and "no receipt from t.lost" in event.last_error
        OutboxEvent.objects.update(attempts=0)
        outbox.confirm("t.lost", event.pk)  # the work is done after all
        OutboxEvent.objects.update(sent_at=F("sent_at") - timedelta(seconds=settings.OUTBOX_CONFIRM_SECONDS + 1))
        assert outbox.reconcile() == 0
        assert OutboxEvent.objects.get().awaiting is None and len(handed) == 1 + settings.OUTBOX_RESEND_LIMIT
    finally:
        signals.member_enrolled.disconnect(dispatch_uid="t-lost")
        signals.member_enrolled.disconnect(dispatch_uid="t-none")


def test_the_reconciler_is_a_beat_schedule_of_a_minute():
    from core.schedules import registered

    reconcile = {s.name: s for s in registered()}["outbox: reconcile"]
    assert reconcile.task == "membership.tasks.reconcile_outbox" and reconcile.every_seconds <= 30


@pytest.mark.django_db
def test_an_installed_reconciler_left_at_a_minute_moves_to_30_seconds_and_an_operators_choice_stays():
    """Issue 30: beat's rows are created once, so the data migration moves an installed portal's
    reconciler from the old default (60 s) to 30 s; an interval an operator chose is theirs."""
    import importlib

    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    migration = importlib.import_module("membership.migrations.0026_reconcile_every_30_seconds")
    minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    task, _ = PeriodicTask.objects.update_or_create(
        name="outbox: reconcile", defaults={"task": "membership.tasks.reconcile_outbox", "interval": minute}
    )
    migration.forwards(apps, None)
    task.refresh_from_db()
    assert (task.interval.every, task.interval.period) == (30, "seconds")

    chosen, _ = IntervalSchedule.objects.get_or_create(every=45, period="seconds")
    task.interval = chosen
    task.save()
    migration.forwards(apps, None)
    task.refresh_from_db()
    assert task.interval.every == 45


# ---------------------------------------------------------------------------------------------
# consumers: once per event id
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_once_runs_the_body_once_per_consumer_and_event_and_not_at_all_after_a_failure():
    event_id = uuid.uuid4()
    with pytest.raises(RuntimeError), outbox.once("c", event_id) as first:
        assert first
        raise RuntimeError("died half-way")
    assert not EventReceipt.objects.exists()  # rolled back with the work
    with outbox.once("c", event_id) as first:
        assert first
    with outbox.once("c", event_id) as first:
        assert not first
    with outbox.once("other", event_id) as first:
        assert first
    with outbox.once("c", None) as first:  # queued by hand: always runs
        assert first


# ---------------------------------------------------------------------------------------------
# done when: a broker outage
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_fails_no_till_operation_and_every_benefit_comes_once_when_it_is_back(
    campaigns_demo, demo_staff, broker
):
    """With the broker unreachable, 20 sales and 5 enrolments through the API answer 201 and
    commit; once it is back, the relay grants every welcome coupon, referral reward and upgrade
    benefit of the outage exactly once; delivering every event again changes nothing."""
    clerk = clerk_api(demo_staff)
    inviter = clerk.post("/api/v1/members/", {"phone": "13900000000"}, format="json").json()
    inviter["referral_code"] = Member.objects.get(member_no=inviter["member_no"]).referral_code
    broker.down()
    enrolled = []
    for i in range(5):
        response = clerk.post(
            "/api/v1/members/",
            {"phone": f"1380013800{i}", "name": f"M{i}", "referral_code": inviter["referral_code"]},
            format="json",
        )
        assert response.status_code == 201, response.content
        enrolled.append(response.json()["member_no"])
    for i in range(20):
        member_no = enrolled[i % 5]
        amount = "1200.00" if i < 5 else "60.00"  # the first sale of each member upgrades it
        response = clerk.post(
            "/api/v1/sales/", {"receipt_no": f"OUT-{i}", "member": member_no, "amount": amount}, format="json"
        )
        assert response.status_code == 201, response.content
    assert Sale.objects.count() == 20 and Member.objects.count() == 6  # committed
    pending = outbox.pending_count()
    assert pending >= 5 + 20 + 5  # enrolments, sales, upgrades: all kept
    members = list(Member.objects.filter(member_no__in=enrolled))
    assert not ReferralReward.objects.exists()
    assert not SceneGrant.objects.filter(scene__kind="tier_upgrade").exists()
    ledger_ok()

    broker.up()
    assert outbox.relay(settle_seconds=0) == pending
    assert outbox.pending_count() == 0
    for m in members:
        assert Coupon.objects.filter(member=m, template__code="WELCOME10").count() == 1
        assert SceneGrant.objects.filter(member=m, scene__kind="tier_upgrade").count() == 1
    assert ReferralReward.objects.count() == 5  # the inviter, once per invited member
    assert Member.objects.get(member_no=inviter["member_no"]).points_balance == 5 * 100
    ledger_ok()

    # redelivery of every event (a relay that died before marking them sent): nothing doubles
    before = (
        Coupon.objects.count(),
        SceneGrant.objects.count(),
        ReferralReward.objects.count(),
        EventReceipt.objects.count(),
    )
    OutboxEvent.objects.update(sent_at=None)
    # the inviter's enrolment and its welcome coupon's coupon.issued (published only) too
    assert outbox.relay(settle_seconds=0) == pending + 2
    assert (
        Coupon.objects.count(),
        SceneGrant.objects.count(),
        ReferralReward.objects.count(),
        EventReceipt.objects.count(),
    ) == before
    ledger_ok()


@pytest.mark.django_db(transaction=True)
def test_after_a_broker_error_a_process_stops_trying_until_the_relay_gets_through(
    campaigns_demo, demo_staff, broker, monkeypatch
):
    from campaigns import tasks

    calls = []
    real = tasks.member_enrolled.delay
    monkeypatch.setattr(tasks.member_enrolled, "delay", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    clerk = clerk_api(demo_staff)
    broker.down()
    for i in range(3):
        assert clerk.post("/api/v1/members/", {"phone": f"1380013801{i}"}, format="json").status_code == 201
    assert len(calls) == 1  # the first enrolment met the dead broker; the next two did not wait on it
    broker.up()
    assert outbox.relay(settle_seconds=0) == 3 + 3  # and the welcome coupons' coupon.issued (published only)
    assert clerk.post("/api/v1/members/", {"phone": "13800138019"}, format="json").status_code == 201
    assert outbox.pending_count() == 0  # delivered right after its commit again


# ---------------------------------------------------------------------------------------------
# done when: a task that dies half-way, redelivered
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_task_that_dies_half_way_leaves_nothing_and_its_redelivery_does_everything_once(
    program, campaigns_demo, enrol, buy, monkeypatch
):
    from campaigns import tasks
    from campaigns.models import BenefitPackage, Scene
    from campaigns.services import engagement

    pkg = BenefitPackage.objects.create(name="50", bonus_points=50)
    Scene.objects.create(name="every purchase", kind="milestone", package=pkg, step=1, milestone_of="count")
    inviter = enrol(phone="13900000000")
    invited = enrol(phone="13800138000", referral_code=inviter.referral_code)
    purchase = buy(invited, "200.00").purchase
    event = OutboxEvent.objects.get(type="purchase.recorded", payload__purchase_id=purchase.pk)

    def killed(**kw):
        raise SystemExit("worker killed")  # after the milestone grant, before the referral reward

    monkeypatch.setattr(engagement, "reward_referral", killed)
    with pytest.raises(SystemExit):
        tasks.purchase_recorded(purchase.pk, event_id=str(event.id))
    assert not SceneGrant.objects.filter(member=invited, scene__kind="milestone").exists()  # rolled back
    assert not EventReceipt.objects.exists()
    monkeypatch.undo()

    assert tasks.purchase_recorded(purchase.pk, event_id=str(event.id)) == 2  # milestone + referral
    assert tasks.purchase_recorded(purchase.pk, event_id=str(event.id)) == 0  # redelivered: nothing
    assert SceneGrant.objects.filter(member=invited, scene__kind="milestone").count() == 1
    assert ReferralReward.objects.filter(invited=invited).count() == 1
    assert Member.objects.get(pk=invited.pk).points_balance == 200 + 50
    assert Member.objects.get(pk=inviter.pk).points_balance == 100
    ledger_ok()


@pytest.mark.django_db
def test_a_transient_database_error_retries_the_task(program, campaigns_demo, enrol, monkeypatch):
    from campaigns import tasks
    from campaigns.services import scenes

    member = enrol()
    real, calls = scenes.on_enrolled, []

    def flaky(member_id):
        calls.append(member_id)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(member_id)

    monkeypatch.setattr(scenes, "on_enrolled", flaky)
    result = tasks.member_enrolled.apply(args=(member.pk,), kwargs={"event_id": str(uuid.uuid4())}, throw=False)
    assert result.successful() and len(calls) == 2
    assert Coupon.objects.filter(member=member, template__code="WELCOME10").count() == 1


def test_every_task_acks_late_is_redelivered_if_its_worker_dies_and_retries_transient_errors():
    from kombu.exceptions import OperationalError as BrokerError

    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert "membership.tasks.relay_outbox" in ours and "campaigns.tasks.purchase_recorded" in ours
    # the background member import is one transaction that HQ restarts by hand (issue 13)
    by_hand = {"membership.tasks.import_members"}
    assert not ours["membership.tasks.import_members"].acks_late
    assert ours["membership.tasks.import_members"].autoretry_for == ()
    for name, task in ours.items():
        if name in by_hand:
            continue
        assert task.acks_late and task.reject_on_worker_lost, name
        assert issubclass(OperationalError, task.autoretry_for) or OperationalError in task.autoretry_for, name
        assert BrokerError in task.autoretry_for and task.retry_backoff and task.retry_jitter, name


def test_the_relay_is_a_beat_schedule_of_a_few_seconds():
    from core.schedules import registered

    relay = {s.name: s for s in registered()}["outbox: relay"]
    assert relay.task == "membership.tasks.relay_outbox" and relay.every_seconds <= 10


# ---------------------------------------------------------------------------------------------
# overlapping daily scene runs (PostgreSQL: real row locks between two connections)
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_daily_runs_skip_what_the_other_holds(on_postgres, campaigns_demo, enrol, buy, monkeypatch):
    """Run A is inside its first batch (grants written, not committed) when run B starts: B waits for
    A's batch and skips its members; no IntegrityError, no failed task, each member granted once."""
    import threading
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.db import connection

    from campaigns.models import Scene
    from campaigns.services import scenes

    def at(*args):
        return datetime(*args, tzinfo=ZoneInfo("Asia/Shanghai"))

    Scene.objects.filter(kind="winback").update(holdout_percent=0)
    members = [enrol() for _ in range(3)]
    for m in members:
        buy(m, "100.00", at=at(2026, 1, 1, 10))
    inside, release = threading.Event(), threading.Event()
    real_apply = scenes._apply

    def slow_apply(*args, **kwargs):
        real_apply(*args, **kwargs)
        if threading.current_thread().name == "A" and not inside.is_set():
            inside.set()
            release.wait(30)

    monkeypatch.setattr(scenes, "_apply", slow_apply)
    results, errors = {}, []

    def run(name):
        try:
            results[name] = sum(r.granted for r in scenes.run_daily(kinds=["winback"], at=at(2026, 4, 2, 9)))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
        finally:
            connection.close()

    a = threading.Thread(target=run, args=("A",), name="A")
    a.start()
    assert inside.wait(30)
    b = threading.Thread(target=run, args=("B",), name="B")
    b.start()
    b.join(1)  # B is waiting on A's batch (it cannot finish first)
    assert b.is_alive()
    release.set()
    a.join(30)
    b.join(30)
    assert errors == []
    assert results == {"A": 3, "B": 0}
    assert SceneGrant.objects.filter(scene__kind="winback").count() == 3
    assert Coupon.objects.filter(template__code="COMEBACK15").count() == 3
    ledger_ok()


def test_redis_visibility_timeout_outlasts_the_longest_task_and_its_retry_countdown():
    """A message Redis hands to a second worker while the first still runs it would run twice at once.
    Only unacknowledged messages count: the acks-late tasks (the member import is acknowledged at once)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", CELERY_BROKER_URL="redis://cache.internal:6379/2")
    code = (
        "import django; django.setup(); from django.conf import settings as s; from portal.celery import app;"
        "app.loader.import_default_modules();"
        "longest = max((t.time_limit or s.CELERY_TASK_TIME_LIMIT) for t in app.tasks.values() if t.acks_late);"
        "print(s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], longest,"
        " app.Task.retry_backoff_max, app.conf.task_reject_on_worker_lost, app.conf.task_acks_late)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    visibility, time_limit, backoff_max, reject, acks_late = result.stdout.split()
    assert int(visibility) >= int(time_limit) + int(backoff_max) and reject == acks_late == "True"
