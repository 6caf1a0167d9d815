"""The counter pages: what a clerk does all day, through the same services as the API."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from membership import qr
from membership.ledger import discrepancies
from membership.models import Member, Tier
from membership.services import cards
from pos.models import Sale

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def clerk(signed_in, program):
    return signed_in("clerk1")


def text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def enrol(clerk, **data):
    data = {"phone": "13800138000", "name": "张三", "gender": "F", "birth_month": "5", "birth_day": "20", **data}
    return clerk.post("/counter/enrol/", data, **HX)


def test_counter_page_for_clerks_only(signed_in, client, program):
    assert client.get("/counter/").status_code == 302
    assert signed_in("admin").get("/counter/").status_code == 403  # HQ without a store has no till
    page = signed_in("clerk1").get("/counter/")
    assert page.status_code == 200
    html = text(page)
    assert 'id="q" name="q" autofocus' in html and "收银台" in html


def test_enrol_then_find_by_phone_card_and_qr(clerk):
    response = enrol(clerk, card_no="", marketing_consent="on")
    assert response.status_code == 200
    assert "欢迎" in text(response) and 'data-testid="member-card"' in text(response)
    member = Member.objects.get()
    assert member.birth_month == 5 and member.marketing_consent and member.enrolled_by.username == "clerk1"
    card = member.cards.get().number
    for q in ["13800138000", card, qr.make_token(member.member_no)]:
        found = clerk.get("/counter/lookup/", {"q": q}, **HX)
        assert found.status_code == 200 and member.masked_phone in text(found), q
        assert "<html" not in found.content.decode()  # a partial for htmx


def test_enrolling_a_known_phone_opens_the_member(clerk):
    enrol(clerk)
    response = enrol(clerk, name="另一人")
    assert "已经是会员" in text(response) and "张三" in text(response)
    assert Member.objects.count() == 1


def test_enrol_errors_are_shown_beside_the_fields(clerk):
    response = enrol(clerk, phone="12345")
    assert response.status_code == 400 and "请输入以 1 开头的 11 位手机号" in text(response)
    response = enrol(clerk, birth_month="2", birth_day="30")
    assert response.status_code == 400 and "生日" in text(response)
    cards.add_stock(["6200000000000005"], batch="B")
    assert enrol(clerk, phone="13900000001", card_no="6200000000000005").status_code == 200
    taken = enrol(clerk, phone="13900000002", card_no="6200000000000005")
    assert taken.status_code == 400 and "已绑定" in text(taken)
    assert Member.objects.count() == 1


def test_unknown_phone_offers_enrolment_with_the_phone_filled_in(clerk):
    response = clerk.get("/counter/lookup/", {"q": "13912345678"}, **HX)
    html = text(response)
    assert "未找到会员" in html and 'value="13912345678"' in html and 'data-show="enrol"' in html


def test_an_expired_qr_code_says_so(clerk, settings):
    enrol(clerk)
    token = qr.make_token(Member.objects.get().member_no)
    settings.MEMBER_QR_TTL_SECONDS = -1
    assert "已过期" in text(clerk.get("/counter/lookup/", {"q": token}, **HX))


def test_the_preview_names_the_tier_the_sale_reaches(signed_in, demo_program):
    """Issue 31: a ¥1,190 sale lifts a NORMAL member to GOLD (one ticket of ¥999 or more) but the
    preview promised SILVER (the next tier by growth). It shows what the sale records."""
    clerk = signed_in("clerk1")
    enrol(clerk)
    member = Member.objects.get()
    sale = {"member_no": member.member_no, "receipt_no": "R1", "amount": "1190.00"}
    preview = text(clerk.post("/counter/sale/preview/", sale, **HX))
    gold, silver = Tier.objects.get(code="GOLD").name, Tier.objects.get(code="SILVER").name
    assert f'data-testid="preview-tier">升级为 {gold}<' in preview and silver not in preview
    clerk.post("/counter/sale/", sale, **HX)
    assert Member.objects.get().tier.code == "GOLD"
    small = text(clerk.post("/counter/sale/preview/", {**sale, "receipt_no": "R2", "amount": "10.00"}, **HX))
    assert "升级为" not in small and 'data-testid="preview-tier">' in small  # growth still needed to the next


def test_sale_preview_and_sale_with_points(clerk):
    enrol(clerk)
    member = Member.objects.get()
    clerk.post("/counter/sale/", {"member_no": member.member_no, "receipt_no": "R1", "amount": "1000.00"}, **HX)
    preview = clerk.post(
        "/counter/sale/preview/",
        {"member_no": member.member_no, "receipt_no": "R2", "amount": "300.00", "pay_points": "100"},
        **HX,
    )
    html = text(preview)
    # SILVER now: the counter applies the member price, 2% off the ¥300.00 list price = ¥294.00
    assert 'data-testid="preview-discount">−¥6.00<' in html
    assert (
        'data-testid="preview-earn">351<' in html and "¥293.00" in html and ">1000 <" in html
    )  # the balance, under the ¥147 cap
    response = clerk.post(
        "/counter/sale/",
        {"member_no": member.member_no, "receipt_no": "R2", "amount": "300.00", "pay_points": "100"},
        **HX,
    )
    html = text(response)
    assert response.status_code == 200
    assert 'data-testid="result-discount">−¥6.00<' in html and 'data-testid="result-amount">¥294.00<' in html
    assert 'data-testid="result-cash">¥293.00<' in html and 'data-testid="result-earned">351<' in html
    assert 'data-testid="points-balance">1251<' in html
    again = clerk.post(
        "/counter/sale/",
        {"member_no": member.member_no, "receipt_no": "R2", "amount": "300.00", "pay_points": "100"},
        **HX,
    )
    assert "没有任何改动" in text(again) and Sale.objects.count() == 2


def test_sale_errors_change_nothing(clerk):
    enrol(clerk)
    member = Member.objects.get()
    response = clerk.post(
        "/counter/sale/",
        {"member_no": member.member_no, "receipt_no": "R1", "amount": "100.00", "pay_points": "10"},
        **HX,
    )
    assert response.status_code == 409 and "积分不足" in text(response)
    bad = clerk.post("/counter/sale/", {"member_no": member.member_no, "receipt_no": "R1", "amount": "abc"}, **HX)
    assert bad.status_code == 400
    assert Sale.objects.count() == 0 and Member.objects.get().points_balance == 0


def test_sale_without_member_and_return(clerk):
    clerk.post("/counter/sale/", {"member_no": "", "receipt_no": "R7", "amount": "88.00"}, **HX)
    assert Sale.objects.get().member is None
    enrol(clerk)
    member = Member.objects.get()
    clerk.post("/counter/sale/", {"member_no": member.member_no, "receipt_no": "R8", "amount": "300.00"}, **HX)
    response = clerk.post("/counter/return/", {"sale_receipt_no": "R8", "receipt_no": "RR8", "amount": "100.00"}, **HX)
    assert response.status_code == 200 and 'data-testid="result-reversed">100<' in text(response)
    assert Member.objects.get().points_balance == 200
    missing = clerk.post("/counter/return/", {"sale_receipt_no": "NOPE", "receipt_no": "RR9", "amount": "1"}, **HX)
    assert missing.status_code == 404
    too_much = clerk.post("/counter/return/", {"sale_receipt_no": "R8", "receipt_no": "RR10", "amount": "250.00"}, **HX)
    assert too_much.status_code == 400 and "200.00" in text(too_much)
    assert discrepancies() == []


def test_top_up_by_plan_once_per_form(clerk):
    enrol(clerk)
    member = Member.objects.get()
    data = {"member_no": member.member_no, "plan": "TOPUP300", "amount": "", "once": "form-1"}
    response = clerk.post("/counter/topup/", data, **HX)
    assert response.status_code == 200 and "¥40.00" in text(response)
    clerk.post("/counter/topup/", data, **HX)  # a double click
    member.refresh_from_db()
    assert (str(member.sv_principal), str(member.sv_bonus)) == ("300.00", "40.00")


def test_my_day(clerk):
    enrol(clerk)
    member = Member.objects.get()
    clerk.post("/counter/sale/", {"member_no": member.member_no, "receipt_no": "R1", "amount": "12.50"}, **HX)
    html = text(clerk.get("/counter/today/", **HX))
    assert "R1" in html and "¥12.50" in html and member.masked_phone in html


def test_the_counter_page_with_a_member_takes_few_queries(clerk, django_assert_max_num_queries):
    enrol(clerk)
    member = Member.objects.get()
    with django_assert_max_num_queries(16):
        assert clerk.get(f"/counter/?m={member.member_no}").status_code == 200


def test_welcome_coupon_shows_on_the_result_and_a_gift_is_handed_over(clerk, demo_staff):
    from campaigns.demo import seed as seed_campaigns
    from campaigns.models import MallItem, MallOrder
    from campaigns.services import mall
    from membership.services import points

    seed_campaigns()
    response = enrol(clerk)
    html = text(response)
    assert 'data-testid="member-coupons"' in html and "入会礼 满50减10" in html
    member = Member.objects.get()
    coupon = member.coupons.get()
    preview = clerk.post(
        "/counter/sale/preview/",
        {"member_no": member.member_no, "receipt_no": "R1", "amount": "60.00", "coupon_code": coupon.code},
        **HX,
    )
    assert 'data-testid="preview-coupon">−¥10.00<' in text(preview) and "¥50.00" in text(preview)
    points.grant(member=member, points=500, source="manual", idempotency_key="seed")
    order = mall.order(member=member, item=MallItem.objects.get(code="BAG"), idempotency_key="o")
    done = clerk.post("/counter/pickup/", {"pickup_code": order.pickup_code}, **HX)
    assert done.status_code == 200 and 'data-testid="result-pickup">1 × 环保购物袋' in text(done)
    assert MallOrder.objects.get().fulfilled_by == demo_staff["clerk1"]
    again = clerk.post("/counter/pickup/", {"pickup_code": order.pickup_code}, **HX)
    assert again.status_code == 409


def test_counter_lookups_are_throttled_like_the_api(clerk, settings):
    """Issue 12: /counter/lookup/ had no limit (300 lookups in 4 s); it shares the API lookup's."""
    from django.core.cache import cache
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    restore = SimpleRateThrottle.THROTTLE_RATES
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"lookup": "3/min", "lookup_ip": "100/min", "write": "100/min"},
    }
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    cache.clear()
    try:
        codes = [clerk.get("/counter/lookup/", {"q": f"1390000000{n}"}, **HX).status_code for n in range(4)]
        assert codes == [200, 200, 200, 429]
        last = clerk.get("/counter/lookup/", {"q": "13900000009"}, **HX)
        assert last.status_code == 429 and int(last["Retry-After"]) > 0
    finally:
        SimpleRateThrottle.THROTTLE_RATES = restore
        cache.clear()


