"""The store desk's services (pos-api.md, "The store desk"; issue 14): bind a card, lost card,
phone change and PIN with a code, merge moving everything of the person, close a membership."""

import re
from decimal import Decimal

import pytest

from core.errors import CardTaken, Forbidden, Invalid, NotFound, PhoneTaken
from core.sms import LocmemSmsBackend
from membership import identity, selectors
from membership.ledger import discrepancies
from membership.models import AuditLog, Card, Member, OneTimeCode, Tag
from membership.services import accounts, cards, enrolment, stored_value

pytestmark = pytest.mark.django_db
STOCK = ["6200000000000005", "6200000000000013", "6200000000000021"]


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend.outbox
    LocmemSmsBackend.outbox.clear()


def last_code(phone) -> str:
    sent = [text for to, text in LocmemSmsBackend.outbox if to == phone]
    assert sent, f"no SMS to {phone}"
    return re.search(r"\b(\d{6})\b", sent[-1]).group(1)


def fresh(member):
    return Member.objects.get(pk=member.pk)


def audited(action, member):
    return AuditLog.objects.filter(action=action, member=member).last()


def test_a_card_from_stock_is_bound_to_an_existing_member(enrol, demo_staff):
    cards.add_stock(STOCK, batch="B1")
    member, other = enrol(), enrol()
    card = cards.bind(member=member, number=STOCK[0], acting_user=demo_staff["clerk1"])
    assert (card.member_id, card.status, card.kind) == (member.pk, "active", "physical")
    assert selectors.find_member(STOCK[0]).pk == member.pk
    assert audited("card.bind", member).operator == demo_staff["clerk1"]
    with pytest.raises(CardTaken):
        cards.bind(member=other, number=STOCK[0])
    with pytest.raises(Invalid) as not_in_stock:
        cards.bind(member=other, number="6200000000000039")
    assert not_in_stock.value.field == "card_no"
    with pytest.raises(Invalid):
        cards.bind(member=other, number="6200000000000006")  # bad check digit


def test_a_lost_card_is_blocked_and_replaced_from_stock_or_virtual(enrol, demo_staff):
    cards.add_stock(STOCK, batch="B1")
    member = enrol(card_no=STOCK[0])
    stored_value.top_up(member=member, amount="100.00", idempotency_key="t")
    new = cards.report_lost(
        member=member, card_no=STOCK[0], replacement_card_no=STOCK[1], acting_user=demo_staff["clerk1"]
    )
    assert (new.number, new.kind, new.status, new.replaces.number) == (STOCK[1], "physical", "active", STOCK[0])
    assert Card.objects.get(number=STOCK[0]).status == "blocked"
    with pytest.raises(NotFound):
        selectors.find_member(STOCK[0])
    assert selectors.find_member(STOCK[1]).pk == member.pk
    virtual = cards.report_lost(member=member, card_no=STOCK[1], acting_user=demo_staff["clerk1"])
    assert virtual.kind == "virtual" and identity.is_valid_number(virtual.number)
    assert fresh(member).sv_principal == Decimal("100.00")  # balances stay
    assert audited("card.replace", member).data == {"old": STOCK[1], "new": virtual.number}
    with pytest.raises(NotFound):
        cards.report_lost(member=enrol(), card_no=virtual.number)  # not that member's card


def test_phone_change_needs_the_code_sent_to_the_new_phone(enrol, demo_staff):
    member, other = enrol(phone="13800000001"), enrol(phone="13800000002")
    clerk = demo_staff["clerk1"]
    with pytest.raises(PhoneTaken):
        accounts.send_phone_change_code(member=member, phone="13800000002")
    accounts.send_phone_change_code(member=member, phone="13900000009")
    with pytest.raises(Invalid) as no_code:
        accounts.change_phone(member=member, phone="13900000009", acting_user=clerk)
    assert no_code.value.field == "code"
    wrong = "000000" if last_code("13900000009") != "000000" else "111111"
    with pytest.raises(Invalid):
        accounts.change_phone(member=member, phone="13900000009", code=wrong, acting_user=clerk)
    accounts.change_phone(member=member, phone="13900000009", code=last_code("13900000009"), acting_user=clerk)
    assert fresh(member).phone == "13900000009"
    assert audited("member.phone_change", member).data == {
        "old": "138****0001",
        "new": "139****0009",
        "with_code": True,
    }
    with pytest.raises(PhoneTaken):
        accounts.change_phone(member=other, phone="13900000009", acting_user=demo_staff["manager1"])
    # a manager may do without the code; the old number is free again
    accounts.change_phone(member=other, phone="13800000003", acting_user=demo_staff["manager1"])
    assert enrol(phone="13800000002").phone == "13800000002"


