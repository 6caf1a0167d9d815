"""The store desk of the POS API (pos-api.md, "The store desk"): every endpoint, role and error."""

import re
from decimal import Decimal

import pytest

from campaigns.models import (
    CheckIn,
    Coupon,
    MallItem,
    MallOrder,
    Notification,
    ReferralReward,
    Scene,
    SceneGrant,
)
from campaigns.services import mall
from core.sms import LocmemSmsBackend
from membership.ledger import discrepancies
from membership.models import AuditLog, Card, Member, StoredValueEntry, Tag
from membership.services import cards, points, stored_value
from pos.models import Sale

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


def error(response):
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def enrol(client, phone="13800138000", **data):
    response = client.post("/api/v1/members/", {"phone": phone, **data}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def lookup(client, q):
    return client.get("/api/v1/members/lookup/", {"q": q})


def audited(action):
    return AuditLog.objects.filter(action=action).last()


def test_bind_a_card_from_stock(api, demo_staff):
    cards.add_stock(STOCK, batch="B1")
    clerk = api("clerk1")
    member = enrol(clerk)
    url = f"/api/v1/members/{member['member_no']}/cards/"
    bound = clerk.post(url, {"card_no": STOCK[0]}, format="json")
    assert bound.status_code == 201 and bound.json() == {"card_no": STOCK[0], "kind": "physical", "status": "active"}
    assert lookup(clerk, STOCK[0]).json()["member_no"] == member["member_no"]
    assert audited("card.bind").operator == demo_staff["clerk1"]
    other = enrol(clerk, phone="13900000001")
    taken = clerk.post(f"/api/v1/members/{other['member_no']}/cards/", {"card_no": STOCK[0]}, format="json")
    assert taken.status_code == 409 and error(taken)["code"] == "card_taken"
    for bad in ["6200000000000039", "6200000000000006", "12"]:  # not in stock, bad check digit, too short
        response = clerk.post(url, {"card_no": bad}, format="json")
        assert response.status_code == 400 and error(response)["code"] == "invalid"
        assert "card_no" in error(response)["fields"], bad
    missing = clerk.post("/api/v1/members/1000000000/cards/", {"card_no": STOCK[1]}, format="json")
    assert missing.status_code == 404 and error(missing)["code"] == "not_found"
    assert api().post(url, {"card_no": STOCK[1]}, format="json").status_code == 401


def test_lost_card_is_blocked_and_replaced(api, demo_staff):
    cards.add_stock(STOCK, batch="B1")
    clerk = api("clerk1")
    member = enrol(clerk, card_no=STOCK[0])
    no = member["member_no"]
    clerk.post(f"/api/v1/members/{no}/stored-value/topups/", {"amount": "100.00"}, format="json")
    new = clerk.post(f"/api/v1/members/{no}/cards/{STOCK[0]}/lost/", {"replacement_card_no": STOCK[1]}, format="json")
    assert new.status_code == 201 and new.json() == {"card_no": STOCK[1], "kind": "physical", "status": "active"}
    gone = lookup(clerk, STOCK[0])
    assert gone.status_code == 404 and error(gone)["code"] == "not_found"
    found = lookup(clerk, STOCK[1]).json()
    assert found["member_no"] == no and found["stored_value"]["principal"] == "100.00"  # balances stay
    virtual = clerk.post(f"/api/v1/members/{no}/cards/{STOCK[1]}/lost/", {}, format="json")
    assert virtual.status_code == 201 and virtual.json()["kind"] == "virtual"
    assert lookup(clerk, virtual.json()["card_no"]).json()["member_no"] == no
    again = clerk.post(f"/api/v1/members/{no}/cards/{STOCK[1]}/lost/", {}, format="json")
    assert again.status_code == 400 and error(again)["code"] == "invalid"  # already blocked
    not_theirs = clerk.post(f"/api/v1/members/{no}/cards/{STOCK[2]}/lost/", {}, format="json")
    assert not_theirs.status_code == 404 and error(not_theirs)["code"] == "not_found"
    taken = clerk.post(
        f"/api/v1/members/{no}/cards/{virtual.json()['card_no']}/lost/",
        {"replacement_card_no": STOCK[1]},
        format="json",
    )
    assert taken.status_code == 409 and error(taken)["code"] == "card_taken"
    assert Card.objects.get(number=virtual.json()["card_no"]).status == "active"  # nothing changed
    assert audited("card.replace").operator == demo_staff["clerk1"]


def test_change_phone_with_a_code_to_the_new_phone(api, demo_staff):
    clerk, manager = api("clerk1"), api("manager1")
    member, other = enrol(clerk), enrol(clerk, phone="13900000001")
    no = member["member_no"]
    sent = clerk.post(f"/api/v1/members/{no}/phone/code/", {"phone": "13700000007"}, format="json")
    assert sent.status_code == 200 and sent.json() == {"phone": "137****0007", "resend_in": 60}
    no_code = clerk.post(f"/api/v1/members/{no}/phone/", {"phone": "13700000007"}, format="json")
    assert no_code.status_code == 400 and "code" in error(no_code)["fields"]
    changed = clerk.post(
        f"/api/v1/members/{no}/phone/", {"phone": "13700000007", "code": last_code("13700000007")}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["phone"] == "137****0007"
    assert changed.json()["member_no"] == no
    assert lookup(clerk, "13700000007").json()["member_no"] == no
    assert lookup(clerk, "13800138000").status_code == 404
    taken = clerk.post(f"/api/v1/members/{no}/phone/code/", {"phone": "13900000001"}, format="json")
    assert taken.status_code == 409 and error(taken)["code"] == "phone_taken"
    taken = manager.post(f"/api/v1/members/{other['member_no']}/phone/", {"phone": "13700000007"}, format="json")
    assert taken.status_code == 409 and error(taken)["code"] == "phone_taken"
    by_manager = manager.post(
        f"/api/v1/members/{other['member_no']}/phone/", {"phone": "13800138000"}, format="json"
    )  # without a code, and the old number of the first member
    assert by_manager.status_code == 200 and by_manager.json()["phone"] == "138****8000"
    bad = clerk.post(f"/api/v1/members/{no}/phone/", {"phone": "12345", "code": "123456"}, format="json")
    assert bad.status_code == 400 and "phone" in error(bad)["fields"]
    log = audited("member.phone_change")
    assert log.operator == demo_staff["manager1"] and log.data["with_code"] is False


def test_set_and_reset_the_pin(api, demo_staff):
    clerk, manager = api("clerk1"), api("manager1")
    no = enrol(clerk)["member_no"]
    clerk.post(f"/api/v1/members/{no}/stored-value/topups/", {"amount": "100.00"}, format="json")
    url = f"/api/v1/members/{no}/pin/"
    no_code = clerk.put(url, {"pin": "135790"}, format="json")
    assert no_code.status_code == 400 and "code" in error(no_code)["fields"]
    sent = clerk.post(f"/api/v1/members/{no}/pin/code/", format="json")
    assert sent.status_code == 200 and sent.json()["phone"] == "138****8000"
    bad = clerk.put(url, {"pin": "12ab", "code": last_code("13800138000")}, format="json")
    assert bad.status_code == 400 and "pin" in error(bad)["fields"]
    done = clerk.put(url, {"pin": "135790", "code": last_code("13800138000")}, format="json")
    assert done.status_code == 204 and not done.content
    sale = {"receipt_no": "R1", "member": no, "amount": "10.00", "pay_stored_value": "10.00"}
    wrong = clerk.post("/api/v1/sales/", {**sale, "pin": "000000"}, format="json")
    assert wrong.status_code == 403 and error(wrong)["code"] == "forbidden" and "pin" in error(wrong)["fields"]
    assert clerk.post("/api/v1/sales/", {**sale, "pin": "135790"}, format="json").status_code == 201
    reset = manager.put(url, {"pin": "246802"}, format="json", HTTP_IDEMPOTENCY_KEY="pin-1")
    assert reset.status_code == 204
    replay = manager.put(url, {"pin": "246802"}, format="json", HTTP_IDEMPOTENCY_KEY="pin-1")
    assert replay.status_code == 204 and not replay.content
    assert clerk.post("/api/v1/sales/", {**sale, "receipt_no": "R2", "pin": "246802"}, format="json").status_code == 201
    assert audited("sv.set_pin").operator == demo_staff["manager1"]


def test_refund_a_top_up_manager_only(api, demo_staff):
    clerk, manager = api("clerk1"), api("manager1")
    no = enrol(clerk)["member_no"]
    topup = clerk.post(f"/api/v1/members/{no}/stored-value/topups/", {"amount": "300.00"}, format="json").json()
    assert topup["bonus_added"] == "40.00"  # the demo program's 300 plan
    url = f"/api/v1/stored-value/topups/{topup['topup_id']}/refund/"
    denied = clerk.post(url, format="json")
    assert denied.status_code == 403 and error(denied)["code"] == "forbidden"
    refunded = manager.post(url, format="json")
    assert refunded.status_code == 201
    assert refunded.json() == {
        "topup_id": topup["topup_id"],
        "principal_refunded": "300.00",
        "bonus_removed": "40.00",
        "principal": "0.00",
        "bonus": "0.00",
    }
    twice = manager.post(url, format="json")
    assert twice.status_code == 400 and error(twice)["code"] == "invalid"
    spent = clerk.post(f"/api/v1/members/{no}/stored-value/topups/", {"amount": "100.00"}, format="json").json()
    everything = str(Decimal(spent["principal"]) + Decimal(spent["bonus"]))
    assert (
        clerk.post(
            "/api/v1/sales/",
            {"receipt_no": "R1", "member": no, "amount": everything, "pay_stored_value": everything},
            format="json",
        ).status_code
        == 201
    )
    nothing_left = manager.post(f"/api/v1/stored-value/topups/{spent['topup_id']}/refund/", format="json")
    assert nothing_left.status_code == 409 and error(nothing_left)["code"] == "insufficient_stored_value"
    for missing in ["999999", "abc"]:
        response = manager.post(f"/api/v1/stored-value/topups/{missing}/refund/", format="json")
        assert response.status_code == 404 and error(response)["code"] == "not_found"
    assert audited("sv.topup_refund").operator == demo_staff["manager1"]
    assert discrepancies() == []


def test_a_partly_spent_top_up_answers_409(api, demo_staff):
    """pos-api.md: 409 insufficient_stored_value when spent; a partly spent top-up was refunded (issue 31)."""
    clerk, manager = api("clerk1"), api("manager1")
    no = enrol(clerk)["member_no"]
    topup = clerk.post(f"/api/v1/members/{no}/stored-value/topups/", {"amount": "300.00"}, format="json").json()
    sale = {"receipt_no": "R1", "member": no, "amount": "10.00", "pay_stored_value": "10.00"}
    assert clerk.post("/api/v1/sales/", sale, format="json").status_code == 201
    refused = manager.post(f"/api/v1/stored-value/topups/{topup['topup_id']}/refund/", format="json")
    assert refused.status_code == 409 and error(refused)["code"] == "insufficient_stored_value"
    assert not StoredValueEntry.objects.filter(kind=StoredValueEntry.Kind.TOPUP_REFUND, member__member_no=no).exists()
    assert discrepancies() == []


@pytest.fixture
def campaigns_demo(program):
    from campaigns.demo import seed

    seed()


def test_merge_moves_everything_and_the_merged_coupons_work(api, demo_staff, campaigns_demo):
    clerk, manager = api("clerk1"), api("manager1")
    keep = enrol(clerk, phone="13900000001")
    dup = enrol(clerk)  # the welcome scene gives each a WELCOME10 coupon and a grant
    source, target = (Member.objects.get(member_no=m["member_no"]) for m in (dup, keep))
    invited = enrol(clerk, phone="13900000002", referral_code=source.referral_code)
    dup_coupon = Coupon.objects.get(member=source)
    assert (
        clerk.post(
            "/api/v1/sales/", {"receipt_no": "R1", "member": dup["member_no"], "amount": "200.00"}, format="json"
        ).status_code
        == 201
    )
    points.adjust(member=source, points=5000, reason="test", acting_user=demo_staff["manager1"])
    order = mall.order(member=source, item=MallItem.objects.order_by("points_price").first(), idempotency_key="o1")
    other_scene = Scene.objects.exclude(pk=SceneGrant.objects.get(member=source).scene_id).first()
    SceneGrant.objects.create(
        scene=other_scene, member=source, occurrence="2026", status="granted", created_at=order.created_at
    )
    CheckIn.objects.create(member=source, day="2026-01-02", streak=1, points=0)
    ReferralReward.objects.create(
        inviter=source,
        invited=Member.objects.get(member_no=invited["member_no"]),
        points=100,
        purchase_ref="X",
        created_at=order.created_at,
    )
    source.tags.add(Tag.objects.create(name="VIP"))
    stored_value.top_up(member=source, amount="50.00", idempotency_key="sv")
    notes = Notification.objects.filter(member=source).count()
    assert notes >= 1
    source.refresh_from_db()
    target.refresh_from_db()
    points_before = source.points_balance + target.points_balance

    url = f"/api/v1/members/{keep['member_no']}/merge/"
    body = {"from": dup["member_no"], "reason": "one person, two cards"}
    denied = clerk.post(url, body, format="json")
    assert denied.status_code == 403 and error(denied)["code"] == "forbidden"
    merged = manager.post(url, body, format="json")
    assert merged.status_code == 200, merged.json()
    summary = merged.json()
    assert summary["member_no"] == keep["member_no"]
    assert summary["stored_value"] == {"principal": "50.00", "bonus": "0.00"}
    assert summary["points"]["balance"] == points_before == Member.objects.get(pk=target.pk).points_balance
    assert Member.objects.get(pk=source.pk).status == "merged"
    assert not Coupon.objects.filter(member=source).exists()
    assert not MallOrder.objects.filter(member=source).exists()
    assert not Sale.objects.filter(member=source).exists() and Sale.objects.filter(member=target).count() == 1
    assert SceneGrant.objects.filter(member=target, scene=other_scene).exists()
    assert CheckIn.objects.filter(member=target, day="2026-01-02").exists()
    assert ReferralReward.objects.get().inviter_id == target.pk
    assert Member.objects.get(member_no=invited["member_no"]).referrer_id == target.pk
    assert (
        Notification.objects.filter(member=target).count() >= notes
        and not Notification.objects.filter(member=source).exists()
    )
    assert list(Member.objects.get(pk=target.pk).tags.values_list("name", flat=True)) == ["VIP"]
    assert lookup(clerk, dup["card_no"]).json()["member_no"] == keep["member_no"]  # cards moved too
    assert audited("member.merge").operator == demo_staff["manager1"]
    assert discrepancies() == []
    # the merged account's coupon works on the kept account
    sale = clerk.post(
        "/api/v1/sales/",
        {"receipt_no": "R2", "member": keep["member_no"], "amount": "100.00", "coupon_code": dup_coupon.code},
        format="json",
    )
    assert sale.status_code == 201, sale.json()
    assert Decimal(sale.json()["coupon_value"]) > 0
    assert Coupon.objects.get(pk=dup_coupon.pk).status == "used"
    # the merged account is gone; merging it again or into itself is refused
    again = manager.post(url, body, format="json")
    assert again.status_code == 400 and "from" in error(again)["fields"]
    itself = manager.post(url, {"from": keep["member_no"], "reason": "x"}, format="json")
    assert itself.status_code == 400 and error(itself)["code"] == "invalid"
    no_reason = manager.post(url, {"from": keep["member_no"]}, format="json")
    assert no_reason.status_code == 400 and "reason" in error(no_reason)["fields"]


def test_close_a_membership(api, demo_staff, campaigns_demo):
    clerk, manager = api("clerk1"), api("manager1")
    member = enrol(clerk, name="张三", birthday="1990-05-20", marketing_consent=True)
    no = member["member_no"]
    assert (
        clerk.post("/api/v1/sales/", {"receipt_no": "R1", "member": no, "amount": "120.00"}, format="json").status_code
        == 201
    )
    points.adjust(member=Member.objects.get(member_no=no), points=5, reason="t", acting_user=demo_staff["manager1"])
    url = f"/api/v1/members/{no}/close/"
    denied = clerk.post(url, {"reason": "asked"}, format="json")
    assert denied.status_code == 403 and error(denied)["code"] == "forbidden"
    topup = clerk.post(f"/api/v1/members/{no}/stored-value/topups/", {"amount": "20.00"}, format="json").json()
    money_left = manager.post(url, {"reason": "asked"}, format="json")
    assert money_left.status_code == 400 and "stored_value" in error(money_left)["fields"]
    manager.post(f"/api/v1/stored-value/topups/{topup['topup_id']}/refund/", format="json")
    no_reason = manager.post(url, {}, format="json")
    assert no_reason.status_code == 400 and "reason" in error(no_reason)["fields"]
    closed = manager.post(url, {"reason": "the member asked"}, format="json")
    assert closed.status_code == 200 and closed.json() == {"member_no": no, "status": "closed"}
    row = Member.objects.get(member_no=no)
    assert (row.name, row.birth_month, row.phone) == ("", None, "0" + no)
    assert row.points_entries.count() == 2 and not Notification.objects.filter(member=row).exists()
    for q in ["13800138000", member["card_no"], no]:
        assert lookup(clerk, q).status_code == 404
    assert clerk.get(f"/api/v1/members/{no}/").status_code == 404
    assert manager.post(url, {"reason": "again"}, format="json").status_code == 404
    assert discrepancies() == []
    assert enrol(clerk)["member_no"] != no  # the phone enrols again
    assert audited("member.close").operator == demo_staff["manager1"]


def test_a_manager_refunds_only_their_own_store_s_top_ups_named_by_an_unguessable_id(api, demo_staff):
    """R4 (issue 28): any store's manager refunded any store's top-up by its sequential id. Now the
    top-up's own store's manager (or HQ) refunds it; another store's is 404, and a counted id is no name."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from membership.models import Role, Store, User

    s002 = Store.objects.get(code="S002")
    manager2 = User.objects.create_user("manager2", password="pw-manager2-long", role=Role.MANAGER, store=s002)
    other_store = APIClient()
    other_store.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=manager2).key}")
    clerk, manager = api("clerk1"), api("manager1")
    no = enrol(clerk)["member_no"]
    topup = clerk.post(f"/api/v1/members/{no}/stored-value/topups/", {"amount": "100.00"}, format="json").json()
    assert not topup["topup_id"].isdigit()
    entry = StoredValueEntry.objects.get(kind="topup")
    refused = other_store.post(f"/api/v1/stored-value/topups/{topup['topup_id']}/refund/", format="json")
    assert refused.status_code == 404 and error(refused)["code"] == "not_found"
    counted = manager.post(f"/api/v1/stored-value/topups/{entry.pk}/refund/", format="json")
    assert counted.status_code == 404  # the bare sequential id names nothing
    forged = manager.post(f"/api/v1/stored-value/topups/{entry.pk}:forged/refund/", format="json")
    assert forged.status_code == 404
    assert not StoredValueEntry.objects.filter(topup=entry).exists()
    done = manager.post(f"/api/v1/stored-value/topups/{topup['topup_id']}/refund/", format="json")
    assert done.status_code == 201 and done.json()["topup_id"] == topup["topup_id"]
