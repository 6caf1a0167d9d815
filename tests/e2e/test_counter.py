"""A clerk's round at the counter, in headless Chromium at a tablet's 1024×768."""

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, url, username="clerk1", password="clerk1-demo"):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/counter/")


def test_clerk_enrols_sells_with_points_and_takes_a_return(live_server, demo_staff, program, page_at, screenshot):
    from membership.models import Member

    page = page_at(1024, 768)
    sign_in(page, live_server.url)
    screenshot(page, "counter-empty-1024x768")

    # an unknown phone + Enter offers enrolment with the phone filled in
    page.fill("#q", "13912345678")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="enrol-form"]:visible')
    assert page.input_value("#id_phone") == "13912345678"
    page.fill("#id_name", "王五")
    page.fill("#id_birth_month", "8")
    page.fill("#id_birth_day", "15")
    page.check("#id_marketing_consent")
    page.click('[data-testid="enrol-submit"]')
    page.wait_for_selector('[data-testid="member-card"]')
    assert page.get_by_test_id("member-name").inner_text() == "王五"
    screenshot(page, "counter-enrolled-1024x768")
    card_no = Member.objects.get(phone="13912345678").cards.get().number

    # scan (type) the card number + Enter opens the member
    page.goto(f"{live_server.url}/counter/")
    page.fill("#q", card_no)
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    assert page.get_by_test_id("member-name").inner_text() == "王五"

    # a first sale earns points
    page.fill('[name="receipt_no"]', "T-1001")
    page.fill('[data-testid="sale-amount"]', "500.00")
    page.click('[data-testid="sale-submit"]')
    page.wait_for_selector('[data-testid="result"]')
    assert page.get_by_test_id("result-earned").inner_text() == "500"
    assert page.get_by_test_id("points-balance").inner_text() == "500"

    # a sale paid partly with points: the live preview, then the result
    page.fill('[name="receipt_no"]', "T-1002")
    page.fill('[data-testid="sale-amount"]', "300.00")
    page.fill('[data-testid="sale-points"]', "200")
    page.wait_for_function(
        "document.querySelector('[data-testid=preview-cash]') && "
        "document.querySelector('[data-testid=preview-cash]').innerText.includes('298.00')"
    )
    screenshot(page, "counter-sale-preview-1024x768")
    page.click('[data-testid="sale-submit"]')
    page.wait_for_function(
        "document.querySelector('[data-testid=result-cash]')"
        " && document.querySelector('[data-testid=result-cash]').innerText.includes('298.00')"
    )
    assert page.get_by_test_id("result-earned").inner_text() == "298"
    assert page.get_by_test_id("points-balance").inner_text() == str(500 - 200 + 298)
    screenshot(page, "counter-sale-result-1024x768")

    # a return of half of it
    page.click('[data-tab="return"]')
    page.fill("#id_sale_receipt_no", "T-1002")
    page.fill("#id_return_receipt_no", "T-1002-R")
    page.fill("#id_return_amount", "150.00")
    page.click('[data-testid="return-submit"]')
    page.wait_for_selector('[data-testid="result-reversed"]')
    assert page.get_by_test_id("result-reversed").inner_text() == "149"
    assert re.search(r"\d+", page.get_by_test_id("points-balance").inner_text())
    assert int(page.get_by_test_id("points-balance").inner_text()) == 598 - 149 + 100
    screenshot(page, "counter-return-1024x768")

    from membership.ledger import discrepancies

    assert discrepancies() == []


def test_an_error_is_shown_in_the_page_and_nothing_changes(live_server, demo_staff, program, page_at):
    from membership.models import Store
    from membership.services import enrolment
    from pos.models import Sale

    member = enrolment.enrol(phone="13700000001", name="赵六", store=Store.objects.get(code="S001"))
    page = page_at(1024, 768)
    sign_in(page, live_server.url)
    page.fill("#q", "13700000001")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    page.fill('[data-testid="sale-amount"]', "100.00")
    page.fill('[data-testid="sale-points"]', "50")
    page.click('[data-testid="sale-submit"]')
    page.wait_for_selector('[data-testid="message"][role="alert"]')
    assert Sale.objects.count() == 0
    member.refresh_from_db()
    assert member.points_balance == 0


def test_the_silver_member_pays_the_member_price_at_the_counter(live_server, demo_staff, program, page_at, screenshot):
    """demo-program.md: SILVER 2% off on every counter sale; the card shows it and the birthday."""
    from decimal import Decimal

    from membership.demo import KNOWN_MEMBER
    from membership.models import Store
    from membership.services import enrolment, purchases
    from pos.models import Sale

    member = enrolment.enrol(
        phone=KNOWN_MEMBER["phone"],
        name=KNOWN_MEMBER["name"],
        birthday=KNOWN_MEMBER["birthday"],
        store=Store.objects.get(code="S001"),
        acting_user=demo_staff["clerk1"],
    )
    purchases.record_purchase(
        member=member,
        store=member.home_store,
        reference="HIST-1",
        amount=Decimal("1000.00"),
        idempotency_key="e2e-hist-1",
    )  # growth 1000: SILVER

    page = page_at(1024, 768)
    sign_in(page, live_server.url)
    page.fill("#q", KNOWN_MEMBER["phone"])
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    assert page.get_by_test_id("member-tier").inner_text() == "银卡会员"
    assert "2%" in page.get_by_test_id("member-discount").inner_text()
    assert "05-20" in page.get_by_test_id("member-birthday").inner_text()

    page.fill('[name="receipt_no"]', "T-2001")
    page.fill('[data-testid="sale-amount"]', "300.00")
    page.fill('[data-testid="sale-not-discountable"]', "50.00")
    page.fill('[data-testid="sale-points"]', "100")
    page.wait_for_function(
        "document.querySelector('[data-testid=preview-cash]') && "
        "document.querySelector('[data-testid=preview-cash]').innerText.includes('294.00')"
    )
    assert page.get_by_test_id("preview-discount").inner_text() == "−¥5.00"
    screenshot(page, "counter-member-price-preview-1024x768")
    page.click('[data-testid="sale-submit"]')
    page.wait_for_selector('[data-testid="result-discount"]')
    assert page.get_by_test_id("result-discount").inner_text() == "−¥5.00"
    assert page.get_by_test_id("result-amount").inner_text() == "¥295.00"
    assert page.get_by_test_id("result-cash").inner_text() == "¥294.00"
    assert page.get_by_test_id("result-earned").inner_text() == "352"  # floor(294 × 1.2)
    screenshot(page, "counter-member-price-result-1024x768")
    sale = Sale.objects.get(receipt_no="T-2001")
    assert (sale.amount, sale.member_discount, sale.cash_due) == (Decimal("295.00"), Decimal("5.00"), Decimal("294.00"))