def test_a_failed_sale_keeps_what_was_typed_and_a_reused_receipt_is_said_plainly(clerk):
    enrol(clerk)
    member = Member.objects.get()
    bad = text(
        clerk.post(
            "/counter/sale/",
            {"member_no": member.member_no, "receipt_no": "KEEP-1", "amount": "88.00", "pay_points": "10"},
            **HX,
        )
    )  # no points: refused
    assert 'value="KEEP-1"' in bad and 'value="88.00"' in bad and 'value="10"' in bad
    clerk.post("/counter/sale/", {"member_no": member.member_no, "receipt_no": "R-1", "amount": "10.00"}, **HX)
    again = text(
        clerk.post("/counter/sale/", {"member_no": member.member_no, "receipt_no": "R-1", "amount": "20.00"}, **HX)
    )
    assert "R-1" in again and "幂等键" not in again and Sale.objects.count() == 1


def test_returns_pick_from_the_members_sales_and_say_the_cash_to_hand_back(clerk):
    enrol(clerk)
    member = Member.objects.get()
    clerk.post("/counter/sale/", {"member_no": member.member_no, "receipt_no": "S-1", "amount": "100.00"}, **HX)
    page = text(clerk.get(f"/counter/?m={member.member_no}"))
    assert 'data-testid="pick-return-S-1"' in page and 'data-return-left="100.00"' in page
    # ¥30 of a ¥100 cash sale: ¥30 back in cash; the rest later: ¥70
    first = text(
        clerk.post(
            "/counter/return/",
            {"member_no": member.member_no, "sale_receipt_no": "S-1", "receipt_no": "RT-1", "amount": "30.00"},
            **HX,
        )
    )
    assert 'data-testid="result-cash-back">¥30.00<' in first
    assert 'data-return-left="70.00"' in first
    rest = text(
        clerk.post(
            "/counter/return/",
            {"member_no": member.member_no, "sale_receipt_no": "S-1", "receipt_no": "RT-2", "amount": "70.00"},
            **HX,
        )
    )
    assert 'data-testid="result-cash-back">¥70.00<' in rest and 'data-testid="pick-return-S-1"' not in rest
    day = text(clerk.get("/counter/today/", **HX))
    assert 'data-testid="today-returns">2 · ¥100.00<' in day and 'data-testid="today-net">¥0.00<' in day
    # issue 31: the fully returned sale was listed with its 100 points and no mark
    assert 'data-testid="sale-returned">已退货<' in day and 'data-testid="sale-points">0 <small' in day


