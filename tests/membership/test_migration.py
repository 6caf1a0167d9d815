"""Go-live migration (issue 13): members with balances, lots, cards and tiers, through
the membership/migration package, the `import_members` command and the background job."""

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from core.clock import local, now, tz
from membership import identity, migration
from membership.ledger import discrepancies
from membership.models import (
    AuditLog,
    Card,
    GrowthEntry,
    Member,
    PointsEntry,
    StoredValueEntry,
    TierChange,
)
from membership.services import cards, points, stored_value

pytestmark = pytest.mark.django_db

HEADER = ",".join(migration.COLUMNS) + "\n"
NEXT_YEAR = local(now()).date().year + 1
EXPIRE_1 = f"{NEXT_YEAR}-06-30"
EXPIRE_2 = f"{NEXT_YEAR}-12-31"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def card_number(payload: str) -> str:
    return payload + identity.luhn_check_digit(payload)


CARD_A, CARD_B, CARD_C = (card_number(f"62100000000{n}") for n in range(1, 4))


def line(**cells) -> str:
    return ",".join(str(cells.get(c, "")) for c in migration.COLUMNS) + "\n"


def good_file() -> str:
    return HEADER + "".join(
        [
            line(
                member_no="M0001",
                phone="13911110001",
                name="甲",
                gender="F",
                birthday="1990-05-20",
                home_store="S001",
                marketing_consent="1",
                joined_at="2020-03-01",
                card_no=f"{CARD_A};{CARD_B}",
                points=500,
                points_expire_on=EXPIRE_1,
                growth_value=1200,
                tier="GOLD",
                sv_principal="300.00",
                sv_bonus="40.50",
                tags="VIP;老客",
            ),
            line(member_no="M0001", phone="13911110001", home_store="S001", points=200, points_expire_on=EXPIRE_2),
            line(
                phone="13911110002",
                name="乙",
                home_store="S002",
                points=80,
                points_pending_until=(local(now()) + timedelta(days=5)).strftime("%Y-%m-%d %H:%M"),
                referrer_phone="13911110001",
                sv_principal="10",
            ),
            line(phone="13911110003", home_store="S001"),
        ]
    )


def run(content: str, **options) -> migration.Result:
    options.setdefault("tier_floor_until", date(NEXT_YEAR, 12, 31))
    return migration.import_file(io.BytesIO(content.encode()), "members.csv", **options)


def state() -> tuple:
    """Everything an import writes, to prove a second run writes nothing."""
    return (
        Member.objects.count(),
        Card.objects.count(),
        PointsEntry.objects.count(),
        StoredValueEntry.objects.count(),
        GrowthEntry.objects.count(),
        TierChange.objects.count(),
        AuditLog.objects.count(),
        sorted(
            Member.objects.values_list(
                "phone", "points_balance", "points_pending", "sv_principal", "sv_bonus", "growth_value", "tier__code"
            )
        ),
    )


def test_members_arrive_with_lots_stored_value_growth_tier_cards_and_tags(program, demo_staff):
    result = run(good_file(), acting_user=demo_staff["admin"])
    assert result.errors == [] and result.committed
    first = Member.objects.get(phone="13911110001")
    assert (first.member_no, first.channel, first.points_balance, first.points_pending) == ("M0001", "import", 700, 0)
    assert (first.sv_principal, first.sv_bonus, first.growth_value) == (Decimal("300.00"), Decimal("40.50"), 1200)
    assert first.tier.code == "GOLD" and first.tier_floor.code == "GOLD"
    assert first.tier_floor_until == date(NEXT_YEAR, 12, 31)
    change = TierChange.objects.get(member=first)
    assert (change.reason, change.to_tier.code) == ("migration", "GOLD")
    lots = list(PointsEntry.objects.filter(member=first).order_by("expires_at"))
    assert [(lot.amount, lot.remaining, lot.source, lot.kind) for lot in lots] == [
        (500, 500, "import", "adjust"),
        (200, 200, "import", "adjust"),
    ]
    assert [local(lot.expires_at) for lot in lots] == [
        datetime.combine(date.fromisoformat(d), time(23, 59, 59), tzinfo=tz()) for d in (EXPIRE_1, EXPIRE_2)
    ]
    assert all(lot.idempotency_key.startswith("import:p:") for lot in lots)
    sv = StoredValueEntry.objects.get(member=first)
    assert (sv.principal, sv.bonus, sv.source_ref) == (Decimal("300.00"), Decimal("40.50"), "import")
    assert sv.idempotency_key.startswith("import:sv:")
    assert set(first.cards.values_list("number", "kind", "status")) == {
        (CARD_A, "physical", "active"),
        (CARD_B, "physical", "active"),
    }
    assert set(first.tags.values_list("name", flat=True)) == {"VIP", "老客"}
    assert first.marketing_consent and first.consent_at == first.joined_at
    assert first.enrolled_by == demo_staff["admin"]
    second = Member.objects.get(phone="13911110002")
    assert (second.points_balance, second.points_pending, second.referrer) == (0, 80, first)
    assert second.tier.code == "NORMAL" and second.tier_floor is None
    assert second.cards.get().kind == "virtual" and len(second.member_no) == 10
    assert GrowthEntry.objects.get(member=first).amount == 1200
    assert [row[1:] for row in result.table()] == [
        ("4", "4"),
        ("0", ""),
        ("3", "3"),
        ("2", "2"),
        ("780", "780"),
        ("310.00", "310.00"),
        ("40.50", "40.50"),
    ]
    assert discrepancies() == []


