"""The counter's store desk tab: the desk operations as counter forms, through the same services."""

import re

import pytest
from django.test import Client

from core.sms import LocmemSmsBackend
from membership.ledger import discrepancies
from membership.models import AuditLog, Card, Member, StoredValueEntry
from membership.services import cards, stored_value

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
STOCK = ["6200000000000005", "6200000000000013"]


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    settings.MEMBER_OTP_RESEND_SECONDS = 0  # the phone and then the PIN code go to one phone within a minute
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend.outbox
    LocmemSmsBackend.outbox.clear()


@pytest.fixture
def staff(demo_staff, program):
    def sign_in(username):
        client = Client()
        client.force_login(demo_staff[username])
        return client

    return sign_in


@pytest.fixture
def member(enrol):
    cards.add_stock(STOCK, batch="B1")
    return enrol(phone="13800138000", name="张三", birthday="1990-05-20")


def text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def last_code(phone) -> str:
    sent = [t for to, t in LocmemSmsBackend.outbox if to == phone]
    return re.search(r"\b(\d{6})\b", sent[-1]).group(1)


def test_the_desk_tab_shows_manager_operations_to_managers_only(staff, member):
    clerk_desk = staff("clerk1").get(f"/counter/desk/?m={member.member_no}", **HX)
    assert clerk_desk.status_code == 200
    html = text(clerk_desk)
    assert "绑定会员卡" in html and "挂失补卡" in html and member.cards.get().number in html
    assert 'data-testid="desk-close"' not in html and 'data-testid="desk-merge"' not in html
    manager_desk = text(staff("manager1").get(f"/counter/desk/?m={member.member_no}", **HX))
    assert 'data-testid="desk-close"' in manager_desk and 'data-testid="desk-merge"' in manager_desk
    page = text(staff("clerk1").get(f"/counter/?m={member.member_no}"))
    assert 'data-testid="desk-tab"' in page
    assert staff("clerk1").get("/counter/desk/?m=1000000000", **HX).status_code == 404


def test_clerk_binds_a_card_and_replaces_a_lost_one(staff, member, demo_staff):
    clerk = staff("clerk1")
    bad = clerk.post("/counter/desk/card/", {"member_no": member.member_no, "card_no": "6200000000000006"}, **HX)
    assert bad.status_code == 400
    assert 'value="6200000000000006"' in text(bad) and "校验位正确" in text(bad)  # kept, with the reason
    bound = clerk.post("/counter/desk/card/", {"member_no": member.member_no, "card_no": STOCK[0]}, **HX)
    assert bound.status_code == 200 and STOCK[0] in text(bound)
    assert Card.objects.get(number=STOCK[0]).member_id == member.pk
    virtual = member.cards.get(kind="virtual").number
    lost = clerk.post(
        "/counter/desk/lost/",
        {"member_no": member.member_no, "lost_card_no": STOCK[0], "replacement_card_no": STOCK[1], "confirm": "yes"},
        **HX,
    )
    assert lost.status_code == 200 and Card.objects.get(number=STOCK[0]).status == "blocked"
    assert Card.objects.get(number=STOCK[1]).replaces.number == STOCK[0]
    again = clerk.post(
        "/counter/desk/lost/",
        {"member_no": member.member_no, "lost_card_no": virtual, "replacement_card_no": STOCK[1], "confirm": "yes"},
        **HX,
    )
    assert again.status_code == 409 and Card.objects.get(number=virtual).status == "active"
    assert AuditLog.objects.filter(action="card.replace", operator=demo_staff["clerk1"]).count() == 1


def test_scanning_a_lost_card_says_whose_it_is(staff, member):
    """Issue 31: a blocked card scanned at the counter said "no member found, enrol?" and put the card
    number in the enrol form's phone field. It says the card is reported lost and whose it is, and the
    card still opens nobody."""
    clerk = staff("clerk1")
    cards.bind(member=member, number=STOCK[0])
    cards.report_lost(member=member, card_no=STOCK[0])
    found = text(clerk.get("/counter/lookup/", {"q": STOCK[0]}, **HX))
    assert "挂失并停用" in found and "张三" in found and member.masked_phone in found and STOCK[0] in found
    assert "未找到会员" not in found and f'value="{STOCK[0]}"' not in found
    assert 'data-testid="member-card"' not in found  # the blocked card does not open the member


def test_phone_and_pin_with_the_members_code(staff, member):
    clerk = staff("clerk1")
    base = {"member_no": member.member_no}
    sent = clerk.post("/counter/desk/phone/", {**base, "phone": "13900000009", "action": "send"}, **HX)
    assert sent.status_code == 200 and "139****0009" in text(sent) and 'value="13900000009"' in text(sent)
    no_code = clerk.post("/counter/desk/phone/", {**base, "phone": "13900000009", "action": "change"}, **HX)
    assert no_code.status_code == 400 and "短信验证码" in text(no_code)
    done = clerk.post(
        "/counter/desk/phone/",
        {**base, "phone": "13900000009", "code": last_code("13900000009"), "action": "change"},
        **HX,
    )
    assert done.status_code == 200 and Member.objects.get(pk=member.pk).phone == "13900000009"
    assert clerk.post("/counter/desk/pin/", {**base, "action": "send"}, **HX).status_code == 200
    pin = clerk.post(
        "/counter/desk/pin/", {**base, "pin": "135790", "pin_code": last_code("13900000009"), "action": "set"}, **HX
    )
    assert pin.status_code == 200
    stored_value.top_up(member=member, amount="50.00", idempotency_key="t")
    sale = clerk.post(
        "/counter/sale/",
        {**base, "receipt_no": "R1", "amount": "10.00", "pay_stored_value": "10.00", "pin": "135790"},
        **HX,
    )
    assert sale.status_code == 200


