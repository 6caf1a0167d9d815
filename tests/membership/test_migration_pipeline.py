"""The import's pipeline on PostgreSQL (membership/migration/pipeline.py): a batch is
written in a second thread on the import's connection while the next one is checked through a
second connection that sees only committed rows. These tests run the import as its own transaction
(as the command and the background job do) in batches of one or two rows, so that every row that
depends on an earlier batch (a second lot of a member, a card bound by an earlier row, a referrer,
numbers drawn earlier) meets a batch that is still being written."""

import io
import itertools
import time
from datetime import date

import pytest
from django.db import connection
from django.utils import translation

from core import rows
from membership import identity, migration
from membership.ledger import discrepancies
from membership.models import Card, Member, PointsEntry
from membership.services import cards, enrolment

from .test_migration import CARD_A, CARD_B, CARD_C, EXPIRE_2, HEADER, NEXT_YEAR, good_file, line, state

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def run(content: str, **options) -> migration.Result:
    options.setdefault("tier_floor_until", date(NEXT_YEAR, 12, 31))
    assert not connection.in_atomic_block  # the import is the whole transaction: the second connection is used
    return migration.import_file(io.BytesIO(content.encode()), "members.csv", **options)


@pytest.fixture
def slow_writer(monkeypatch):
    """Each COPY starts late, so that the next batch is checked while the earlier one is unwritten."""
    copy = rows.copy

    def slow(sql, tuples):
        time.sleep(0.05)
        copy(sql, tuples)

    monkeypatch.setattr(rows, "copy", slow)


def test_rows_that_depend_on_a_batch_still_being_written_import_as_in_one_batch(on_postgres, program, slow_writer):
    cards.add_stock([CARD_C], batch="B1")
    content = good_file() + line(
        member_no="M0001", phone="13911110001", home_store="S001", points=30, card_no=CARD_C
    )  # a fifth row: the first member again (two batches later), with a card from the stock
    result = run(content, batch_rows=1)
    assert result.errors == [] and result.committed
    first = Member.objects.get(phone="13911110001")
    assert (first.points_balance, first.sv_principal, first.growth_value) == (730, 300, 1200)
    assert set(first.cards.values_list("number", flat=True)) == {CARD_A, CARD_B, CARD_C}
    assert Card.objects.get(number=CARD_C).batch == "B1"  # the stock card was bound, not made again
    assert PointsEntry.objects.filter(member=first).count() == 3
    second = Member.objects.get(phone="13911110002")
    assert (second.points_pending, second.referrer) == (80, first)
    assert second.cards.get().kind == "virtual"
    assert (result.written.members, result.written.points, result.written.cards) == (3, 810, 3)
    assert discrepancies() == []

    before = state()
    again = run(content, batch_rows=2)  # members of an earlier import: read and locked as written
    assert again.errors == [] and (again.written.members, again.written.points) == (0, 0)
    assert state() == before
    run(HEADER + line(member_no="M0001", phone="13911110001", home_store="S001", points=50, points_expire_on=EXPIRE_2))
    assert Member.objects.get(phone="13911110001").points_balance == 780
    assert discrepancies() == []


def test_numbers_drawn_for_an_earlier_batch_are_not_drawn_again(on_postgres, program, monkeypatch, slow_writer):
    """A batch not yet written is not in the database: the next batch's member numbers, referral codes
    and virtual card numbers are checked against what this import drew, not only against the table."""
    member_nos = itertools.chain(
        ["1000000001", "1000000002", "1000000001", "1000000002"], map(str, itertools.count(1000000003))
    )
    codes = itertools.chain(["AAAAA2", "AAAAA3", "AAAAA2", "AAAAA3"], (f"B{n:05d}" for n in itertools.count()))
    virtual = itertools.chain(
        [card_a := cards.VIRTUAL_PREFIX + "00000000001", card_b := cards.VIRTUAL_PREFIX + "00000000002"] * 2,
        (cards.VIRTUAL_PREFIX + f"{n:011d}" for n in itertools.count(3)),
    )
    monkeypatch.setattr(enrolment, "_new_member_no", lambda: next(member_nos))
    monkeypatch.setattr(enrolment, "_new_referral_code", lambda: next(codes))
    monkeypatch.setattr(cards, "new_virtual_number", lambda: (p := next(virtual)) + identity.luhn_check_digit(p))
    content = HEADER + "".join(line(phone=f"1391111000{n}", home_store="S001") for n in range(4))
    result = run(content, batch_rows=2)
    assert result.errors == [] and result.written.members == 4
    members = Member.objects.order_by("phone")
    assert len({m.member_no for m in members}) == 4 and len({m.referral_code for m in members}) == 4
    numbers = set(Card.objects.values_list("number", flat=True))
    assert (
        len(numbers) == 4
        and {card_a + identity.luhn_check_digit(card_a), card_b + identity.luhn_check_digit(card_b)} < numbers
    )


def test_a_write_that_fails_in_the_writer_thread_fails_the_import_and_writes_nothing(on_postgres, program, monkeypatch):
    copy, calls = rows.copy, []

    def failing(sql, tuples):
        calls.append(sql)
        if "membership_pointsentry" in sql and sum("membership_pointsentry" in c for c in calls) == 2:
            raise RuntimeError("disk full")
        copy(sql, tuples)

    monkeypatch.setattr(rows, "copy", failing)
    content = HEADER + "".join(line(phone=f"1391111000{n}", home_store="S001", points=10) for n in range(6))
    with pytest.raises(RuntimeError, match="disk full"):
        run(content, batch_rows=2)
    assert not Member.objects.exists() and not PointsEntry.objects.exists()
    monkeypatch.undo()
    assert run(content, batch_rows=2).written.members == 6  # the connection is usable again
    assert discrepancies() == []
