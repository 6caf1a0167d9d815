"""The counter when the store's network drops (issue 18), in headless Chromium: the service worker
reopens the counter without network, sales are queued in IndexedDB and sent in order once the
network is back, exactly once even when the network drops in the middle of sending."""

import json
from datetime import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, url, username="clerk1", password="clerk1-demo"):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/accounts/login/" not in u)


QUEUE = """() => new Promise((resolve) => {
  const open = indexedDB.open("counter-offline-S001");
  open.onsuccess = () => {
    const req = open.result.transaction("queue").objectStore("queue").getAll();
    req.onsuccess = () => resolve(req.result);
  };
})"""

MEMBERS = QUEUE.replace('"queue"', '"members"')
SALES = QUEUE.replace('"queue"', '"sales"')


@pytest.fixture
def demo_member(program, enrol, buy):
    """The demo program's known member (demo-program.md), SILVER with 1000 points."""
    from membership.models import ProgramSettings

    settings = ProgramSettings.load()
    settings.offline_payments = True
    settings.offline_payment_limit = Decimal("50.00")
    settings.save()
    member = enrol(phone="13800138000", name="张三")
    buy(member, 1000)
    member.refresh_from_db()
    assert member.tier.code == "SILVER" and member.points_balance == 1000
    return member


def test_the_counter_keeps_selling_offline_and_sends_each_sale_once(live_server, demo_member, page_at, screenshot):
    from membership.models import PointsEntry
    from pos.models import Sale

    page = page_at(1280, 900, locale="en-US")
    context = page.context
    sign_in(page, live_server.url)
    # the service worker is installed and keeps the counter page
    page.wait_for_function(
        "navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready.then(() => true)"
    )
    page.wait_for_function("caches.keys().then(ks => ks.length > 0)")
    page.wait_for_function(
        "caches.keys().then(ks => caches.open(ks[0])).then(c => c.match('/counter/')).then(r => !!r)"
    )

    # online: look up the demo member; the till keeps what the card shows
    page.fill("#q", "13800138000")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    page.wait_for_function(f"({MEMBERS})().then(ms => ms.length === 1)")
    kept = page.evaluate(MEMBERS)[0]
    assert kept["name"] == "张三" and kept["phone"] == "138****8000" and kept["points"] == 1000
    assert set(kept) == {
        "member_no",
        "name",
        "phone",
        "tier",
        "discount_percent",
        "points",
        "stored_value",
        "has_pin",
        "as_of",
    }

    # the network drops; a reload still opens the counter, from the service worker's copy
    context.set_offline(True)
    response = page.reload()
    assert response is not None and response.from_service_worker
    page.wait_for_selector('[data-testid="offline-panel"]:visible')
    assert page.locator("#workspace").is_hidden()
    screenshot(page, "counter-offline-opened")

    # the member seen recently at this till, by name
    page.fill('[data-testid="off-q"]', "张三")
    page.click('[data-testid="off-find"]')
    page.wait_for_selector('[data-testid="off-member-name"]')
    assert page.get_by_test_id("off-member-name").inner_text() == "张三"
    assert "1000" in page.get_by_test_id("off-member-balances").inner_text()
    assert "as of" in page.get_by_test_id("off-member-balances").inner_text()

    receipts = []

    def sell(amount, points=None):
        receipts.append(page.input_value('[data-testid="off-receipt"]'))
        page.fill('[data-testid="off-amount"]', amount)
        if points:
            page.fill('[data-testid="off-points"]', str(points))

    # 1: ¥100 at the SILVER member price (2 % off), provisional
    sell("100.00")
    page.wait_for_selector('[data-testid="off-preview-cash"]')
    assert page.get_by_test_id("off-preview-cash").inner_text() == "¥98.00"
    assert "Provisional" in page.get_by_test_id("off-preview").inner_text()
    page.click('[data-testid="off-sale-submit"]')
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('1 ')")
    # 2: ¥200 paying 3000 points (¥30, within the program's offline limit of ¥50, above the 1000 points seen)
    sell("200.00", points=3000)
    page.wait_for_function("document.querySelector('[data-testid=off-preview-cash]').innerText === '¥166.00'")
    screenshot(page, "counter-offline-points-preview")
    page.click('[data-testid="off-sale-submit"]')
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('2 ')")
    # 3: ¥50 without a member
    page.click("#off-clear")
    sell("50.00")
    page.click('[data-testid="off-sale-submit"]')
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('3 ')")
    assert page.get_by_test_id("queue-badge").inner_text().startswith("3 waiting")
    screenshot(page, "counter-offline-3-waiting")
    queued = page.evaluate(QUEUE)
    assert [q["receipt_no"] for q in queued] == receipts and len(set(receipts)) == 3
    assert all(q["receipt_no"].startswith("S001-") for q in queued)
    assert len({q["key"] for q in queued}) == 3
    occurred = {
        q["receipt_no"]: datetime.fromisoformat(q["body"]["occurred_at"].replace("Z", "+00:00")) for q in queued
    }
    assert not Sale.objects.exists()

    # back online, the network drops again just after the portal recorded the second sale (its answer
    # never reaches the till), then comes back: each sale is recorded once
    posts = []

    def cut_after_second(route):
        posts.append(json.loads(route.request.post_data)["receipt_no"])
        if len(posts) == 2:
            route.fetch()  # the portal records it ...
            context.set_offline(True)  # ... and the network drops before the answer arrives
            route.abort("internetdisconnected")
            return
        route.continue_()

    context.route("**/api/v1/sales/", cut_after_second)
    context.set_offline(False)
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('2 ')")
    page.wait_for_timeout(500)  # the till tried the second one and lost its answer
    assert Sale.objects.count() == 2  # the first and the second are recorded; the till still holds 2
    assert page.get_by_test_id("queue-badge").inner_text().startswith("2 waiting")
    screenshot(page, "counter-offline-sync-cut")
    context.set_offline(False)
    page.wait_for_selector('[data-testid="queue-badge"]', state="hidden")
    assert page.get_by_test_id("queue-refused").is_hidden()
    assert posts == [receipts[0], receipts[1], receipts[1], receipts[2]]  # in order; the second sent twice
    screenshot(page, "counter-offline-synced")

    # exactly three sales, at their original times, with the right points
    sales = {s.receipt_no: s for s in Sale.objects.select_related("purchase")}
    assert sorted(sales) == sorted(receipts)
    for receipt in receipts:
        assert sales[receipt].created_at == occurred[receipt]
        assert sales[receipt].offline
    first, second, third = (sales[r] for r in receipts)
    assert (first.amount, first.member_discount, first.points_earned) == (Decimal("98.00"), Decimal("2.00"), 117)
    assert (second.amount, second.points_redeemed, second.cash_due) == (Decimal("196.00"), 3000, Decimal("166.00"))
    assert second.points_earned == 199 and second.flagged  # 166 × 1.2; 3000 points took the balance below zero
    assert third.member_id is None and third.points_earned == 0 and not third.flagged
    demo_member.refresh_from_db()
    assert demo_member.points_balance == 1000 + 117 - 3000 + 199
    assert demo_member.purchase_count == 3
    earn = PointsEntry.objects.filter(member=demo_member, kind="earn", purchase__isnull=False).exclude(
        purchase__reference__startswith="R"
    )
    assert sorted(e.created_at for e in earn) == sorted([occurred[receipts[0]], occurred[receipts[1]]])
    call_command("check_ledger")  # raises on any discrepancy

    # the API shows them: the member's ledger at the sales' own times
    page_api = page.request.get(f"{live_server.url}/api/v1/members/{demo_member.member_no}/points/")
    entries = page_api.json()["results"]
    api_times = sorted(datetime.fromisoformat(e["created_at"]) for e in entries if e["kind"] == "earn")
    assert occurred[receipts[0]] in api_times and occurred[receipts[1]] in api_times

    # a retry of everything (the till sends again) changes nothing
    page.evaluate("window.counterOffline.sync()")
    assert Sale.objects.count() == 3

    # the store manager sees the flagged sale
    manager = page_at(1280, 900, locale="en-US")
    sign_in(manager, live_server.url, "manager1", "manager1-demo")
    manager.goto(f"{live_server.url}/counter/manager/")
    assert manager.get_by_test_id("flagged-sale").count() == 1
    assert receipts[1] in manager.get_by_test_id("flagged-sale").inner_text()
    screenshot(manager, "counter-offline-manager-flagged")


