"""core.rows writes and locks a sale's rows by hand (issue 17): each must give exactly what the
ORM gives, on SQLite and PostgreSQL, and the models it writes must have no save signals to miss."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import DatabaseError, transaction
from django.db.models import Model
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.forms.models import model_to_dict

from core import rows
from core.clock import now
from core.models import OutboxEvent
from membership.models import GrowthEntry, Member, PointsEntry

pytestmark = pytest.mark.django_db


def every_field(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("label", rows.WRITTEN_BY_HAND)
def test_the_models_written_by_hand_have_no_save_receivers_or_save_method(label):
    model = apps.get_model(label)
    assert not pre_save.has_listeners(model) and not post_save.has_listeners(model), label
    assert model.save is Model.save, f"{label} has its own save(), which rows would skip"


def test_a_locked_member_has_every_field_as_the_orm_reads_it(enrol, buy):
    member = enrol(name="王芳", birthday="1990-05-20")
    buy(member, "123.45")
    Member.objects.filter(pk=member.pk).update(
        sv_principal=Decimal("10.50"), marketing_consent=True, tier_floor_until=date(2027, 1, 31)
    )
    expected = every_field(Member.objects.get(pk=member.pk))
    with transaction.atomic():
        locked = rows.lock(Member, member.pk)
        assert rows.lock(Member, str(member.pk)).pk == member.pk  # an id as text, as get(pk=…) takes it
    assert every_field(locked) == expected
    assert locked.sv_principal == Decimal("10.50") and isinstance(locked.sv_principal, Decimal)
    assert locked.marketing_consent is True and locked.tier_floor_until == date(2027, 1, 31)
    assert locked.last_purchase_at.tzinfo is not None
    assert not locked._state.adding and locked.tier.pk == expected["tier_id"]


def test_a_missing_row_is_none(enrol):
    member = enrol()
    with transaction.atomic():
        assert rows.lock(Member, member.pk + 1000) is None


@pytest.mark.django_db(transaction=True)
def test_a_lock_needs_a_transaction(enrol):
    member = enrol()
    with pytest.raises(TransactionManagementError):
        rows.lock(Member, member.pk)


def test_an_insert_writes_what_save_writes(enrol):
    member = enrol()
    at = now()

    def lot(**extra):
        return PointsEntry(
            member=member,
            amount=88,
            kind=PointsEntry.Kind.EARN,
            source=PointsEntry.Source.SALE,
            source_ref="R-ROWS",
            created_at=at,
            balance_after=88,
            remaining=88,
            expires_at=at + timedelta(days=400),
            **extra,
        )

    by_hand = rows.insert(lot(idempotency_key="rows:hand"))
    by_orm = lot(idempotency_key="rows:orm")
    by_orm.save()
    assert by_hand.pk and by_hand.pk != by_orm.pk and not by_hand._state.adding
    read = {e.idempotency_key: model_to_dict(e, exclude=["id", "idempotency_key"]) for e in PointsEntry.objects.all()}
    assert read["rows:hand"] == read["rows:orm"]
    growth = rows.insert(GrowthEntry(member=member, amount=-5, created_at=at))
    assert GrowthEntry.objects.get(pk=growth.pk).amount == -5


def test_an_insert_keeps_a_primary_key_the_instance_has():
    event = rows.insert(OutboxEvent(id=uuid.uuid4(), type="test.rows", occurred_at=now(), payload={"a": [1, "二"]}))
    stored = OutboxEvent.objects.get(pk=event.pk)
    assert stored.payload == {"a": [1, "二"]} and stored.sent_at is None and stored.attempts == 0


def test_auto_now_add_is_set_on_insert(demo_staff):
    from pos.models import IdempotentResponse

    row = rows.insert(
        IdempotentResponse(
            user=demo_staff["clerk1"], key="k", method="POST", path="/", request_hash="x", status=201, body={}
        )
    )
    assert row.created_at is not None and IdempotentResponse.objects.get(pk=row.pk).created_at == row.created_at


def test_an_update_writes_only_its_columns_and_a_missing_row_is_an_error(enrol):
    member = enrol()
    stale = Member.objects.get(pk=member.pk)
    Member.objects.filter(pk=member.pk).update(name="改过的名字")
    stale.points_balance, stale.sv_bonus, stale.name = 42, Decimal("3.30"), "not written"
    rows.update(stale, ["points_balance", "sv_bonus"])
    fresh = Member.objects.get(pk=member.pk)
    assert (fresh.points_balance, fresh.sv_bonus, fresh.name) == (42, Decimal("3.30"), "改过的名字")
    stale.pk += 1000
    with pytest.raises(DatabaseError):
        rows.update(stale, ["points_balance"])


def test_insert_many_writes_what_bulk_create_writes(enrol, demo_staff):
    """COPY on PostgreSQL, bulk_create elsewhere: the same rows either way (choices, times, JSON, UUIDs,
    auto_now_add)."""
    from pos.models import IdempotentResponse

    member, at = enrol(), now()

    def lots(prefix):
        return [
            PointsEntry(
                member=member,
                amount=n,
                kind=PointsEntry.Kind.BONUS,
                source=PointsEntry.Source.SCENE,
                source_ref="scene:1",
                created_at=at,
                balance_after=n,
                remaining=n,
                expires_at=at + timedelta(days=n),
                idempotency_key=f"{prefix}:{n}",
            )
            for n in (1, 2, 3)
        ]

    rows.insert_many(lots("hand"))
    PointsEntry.objects.bulk_create(lots("orm"))
    read = {e.idempotency_key: model_to_dict(e, exclude=["id", "idempotency_key"]) for e in PointsEntry.objects.all()}
    assert [read[f"hand:{n}"] for n in (1, 2, 3)] == [read[f"orm:{n}"] for n in (1, 2, 3)]
    rows.insert_many([OutboxEvent(id=uuid.uuid4(), type="test.many", occurred_at=at, payload={"n": [1, "二"]})])
    assert OutboxEvent.objects.get(type="test.many").payload == {"n": [1, "二"]}
    rows.insert_many(
        [
            IdempotentResponse(
                user=demo_staff["clerk1"], key="m", method="POST", path="/", request_hash="x", status=200, body={}
            )
        ]
    )
    assert IdempotentResponse.objects.get(key="m").created_at is not None
    rows.insert_many([])  # nothing to write, no statement