def test_today_marks_a_partly_returned_sale_and_shows_its_net_points(clerk):
    enrol(clerk)
    member = Member.objects.get()
    clerk.post("/counter/sale/", {"member_no": member.member_no, "receipt_no": "S-1", "amount": "100.00"}, **HX)
    clerk.post(
        "/counter/return/",
        {"member_no": member.member_no, "sale_receipt_no": "S-1", "receipt_no": "RT-1", "amount": "30.00"},
        **HX,
    )
    day = text(clerk.get("/counter/today/", **HX))
    assert 'data-testid="sale-returned">已退 ¥30.00<' in day and 'data-testid="sale-points">70 <small' in day


def test_staff_refusals_and_unknown_pages_are_translated_pages_with_a_way_back(signed_in, client, program):
    refused = signed_in("admin").get("/counter/")  # HQ without a store has no till
    assert refused.status_code == 403 and 'data-testid="error-403"' in refused.content.decode()
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404 and 'data-testid="error-404"' in missing.content.decode()


def test_the_managers_screen_shows_flagged_balances_adjustments_and_the_desk_log(signed_in, program, demo_staff):
    from membership.services import points, purchases

    clerk = signed_in("clerk1")
    enrol(clerk)
    member = Member.objects.get()
    assert clerk.get("/counter/manager/").status_code == 403  # clerks do not see it
    sale = purchases.record_purchase(
        member=member, store=demo_staff["clerk1"].store, reference="F1", idempotency_key="f1", amount=Decimal("100.00")
    )
    points.spend(member=member, points=100, source="mall_order", idempotency_key="spent")
    purchases.record_return(
        purchase=sale.purchase, amount=sale.purchase.amount, reference="FR1", idempotency_key="fr1"
    )  # takes back 100 points already spent: flagged
    points.adjust(member=member, points=20, reason="goodwill", acting_user=demo_staff["manager1"])
    page = text(signed_in("manager1").get("/counter/manager/"))
    assert member.member_no in page and "goodwill" in page
    # issue 31: the desk log showed the raw codes (member.enrol, sv.topup_refund); their labels now
    assert 'data-testid="desk-log-action">登记会员<' in page and "member.enrol" not in page