def test_a_tier_without_a_floor_date_is_computed_from_growth(program):
    run(HEADER + line(phone="13911110001", home_store="S001", growth_value=1200, tier="DIAMOND"), tier_floor_until=None)
    member = Member.objects.get(phone="13911110001")
    assert member.tier.code != "DIAMOND" and member.tier_floor is None
    assert member.tier.reach_growth <= 1200


def test_running_the_same_file_twice_changes_nothing(program):
    run(good_file())
    before = state()
    again = run(good_file())
    assert again.errors == [] and again.committed
    assert state() == before
    assert (again.written.members, again.written.points, again.written.cards) == (0, 0, 0)
    assert again.written.sv_principal == 0
    assert discrepancies() == []


def test_a_second_file_adds_another_lot_to_a_member_imported_before(program):
    run(good_file())
    run(HEADER + line(member_no="M0001", phone="13911110001", home_store="S001", points=50, points_expire_on=EXPIRE_2))
    assert Member.objects.get(phone="13911110001").points_balance == 750
    assert discrepancies() == []


def test_a_dry_run_reconciles_and_writes_nothing(program):
    before = state()
    result = run(good_file(), dry_run=True)
    assert state() == before
    assert result.dry_run and not result.committed
    with translation.override("en"):
        table = {label: (in_file, written) for label, in_file, written in result.table()}
    assert table["points"] == ("780", "780") and table["members"] == ("3", "3")


