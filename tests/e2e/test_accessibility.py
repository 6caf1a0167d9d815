"""axe-core (the copy bundled by the axe-playwright-python package) in headless Chromium on the member
pages at 390×844, the counter and the HQ dashboard, in Chinese and English (issue 31).

A page fails on any serious or critical finding, and on a moderate one: every page checked here is
our own markup (the vendored scripts draw into a <canvas> and add no markup of their own). Minor
findings are printed, not failed. The findings of each page are printed either way, so a failing run
says what to fix and where."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils.timezone import localdate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PHONE = "13912345671"
PASSWORD = "plum-blossom-88"
FAILING = {"critical", "serious", "moderate"}


def axe_findings(page):
    """The violations axe-core finds on the page as it is now: a list of (impact, id, help, [targets])."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.skip("axe-playwright-python is not installed (requirements-dev.txt)")
    results = Axe().run(page)
    return [
        (v["impact"], v["id"], v["help"], [" ".join(map(str, n["target"])) for n in v["nodes"]])
        for v in results.response["violations"]
    ]


def check(page, name, report):
    page.wait_for_load_state("networkidle")
    print(f"axe: {name} {page.url}")
    findings = axe_findings(page)
    for impact, rule, text, targets in findings:
        report.append(f"{name}: {impact} {rule} ({text}): {', '.join(targets[:5])}")
    return [f for f in findings if f[0] in FAILING]


def watch_for_errors(page, errors):
    """Every answer of 400 or more that a page's loading gets (a missing icon, script or style)."""
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    return page


def assert_favicon(page, url):
    response = page.request.get(f"{url}/favicon.ico")  # follows the redirect to the static file
    assert response.ok and response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")


@pytest.fixture
def shop(program, demo_staff):
    """The demo campaigns and mall, a member a little way into SILVER with coupons and history, and
    this month's targets for S001: every kind of bar and list the pages draw."""
    from django.contrib.auth.hashers import make_password

    from analytics.models import Target
    from campaigns.demo import seed as seed_campaigns
    from campaigns.services.notifications import notify
    from membership.models import Member, Store
    from membership.services import enrolment, purchases, stored_value

    seed_campaigns()
    store = Store.objects.get(code="S001")
    member = enrolment.enrol(phone=PHONE, name="王小明", store=store, acting_user=demo_staff["clerk1"])
    Member.objects.filter(pk=member.pk).update(password=make_password(PASSWORD))
    for n, amount in enumerate(["1080.00", "256.50"]):
        purchases.record_purchase(
            member=member,
            store=store,
            reference=f"A11Y-{n}",
            amount=Decimal(amount),
            idempotency_key=f"a11y-{n}",
            acting_user=demo_staff["clerk1"],
        )
    stored_value.top_up(
        member=member,
        amount=Decimal("300"),
        plan_code="TOPUP300",
        acting_user=demo_staff["clerk1"],
        idempotency_key="a11y-sv",
    )
    Target.objects.create(
        store=store, month=localdate().replace(day=1), new_members=20, member_sales=Decimal("50000"), repurchase_rate=30
    )
    notify(member=member, channel="inbox", title="会员日：周三双倍积分", body="…", marketing=False)
    member.refresh_from_db()
    return member


