"""A member on their phone (390×844, Chinese): signs up with an SMS code, signs out, signs in, and
opens home, card and history. Screenshots of each page go to tests/artifacts/."""

import re
from decimal import Decimal

import pytest

from core.sms import LocmemSmsBackend
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PHONE = "13912345678"
PASSWORD = "plum-blossom-88"


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend.outbox
    LocmemSmsBackend.outbox.clear()


def code_sent_to(phone: str) -> str:
    texts = [text for to, text in LocmemSmsBackend.outbox if to == phone]
    assert texts, "no SMS"
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def shoot(screenshot):
    """A whole-page screenshot with the viewport grown to the page, so the tab bar (sticky at the
    bottom of the screen) is drawn where it ends up, under the content."""

    def take(page, name):
        size = page.viewport_size
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        try:
            return screenshot(page, name)
        finally:
            page.set_viewport_size(size)

    return take


def test_a_member_signs_up_signs_in_and_opens_home_card_and_history(live_server, program, demo_staff, page_at, shoot):
    from membership.models import Member, Store
    from membership.services import purchases, stored_value

    page = page_at(390, 844)
    url = live_server.url

    # sign-up: phone, the SMS code (sent through the SMS backend), name, birthday, password, consent
    page.goto(f"{url}/m/signup/")
    page.fill("#id_phone", PHONE)
    page.click('[data-testid="send-code"]')
    page.wait_for_selector('[data-testid="code-status"].ok')
    page.wait_for_selector('[data-testid="send-code"]:disabled')  # resend waits a minute
    shoot(page, "member-signup-390x844")
    assert no_horizontal_overflow(page)
    page.fill("#id_code", code_sent_to(PHONE))
    page.fill("#id_name", "王小明")
    page.select_option("#id_birth_month", "8")
    page.select_option("#id_birth_day", "15")
    page.fill("#id_password", PASSWORD)
    page.check("#id_terms")
    page.check("#id_marketing_consent")
    page.click('[data-testid="signup-submit"]')
    page.wait_for_url(f"{url}/m/")
    assert page.get_by_test_id("member-who").inner_text() == "王小明"
    member = Member.objects.get(phone=PHONE)

    # the member shops a little, so the pages have figures
    store = Store.objects.get(code="S001")
    for n, amount in enumerate(["680.00", "256.50", "120.00"]):
        purchases.record_purchase(
            member=member,
            store=store,
            reference=f"E2E-{n}",
            amount=Decimal(amount),
            idempotency_key=f"e2e-{n}",
            acting_user=demo_staff["clerk1"],
            pay_points=100 if n == 2 else 0,
        )
    stored_value.top_up(
        member=member,
        amount=Decimal("300"),
        plan_code="TOPUP300",
        acting_user=demo_staff["clerk1"],
        idempotency_key="e2e-topup",
    )
    member.refresh_from_db()

    # sign out, then sign in with phone and password
    page.click('[data-testid="member-sign-out"]')
    page.wait_for_url(re.compile(r".*/m/login/$"))
    shoot(page, "member-login-390x844")
    page.fill("#id_phone", PHONE)
    page.fill("#id_password", PASSWORD)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(f"{url}/m/")

    # home: the figures are the ledger's, large and within the screen
    # Chinese groups digits by ten thousands (12,3456), so a four-digit balance has no separator
    assert page.get_by_test_id("points-available").inner_text().replace(",", "") == str(member.points_balance)
    assert page.get_by_test_id("stored-value").inner_text() == f"¥{member.sv_principal:.2f}"
    assert page.get_by_test_id("home-tier").inner_text() == member.tier.name
    size = page.eval_on_selector('[data-testid="points-available"]', "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 40
    assert no_horizontal_overflow(page)
    shoot(page, "member-home-390x844")

    # card: a QR code of a fresh token, a countdown that runs, and the barcode of the card number
    page.get_by_test_id("tab-card").click()
    page.wait_for_url(f"{url}/m/card/")
    qr_box = page.locator(".m-qr-img svg").bounding_box()
    assert qr_box["width"] >= 250  # large enough for a scanner at arm's length
    token = page.get_by_test_id("card-qr").get_attribute("data-token")
    assert token.startswith("MQ:")
    first = page.locator("[data-countdown]").inner_text()
    page.wait_for_function(f"document.querySelector('[data-countdown]').innerText !== {first!r}")
    assert re.fullmatch(r"\d:\d\d", page.locator("[data-countdown]").inner_text())
    assert page.get_by_test_id("card-number").inner_text() == member.cards.get().number
    assert no_horizontal_overflow(page)
    shoot(page, "member-card-390x844")
    # the code refreshes by itself (asked for here rather than waiting out the poll)
    page.evaluate("htmx.trigger('#card-qr', 'refresh')")
    page.wait_for_function(f"document.querySelector('#card-qr').dataset.token !== {token!r}")

    # history: the ledger, newest first, its last balance the one on the home page
    page.get_by_test_id("tab-history").click()
    page.wait_for_url(f"{url}/m/history/")
    rows = page.get_by_test_id("points-row")
    assert rows.count() == member.points_entries.count()
    assert page.get_by_test_id("balance-after").first.inner_text().replace(",", "") == str(member.points_balance)
    page.select_option("#f-kind", "redeem")
    page.wait_for_url(re.compile(r".*kind=redeem.*"))
    assert page.get_by_test_id("points-amount").all_inner_texts() == ["-100"]
    page.goto(f"{url}/m/history/")
    assert no_horizontal_overflow(page)
    shoot(page, "member-history-390x844")

    page.goto(f"{url}/m/history/purchases/")
    assert page.get_by_test_id("purchase-row").count() == 3
    shoot(page, "member-purchases-390x844")
    for name, path in [("invite", "/m/invite/"), ("profile", "/m/profile/")]:
        page.goto(f"{url}{path}")
        assert no_horizontal_overflow(page), name
        shoot(page, f"member-{name}-390x844")


def test_the_member_pages_in_english(live_server, program, demo_staff, page_at, screenshot):
    from django.contrib.auth.hashers import make_password

    from campaigns.services.notifications import notify
    from membership.models import Member, Store
    from membership.services import enrolment, purchases

    store = Store.objects.get(code="S002")
    member = enrolment.enrol(phone=PHONE, name="Li Lei", store=store, birthday="--06-01")
    Member.objects.filter(pk=member.pk).update(password=make_password(PASSWORD))
    for n, amount in enumerate(["1280.00", "368.00"]):
        purchases.record_purchase(
            member=member,
            store=store,
            reference=f"EN-{n}",
            amount=Decimal(amount),
            idempotency_key=f"en-{n}",
            acting_user=demo_staff["clerk2"],
        )
    notify(member=member, channel="inbox", title="Member day: double points this Wednesday", body="…", marketing=False)
    page = page_at(390, 844, locale="en-US")
    page.goto(f"{live_server.url}/m/login/")
    page.fill("#id_phone", PHONE)
    page.fill("#id_password", PASSWORD)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(f"{live_server.url}/m/")
    assert "Points available" in page.content()
    screenshot(page, "member-home-en-390x844")
    # what a phone shows first, without scrolling (docs/img/member-home-390x844.png)
    page.screenshot(path=str(ARTIFACTS / "member-home-en-screen-390x844.png"))
