"""The sale path's cost (issue 17): the statements of an API sale and a lookup, counted exactly;
the per-process token cache and how fast a revoked token stops working; what /api/ skips."""

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from membership.models import User
from pos import authentication

from .test_api import enrol, error, sale, warm_member_sale_statements

pytestmark = pytest.mark.django_db

# One API sale of a member (no coupon, points or stored value) once the process is warm: the member
# found by member number and locked in one statement, then the rows the sale writes. No token query (kept per
# process for a few seconds), no look-up of the purchase's idempotency key before its insert (a
# repeated receipt meets the unique key and is answered from the stored sale), and no query for the
# program settings, tiers, earn stages or campaign scenes.
SALE_STATEMENTS = [
    'SELECT "membership_member"."id"',  # ... WHERE member_no … FOR NO KEY UPDATE: found and locked
    'INSERT INTO "membership_purchase"',
    'INSERT INTO "membership_pointsentry"',
    'INSERT INTO "membership_growthentry"',
    'UPDATE "membership_member"',
    'INSERT INTO "pos_sale"',
    'INSERT INTO "membership_outboxevent"',  # the sale's event (core.outbox), naming the sale's id (issue 32)
]


def test_a_member_sale_is_exactly_seven_statements(api):
    sql = warm_member_sale_statements(api)
    assert len(sql) == len(SALE_STATEMENTS), "\n".join(sql)
    for got, expected in zip(sql, SALE_STATEMENTS, strict=True):
        assert got.startswith(expected), f"{got}\n  expected {expected}"
    assert '"member_no" = ' in sql[0] and ("FOR NO KEY UPDATE" in sql[0] or connection.vendor == "sqlite")


def test_the_member_found_by_the_lock_by_number_or_card_or_refused_before_any_write(api):
    """The sale's lookup is its lock (MemberRef): by member number one statement; by card number the
    card, then the lock; an unknown or closed member is a 400 on `member` and nothing is written."""
    from membership.models import Member, Purchase
    from pos.models import Sale

    clerk = api("clerk1")
    body = enrol(clerk).json()
    by_card = sale(clerk, member=body["card_no"], receipt_no="R-CARD", amount="20.00")
    assert by_card.status_code == 201 and by_card.json()["member_no"] == body["member_no"]
    by_number = sale(clerk, member=f" {body['member_no']} ", receipt_no="R-NO", amount="30.00")
    assert by_number.status_code == 201 and by_number.json()["points_balance"] == 50
    unknown = sale(clerk, member="9999999999", receipt_no="R-UNKNOWN", amount="10.00")
    assert unknown.status_code == 400 and error(unknown)["code"] == "invalid"
    assert error(unknown)["message"] == "Unknown member or card." and "member" in error(unknown)["fields"]
    Member.objects.filter(member_no=body["member_no"]).update(status=Member.Status.CLOSED)
    for ref in (body["member_no"], body["card_no"]):
        closed = sale(clerk, member=ref, receipt_no=f"R-CLOSED-{ref}", amount="10.00")
        assert closed.status_code == 400 and error(closed)["message"] == "Unknown member or card."
    assert Purchase.objects.count() == 2 and Sale.objects.count() == 2


def test_a_repeated_receipt_without_the_pre_check_is_still_answered_from_the_first_sale(api):
    clerk = api("clerk1")
    member_no = enrol(clerk).json()["member_no"]
    first = sale(clerk, member=member_no, receipt_no="R-AGAIN", amount="50.00")
    again = sale(clerk, member=member_no, receipt_no="R-AGAIN", amount="50.00")
    assert (first.status_code, again.status_code) == (201, 200) and again.json() == first.json()
    other = sale(clerk, member=member_no, receipt_no="R-AGAIN", amount="51.00")
    assert other.status_code == 409 and error(other)["code"] == "idempotency_conflict"
    summary = clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).json()
    assert summary["points"]["balance"] + summary["points"]["pending"] == 50  # earned once


def test_a_lookup_by_phone_is_exactly_one_query(api, django_assert_num_queries):
    clerk = api("clerk1")
    enrol(clerk)
    clerk.get("/api/v1/members/lookup/", {"q": "13800138000"})  # warms the settings copy and the token cache
    with django_assert_num_queries(1):  # the member with store, card and the points expiring soon
        response = clerk.get("/api/v1/members/lookup/", {"q": "13800138000"})
    assert response.status_code == 200 and response.json()["card_no"]


