"""Every event type of events.md's catalogue, written by the operation a user performs (the POS API or
the service the counter, member pages and admin call), read back from the event feed with exactly
the catalogue's data; a replay writes no second event; a batch writes its events in one INSERT; the
go-live import writes none (issue 32)."""

import io
import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core import events, outbox
from core.clock import now
from core.models import OutboxEvent
from membership.models import Member, PointsEntry, Store

# the feed serves what committed transactions older than every running one wrote: these tests commit
pytestmark = pytest.mark.django_db(transaction=True)
SH = ZoneInfo("Asia/Shanghai")
CATALOGUE = {
    "member.enrolled",
    "member.tier_changed",
    "member.merged",
    "member.closed",
    "purchase.recorded",
    "return.recorded",
    "points.adjusted",
    "points.expired",
    "stored_value.topped_up",
    "stored_value.refunded",
    "coupon.issued",
    "coupon.redeemed",
    "mall.order_placed",
    "mall.order_fulfilled",
    "paid_card.purchased",
}


@pytest.fixture
def campaigns_demo(program):
    """The demo program's coupons, scenes, mall and rules (demo-program.md)."""
    from campaigns.demo import seed

    seed()


def settle() -> None:
    """Wait until every transaction running now has ended: the feed's horizon is the oldest running
    transaction of the cluster, and on a shared cluster other sessions' transactions hold it back."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        started_before = cursor.fetchone()[0]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            if cursor.fetchone()[0] >= started_before:
                return
            time.sleep(0.05)
    raise AssertionError("a transaction of another session ran for two minutes")


class Feed:
    """An integrator following the feed from where it last stopped."""

    def __init__(self, client=None):
        self.client, self.cursor = client, None

    def new(self, event_type: str | None = None) -> list[dict]:
        settle()
        seen = []
        while True:
            if self.client is None:
                page = events.page(after=self.cursor, limit=500)
            else:
                response = self.client.get("/api/v1/events/", {"after": self.cursor} if self.cursor else {})
                assert response.status_code == 200, response.json()
                page = response.json()
            seen += page["results"]
            if not page["results"]:
                break
            self.cursor = page["next_cursor"]
        return [e for e in seen if event_type is None or e["type"] == event_type]

    def data(self, event_type: str) -> list[dict]:
        """The data of the new events of one type; their times are checked and set aside."""
        found = []
        for event in self.new(event_type):
            data = dict(event["data"])
            for key in ("occurred_at", "valid_from", "valid_until"):
                if data.get(key) is not None:
                    assert datetime.fromisoformat(data[key]).utcoffset() == timedelta(hours=8), (key, data)
                    data[key] = "T"
            found.append(data)
        return found


def enrol(client, phone="13800138000", **data) -> dict:
    response = client.post("/api/v1/members/", {"phone": phone, **data}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_catalogue_is_registered_and_published():
    assert CATALOGUE <= set(events.published_types())


def test_a_merge_and_a_close_at_the_desk(api):
    clerk, manager, feed = api("clerk1"), api("manager1"), Feed(api("admin"))
    keep, dup = enrol(clerk, "13900000001"), enrol(clerk, "13900000002")
    feed.new()
    url = f"/api/v1/members/{keep['member_no']}/merge/"
    body = {"from": dup["member_no"], "reason": "one person, two cards"}
    first = manager.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    again = manager.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert feed.data("member.merged") == [
        {"member_no": keep["member_no"], "merged_member_no": dup["member_no"], "occurred_at": "T"}
    ]
    closed = manager.post(f"/api/v1/members/{keep['member_no']}/close/", {"reason": "asked"}, format="json")
    assert closed.status_code == 200, closed.json()
    assert [e["type"] for e in feed.new()] == ["member.closed"]
    refused = manager.post(f"/api/v1/members/{keep['member_no']}/close/", {"reason": "again"}, format="json")
    assert refused.status_code == 404 and feed.new() == []


def test_points_adjusted_by_hand(api):
    clerk, manager, feed = api("clerk1"), api("manager1"), Feed()
    no = enrol(clerk)["member_no"]
    url = f"/api/v1/members/{no}/points/adjust/"
    feed.new()
    for _ in range(2):  # the till retries with the same key: one adjustment, one event
        response = manager.post(url, {"points": 50, "reason": "goodwill"}, format="json", HTTP_IDEMPOTENCY_KEY="a-1")
        assert response.status_code == 201, response.json()
    assert manager.post(url, {"points": -20, "reason": "typo"}, format="json").status_code == 201
    assert feed.data("points.adjusted") == [
        {"member_no": no, "points": 50, "balance": 50, "store": "S001", "occurred_at": "T"},
        {"member_no": no, "points": -20, "balance": 30, "store": "S001", "occurred_at": "T"},
    ]
    refused = manager.post(url, {"points": -100, "reason": "too many"}, format="json")
    assert refused.status_code == 409 and feed.new() == []


def give_old_points(member: Member, points_: int, key: str) -> None:
    from membership.services import points

    long_ago = datetime(now().year - 3, 3, 1, 10, tzinfo=SH)  # the demo's points expire at a year's end
    points.grant(member=member, points=points_, source=PointsEntry.Source.MANUAL, idempotency_key=key, at=long_ago)


def test_points_expired_by_the_expiry_run_one_insert_per_range(enrol):
    from membership.services import points

    feed = Feed()

    def expire(n: int) -> tuple[int, int]:
        members = [enrol() for _ in range(n)]
        for i, member in enumerate(members):
            give_old_points(member, 10 + i, f"old-{member.pk}")
        feed.new()
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:  # delivery after commit aside
            points.expire_due()
        inserts = [q["sql"] for q in queries if q["sql"].startswith(f'INSERT INTO "{OutboxEvent._meta.db_table}"')]
        found = feed.data("points.expired")
        assert sorted(found, key=lambda d: d["points"]) == [
            {"member_no": m.member_no, "points": 10 + i, "balance": 0, "occurred_at": "T"}
            for i, m in enumerate(members)
        ]
        return len(queries), len(inserts)

    few, many = expire(2), expire(6)
    assert few == many and few[1] == 1, (few, many)  # the statements do not grow with the members


def test_points_expired_when_a_spend_finds_them_due(enrol):
    from membership.services import points

    member, feed = enrol(), Feed()
    give_old_points(member, 30, "old")
    points.adjust(member=member, points=100, reason="t", acting_user=_hq())
    feed.new()
    points.spend(member=member, points=10, source=PointsEntry.Source.MALL_ORDER, idempotency_key="spend")
    assert feed.data("points.expired") == [
        {"member_no": member.member_no, "points": 30, "balance": 100, "occurred_at": "T"}
    ]


def _hq():
    from membership.models import User

    return User.objects.get(username="admin")


def test_a_top_up_and_its_refund(api):
    clerk, manager, feed = api("clerk1"), api("manager1"), Feed()
    no = enrol(clerk)["member_no"]
    url = f"/api/v1/members/{no}/stored-value/topups/"
    feed.new()
    first = clerk.post(url, {"amount": "300.00", "plan": "TOPUP300"}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    again = clerk.post(url, {"amount": "300.00", "plan": "TOPUP300"}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    topup_id = first.json()["topup_id"]
    assert feed.data("stored_value.topped_up") == [
        {
            "member_no": no,
            "store": "S001",
            "amount": "300.00",
            "bonus": "40.00",
            "points": 100,
            "topup_id": topup_id,
            "plan": "TOPUP300",
            "principal_balance": "300.00",
            "bonus_balance": "40.00",
            "occurred_at": "T",
        }
    ]
    refund = f"/api/v1/stored-value/topups/{topup_id}/refund/"
    done = manager.post(refund, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    replayed = manager.post(refund, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert done.status_code == replayed.status_code == 201, done.json()
    assert manager.post(refund, format="json").status_code == 400  # refunded already
    assert feed.data("stored_value.refunded") == [
        {
            "member_no": no,
            "store": "S001",
            "amount": "300.00",
            "bonus": "40.00",
            "points": 100,
            "topup_id": topup_id,
            "principal_balance": "0.00",
            "bonus_balance": "0.00",
            "occurred_at": "T",
        }
    ]


def test_a_paid_card_bought_and_renewed(enrol, campaigns_demo, demo_staff):
    from campaigns.services import paid_cards
    from membership.models import PaidCardProduct

    member, plus, feed = enrol(), PaidCardProduct.objects.get(code="PLUS"), Feed()
    store, clerk = Store.objects.get(code="S001"), demo_staff["clerk1"]
    feed.new()
    for _ in range(2):  # the counter's retry of one purchase
        card = paid_cards.buy(
            member=member, product=plus, pay_with="money", idempotency_key="pc-1", store=store, acting_user=clerk
        )
    paid_cards.buy(
        member=member, product=plus, pay_with="money", idempotency_key="pc-2", store=store, acting_user=clerk
    )
    published = feed.new()
    assert [e["type"] for e in published] == ["paid_card.purchased", "coupon.issued", "paid_card.purchased"]
    bought, coupon, renewed = (feed_data(e) for e in published)
    assert bought == {
        "member_no": member.member_no,
        "product": "PLUS",
        "valid_from": card.starts_at.astimezone(SH).isoformat(),
        "valid_until": card.ends_at.astimezone(SH).isoformat(),
        "price": "99.00",
        "points": 0,
        "renewal": False,
        "store": "S001",
    }
    assert renewed["renewal"] is True and renewed["valid_from"] == bought["valid_until"]
    assert (coupon["member_no"], coupon["template"]) == (member.member_no, "PLUS20")


def feed_data(event: dict) -> dict:
    return {k: v for k, v in event["data"].items() if k != "occurred_at"}


def test_coupons_given_by_a_scene_and_used_at_a_sale(api, campaigns_demo):
    from campaigns.models import Coupon

    clerk, feed = api("clerk1"), Feed(api("admin"))
    no = enrol(clerk)["member_no"]  # the welcome scene gives WELCOME10 (a batch of one)
    coupon = Coupon.objects.get(member__member_no=no)
    assert feed.data("coupon.issued") == [
        {
            "member_no": no,
            "coupon": coupon.code,
            "template": "WELCOME10",
            "source": coupon.source,
            "valid_from": "T",
            "valid_until": "T",
            "occurred_at": "T",
        }
    ]
    sale = {"receipt_no": "R-1", "member": no, "amount": "100.00", "coupon_code": coupon.code}
    first = clerk.post("/api/v1/sales/", sale, format="json")
    again = clerk.post("/api/v1/sales/", sale, format="json")  # the same receipt: the first answer
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    assert feed.data("coupon.redeemed") == [
        {
            "member_no": no,
            "coupon": coupon.code,
            "template": "WELCOME10",
            "store": "S001",
            "receipt_no": "R-1",
            "discount": "10.00",
            "occurred_at": "T",
        }
    ]


def test_a_bulk_grant_writes_its_events_in_one_insert(enrol, campaigns_demo):
    from campaigns.models import CouponTemplate
    from campaigns.services import coupons

    template, feed = CouponTemplate.objects.get(code="TIER5"), Feed()

    def grant(n: int, batch: str) -> tuple[int, int]:
        members = [enrol() for _ in range(n)]
        feed.new()
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:  # delivery after commit aside
            issued = coupons.grant_bulk(
                template=template, source="test", grants=[(m.pk, f"{batch}:{m.pk}") for m in members]
            )
        assert issued == n
        inserts = [q["sql"] for q in queries if q["sql"].startswith(f'INSERT INTO "{OutboxEvent._meta.db_table}"')]
        found = feed.data("coupon.issued")
        assert sorted(d["member_no"] for d in found) == sorted(m.member_no for m in members)
        assert {d["template"] for d in found} == {"TIER5"} and len({d["coupon"] for d in found}) == n
        # a re-run of the batch issues nothing and writes no event
        assert (
            coupons.grant_bulk(template=template, source="test", grants=[(m.pk, f"{batch}:{m.pk}") for m in members])
            == 0
        )
        assert feed.new("coupon.issued") == []
        return len(queries), len(inserts)

    few, many = grant(3, "a"), grant(30, "b")
    assert few == many and few[1] == 1, (few, many)


def test_mall_orders_placed_and_fulfilled(api, campaigns_demo):
    from campaigns.models import Coupon

    clerk, manager, feed = api("clerk1"), api("manager1"), Feed()
    no = enrol(clerk)["member_no"]
    adjusted = manager.post(f"/api/v1/members/{no}/points/adjust/", {"points": 2000, "reason": "t"}, format="json")
    assert adjusted.status_code == 201
    feed.new()
    body = {"member": no, "item": "BAG", "qty": 2}
    first = clerk.post("/api/v1/mall/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    again = clerk.post("/api/v1/mall/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    order = first.json()
    placed = {"member_no": no, "order_no": order["order_no"], "item": "BAG", "qty": 2, "points": 1000}
    assert feed.data("mall.order_placed") == [{**placed, "cash": "0.00", "gift": False, "occurred_at": "T"}]
    url = f"/api/v1/mall/orders/{order['pickup_code']}/fulfil/"
    assert clerk.post(url, format="json").status_code == 200
    assert clerk.post(url, format="json").status_code == 409
    assert feed.data("mall.order_fulfilled") == [{**placed, "store": "S001", "cash": "0.00", "occurred_at": "T"}]
    # a coupon item is handed over at once: placed, its coupon issued, fulfilled, in one transaction
    coupon_order = clerk.post("/api/v1/mall/orders/", {"member": no, "item": "CPN10", "qty": 1}, format="json").json()
    published = feed.new()
    assert [e["type"] for e in published] == ["mall.order_placed", "coupon.issued", "mall.order_fulfilled"]
    coupon = Coupon.objects.get(source=f"mall:{coupon_order['order_no']}")
    assert (published[1]["data"]["coupon"], published[1]["data"]["template"]) == (coupon.code, "MALL10")
    assert published[2]["data"]["store"] is None and published[2]["data"]["points"] == 900


def test_the_go_live_import_writes_no_events(program):
    from membership import migration

    content = "\n".join(
        [
            "phone,home_store,points,sv_principal,growth_value",
            "13911110001,S001,120,50,2000",
            "13911110002,S002,0,0,0",
        ]
    )
    result = migration.import_file(io.BytesIO(content.encode()), "members.csv")
    assert Member.objects.count() == 2, result
    assert Member.objects.get(phone="13911110001").sv_principal == Decimal("50.00")
    settle()
    assert events.page()["results"] == []


@pytest.mark.django_db
def test_a_batch_of_more_events_than_one_statement_takes_is_written(on_postgres):
    """PostgreSQL binds at most 65,535 parameters a statement (server-side binding): 9,000 events of 8
    columns are two INSERTs, not one refused (an expiry range holds up to 20,000 members)."""
    from membership import signals

    payloads = [dict(member_id=i, data={"member_no": f"{i:010d}", "points": 1, "balance": 0}) for i in range(9000)]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        outbox.send_all_after_commit(signals.points_expired, payloads)
        assert OutboxEvent.objects.filter(type="points.expired").count() == 9000
    assert len([q for q in queries if q["sql"].startswith(f'INSERT INTO "{OutboxEvent._meta.db_table}"')]) == 2


def test_a_scenes_gift_items_are_placed_orders_written_in_one_insert(enrol, campaigns_demo):
    from campaigns.models import MallItem
    from campaigns.services import mall

    mug, feed = MallItem.objects.get(code="MUG"), Feed()

    def give(n: int, batch: str) -> int:
        members = [enrol() for _ in range(n)]
        feed.new()
        keys = [(m.pk, f"{batch}:{m.pk}") for m in members]
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            orders = mall.gifts(item=mug, members=keys)
        assert mall.gifts(item=mug, members=keys) == orders  # given again: the same orders, no event
        found = feed.data("mall.order_placed")
        assert sorted(found, key=lambda d: d["order_no"]) == sorted(
            (
                {
                    "member_no": m.member_no,
                    "order_no": o.order_no,
                    "item": "MUG",
                    "qty": 1,
                    "points": 0,
                    "cash": "0.00",
                    "gift": True,
                    "occurred_at": "T",
                }
                for m, o in zip(members, orders)
            ),
            key=lambda d: d["order_no"],
        )
        return len([q for q in queries if q["sql"].startswith(f'INSERT INTO "{OutboxEvent._meta.db_table}"')])

    assert give(2, "a") == give(5, "b") == 1
