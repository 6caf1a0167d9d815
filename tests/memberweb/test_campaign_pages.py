"""The member's coupons, benefits to claim, points mall and check-in at /m/."""

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from campaigns.models import Coupon, CouponTemplate, MallOrder, SceneGrant
from campaigns.services import coupons
from membership.models import Member
from membership.services import points

pytestmark = pytest.mark.django_db
PASSWORD = "a-member-password-1"


def signed_in(member):
    Member.objects.filter(pk=member.pk).update(password=make_password(PASSWORD))
    client = Client()
    assert client.post("/m/login/", {"phone": member.phone, "password": PASSWORD}).status_code == 302
    return client


def text(response):
    return re.sub(r"\s+", " ", response.content.decode())


def test_coupons_by_status_with_a_qr_of_the_code(campaigns_demo, enrol):
    member = enrol()
    welcome = coupons.grant(
        template=CouponTemplate.objects.get(code="WELCOME10"), member=member, source="t", idempotency_key="w"
    )
    used = coupons.grant(
        template=CouponTemplate.objects.get(code="COMEBACK15"), member=member, source="t", idempotency_key="c"
    )
    Coupon.objects.filter(pk=used.pk).update(status="used")
    client = signed_in(member)
    html = text(client.get("/m/coupons/"))
    assert welcome.code in html and "<svg" in html and used.code not in html
    assert "满80减15" in text(client.get("/m/coupons/?tab=used"))
    assert 'href="/m/coupons/"' in text(client.get("/m/"))  # the home page links its coupon count here


def test_claiming_an_upgrade_benefit(campaigns_demo, enrol, buy, django_capture_on_commit_callbacks):
    member = enrol()
    with django_capture_on_commit_callbacks(execute=True):
        buy(member, "1200.00")
    client = signed_in(member)
    grant = SceneGrant.objects.get(member=member)
    assert 'data-testid="claimable"' in text(client.get("/m/coupons/"))
    client.post(f"/m/benefits/{grant.pk}/claim/")
    assert Coupon.objects.filter(member=member, template__code="UPGRADE20").count() == 1
    client.post(f"/m/benefits/{grant.pk}/claim/")  # twice: nothing more
    assert Coupon.objects.filter(member=member, template__code="UPGRADE20").count() == 1


def test_a_member_cannot_claim_another_members_benefit(campaigns_demo, enrol, buy, django_capture_on_commit_callbacks):
    owner, other = enrol(), enrol()
    with django_capture_on_commit_callbacks(execute=True):
        buy(owner, "1200.00")
    grant = SceneGrant.objects.get(member=owner)
    signed_in(other).post(f"/m/benefits/{grant.pk}/claim/")
    assert not Coupon.objects.filter(template__code="UPGRADE20").exists()
    assert SceneGrant.objects.get(pk=grant.pk).status == "claimable"


def test_redeeming_in_the_mall_and_the_pickup_code(campaigns_demo, enrol):
    member, other = enrol(), enrol()
    points.grant(member=member, points=2000, source="manual", idempotency_key="seed")
    client = signed_in(member)
    page = text(client.get("/m/mall/"))
    assert "定制马克杯" in page and 'data-testid="redeem-MUG"' in page
    once = re.search(r'name="once" value="([^"]+)-MUG"', page).group(1)
    client.post("/m/mall/MUG/redeem/", {"qty": "1", "once": f"{once}-MUG"})
    client.post("/m/mall/MUG/redeem/", {"qty": "1", "once": f"{once}-MUG"})  # a double tap
    order = MallOrder.objects.get()
    assert Member.objects.get(pk=member.pk).points_balance == 500
    assert order.pickup_code in text(client.get("/m/mall/"))
    assert order.pickup_code not in text(signed_in(other).get("/m/mall/"))


def test_daily_check_in(campaigns_demo, enrol):
    member = enrol()
    client = signed_in(member)
    assert 'data-testid="checkin-button"' in text(client.get("/m/checkin/"))
    client.post("/m/checkin/today/")
    client.post("/m/checkin/today/")
    assert Member.objects.get(pk=member.pk).points_balance == 5
    assert 'data-testid="checkin-button"' not in text(client.get("/m/checkin/"))


def test_campaign_pages_need_a_member(client, campaigns_demo):
    for url in ["/m/coupons/", "/m/mall/", "/m/checkin/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/m/login/"), url


def test_mall_buttons_say_why_they_are_disabled(campaigns_demo, enrol):
    member = enrol()
    points.grant(member=member, points=600, source="manual", idempotency_key="seed")
    page = text(signed_in(member).get("/m/mall/"))
    # 600 points: the bag (500) can be redeemed, the mug (1,500) says what it needs
    assert re.search(r'<button class="primary block" type="submit" data-testid="redeem-BAG"', page)
    mug = re.search(r'<button class="block" type="button" disabled data-testid="redeem-MUG">([^<]+)</button>', page)
    assert mug and "1500" in mug.group(1).replace(",", "") and "600" in mug.group(1)