def test_offline_returns_and_what_the_portal_refuses(live_server, program, enrol, buy, page_at, screenshot):
    """Returns of sales of this till (one recorded online, one queued), a queued sale paying more stored
    value than the member has, and a queued sale the portal refuses once HQ has lowered the offline
    limit: listed with its reason, with the return that depended on it, until the clerk marks them
    settled."""
    from membership.models import ProgramSettings
    from pos.models import Return, Sale

    settings = ProgramSettings.load()
    settings.offline_payments = True
    settings.save()
    from membership.services import stored_value

    member = enrol(phone="13800138001", name="李四")
    buy(member, 100)  # 100 points
    stored_value.top_up(member=member, amount=Decimal("20.00"))

    page = page_at(1280, 900, locale="en-US")
    context = page.context
    sign_in(page, live_server.url)
    page.wait_for_function(
        "caches.keys().then(ks => ks.length && caches.open(ks[0])).then(c => c && c.match('/counter/')).then(r => !!r)"
    )
    page.fill("#q", "13800138001")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    page.fill('[name="receipt_no"]', "T-1")
    page.fill('[data-testid="sale-amount"]', "100.00")
    page.click('[data-testid="sale-submit"]')
    page.wait_for_selector('[data-testid="result"]')
    page.wait_for_function(f"({SALES})().then(s => s.length === 1 && s[0].sale_id)")

    context.set_offline(True)
    page.reload()
    page.wait_for_selector('[data-testid="offline-panel"]:visible')

    def give_back(sale_receipt, receipt, amount):
        page.fill('[data-testid="off-sale-receipt"]', sale_receipt)
        page.fill('[data-testid="off-return-receipt"]', receipt)
        page.fill('[data-testid="off-return-amount"]', amount)
        page.click('[data-testid="off-return-submit"]')

    page.fill('[data-testid="off-receipt"]', "T-1")  # a receipt number this till already used
    page.fill('[data-testid="off-amount"]', "10.00")
    page.click('[data-testid="off-sale-submit"]')
    page.wait_for_function("document.getElementById('off-message').innerText.includes('T-1')")
    assert page.get_by_test_id("queue-badge").is_hidden()
    page.fill('[data-testid="off-amount"]', "")
    page.fill('[data-testid="off-receipt"]', "OFF-S2")
    give_back("T-1", "T-1-R", "30.00")  # a sale recorded online at this till
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('1 ')")
    give_back("T-1", "T-1-R2", "80.00")  # more than is left of it: refused on the till
    page.wait_for_function("document.getElementById('off-message').innerText.includes('70.00')")
    page.fill('[data-testid="off-q"]', "李四")
    page.click('[data-testid="off-find"]')
    page.wait_for_selector('[data-testid="off-member-name"]')
    s2 = page.input_value('[data-testid="off-receipt"]')
    page.fill('[data-testid="off-amount"]', "50.00")
    page.fill('[data-testid="off-sv"]', "30.00")  # ¥10 more than the ¥20 the till saw
    page.wait_for_function("document.querySelector('[data-testid=off-preview-cash]').innerText === '¥20.00'")
    page.click('[data-testid="off-sale-submit"]')
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('2 ')")
    give_back(s2, "S2-R", "10.00")  # a queued sale's return
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('3 ')")
    s3 = page.input_value('[data-testid="off-receipt"]')
    page.fill('[data-testid="off-amount"]', "100.00")
    page.fill('[data-testid="off-points"]', "4000")  # ¥40, within the ¥50 the till knows
    page.click('[data-testid="off-sale-submit"]')
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('4 ')")
    give_back(s3, "S3-R", "5.00")
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('5 ')")

    # HQ lowers the offline limit to ¥30 before the till is back online
    settings.offline_payment_limit = Decimal("30.00")
    settings.save()
    context.set_offline(False)
    page.wait_for_selector('[data-testid="queue-badge"]', state="hidden")
    page.wait_for_selector('[data-testid="queue-refused"]:visible')
    refused = page.get_by_test_id("refused-item")
    assert refused.count() == 2
    assert s3 in refused.nth(0).inner_text() and "S3-R" in refused.nth(1).inner_text()
    screenshot(page, "counter-offline-refused")

    assert sorted(Sale.objects.values_list("receipt_no", flat=True)) == sorted(["T-1", s2])
    returns = {r.receipt_no: r for r in Return.objects.select_related("sale")}
    assert sorted(returns) == ["S2-R", "T-1-R"]
    assert returns["T-1-R"].sale.receipt_no == "T-1" and returns["T-1-R"].amount == Decimal("30.00")
    assert returns["S2-R"].sale.receipt_no == s2 and returns["S2-R"].sale.offline
    assert returns["S2-R"].sale.flagged and returns["S2-R"].sale.stored_value_paid == Decimal("30.00")
    member.refresh_from_db()
    assert member.sv_principal == Decimal("-4.00") and member.sv_flagged  # 20 − 30 + 6 back with ¥10 of ¥50
    call_command("check_ledger")

    # settled by hand, one by one
    refused.nth(0).get_by_role("button").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=refused-item]').length === 1")
    refused.nth(0).get_by_role("button").click()
    page.wait_for_selector('[data-testid="queue-refused"]', state="hidden")


def test_a_server_that_cannot_reach_its_database_sends_the_counter_offline(live_server, demo_member, page_at):
    """Issue 28, R2: a 503 (the portal's database, cache or broker unreachable; or the proxy's 502/504)
    is a network cut for the counter: the offline panel opens and the clerk keeps selling."""
    page = page_at(1280, 900, locale="en-US")
    sign_in(page, live_server.url)
    page.fill("#q", "13800138000")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    assert page.locator('[data-testid="offline-panel"]').is_hidden()

    def unavailable(route):
        route.fulfill(status=503, headers={"Retry-After": "5"}, body="The service is briefly unavailable")

    page.context.route("**/counter/lookup/**", unavailable)
    page.fill("#q", "13800138000")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="offline-panel"]:visible')
    page.fill('[data-testid="off-q"]', "张三")
    page.click('[data-testid="off-find"]')
    page.wait_for_selector('[data-testid="off-member-name"]')
    page.fill('[data-testid="off-amount"]', "20.00")
    page.click('[data-testid="off-sale-submit"]')
    page.wait_for_function("document.getElementById('queue-count').innerText.startsWith('1 ')")