def test_the_desk_log_is_paged_and_every_audit_code_has_a_label(signed_in, program, demo_staff):
    """Issue 31: the manager's desk log was one list of 8,700 px; it is paged, and each action shown by
    its label from the one mapping beside AuditLog (AUDIT_ACTIONS), which knows every code the code
    base writes."""
    from pathlib import Path

    from django.conf import settings

    from membership.models import AuditLog
    from membership.models.ledgers import AUDIT_ACTIONS

    clerk = demo_staff["clerk1"]
    AuditLog.objects.bulk_create(AuditLog(action="sv.topup_refund", operator=clerk) for _ in range(45))
    manager = signed_in("manager1")
    first = text(manager.get("/counter/manager/"))
    assert first.count('data-testid="desk-log-row"') == 30 and "退还储值" in first and "sv.topup_refund" not in first
    assert 'data-testid="desk-log-older"' in first and "第 1 / 2 页" in first
    second = text(manager.get("/counter/manager/", {"page": "2"}))
    assert second.count('data-testid="desk-log-row"') == 15 and 'data-testid="desk-log-newer"' in second
    root = Path(settings.BASE_DIR)
    written = set()
    for path in root.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        written |= set(re.findall(r'audit\(\s*"([a-z_.]+)"', path.read_text()))
    assert written and written <= set(AUDIT_ACTIONS), written - set(AUDIT_ACTIONS)
    assert 'data-testid="manager-link"' in text(signed_in("manager1").get("/counter/"))


def test_an_unknown_member_number_is_an_error_never_a_sale_without_a_member(clerk):
    response = clerk.post("/counter/sale/", {"member_no": "9999999999", "receipt_no": "U-1", "amount": "50.00"}, **HX)
    assert response.status_code == 400 and "9999999999" in text(response)
    assert not Sale.objects.exists()
    anonymous = clerk.post("/counter/sale/", {"member_no": "", "receipt_no": "U-2", "amount": "50.00"}, **HX)
    assert anonymous.status_code == 200 and Sale.objects.get().member is None


