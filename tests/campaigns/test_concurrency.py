"""Parallel orders for the last items in stock never oversell (PostgreSQL)."""

import threading

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_orders_for_the_last_items(on_postgres, program):
    from campaigns.models import MallItem, MallOrder
    from campaigns.services import mall
    from core.errors import MembershipError
    from membership.ledger import discrepancies
    from membership.models import Member, Store
    from membership.services import enrolment, points

    store = Store.objects.get(code="S001")
    members = [enrolment.enrol(phone=f"1380000{i:04d}", store=store) for i in range(12)]
    for m in members:
        points.grant(member=m, points=1000, source="manual", idempotency_key=f"seed{m.pk}")
    item = MallItem.objects.create(code="LAST3", name="last three", points_price=400, stock=3)
    barrier = threading.Barrier(len(members) + 4)
    outcomes = []

    def buy(member, key):
        try:
            barrier.wait()
            mall.order(member=member, item=item, idempotency_key=key)
            outcomes.append("ok")
        except MembershipError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    # twelve members and four more orders from the first member at once
    jobs = [(m, f"k{m.pk}") for m in members] + [(members[0], f"extra{i}") for i in range(4)]
    threads = [threading.Thread(target=buy, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("ok") == 3
    assert set(outcomes) <= {"ok", "out_of_stock", "insufficient_points"}
    item.refresh_from_db()
    assert item.stock == 0 and MallOrder.objects.filter(item=item).count() == 3
    spent = sum(1000 - m.points_balance for m in Member.objects.filter(pk__in=[m.pk for m in members]))
    assert spent == 3 * 400
    assert discrepancies() == []