def test_a_failed_sale_keeps_its_values_and_a_return_is_picked_from_the_list(
    live_server, demo_staff, program, page_at, screenshot
):
    from decimal import Decimal

    from membership.models import Store
    from membership.services import enrolment
    from pos.services import sales

    member = enrolment.enrol(
        phone="13922220000", name="孙八", store=Store.objects.get(code="S001"), acting_user=demo_staff["clerk1"]
    )
    sales.record_sale(
        store=member.home_store,
        clerk=demo_staff["clerk1"],
        receipt_no="T-3001",
        member=member,
        amount=Decimal("120.00"),
        digest="e2e",
    )
    page = page_at(1024, 768)
    sign_in(page, live_server.url)
    page.fill("#q", "13922220000")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')

    # more points than the member has: refused, and nothing typed is lost
    page.fill('[name="receipt_no"]', "T-3002")
    page.fill('[data-testid="sale-amount"]', "88.00")
    page.fill('[data-testid="sale-points"]', "5000")
    page.click('[data-testid="sale-submit"]')
    page.wait_for_selector('[data-testid="message"].msg-error')
    assert page.input_value('[name="receipt_no"]') == "T-3002"
    assert page.input_value('[data-testid="sale-amount"]') == "88.00"
    assert page.input_value('[data-testid="sale-points"]') == "5000"
    screenshot(page, "counter-sale-error-keeps-values-1024x768")

    # the return tab lists the member's sales: one click fills the receipt and what is left
    page.click('[data-tab="return"]')
    page.click('[data-testid="pick-return-T-3001"]')
    assert page.input_value("#id_sale_receipt_no") == "T-3001"
    assert page.input_value("#id_return_amount") == "120.00"
    page.fill("#id_return_receipt_no", "T-3001-R")
    page.click('[data-testid="return-submit"]')
    page.wait_for_selector('[data-testid="result-cash-back"]')
    assert page.get_by_test_id("result-cash-back").inner_text() == "¥120.00"
    assert page.evaluate("document.activeElement.id") == "q"  # the next scan goes to the search box
    screenshot(page, "counter-return-cash-back-1024x768")

    # issue 31: "My day" marks the fully returned sale and shows its points net of the return
    page.click('[data-tab="today"]')
    page.wait_for_selector('[data-testid="sale-returned"]')
    row = page.locator('[data-testid="today-sale"]', has_text="T-3001")
    assert "已退货" in row.inner_text() and row.get_by_test_id("sale-points").inner_text().startswith("0")
    screenshot(page, "counter-today-returned-1024x768")


def test_the_preview_names_the_tier_a_big_sale_reaches_and_the_manager_reads_the_desk_log(
    live_server, demo_staff, demo_program, page_at, screenshot
):
    """Issue 31: a ¥1,190 sale previewed 升级为 银卡会员 though it lifts the member to 金卡 (满999); the
    manager's desk log showed raw codes in one long list."""
    from membership.models import AuditLog, Store, Tier
    from membership.services import enrolment

    enrolment.enrol(
        phone="13933330000", name="吴十", store=Store.objects.get(code="S001"), acting_user=demo_staff["clerk1"]
    )
    AuditLog.objects.bulk_create(AuditLog(action="sv.topup_refund", operator=demo_staff["clerk1"]) for _ in range(40))
    page = page_at(1024, 768)
    sign_in(page, live_server.url)
    page.fill("#q", "13933330000")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    page.fill('[data-testid="sale-amount"]', "1190.00")
    gold = Tier.objects.get(code="GOLD").name
    page.wait_for_selector(f'[data-testid="preview-tier"]:has-text("{gold}")')
    screenshot(page, "counter-preview-instant-gold-1024x768")

    manager = page_at(1024, 768)
    manager.goto(f"{live_server.url}/accounts/login/")
    manager.fill("#id_username", "manager1")
    manager.fill("#id_password", "manager1-demo")
    manager.click("button[type=submit]")
    manager.wait_for_url(lambda u: "/accounts/login/" not in u)
    manager.goto(f"{live_server.url}/counter/manager/")
    log = manager.get_by_test_id("desk-log")
    assert "sv.topup_refund" not in log.inner_text() and "退还储值" in log.inner_text()
    assert manager.locator('[data-testid="desk-log-row"]').count() == 30
    assert manager.get_by_test_id("desk-log-pager").is_visible()
    screenshot(manager, "counter-manager-desk-log-1024x768")
