"""Members and cards (product.md, "Membership and cards")."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from core.errors import CardTaken, Forbidden, Invalid, PhoneTaken
from membership import identity
from membership.identity import normalise_phone
from membership.ledger import discrepancies
from membership.models import AuditLog, Member, PointsEntry
from membership.services import cards, enrolment, points, purchases, stored_value
from membership.services.enrolment import Birthday

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "raw",
    ["13800138000", "+86 138 0013 8000", "0086-138-0013-8000", "138-0013-8000", "8613800138000", " (138) 0013 8000 "],
)
def test_phone_numbers_are_normalised(raw):
    assert normalise_phone(raw) == "13800138000"


@pytest.mark.parametrize("raw", ["", "12800138000", "1380013800", "138001380001", "+1 415 555 0100", "abc"])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(Invalid) as err:
        normalise_phone(raw)
    assert err.value.field == "phone"


def test_birthdays_with_and_without_year_and_29_february():
    assert Birthday.parse("--02-29") == Birthday(2, 29, None)
    assert Birthday.parse("2000-02-29") == Birthday(2, 29, 2000)
    for bad in ["2023-02-29", "--02-30", "--13-01", "1990/05/20", "1850-01-01"]:
        with pytest.raises(Invalid):
            Birthday.parse(bad)


def test_enrolment_creates_member_card_and_entry_tier(enrol, demo_staff):
    member = enrol(phone="+86 139-1234-5678", name=" 李四 ", birthday="--07-08", marketing_consent=True)
    assert member.phone == "13912345678" and member.name == "李四"
    assert (member.birth_month, member.birth_day, member.birth_year) == (7, 8, None)
    assert member.tier.code == "NORMAL" and len(member.member_no) == 10 and len(member.referral_code) == 6
    assert member.enrolled_by == demo_staff["clerk1"] and member.home_store.code == "S001"
    assert member.consent_at is not None
    card = member.cards.get()
    assert card.kind == "virtual" and card.status == "active" and identity.is_valid_number(card.number)
    assert AuditLog.objects.filter(action="member.enrol", member=member).exists()


def test_a_taken_phone_points_to_the_existing_member(enrol):
    first = enrol(phone="13912345678")
    with pytest.raises(PhoneTaken) as err:
        enrol(phone="139 1234 5678")
    assert err.value.context["member"] == first
    assert Member.objects.count() == 1


def test_physical_cards_come_from_stock(enrol):
    assert identity.luhn_check_digit("7992739871") == "3"
    assert cards.add_stock(["6200000000000005", "6200000000000013"], batch="B1") == 2
    with pytest.raises(CardTaken):
        cards.add_stock(["6200000000000005"], batch="B2")
    with pytest.raises(Invalid):
        cards.add_stock(["6200000000000006"], batch="B2")  # bad check digit
    member = enrol(card_no="6200000000000005")
    assert list(member.cards.values_list("number", "kind", "status")) == [("6200000000000005", "physical", "active")]
    with pytest.raises(CardTaken):
        enrol(card_no="6200000000000005")
    with pytest.raises(Invalid) as err:
        enrol(card_no="6200000000000021")  # valid, but never imported
    assert err.value.message == cards.MSG_CARD_NOT_IN_STOCK
    assert Member.objects.count() == 1  # nothing half-written


def test_a_lost_card_is_blocked_and_replaced_balances_stay(enrol, buy):
    member = enrol()
    buy(member, "100.00")
    old = member.cards.get()
    new = cards.replace(card=old)
    old.refresh_from_db()
    assert old.status == "blocked" and new.status == "active" and new.replaces == old
    assert Member.objects.get(pk=member.pk).points_balance == 100


def test_referral_code_links_the_inviter(enrol):
    inviter = enrol()
    invited = enrol(referral_code=inviter.referral_code.lower())
    assert invited.referrer == inviter
    with pytest.raises(Invalid) as err:
        enrol(referral_code="NOPE99")
    assert err.value.field == "referral_code"


def test_merging_moves_ledgers_and_adds_balances(enrol, buy, demo_staff):
    keep, dup = enrol(), enrol()
    buy(keep, "100.00")
    buy(dup, "1500.00")
    stored_value.top_up(member=dup, amount="100.00", idempotency_key="t")
    with pytest.raises(Forbidden):
        enrolment.merge(source=dup, target=keep, acting_user=demo_staff["clerk1"])
    merged = enrolment.merge(source=dup, target=keep, acting_user=demo_staff["manager1"])
    assert (merged.points_balance, merged.sv_principal, merged.sv_bonus) == (1600, Decimal("100.00"), Decimal("10.00"))
    assert merged.tier.code == "SILVER" and merged.purchase_count == 2
    assert PointsEntry.objects.filter(member=keep).count() == 2 and merged.cards.count() == 2
    dup = Member.objects.get(pk=dup.pk)
    assert dup.status == "merged" and dup.merged_into == keep and dup.points_balance == 0
    assert discrepancies() == []
    # the closed account's phone is free again
    assert enrol(phone=dup.phone).status == "active"


def test_merging_an_account_in_debt_settles_it_from_the_other(enrol, buy, demo_staff):
    keep, dup = enrol(), enrol()
    buy(keep, "500.00")
    sale = buy(dup, "300.00").purchase
    points.spend(member=dup, points=300, source="mall_order", idempotency_key="m")
    purchases.record_return(purchase=sale, amount=Decimal("300.00"), reference="R", idempotency_key="r")
    merged = enrolment.merge(source=dup, target=keep, acting_user=demo_staff["manager1"])
    assert merged.points_balance == 200 and not merged.points_flagged
    assert discrepancies() == []


def test_check_ledger_passes_and_names_a_broken_balance(enrol, buy, capsys):
    member = enrol()
    buy(member, "100.00")
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out
    Member.objects.filter(pk=member.pk).update(points_balance=101)
    with pytest.raises(CommandError, match="2 discrepancies"):
        call_command("check_ledger", "--no-color")
    assert f"{member.member_no}: points balance + pending is 101, the ledger says 100" in capsys.readouterr().err