def test_the_command_prints_the_table_and_imports(program, tmp_path):
    path = tmp_path / "members.csv"
    path.write_text(good_file(), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_members", str(path), "--dry-run", stdout=out, stderr=err)
    assert "would be written" in out.getvalue() and "Dry run" in out.getvalue()
    assert "4/4 rows 100%" in err.getvalue()  # the progress display
    assert not Member.objects.filter(phone="13911110001").exists()
    out = io.StringIO()
    call_command(
        "import_members", str(path), "--tier-floor-until", f"{NEXT_YEAR}-12-31", stdout=out, stderr=io.StringIO()
    )
    assert "Imported." in out.getvalue()
    assert Member.objects.get(phone="13911110001").points_balance == 700
    out = io.StringIO()
    call_command("check_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()


BAD_FILE = (
    HEADER
    + "".join(
        [
            line(phone="13911110001", home_store="S001", points=10),  # 1 good
            line(phone="13911110002", home_store="S999"),  # 2 unknown store
            line(phone="13911110001", home_store="S001"),  # 3 duplicate phone
            line(phone="13911110004", home_store="S001", points=-5),  # 4 negative points
            line(phone="13911110005", home_store="S001", card_no=CARD_A[:-1] + str((int(CARD_A[-1]) + 1) % 10)),  # 5
            line(phone="１３９１１１１０００６", home_store="S001", points="１００"),  # 6 full-width digits
            line(phone="13911110007", home_store="S002", sv_principal="5"),  # 7 good
        ]
    )
)


def test_hq_or_a_region_is_no_home_store(program):
    """R18 (issue 28): the import took HQ or a region as a member's home store; a member belongs to a
    shop. The row is refused naming its column, and nothing is written."""
    from membership.models import Store

    Store.objects.create(code="R-EAST", name="华东区", parent=Store.objects.get(code="HQ"))
    Store.objects.filter(code="S002").update(parent=Store.objects.get(code="R-EAST"))
    before = state()
    result = run(HEADER + line(phone="13911110001", home_store="HQ") + line(phone="13911110002", home_store="R-EAST"))
    assert state() == before and result.rolled_back
    messages = {(number, column): message for number, column, message in result.errors}
    assert messages == {
        (1, "home_store"): "HQ is HQ or a region, not a shop: give the member's home shop.",
        (2, "home_store"): "R-EAST is HQ or a region, not a shop: give the member's home shop.",
    }
    assert run(HEADER + line(phone="13911110003", home_store="S002")).written.rows == 1  # a shop under it is fine


def test_a_file_with_bad_rows_is_refused_whole_with_every_error_named(program, tmp_path):
    before = state()
    result = run(BAD_FILE)
    assert state() == before and result.rolled_back
    named = {(number, column) for number, column, _message in result.errors}
    assert named == {(2, "home_store"), (3, "phone"), (4, "points"), (5, "card_no"), (6, "phone"), (6, "points")}
    messages = {(number, column): message for number, column, message in result.errors}
    assert messages[(2, "home_store")] == "No store has the code S999."
    assert messages[(3, "phone")] == "This mobile number already belongs to a member."
    assert messages[(4, "points")] == "Points cannot be negative."
    assert messages[(5, "card_no")].startswith(str(cards.MSG_CARD_FORMAT))
    assert "full-width" in messages[(6, "phone")]
    assert result.bad_rows == 5 and result.written.rows == 0
    path = tmp_path / "bad.csv"
    path.write_text(BAD_FILE, encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_members", str(path), stdout=out, stderr=io.StringIO())
    assert "row 2, home_store: No store has the code S999." in out.getvalue()
    assert state() == before


def test_skipping_bad_rows_imports_the_others(program):
    result = run(BAD_FILE, skip_bad_rows=True)
    assert result.committed and result.bad_rows == 5
    assert set(Member.objects.values_list("phone", flat=True)) == {"13911110001", "13911110007"}
    assert result.written.rows == 2 and result.written.points == 10
    assert discrepancies() == []


def test_full_width_digits_never_reach_the_database():
    """A full-width phone is folded to ASCII (NFKC, issue 12), so it cannot become a second member; a
    card number with a full-width digit is refused."""

    assert identity.normalise_phone("1３８00138000") == "13800138000"
    assert not identity.is_valid_number(CARD_A[:-1] + chr(ord("０") + int(CARD_A[-1])))


def test_a_phone_of_a_member_enrolled_at_a_counter_is_refused(program, enrol):
    enrol(phone="13911110003")
    result = run(good_file())
    assert (4, "phone", "This mobile number already belongs to a member.") in result.errors
    assert not Member.objects.filter(phone="13911110001").exists()


def test_a_card_bound_to_someone_else_is_refused_and_stock_cards_are_bound(program, enrol):
    cards.add_stock([CARD_C], batch="B1")
    other = enrol(phone="13911119999", card_no=CARD_C)
    result = run(HEADER + line(phone="13911110001", home_store="S001", card_no=CARD_C))
    assert result.errors == [(1, "card_no", f"Card {CARD_C} belongs to another member.")]
    assert Card.objects.get(number=CARD_C).member == other
    cards.add_stock([CARD_A], batch="B1")
    run(HEADER + line(phone="13911110001", home_store="S001", card_no=CARD_A))
    card = Card.objects.get(number=CARD_A)
    assert (card.member.phone, card.status, card.batch) == ("13911110001", "active", "B1")


def test_imported_members_get_no_welcome_coupon_and_queue_no_task(program, enrol, django_capture_on_commit_callbacks):
    from campaigns import tasks
    from campaigns.demo import seed as seed_campaigns
    from campaigns.models import Coupon

    seed_campaigns()
    content = HEADER + "".join(line(phone=f"1391111{n:04d}", home_store="S001", points=n + 1) for n in range(300))
    with (
        mock.patch.object(tasks.member_enrolled, "delay", wraps=tasks.member_enrolled.delay) as queued,
        mock.patch.object(tasks.tier_changed, "delay") as tier_tasks,
    ):
        result = migration.import_file(io.BytesIO(content.encode()), "m.csv", batch_rows=100)
        assert result.written.members == 300
        assert queued.call_count == 0 and tier_tasks.call_count == 0
        assert not Coupon.objects.filter(member__channel="import").exists()
        # a member enrolled at the counter meanwhile gets their welcome coupon at once
        with django_capture_on_commit_callbacks(execute=True):
            member = enrol(phone="13700009999")
        assert queued.call_count == 1
    assert Coupon.objects.filter(member=member, template__code="WELCOME10").count() == 1


def test_export_and_import_into_an_empty_database_reproduce_every_balance(program, enrol, demo_staff, buy):
    """The round trip: members made by the services (sales, lots with expiry, pending, stored value,
    manual tier, physical cards), exported in the import's columns, deleted, imported again."""
    from membership.models import ProgramSettings
    from membership.services import tiers

    settings = ProgramSettings.load()
    settings.pending_days = 7
    settings.save()
    from membership import config

    config.clear()
    cards.add_stock([CARD_A, CARD_B], batch="B7")
    a = enrol(phone="13911110001", name="甲", card_no=CARD_A, marketing_consent=True)
    cards.bind(member=a, number=CARD_B)
    points.adjust(member=a, points=300, reason="seed", acting_user=demo_staff["admin"])
    stored_value.top_up(member=a, amount=Decimal("300"), acting_user=demo_staff["clerk1"])
    buy(a, Decimal("1500.00"))  # a pending lot and growth
    b = enrol(phone="13911110002", birthday="--07-08")
    points.adjust(member=b, points=50, reason="seed", acting_user=demo_staff["admin"])
    tiers.set_manual(
        member=b,
        tier=tiers.tiers_by_rank()[-1],
        reason="VIP",
        acting_user=demo_staff["admin"],
        floor_until=date(NEXT_YEAR, 12, 31),
    )

    def snapshot():
        members = {}
        for m in Member.objects.order_by("phone"):
            lots = sorted(
                (
                    lot.remaining,
                    lot.pending,
                    lot.expires_at,
                    lot.available_at.replace(microsecond=0) if lot.pending else None,
                )
                for lot in PointsEntry.objects.filter(member=m, remaining__gt=0)
            )
            physical = sorted(m.cards.filter(kind="physical").values_list("number", "status"))
            members[m.phone] = (
                m.member_no,
                m.name,
                m.birth_year,
                m.birth_month,
                m.birth_day,
                m.home_store_id,
                m.points_balance,
                m.points_pending,
                m.sv_principal,
                m.sv_bonus,
                m.growth_value,
                m.tier.code,
                m.marketing_consent,
                m.joined_at.replace(microsecond=0),
                lots,
                physical,
            )  # the file keeps times to the second
        return members

    before = snapshot()
    assert before["13911110001"][7] > 0  # the sale's points are pending
    buffer = io.StringIO()
    import csv

    writer = csv.writer(buffer)
    writer.writerow(migration.COLUMNS)
    writer.writerows(migration.export_rows())
    exported = buffer.getvalue()

    from campaigns.models import Coupon
    from membership.models import ExpiryNotice, Purchase, PurchaseReturn

    for model in (
        Coupon,
        ExpiryNotice,
        PurchaseReturn,
        AuditLog,
        TierChange,
        GrowthEntry,
        StoredValueEntry,
        PointsEntry,
        Purchase,
    ):
        model.objects.all().delete()
    Card.objects.all().delete()
    Member.objects.all().delete()

    result = run(exported, tier_floor_until=date(NEXT_YEAR, 12, 31))
    assert result.errors == [] and result.committed
    after = snapshot()
    for phone in before:
        assert after[phone] == before[phone], phone
    assert discrepancies() == []


def test_a_large_file_runs_in_the_background_with_progress_that_survives_a_reload(
    program, signed_in, settings, tmp_path, django_capture_on_commit_callbacks
):
    from membership.models import MemberImportJob

    settings.MEDIA_ROOT = tmp_path
    hq = signed_in("admin")
    hq.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    upload = io.BytesIO(good_file().encode())
    upload.name = "members.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = hq.post(
            "/admin/membership/memberimportjob/add/",
            {"file": upload, "dry_run": "on", "tier_floor_until": f"{NEXT_YEAR}-12-31"},
        )
    job = MemberImportJob.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{job.pk}/change/")
    assert (job.status, job.rows_done, job.rows_total, job.percent) == ("done", 4, 4, 100)
    assert not Member.objects.filter(phone="13911110001").exists()  # a dry run
    page = hq.get(response["Location"]).content.decode()  # a reload shows the bar and the table again
    assert 'id="job-bar"' in page and 'id="reconciliation"' in page and "would be written" in page
    state = hq.get(f"/admin/membership/memberimportjob/{job.pk}/progress/").json()
    assert state["percent"] == 100 and state["finished"] and state["result"]["table"][4][1:] == ["780", "780"]

    with django_capture_on_commit_callbacks(execute=True):
        hq.post("/admin/membership/memberimportjob/", {"action": "import_for_real", "_selected_action": [job.pk]})
    real = MemberImportJob.objects.get(dry_run=False)
    assert real.status == "done" and real.result["rolled_back"] is False
    member = Member.objects.get(phone="13911110001")
    assert member.points_balance == 700 and member.tier_floor.code == "GOLD"


def test_a_job_with_bad_rows_shows_every_error_and_writes_nothing(
    program, signed_in, settings, tmp_path, django_capture_on_commit_callbacks
):
    from membership.models import MemberImportJob

    settings.MEDIA_ROOT = tmp_path
    hq = signed_in("admin")
    hq.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    upload = io.BytesIO(BAD_FILE.encode())
    upload.name = "bad.csv"
    with django_capture_on_commit_callbacks(execute=True):
        hq.post("/admin/membership/memberimportjob/add/", {"file": upload})
    job = MemberImportJob.objects.get()
    assert job.result["rolled_back"] and job.result["bad_rows"] == 5
    page = hq.get(f"/admin/membership/memberimportjob/{job.pk}/change/").content.decode()
    assert "No store has the code S999." in page and "Nothing was imported" in page
    assert not Member.objects.exists()


def test_the_member_export_offers_the_import_columns(program, signed_in, enrol, demo_staff):
    import csv

    hq = signed_in("admin")
    member = enrol(phone="13911110001")
    points.adjust(member=member, points=120, reason="seed", acting_user=demo_staff["admin"])
    form = hq.get("/admin/membership/member/export/").context["form"]
    data = {"format": "0", "resource": "1"}
    data.update({name: "on" for name, f in form.fields.items() if getattr(f, "is_selectable_field", False)})
    response = hq.post("/admin/membership/member/export/", data)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0]) == list(migration.COLUMNS)
    assert (rows[0]["phone"], rows[0]["points"], rows[0]["tier"]) == ("13911110001", "120", "NORMAL")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_counter_enrolment_during_a_large_import_gets_its_welcome_coupon_at_once(on_postgres, program, enrol):
    """The import is one long transaction in its own connection and queues no task: a member enrolled
    at a counter while it runs is neither blocked nor queued behind it."""
    import threading

    from django.db import connection

    from campaigns.demo import seed as seed_campaigns
    from campaigns.models import Coupon

    seed_campaigns()
    content = HEADER + "".join(line(phone=f"1391111{n:04d}", home_store="S001", points=5) for n in range(2000))
    midway, counter_done, seen = threading.Event(), threading.Event(), {}

    def progress(done, total):
        if done < total and not midway.is_set():
            midway.set()
            seen["counter finished while the import waited"] = counter_done.wait(timeout=30)

    def importing():
        try:
            seen["result"] = migration.import_file(
                io.BytesIO(content.encode()), "big.csv", batch_rows=200, progress=progress
            )
        finally:
            connection.close()

    worker = threading.Thread(target=importing)
    worker.start()
    assert midway.wait(timeout=60)
    member = enrol(phone="13700009999")  # commits at once: the welcome scene runs (eager Celery) on commit
    assert Coupon.objects.filter(member=member, template__code="WELCOME10").count() == 1
    assert not Member.objects.filter(channel="import").exists()  # the import has not committed yet
    counter_done.set()
    worker.join(timeout=120)
    assert seen["counter finished while the import waited"] is True
    assert seen["result"].written.members == 2000
    assert not Coupon.objects.filter(member__channel="import").exists()