MEMBER_PAGES = [
    ("home", "/m/"),  # the tier progress bar
    ("card", "/m/card/"),
    ("history", "/m/history/"),
    ("history-sv", "/m/history/stored-value/"),
    ("purchases", "/m/history/purchases/"),
    ("coupons", "/m/coupons/"),
    ("mall", "/m/mall/"),
    ("checkin", "/m/checkin/"),
    ("program", "/m/program/"),
    ("profile", "/m/profile/"),
    ("invite", "/m/invite/"),
    ("notices", "/m/notices/"),
    ("paid-card", "/m/plus/"),
    ("privacy", "/m/privacy/"),
    ("pin", "/m/pin/"),
]
DASHBOARDS = ["", "members/", "sales/", "points/", "rfm/", "campaigns/", "clerks/", "funnel/"]


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_axe_finds_nothing_serious_on_the_member_pages(live_server, shop, page_at, locale):
    report, failing, errors = [], [], []
    page = watch_for_errors(page_at(390, 844, locale=locale), errors)
    assert_favicon(page, live_server.url)
    for name, path in [
        ("login", "/m/login/"),
        ("signup", "/m/signup/"),
        ("join", "/m/join/S001/"),
        ("poster", "/m/join/S001/poster/"),
        ("privacy, signed out", "/m/privacy/"),
    ]:
        page.goto(f"{live_server.url}{path}")
        failing += check(page, f"{name} [{locale}]", report)
    page.goto(f"{live_server.url}/m/login/")
    page.fill("#id_phone", PHONE)
    page.fill("#id_password", PASSWORD)
    page.click('[data-testid="login-submit"]')
    page.wait_for_url(f"{live_server.url}/m/")
    purchase = shop.purchases.order_by("pk").first()
    notice = shop.notifications.filter(channel="inbox").order_by("pk").last()
    for name, path in [
        *MEMBER_PAGES,
        ("purchase", f"/m/history/purchases/{purchase.pk}/"),
        ("notice", f"/m/notices/{notice.pk}/"),
    ]:
        page.goto(f"{live_server.url}{path}")
        failing += check(page, f"{name} [{locale}]", report)
    print("\n".join(["axe findings, member pages:", *report]) if report else "axe: no findings on the member pages")
    assert not failing, "\n".join(report)
    assert not errors


def staff_sign_in(page, url, username, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_axe_finds_nothing_serious_on_the_counter_and_the_dashboard(live_server, shop, page_at, screenshot, locale):
    report, failing, errors = [], [], []
    page = watch_for_errors(page_at(1024, 768, locale=locale), errors)
    page.goto(f"{live_server.url}/accounts/login/")
    failing += check(page, f"staff login [{locale}]", report)
    staff_sign_in(page, live_server.url, "clerk1", "clerk1-demo")
    page.goto(f"{live_server.url}/counter/")
    failing += check(page, f"counter [{locale}]", report)
    # the member open at the counter: the member card with its tier progress, and each tab
    page.fill("#q", PHONE)
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="member-card"]')
    failing += check(page, f"counter, member open [{locale}]", report)
    for tab in page.eval_on_selector_all("[data-tab]", "tabs => tabs.map(t => t.dataset.tab)"):
        page.click(f'[data-tab="{tab}"]')
        failing += check(page, f"counter, {tab} tab [{locale}]", report)
    # an unknown phone: the enrolment form
    page.goto(f"{live_server.url}/counter/")
    page.fill("#q", "13900000999")
    page.press("#q", "Enter")
    page.wait_for_selector('[data-testid="enrol-form"]:visible')
    failing += check(page, f"counter, enrolment [{locale}]", report)

    page = watch_for_errors(page_at(1024, 768, locale=locale), errors)
    staff_sign_in(page, live_server.url, "manager1", "manager1-demo")
    page.goto(f"{live_server.url}/counter/manager/")
    failing += check(page, f"counter, manager [{locale}]", report)

    # the dashboards with figures: today's sales rolled up (the nightly task stops at yesterday)
    call_command("rebuild_rollups", "--to", localdate().isoformat(), stdout=io.StringIO())
    page = watch_for_errors(page_at(1280, 800, locale=locale), errors)
    staff_sign_in(page, live_server.url, "admin", "admin-demo")
    for path in [*DASHBOARDS, "rfm/high_value/"]:
        page.goto(f"{live_server.url}/analytics/{path}")
        failing += check(page, f"dashboard /analytics/{path} [{locale}]", report)
        if not path:
            screenshot(page, f"a11y-dashboard-{locale}-1280x800")
    print("\n".join(["axe findings, counter and dashboard:", *report]) if report else "axe: no findings")
    assert not failing, "\n".join(report)
    assert not errors