def test_the_one_statement_lookup_answers_what_the_general_lookup_answers(api, demo_staff):
    """selectors.lookup_summary reads a phone's member by hand-written SQL; every field must be what
    find_member + member_summary (through the API's serializer) give: lots expiring soon and later,
    pending points, stored value, no card at all, a tier with a next tier, on SQLite and PostgreSQL."""
    from datetime import timedelta

    from django.db.models import Min, Sum

    from core.clock import local, now
    from membership import selectors
    from membership.models import Card, Member, PointsEntry
    from membership.services import points, stored_value
    from pos.serializers import MemberSummary

    clerk = api("clerk1")
    enrol(clerk)
    enrol(clerk, phone="13800138001")
    member = Member.objects.get(phone="13800138000")
    for amount, days in ((300, 5), (200, 9), (50, 400)):  # two lots expire within the notice period
        lot = points.adjust(member=member, points=amount, reason="t", acting_user=demo_staff["admin"])
        PointsEntry.objects.filter(pk=lot.pk).update(expires_at=now() + timedelta(days=days))
    stored_value.top_up(
        member=member, amount="100.50", store=demo_staff["clerk1"].store, acting_user=demo_staff["clerk1"]
    )
    Card.objects.filter(member__phone="13800138001").update(status=Card.Status.BLOCKED)

    def by_the_orm(member):
        """The summary's figures the rule defines, read by the ORM, independently of the statement."""
        at = now()
        due = PointsEntry.objects.filter(
            member=member, remaining__gt=0, pending=False, expires_at__gt=at, expires_at__lte=at + timedelta(days=30)
        ).aggregate(points=Sum("remaining"), first=Min("expires_at"))
        card = member.cards.primary_first().first()
        return {
            "card_no": card.number if card else None,
            "expiring_soon": due["points"] or 0,
            "expiring_on": local(due["first"]).date().isoformat() if due["first"] else None,
            "balance": member.points_balance,
            "principal": f"{member.sv_principal:.2f}",
        }

    for phone in ("13800138000", "13800138001", "138 0013 8000", "+8613800138000"):
        found = selectors.find_member(phone)
        general = MemberSummary(selectors.member_summary(found)).data
        one = selectors.lookup_summary(phone)
        assert one == general, phone
        assert one == MemberSummary(one).data
        assert clerk.get("/api/v1/members/lookup/", {"q": phone}).json() == one
        expected = by_the_orm(Member.objects.get(pk=found.pk))
        assert {
            "card_no": one["card_no"],
            "expiring_soon": one["points"]["expiring_soon"],
            "expiring_on": one["points"]["expiring_on"],
            "balance": one["points"]["balance"],
            "principal": one["stored_value"]["principal"],
        } == expected, phone
    one = selectors.lookup_summary("13800138000")
    assert one["points"]["expiring_soon"] == 500 and one["stored_value"]["principal"] == "100.50"
    assert selectors.lookup_summary("13800138001")["card_no"] is None


def member_row_statements(sql: list[str]) -> list[str]:
    return [q for q in sql if q.startswith("SELECT") and 'FROM "membership_member"' in q]