def test_clerks_adjust_up_to_the_limit_and_a_manager_approves_the_rest(signed_in, program, demo_staff):
    from membership.models import AdjustmentRequest
    from membership.services import points

    clerk = signed_in("clerk1")
    enrol(clerk)
    member = Member.objects.get()
    small = text(
        clerk.post(
            "/counter/desk/adjust/",
            {"member_no": member.member_no, "adjust_points": "50", "adjust_reason": "receipt lost"},
            **HX,
        )
    )
    assert "50" in small and Member.objects.get().points_balance == 50
    no_reason = clerk.post(
        "/counter/desk/adjust/", {"member_no": member.member_no, "adjust_points": "5", "adjust_reason": ""}, **HX
    )
    assert no_reason.status_code == 400 and Member.objects.get().points_balance == 50
    big = text(
        clerk.post(
            "/counter/desk/adjust/",
            {"member_no": member.member_no, "adjust_points": "2000", "adjust_reason": "old card balance"},
            **HX,
        )
    )
    asked = AdjustmentRequest.objects.get()
    assert asked.status == "pending" and Member.objects.get().points_balance == 50 and "2000" in big

    manager = signed_in("manager1")
    page = text(manager.get("/counter/manager/"))
    assert f'data-testid="approve-{asked.pk}"' in page and "old card balance" in page
    done = text(manager.post(f"/counter/manager/adjustments/{asked.pk}/", {"decision": "approve"}))
    assert "2000" in done and f'data-testid="approve-{asked.pk}"' not in done
    assert Member.objects.get().points_balance == 2050
    again = manager.post(f"/counter/manager/adjustments/{asked.pk}/", {"decision": "approve"})
    assert again.status_code == 400 and Member.objects.get().points_balance == 2050  # applied once
    rejected = points.request_adjustment(member=member, points=-1500, reason="typo", acting_user=demo_staff["clerk1"])
    manager.post(f"/counter/manager/adjustments/{rejected.pk}/", {"decision": "reject"})
    assert AdjustmentRequest.objects.get(pk=rejected.pk).status == "rejected"
    assert Member.objects.get().points_balance == 2050
    assert (
        signed_in("clerk1").post(f"/counter/manager/adjustments/{rejected.pk}/", {"decision": "approve"}).status_code
        == 403
    )


def test_a_clerk_cannot_split_an_adjustment_past_the_limit(signed_in, program, demo_staff):
    """R5: ten adjustments of 1,000 points by a clerk are not one of 10,000 without a manager: the
    limit (1,000 a day in the demo) counts per clerk and per member over the day."""
    from membership.models import AdjustmentRequest
    from membership.services import enrolment, points

    clerk = signed_in("clerk1")
    enrol(clerk)
    member = Member.objects.get()

    def adjust(client, member, amount):
        return client.post(
            "/counter/desk/adjust/",
            {"member_no": member.member_no, "adjust_points": str(amount), "adjust_reason": "receipt lost"},
            **HX,
        )

    for _ in range(10):
        adjust(clerk, member, 1000)
    assert Member.objects.get().points_balance == 1000  # the first applied, nine wait for a manager
    assert AdjustmentRequest.objects.filter(status="pending", points=1000).count() == 9
    # per clerk: the same clerk on another member, the day's allowance already spent
    other = enrolment.enrol(phone="13900139000", store=demo_staff["clerk1"].store)
    assert "1000" in text(adjust(clerk, other, 1))
    assert Member.objects.get(pk=other.pk).points_balance == 0
    # per member: another clerk on the first member is counted against the member's day too
    assert isinstance(
        points.request_adjustment(member=member, points=-1, reason="typo", acting_user=demo_staff["clerk2"]),
        AdjustmentRequest,
    )
    # a manager is not limited, and the next day the clerk has the allowance again
    manager = signed_in("manager1")
    adjust(manager, member, 5000)
    assert Member.objects.get(pk=member.pk).points_balance == 6000
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        entry = points.request_adjustment(member=other, points=800, reason="next day", acting_user=demo_staff["clerk1"])
        assert not isinstance(entry, AdjustmentRequest) and Member.objects.get(pk=other.pk).points_balance == 800
