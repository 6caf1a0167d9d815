"""Member price and the one sale arithmetic (pos-api.md "Member price"; demo-program.md: tier
discounts, WELCOME10 stacks, COMEBACK15 does not): the same figures from the API, the counter's
preview and quote(), to the fen and the point."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone

from campaigns.models import Coupon, CouponTemplate
from campaigns.services import coupons
from core.clock import local
from core.errors import CouponInvalid
from membership.ledger import discrepancies
from membership.models import Member, ProgramSettings, Tier
from membership.services import purchases
from membership.services.pricing import Line
from pos.models import Sale, SaleLine

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
D = Decimal


@pytest.fixture
def demo(program):
    from campaigns.demo import seed

    seed()
    return program


def text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def error(response):
    return response.json()["error"]


def silver_member(api, phone="13800138000"):
    """A member enrolled through the API (so WELCOME10 is granted) who then spent ¥1000 (SILVER)."""
    clerk = api("clerk1")
    assert clerk.post("/api/v1/members/", {"phone": phone}, format="json").status_code == 201
    member = Member.objects.get(phone=phone)
    first = clerk.post(
        "/api/v1/sales/",
        {"receipt_no": f"FIRST-{phone}", "member": member.member_no, "amount": "1000.00"},
        format="json",
    )
    assert first.status_code == 201 and first.json()["upgraded"] is True
    member.refresh_from_db()
    assert (member.tier.code, member.points_balance) == ("SILVER", 1000)
    return member


def welcome_coupon(member):
    return Coupon.objects.get(member=member, template__code="WELCOME10")


# The worked example: list ¥300.00 with a ¥50.00 line the discount excludes; SILVER 2% off the other
# ¥250.00 = ¥5.00; amount ¥295.00; WELCOME10 (stacks) −¥10.00 (threshold ¥50 on ¥295.00); 100 points =
# ¥1.00; eligible and cash due ¥284.00; points floor(284 × 1.2) = 340; growth 284.
EXPECTED = {
    "list_amount": "300.00",
    "member_discount": "5.00",
    "amount": "295.00",
    "coupon_value": "10.00",
    "points_value": "1.00",
    "stored_value_paid": "0.00",
    "cash_due": "284.00",
    "points_earned": 340,
    "points_redeemed": 100,
    "price_basis": "both",
}


def test_worked_example_quote_counter_preview_and_api_agree(api, demo, signed_in):
    member = silver_member(api)
    coupon = welcome_coupon(member)

    q = purchases.quote(
        member=member,
        list_amount=D("300.00"),
        pay_points=100,
        coupon=coupons.terms(coupon),
        lines=[Line(amount=D("250.00"), sku="A1"), Line(amount=D("50.00"), sku="CIG", discountable=False)],
    )
    assert (
        q.list_amount,
        q.member_discount,
        q.discount_percent,
        q.amount,
        q.coupon_value,
        q.points_value,
        q.stored_value_paid,
        q.eligible,
        q.cash_due,
        q.points_to_earn,
        q.growth_to_earn,
        q.price_basis,
    ) == (
        D("300.00"),
        D("5.00"),
        D("2.00"),
        D("295.00"),
        D("10.00"),
        D("1.00"),
        D("0.00"),
        D("284.00"),
        D("284.00"),
        340,
        284,
        "both",
    )
    assert [ln.amount for ln in q.lines] == [D("245.00"), D("50.00")]  # the discount sits on the A1 line
    assert q.growth_needed_after == 5000 - 1000 - 284

    preview = text(
        signed_in("clerk1").post(
            "/counter/sale/preview/",
            {
                "member_no": member.member_no,
                "receipt_no": "R1",
                "amount": "300.00",
                "not_discountable": "50.00",
                "pay_points": "100",
                "coupon_code": coupon.code,
            },
            **HX,
        )
    )
    for testid, shown in [
        ("preview-discount", "−¥5.00"),
        ("preview-coupon", "−¥10.00"),
        ("preview-earn", "340"),
        ("preview-cash", "¥284.00"),
    ]:
        assert f'data-testid="{testid}">{shown}<' in preview, testid
    assert "Member discount (2%)" in preview or "会员折扣（2%）" in preview

    response = api("clerk1").post(
        "/api/v1/sales/",
        {
            "receipt_no": "R1",
            "member": member.member_no,
            "list_amount": "300.00",
            "pay_points": 100,
            "coupon_code": coupon.code,
            "lines": [{"sku": "A1", "amount": "250.00"}, {"sku": "CIG", "amount": "50.00", "discountable": False}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in EXPECTED} == EXPECTED
    assert body["points_balance"] == 1000 - 100 + 340 and body["tier"]["code"] == "SILVER"

    sale = Sale.objects.get(receipt_no="R1")
    assert (sale.amount, sale.member_discount, sale.coupon_code, sale.coupon_value, sale.cash_due) == (
        D("295.00"),
        D("5.00"),
        coupon.code,
        D("10.00"),
        D("284.00"),
    )
    assert sorted(SaleLine.objects.filter(sale=sale).values_list("amount", flat=True)) == [D("50.00"), D("250.00")]
    coupon.refresh_from_db()
    assert (coupon.status, coupon.discount) == (Coupon.Status.USED, D("10.00"))
    assert (sale.purchase.amount, sale.purchase.member_discount, sale.purchase.eligible_amount) == (
        D("295.00"),
        D("5.00"),
        D("284.00"),
    )

    # a return is against the ¥295.00 the sale was worth after the discount
    too_much = api("clerk1").post(
        f"/api/v1/sales/{body['sale_id']}/returns/", {"receipt_no": "RR1", "amount": "295.01"}, format="json"
    )
    assert too_much.status_code == 400 and "295.00" in error(too_much)["message"]
    whole = api("clerk1").post(
        f"/api/v1/sales/{body['sale_id']}/returns/", {"receipt_no": "RR1", "amount": "295.00"}, format="json"
    )
    assert whole.status_code == 201 and whole.json()["points_reversed"] == 340
    assert whole.json()["points_refunded"] == 100
    assert discrepancies() == []


def test_the_member_summary_carries_the_tier_discount_rate(api, demo):
    member = silver_member(api)
    body = api("clerk1").get(f"/api/v1/members/{member.member_no}/").json()
    assert body["tier"] == {"code": "SILVER", "name": "银卡会员", "discount_rate": "0.02"}
    assert body["next_tier"] == {"code": "GOLD", "name": "金卡会员", "growth_needed": 4000}


def test_old_tills_that_send_amount_behave_exactly_as_before(api, demo):
    member = silver_member(api)
    response = api("clerk1").post(
        "/api/v1/sales/",
        {"receipt_no": "OLD1", "member": member.member_no, "amount": "300.00", "pay_points": 100},
        format="json",
    )
    body = response.json()
    assert response.status_code == 201
    assert (body["amount"], body["member_discount"], body["list_amount"], body["cash_due"], body["points_earned"]) == (
        "300.00",
        "0.00",
        "300.00",
        "299.00",
        358,
    )  # floor(299 × 1.2), no discount added by the portal
    # the same request again is the same answer (its digest did not change with the new fields)
    again = api("clerk1").post(
        "/api/v1/sales/",
        {"receipt_no": "OLD1", "member": member.member_no, "amount": "300.00", "pay_points": 100},
        format="json",
    )
    assert again.status_code == 200 and again.json() == body


def test_a_sale_without_a_member_gets_no_discount_and_the_largest_sale_rule(api, demo):
    clerk = api("clerk1")
    ok = clerk.post("/api/v1/sales/", {"receipt_no": "N1", "list_amount": "80.00"}, format="json")
    assert ok.status_code == 201
    assert (ok.json()["amount"], ok.json()["member_discount"], ok.json()["cash_due"]) == ("80.00", "0.00", "80.00")
    huge = clerk.post("/api/v1/sales/", {"receipt_no": "N2", "amount": "2000000.00"}, format="json")
    assert huge.status_code == 400 and error(huge)["fields"] == {"amount": [error(huge)["message"]]}
    assert not Sale.objects.filter(receipt_no="N2").exists()


def test_amount_and_list_amount_together_or_lines_off_the_list_price_are_400(api, demo):
    member = silver_member(api)
    clerk = api("clerk1")
    both = clerk.post(
        "/api/v1/sales/",
        {"receipt_no": "B1", "member": member.member_no, "amount": "10.00", "list_amount": "10.00"},
        format="json",
    )
    assert both.status_code == 400 and "list_amount" in error(both)["fields"]
    lines = clerk.post(
        "/api/v1/sales/",
        {"receipt_no": "B2", "member": member.member_no, "list_amount": "100.00", "lines": [{"amount": "98.00"}]},
        format="json",
    )
    assert lines.status_code == 400 and "lines" in error(lines)["fields"]
    assert Sale.objects.filter(receipt_no__in=["B1", "B2"]).count() == 0


def test_a_coupon_that_does_not_stack_is_refused_or_the_best_price_wins(api, demo):
    member = silver_member(api)
    comeback = CouponTemplate.objects.get(code="COMEBACK15")
    assert comeback.stackable is False
    coupon = coupons.grant(template=comeback, member=member, source="test", idempotency_key="cb1")
    clerk = api("clerk1")
    sale = {"member": member.member_no, "list_amount": "100.00", "coupon_code": coupon.code}

    refused = clerk.post("/api/v1/sales/", {"receipt_no": "C1", **sale}, format="json")
    assert refused.status_code == 409 and error(refused)["code"] == "coupon_invalid"
    assert "stack" in error(refused)["message"] or "叠加" in error(refused)["message"]
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.AVAILABLE and not Sale.objects.filter(receipt_no="C1").exists()

    # best price: ¥15 off beats 2% (¥2.00): the coupon is used and the discount is not
    best = clerk.post("/api/v1/sales/", {"receipt_no": "C2", "best_price": True, **sale}, format="json")
    assert best.status_code == 201, best.json()
    assert {k: best.json()[k] for k in ("member_discount", "amount", "coupon_value", "cash_due", "price_basis")} == {
        "member_discount": "0.00",
        "amount": "100.00",
        "coupon_value": "15.00",
        "cash_due": "85.00",
        "price_basis": "coupon",
    }
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.USED

    # with a 20% member discount the discount wins, and the coupon stays the member's for another day
    Tier.objects.filter(code="SILVER").update(discount_rate=D("20"))
    from membership import config

    config.clear()
    second = coupons.grant(template=comeback, member=member, source="test", idempotency_key="cb2")
    kept = clerk.post(
        "/api/v1/sales/", {"receipt_no": "C3", "best_price": True, **sale, "coupon_code": second.code}, format="json"
    )
    assert kept.status_code == 201
    assert {k: kept.json()[k] for k in ("member_discount", "amount", "coupon_value", "cash_due", "price_basis")} == {
        "member_discount": "20.00",
        "amount": "80.00",
        "coupon_value": "0.00",
        "cash_due": "80.00",
        "price_basis": "member_discount",
    }
    second.refresh_from_db()
    assert second.status == Coupon.Status.AVAILABLE and Sale.objects.get(receipt_no="C3").coupon_code == ""


def test_a_stacking_coupon_threshold_is_on_the_price_after_the_discount(api, demo):
    member = silver_member(api)
    coupon = welcome_coupon(member)  # ¥10 off ¥50 or more
    with pytest.raises(CouponInvalid):  # 2% off ¥51.00 = ¥49.98: under the threshold
        purchases.quote(member=member, list_amount=D("51.00"), coupon=coupons.terms(coupon))
    assert purchases.quote(member=member, list_amount=D("52.00"), coupon=coupons.terms(coupon)).cash_due == D("40.96")


def test_the_birthday_month_extra_discount_is_a_program_setting(api, demo):
    member = silver_member(api)
    this_month = local(timezone.now()).month
    Member.objects.filter(pk=member.pk).update(birth_month=this_month, birth_day=1)
    member.refresh_from_db()
    assert purchases.quote(member=member, list_amount=D("100.00")).member_discount == D("2.00")  # off in the demo
    program = ProgramSettings.load()
    program.birthday_month_discount = D("3")
    program.save()
    assert purchases.quote(member=member, list_amount=D("100.00")).member_discount == D("5.00")
    Member.objects.filter(pk=member.pk).update(birth_month=this_month % 12 + 1)
    member.refresh_from_db()
    assert purchases.quote(member=member, list_amount=D("100.00")).member_discount == D("2.00")


def test_coupons_name_their_template_and_an_expired_one_is_never_available(api, demo, signed_in):
    member = silver_member(api)
    coupon = welcome_coupon(member)
    listed = api("clerk1").get(f"/api/v1/members/{member.member_no}/coupons/").json()["results"]
    assert listed[0]["template"] == {"code": "WELCOME10", "name": "入会礼 满50减10"}
    assert listed[0]["status"] == "available"
    # past its validity, before the daily job marks it: expired everywhere
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=timezone.now() - timedelta(minutes=1))
    listed = api("clerk1").get(f"/api/v1/members/{member.member_no}/coupons/").json()["results"]
    assert listed[0]["status"] == "expired"
    card = text(signed_in("clerk1").get(f"/counter/?m={member.member_no}"))
    assert coupon.code not in card  # the counter's chips show usable coupons only
    Member.objects.filter(pk=member.pk).update(password=make_password("member-pass-1"))
    mobile = Client()
    assert mobile.post("/m/login/", {"phone": member.phone, "password": "member-pass-1"}).status_code == 302
    assert coupon.code not in text(mobile.get("/m/coupons/"))
    assert coupon.code in text(mobile.get("/m/coupons/?tab=expired"))


def test_the_counter_shows_the_discount_and_birthday_and_suggests_the_best_coupon(api, demo, signed_in):
    member = silver_member(api)
    Member.objects.filter(pk=member.pk).update(birth_month=5, birth_day=20)
    clerk = signed_in("clerk1")
    card = text(clerk.get(f"/counter/?m={member.member_no}"))
    assert 'data-testid="member-discount">' in card and "2%" in card
    assert "05-20" in card
    preview = text(
        clerk.post(
            "/counter/sale/preview/", {"member_no": member.member_no, "receipt_no": "R9", "amount": "100.00"}, **HX
        )
    )
    coupon = welcome_coupon(member)
    assert 'data-testid="preview-suggestion"' in preview and coupon.code in preview
    assert "¥88.00" in preview  # ¥100 − 2% − ¥10
    sale = text(
        clerk.post(
            "/counter/sale/",
            {"member_no": member.member_no, "receipt_no": "R9", "amount": "100.00", "coupon_code": coupon.code},
            **HX,
        )
    )
    assert 'data-testid="result-discount">−¥2.00<' in sale and 'data-testid="result-coupon">−¥10.00<' in sale
    assert 'data-testid="result-cash">¥88.00<' in sale


def test_a_member_price_sale_takes_no_more_queries_than_a_priced_one(api, demo):
    """The member price reads nothing the sale did not read already (tiers and settings are kept per process)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member = silver_member(api)
    clerk = api("clerk1")

    def count(**sale):
        with CaptureQueriesContext(connection) as queries:
            response = clerk.post("/api/v1/sales/", {"member": member.member_no, **sale}, format="json")
        assert response.status_code == 201, response.json()
        sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
        outbox = [s for s in sql if s.startswith('INSERT INTO "membership_outboxevent"')]
        assert len(outbox) == 1, "\n".join(sql)  # the sale's event (core.outbox), counted apart
        return [s for s in sql if s not in outbox]

    priced = count(receipt_no="Q1", amount="88.00")
    listed = count(receipt_no="Q2", list_amount="88.00")
    assert len(listed) == len(priced) <= 7, "\n".join(listed)


def test_a_sale_recorded_before_the_member_price_replays_as_it_was(api, demo):
    """Stored responses of older sales lack the new fields: a till's retry still gets them, not a 500."""
    member = silver_member(api)
    clerk = api("clerk1")
    first = clerk.post(
        "/api/v1/sales/", {"receipt_no": "OLD9", "member": member.member_no, "amount": "50.00"}, format="json"
    )
    sale = Sale.objects.get(receipt_no="OLD9")
    sale.response = {
        k: v for k, v in sale.response.items() if k not in ("list_amount", "member_discount", "price_basis")
    }
    sale.save(update_fields=["response"])
    again = clerk.post(
        "/api/v1/sales/", {"receipt_no": "OLD9", "member": member.member_no, "amount": "50.00"}, format="json"
    )
    assert again.status_code == 200 and again.json()["member_discount"] == "0.00"
    assert again.json()["cash_due"] == first.json()["cash_due"] and "list_amount" not in again.json()