def test_clerks_cannot_merge_close_or_refund(staff, member):
    clerk = staff("clerk1")
    for url in ["/counter/desk/merge/", "/counter/desk/close/", "/counter/desk/refund/"]:
        assert (
            clerk.post(url, {"member_no": member.member_no, "reason": "x", "confirm": "yes"}, **HX).status_code == 403
        )
    assert Member.objects.get(pk=member.pk).status == "active"


def test_manager_refunds_merges_and_closes(staff, member, enrol):
    manager = staff("manager1")
    base = {"member_no": member.member_no}
    topup = stored_value.top_up(
        member=member, amount="300.00", plan_code="TOPUP300", idempotency_key="t", store=member.home_store
    ).entry
    ref = stored_value.topup_ref(topup.pk)
    refunded = manager.post("/counter/desk/refund/", {**base, "topup": ref, "confirm": "yes"}, **HX)
    assert refunded.status_code == 200 and "300.00" in text(refunded)
    assert StoredValueEntry.objects.filter(topup=topup).exists()
    assert 'data-testid="topup-refunded">已退款<' in text(refunded)  # its own label, not the field's 退款时间
    dup = enrol(phone="13700000001")
    merge = {**base, "from": dup.member_no, "merge_reason": "two cards", "confirm": "yes"}
    merged = manager.post("/counter/desk/merge/", merge, **HX)
    assert merged.status_code == 200 and Member.objects.get(pk=dup.pk).status == "merged"
    unconfirmed = manager.post("/counter/desk/close/", {**base, "reason": "asked"}, **HX)
    assert unconfirmed.status_code == 400 and Member.objects.get(pk=member.pk).status == "active"
    closed = manager.post("/counter/desk/close/", {**base, "reason": "asked", "confirm": "yes"}, **HX)
    assert closed.status_code == 200 and member.member_no in text(closed) and "张三" not in text(closed)
    assert Member.objects.get(pk=member.pk).status == "closed"
    assert discrepancies() == []


def test_irreversible_desk_actions_show_what_they_will_do_and_wait_for_a_confirmation(staff, member, enrol):
    """Issue 31: a top-up refund, a merge and a lost card acted on one click (a mistyped number merged
    a stranger). The first post shows what will happen, worked out by the same service and nothing
    written; the confirmation does it."""
    manager = staff("manager1")
    base = {"member_no": member.member_no}
    topup = stored_value.top_up(
        member=member, amount="300.00", plan_code="TOPUP300", idempotency_key="t", store=member.home_store
    ).entry
    asked = text(manager.post("/counter/desk/refund/", {**base, "topup": stored_value.topup_ref(topup.pk)}, **HX))
    assert 'data-testid="confirm"' in asked and "¥300.00" in asked and "¥40.00" in asked
    assert not StoredValueEntry.objects.filter(topup=topup).exists()
    assert 'name="confirm" value="yes"' in asked and f'value="{stored_value.topup_ref(topup.pk)}"' in asked

    stranger = enrol(phone="13700000001", name="李四")
    stored_value.top_up(member=stranger, amount="100.00", idempotency_key="s")
    asked = text(manager.post("/counter/desk/merge/", {**base, "from": stranger.member_no}, **HX))
    assert 'data-testid="confirm-account"' in asked and "李四" in asked and stranger.masked_phone in asked
    assert 'data-testid="confirm-account-sv">¥100.00 + ¥10.00' in asked
    assert "¥450.00" in asked  # this account after the merge: 300 + 40 + 100 + 10
    assert (
        Member.objects.get(pk=stranger.pk).status == "active" and Member.objects.get(pk=member.pk).sv_principal == 300
    )
    assert not AuditLog.objects.filter(action="member.merge").exists()

    card = member.cards.get().number
    asked = text(manager.post("/counter/desk/lost/", {**base, "lost_card_no": card}, **HX))
    assert 'data-testid="confirm"' in asked and card in asked and "虚拟卡" in asked
    assert Card.objects.get(number=card).status == "active" and member.cards.count() == 1
    assert discrepancies() == []


def test_a_spent_top_up_is_refused_before_the_confirmation(staff, member):
    manager = staff("manager1")
    topup = stored_value.top_up(member=member, amount="300.00", idempotency_key="t", store=member.home_store).entry
    sale = {"member_no": member.member_no, "receipt_no": "R1", "amount": "10.00", "pay_stored_value": "10.00"}
    assert staff("clerk1").post("/counter/sale/", sale, **HX).status_code == 200
    for confirm in ("", "yes"):
        refused = manager.post(
            "/counter/desk/refund/",
            {"member_no": member.member_no, "topup": stored_value.topup_ref(topup.pk), "confirm": confirm},
            **HX,
        )
        assert (
            refused.status_code == 409 and "部分消费" in text(refused) and 'data-testid="confirm"' not in text(refused)
        )
    assert not StoredValueEntry.objects.filter(topup=topup).exists()
