"""The points mall on a phone (390×844) in Chinese and English, with items above the member's
balance: their disabled button says how many points they need, and it must wrap within its
column rather than push the page wider than the screen (issue 31)."""

from decimal import Decimal

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PHONE = "13912345670"
PASSWORD = "plum-blossom-88"


@pytest.fixture
def member_with_680_points(program, demo_staff):
    from django.contrib.auth.hashers import make_password

    from campaigns.demo import seed as seed_campaigns
    from membership.models import Member, Store
    from membership.services import enrolment, purchases

    seed_campaigns()  # the demo mall: MUG 1,500, BAG 500, CPN10 900 points
    store = Store.objects.get(code="S001")
    member = enrolment.enrol(phone=PHONE, name="王小明", store=store, acting_user=demo_staff["clerk1"])
    Member.objects.filter(pk=member.pk).update(password=make_password(PASSWORD))
    purchases.record_purchase(
        member=member,
        store=store,
        reference="MALL-1",
        amount=Decimal("680.00"),
        idempotency_key="mall-e2e-1",
        acting_user=demo_staff["clerk1"],
    )
    member.refresh_from_db()
    return member


def member_sign_in(page, url, phone=PHONE, password=PASSWORD):
    page.goto(f"{url}/m/login/")
    page.fill("#id_phone", phone)
    page.fill("#id_password", password)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(f"{url}/m/")


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_mall_fits_a_phone_with_items_above_the_balance(
    live_server, member_with_680_points, page_at, screenshot, locale
):
    from campaigns.models import MallItem

    member = member_with_680_points
    above = [i for i in MallItem.objects.all() if i.points_price > member.points_balance]
    assert len(above) >= 2 and len(above) < MallItem.objects.count()  # some above, some within

    page = page_at(390, 844, locale=locale)
    member_sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/m/mall/")
    for item in above:
        assert page.get_by_test_id(f"redeem-{item.code}").is_disabled()
    width = page.evaluate("window.innerWidth")
    screenshot(page, f"member-mall-{locale}-390x844")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # every item card lies within the screen, side by side or below one another
    for box in (page.locator(".m-item").nth(n).bounding_box() for n in range(page.locator(".m-item").count())):
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
