"""The programme rules as people meet them: a clerk sells PLUS at the counter (1024×768), and anyone
reads the programme page on a phone (390×844)."""

import pytest

from .test_counter import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(demo_staff, demo_program):
    from campaigns.demo import seed

    seed()


def test_a_clerk_sells_the_plus_card_at_the_counter(live_server, demo, demo_staff, page_at, screenshot):
    from membership.models import Member, PaidCard, Store
    from membership.services import enrolment

    enrolment.enrol(
        phone="13912340000", name="钱七", store=Store.objects.get(code="S001"), acting_user=demo_staff["clerk1"]
    )
    page = page_at(1024, 768)
    sign_in(page, live_server.url)
    page.fill("#q", "13912340000")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    page.click('[data-testid="tab-paid-card"]')
    page.wait_for_selector('[data-testid="paid-card-buy-money"]:visible')
    assert page.get_by_test_id("paid-card-buy-points").is_disabled()  # no points yet, and the page says why
    screenshot(page, "counter-plus-offer-1024x768")
    page.click('[data-testid="paid-card-buy-money"]')
    # issue 31: selling PLUS ¥99 asks first, saying what will happen; nothing is sold until confirmed
    page.wait_for_selector('[data-testid="confirm"]')
    assert "99.00" in page.get_by_test_id("confirm").inner_text()
    assert not page.locator('[data-testid="result-paid-card-cash"]').count()
    page.click('[data-testid="confirm-yes"]')
    page.wait_for_selector('[data-testid="result-paid-card-cash"]')
    assert page.get_by_test_id("result-paid-card-cash").inner_text() == "¥99.00"
    assert page.get_by_test_id("member-paid-card").inner_text() == "PLUS"
    screenshot(page, "counter-plus-sold-1024x768")
    member = Member.objects.get(phone="13912340000")
    assert PaidCard.objects.filter(member=member).count() == 1 and member.paid_card_product.code == "PLUS"


def test_the_programme_page_on_a_phone(live_server, demo, page_at, screenshot):
    page = page_at(390, 844)
    page.goto(f"{live_server.url}/m/signup/")
    page.click('[data-testid="program-link"]')
    page.wait_for_selector('[data-testid="program-tiers"]')
    text = page.inner_text('[data-testid="program"]')
    assert "钻石会员" in text and "999" in text and "PLUS" in text
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
    screenshot(page, "member-program-390x844")