def test_pin_is_set_with_a_code_to_the_members_phone_or_by_a_manager(enrol, demo_staff, buy):
    member = enrol(phone="13800000001")
    stored_value.top_up(member=member, amount="100.00", idempotency_key="t")
    with pytest.raises(Invalid) as no_code:
        accounts.set_pin(member=member, pin="135790", acting_user=demo_staff["clerk1"])
    assert no_code.value.field == "code"
    accounts.send_pin_code(member=member)
    assert OneTimeCode.objects.get(phone="13800000001").purpose == "set_pin"
    with pytest.raises(Invalid) as bad_pin:
        accounts.set_pin(member=member, pin="12ab", code=last_code("13800000001"), acting_user=demo_staff["clerk1"])
    assert bad_pin.value.field == "pin" and OneTimeCode.objects.get().attempts == 0  # no attempt used
    accounts.set_pin(member=member, pin="135790", code=last_code("13800000001"), acting_user=demo_staff["clerk1"])
    with pytest.raises(Forbidden):
        buy(member, "10.00", pay_stored_value="10.00", pin="000000")
    assert buy(member, "10.00", pay_stored_value="10.00", pin="135790").stored_value_paid == Decimal("10.00")
    accounts.set_pin(member=member, pin="246802", acting_user=demo_staff["manager1"])  # reset by a manager
    assert buy(member, "10.00", pay_stored_value="10.00", pin="246802").stored_value_paid == Decimal("10.00")
    assert audited("sv.set_pin", member).operator == demo_staff["manager1"]


def test_a_merge_keeps_the_merged_stored_value_behind_a_pin(enrol, demo_staff, buy):
    """R16 (issue 28): merging dropped the merged account's PIN: its stored value, moved to an account
    without a PIN, could be spent with none. The target takes the merged account's PIN when it has
    none of its own, and keeps its own when it has one."""
    keep, dup = enrol(), enrol()
    stored_value.top_up(member=dup, amount="50.00", idempotency_key="t-dup")
    stored_value.set_pin(member=dup, pin="135790")
    enrolment.merge(source=dup, target=keep, acting_user=demo_staff["manager1"], reason="two cards")
    with pytest.raises(Forbidden):
        buy(fresh(keep), "10.00", pay_stored_value="10.00")
    assert buy(fresh(keep), "10.00", pay_stored_value="10.00", pin="135790").stored_value_paid == Decimal("10.00")
    other = enrol()
    stored_value.set_pin(member=other, pin="246802")
    enrolment.merge(source=fresh(keep), target=other, acting_user=demo_staff["manager1"], reason="again")
    assert buy(fresh(other), "10.00", pay_stored_value="10.00", pin="246802").stored_value_paid == Decimal("10.00")


def test_merge_moves_tags_and_the_other_apps_rows(enrol, demo_staff, buy):
    keep, dup = enrol(), enrol()
    vip = Tag.objects.create(name="VIP")
    dup.tags.add(vip)
    buy(dup, "100.00")
    with pytest.raises(Forbidden):
        enrolment.merge(source=dup, target=keep, acting_user=demo_staff["clerk1"])
    enrolment.merge(source=dup, target=keep, acting_user=demo_staff["manager1"], reason="two cards")
    assert list(fresh(keep).tags.all()) == [vip] and not fresh(dup).tags.exists()
    assert fresh(keep).points_balance == 100 and fresh(dup).status == "merged"
    assert audited("member.merge", keep).data == {"merged": dup.member_no, "reason": "two cards"}
    assert discrepancies() == []


def test_closing_a_membership_erases_personal_data_and_keeps_ledgers(enrol, demo_staff, buy):
    cards.add_stock(STOCK, batch="B1")
    member = enrol(phone="13800000001", name="张三", birthday="1990-05-20", card_no=STOCK[0], marketing_consent=True)
    member.tags.add(Tag.objects.create(name="VIP"))
    buy(member, "100.00")
    stored_value.top_up(member=member, amount="50.00", idempotency_key="t", store=demo_staff["manager1"].store)
    with pytest.raises(Forbidden):
        enrolment.close(member=member, reason="asked", acting_user=demo_staff["clerk1"])
    with pytest.raises(Invalid) as money_left:
        enrolment.close(member=member, reason="asked", acting_user=demo_staff["manager1"])
    assert money_left.value.field == "stored_value"
    stored_value.refund_top_up(topup=member.sv_entries.get(), acting_user=demo_staff["manager1"])
    with pytest.raises(Invalid) as no_reason:
        enrolment.close(member=member, reason=" ", acting_user=demo_staff["manager1"])
    assert no_reason.value.field == "reason"
    enrolment.close(member=member, reason="asked at the counter", acting_user=demo_staff["manager1"])
    closed = fresh(member)
    assert (closed.status, closed.name, closed.birth_month, closed.birth_year, closed.gender) == (
        "closed",
        "",
        None,
        None,
        "U",
    )
    assert closed.phone == "0" + member.member_no and "13800000001" not in closed.phone
    assert not closed.tags.exists() and not closed.marketing_consent and not closed.sv_pin
    assert closed.points_balance == 100 and closed.points_entries.count() == 1  # ledgers kept
    assert Card.objects.get(number=STOCK[0]).status == "blocked"
    for q in ["13800000001", STOCK[0], member.member_no]:
        with pytest.raises(NotFound):
            selectors.find_member(q)
    assert discrepancies() == []
    assert audited("member.close", closed).operator == demo_staff["manager1"]
    again = enrol(phone="13800000001")  # the phone is free again
    assert again.pk != member.pk and again.status == "active"
    with pytest.raises(Invalid):
        enrolment.close(member=closed, reason="again", acting_user=demo_staff["manager1"])
