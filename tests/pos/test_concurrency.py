"""Parallel tills on PostgreSQL: sales paying points on one member never overspend."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db(transaction=True)


def run_parallel(n, work):
    barrier = threading.Barrier(n)
    results = [None] * n

    def target(i):
        try:
            barrier.wait()
            results[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_parallel_sales_paying_points_never_overspend(on_postgres, demo_staff, program):
    from rest_framework.authtoken.models import Token

    from membership.ledger import discrepancies
    from membership.models import Store
    from membership.services import enrolment, points
    from pos.models import Sale

    member = enrolment.enrol(phone="13800138000", store=Store.objects.get(code="S001"))
    points.grant(member=member, points=1000, source="manual", idempotency_key="seed")
    tokens = {name: Token.objects.get_or_create(user=demo_staff[name])[0].key for name in ("clerk1", "clerk2")}

    def sell(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {tokens['clerk1' if i % 2 else 'clerk2']}")
        response = client.post(
            "/api/v1/sales/",
            {"receipt_no": f"P{i}", "member": member.member_no, "amount": "100.00", "pay_points": 300},
            format="json",
        )
        return response.status_code, response.json()

    results = run_parallel(20, sell)
    ok = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status == 409]
    assert len(ok) + len(refused) == 20
    # serialised on the member row, the sales behave as if one after another: each pays 300 and
    # earns 97 (¥97 paid in money), until fewer than 300 points are left
    balance, expected = 1000, 0
    while balance >= 300:
        balance, expected = balance - 300 + 97, expected + 1
    assert (len(ok), expected) == (4, 4)
    assert all(body["error"]["code"] == "insufficient_points" for body in refused)
    member.refresh_from_db()
    assert member.points_balance == balance == 188
    assert sorted(body["points_balance"] for body in ok) == [188, 391, 594, 797]
    assert Sale.objects.count() == 4
    assert discrepancies() == []
    # the same receipt fired by 10 tills at once is recorded once
    same = run_parallel(10, lambda i: sell(0))
    assert {status for status, _ in same} <= {200, 201, 409}
    assert Sale.objects.filter(receipt_no="P0").count() <= 1
    assert discrepancies() == []