def captured_sale(clerk, body) -> tuple[object, list[str]]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = clerk.post("/api/v1/sales/", body, format="json")
    return response, [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def test_a_coupon_sale_locks_the_member_once_then_the_coupon(api, program):
    """Issue 27: the coupon sale locked the member twice (the sale, then the purchase). Now once: the
    member's row is read by one statement, its lock, and the coupon is locked after it."""
    from campaigns.demo import seed
    from campaigns.models import Coupon

    seed()
    clerk = api("clerk1")
    member_no = enrol(clerk).json()["member_no"]
    assert sale(clerk, member=member_no, receipt_no="WARM", amount="10.00").status_code == 201
    code = Coupon.objects.get(member__member_no=member_no, template__code="WELCOME10").code
    response, sql = captured_sale(
        clerk, {"receipt_no": "R-C", "member": member_no, "amount": "88.00", "coupon_code": code}
    )
    assert response.status_code == 201 and response.json()["coupon_value"] == "10.00", response.content
    member_rows = member_row_statements(sql)
    assert len(member_rows) == 1, "\n".join(member_rows)
    coupon_at = next(i for i, q in enumerate(sql) if 'FROM "campaigns_coupon"' in q)
    assert sql.index(member_rows[0]) < coupon_at
    if connection.vendor == "postgresql":
        assert "FOR NO KEY UPDATE" in member_rows[0] and "FOR UPDATE" in sql[coupon_at]


def test_a_stored_value_sale_reads_the_member_once_and_hashes_the_pin_once(api, program, monkeypatch):
    """Issue 27: a stored-value sale read the member three times (the lookup, the PIN hash, the lock).
    Now the lock is the only read of the member's row, and the PIN is hashed once, under it."""
    from membership.models import Member
    from membership.services import stored_value

    clerk = api("clerk1")
    member_no = enrol(clerk).json()["member_no"]
    member = Member.objects.get(member_no=member_no)
    stored_value.top_up(member=member, amount="100.00", idempotency_key="t")
    stored_value.set_pin(member=member, pin="135790")
    assert sale(clerk, member=member_no, receipt_no="WARM", amount="10.00").status_code == 201
    hashed = []
    check = stored_value.check_password
    monkeypatch.setattr(stored_value, "check_password", lambda *a, **k: hashed.append(a) or check(*a, **k))
    body = {"receipt_no": "R-SV", "member": member_no, "amount": "88.00", "pay_stored_value": "50.00", "pin": "135790"}
    response, sql = captured_sale(clerk, body)
    assert response.status_code == 201 and response.json()["stored_value_paid"] == "50.00", response.content
    assert len(member_row_statements(sql)) == 1, "\n".join(member_row_statements(sql))
    assert len(hashed) == 1
    wrong, sql = captured_sale(clerk, {**body, "receipt_no": "R-SV2", "pin": "000000"})
    assert wrong.status_code == 403 and "pin" in wrong.json()["error"]["fields"]
    assert len(hashed) == 2 and len(member_row_statements(sql)) == 1
    from core.models import LoginThrottle

    assert LoginThrottle.objects.get(key=f"pin:{member.pk}").failures == 1  # counted after the rollback


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(authentication, "monotonic", c)
    return c


def test_a_token_is_read_once_per_short_life(api, clock, django_assert_num_queries):
    clerk = api("clerk1")
    assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404  # reads the token
    with django_assert_num_queries(1):  # the member only
        assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404
    clock.now += authentication.CACHE_SECONDS + 0.1
    with django_assert_num_queries(2):  # the token again, then the member
        assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404


def test_with_the_cache_off_every_call_reads_the_token(api, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(authentication, "CACHE_SECONDS", 0)
    clerk = api("clerk1")
    assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404  # warms the settings
    for _call in range(2):
        with django_assert_num_queries(2):  # the token, then the member
            assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404
    assert not authentication._cache


def test_a_deleted_token_is_refused_at_once_in_this_process(api, demo_staff, clock):
    clerk = api("clerk1")
    assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404
    Token.objects.filter(user=demo_staff["clerk1"]).delete()
    assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 401
    # a password change ends the tokens too (membership.signals), and so the cached copy
    clerk = api("clerk1")
    assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404
    user = demo_staff["clerk1"]
    user.set_password("another-secret-1")
    user.save()
    assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 401


def test_a_token_revoked_by_another_process_stops_working_within_seconds(api, demo_staff, clock):
    """Another web process (or the database directly) ends the token or disables the clerk: no
    signal reaches this process, whose copy lives CACHE_SECONDS at most."""
    assert authentication.CACHE_SECONDS <= 5
    clerk, manager = api("clerk1"), api("manager1")
    assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404
    assert manager.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 404
    Token.objects.filter(user=demo_staff["clerk1"])._raw_delete(connection.alias)  # no signals
    User.objects.filter(pk=demo_staff["manager1"].pk).update(is_active=False)  # no signals
    clock.now += authentication.CACHE_SECONDS + 0.1
    assert clerk.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 401
    assert manager.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 401


def test_each_request_gets_its_own_copy_of_the_cached_user(api, demo_staff):
    clerk = api("clerk1")
    enrol(clerk)
    seen = []
    from pos import api as api_views

    original = api_views.LookupView.get

    def spy(self, request):
        seen.append(request.user)
        request.user.scribbled = True  # a view that sets an attribute must not leak it to the next request
        return original(self, request)

    api_views.LookupView.get = spy
    try:
        clerk.get("/api/v1/members/lookup/", {"q": "13800138000"})
        clerk.get("/api/v1/members/lookup/", {"q": "13800138000"})
    finally:
        api_views.LookupView.get = original
    assert seen[0] is not seen[1] and seen[0].pk == seen[1].pk == demo_staff["clerk1"].pk
    assert seen[1].store.code == "S001"


def test_a_token_call_to_the_api_makes_no_session_csrf_or_language_cookie(api, client, demo_staff):
    clerk = api("clerk1")
    enrol(clerk)
    response = clerk.get("/api/v1/members/lookup/", {"q": "13800138000"})
    assert response.status_code == 200
    assert not response.cookies and "Cookie" not in response.get("Vary", "")
    # the browser's session still reaches the API (the docs page's "try it out")
    client.force_login(demo_staff["clerk1"])
    assert client.get("/api/v1/members/lookup/", {"q": "13800138000"}).status_code == 200
    # the language is still negotiated for a token call (LocaleMiddleware stays: it costs next to nothing)
    forged = api()
    forged.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    en = forged.get("/api/v1/members/lookup/", {"q": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    assert en.status_code == 401 and error(en)["message"] == "Invalid token."
    zh = forged.get("/api/v1/members/lookup/", {"q": "1"})
    assert zh.status_code == 401 and error(zh)["message"] not in ("", "Invalid token.")