def test_clerks_and_managers_cannot_start_or_watch_member_imports(signed_in, program):
    for username in ("clerk1", "manager1"):
        client = signed_in(username)
        for url in (
            "/admin/membership/memberimportjob/add/",
            "/admin/membership/memberimportjob/",
            "/admin/membership/memberimportjob/1/progress/",
        ):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_an_import_started_while_the_broker_is_down_waits_and_the_relay_queues_it(
    program, signed_in, settings, tmp_path, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from membership import migration, tasks
    from membership.models import MemberImportJob

    settings.MEDIA_ROOT = tmp_path
    hq = signed_in("admin")

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.import_members, "delay", broker_down)
    upload = io.BytesIO(good_file().encode())
    upload.name = "members.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = hq.post("/admin/membership/memberimportjob/add/", {"file": upload, "dry_run": "on"})
    assert response.status_code == 302  # not a 500 after the job was saved
    job = MemberImportJob.objects.get()
    assert job.status == "queued"
    MemberImportJob.objects.filter(pk=job.pk).update(created_at=job.created_at - timedelta(minutes=2))
    assert tasks.requeue_stale_jobs() == 0  # still down: stays queued
    monkeypatch.undo()
    assert tasks.requeue_stale_jobs() == 1  # the broker is back (tasks run in process in tests)
    job.refresh_from_db()
    assert job.status == "done" and tasks.requeue_stale_jobs() == 0
    assert migration.run_job(job.pk) == job.result  # a second delivery does not run it again
