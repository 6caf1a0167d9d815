"""The event feed of ../shared/spec/events.md (issue 32): the envelope, the HQ API, and a cursor that
never misses or repeats an event when transactions commit out of order (PostgreSQL)."""

import random
import threading
import time
import uuid

import pytest
from django.db import connection, transaction
from django.dispatch import Signal

from core import events, outbox
from core.errors import Invalid
from core.models import OutboxEvent

from .test_catalogue import settle

# the feed serves only what transactions older than every running one wrote: a test's own open
# transaction would hide everything, so these commit as the tills do
pytestmark = pytest.mark.django_db(transaction=True)


def follow(client, **params) -> tuple[list[dict], str | None]:
    """Every event after `after`, page by page as an integrator follows next_cursor (once the
    transactions running now, other sessions' included, have ended: the feed's horizon)."""
    settle()
    seen, cursor = [], params.pop("after", None)
    while True:
        query = {**params, **({"after": cursor} if cursor else {})}
        response = client.get("/api/v1/events/", query)
        assert response.status_code == 200, response.json()
        body = response.json()
        seen += body["results"]
        if not body["results"]:
            assert body["next_cursor"] == cursor
            return seen, cursor
        cursor = body["next_cursor"]


def test_a_sale_at_the_till_is_published_with_the_catalogues_fields(api):
    clerk, hq = api("clerk1"), api("admin")
    member = clerk.post("/api/v1/members/", {"phone": "13800138000"}, format="json").json()
    sale = clerk.post(
        "/api/v1/sales/",
        {"receipt_no": "R-1", "member": member["member_no"], "amount": "1200.00"},
        format="json",
    ).json()
    seen, cursor = follow(hq, limit=1)
    assert [e["type"] for e in seen] == ["member.enrolled", "member.tier_changed", "purchase.recorded"]
    enrolled, upgraded, purchase = seen
    assert set(purchase) == {"id", "type", "created", "api_version", "data"} and purchase["api_version"] == "2026-12"
    assert purchase["created"][-6:] == "+08:00" and len({e["id"] for e in seen}) == 3
    assert enrolled["data"] == {
        "member_no": member["member_no"],
        "store": "S001",
        "tier": "NORMAL",
        "channel": "counter",
    }
    assert upgraded["data"] == {
        "member_no": member["member_no"],
        "from_tier": "NORMAL",
        "to_tier": "SILVER",
        "reason": "upgrade",
    }
    data = purchase["data"]
    assert data["sale_id"] == sale["sale_id"] and data["receipt_no"] == "R-1" and data["store"] == "S001"
    assert (data["amount"], data["list_amount"], data["member_discount"]) == ("1200.00", "1200.00", "0.00")
    assert (data["points_earned"], data["points_redeemed"], data["stored_value_paid"]) == (1200, 0, "0.00")
    assert data["member_no"] == member["member_no"] and data["occurred_at"].endswith("+08:00")

    returned = clerk.post(
        f"/api/v1/sales/{sale['sale_id']}/returns/", {"receipt_no": "RT-1", "amount": "200.00"}, format="json"
    )
    assert returned.status_code == 201, returned.json()
    more, _ = follow(hq, after=cursor)
    assert [e["type"] for e in more] == ["return.recorded"]
    assert more[0]["data"] | {"occurred_at": None} == {
        "member_no": member["member_no"],
        "store": "S001",
        "sale_id": sale["sale_id"],
        "receipt_no": "R-1",
        "return_receipt_no": "RT-1",
        "amount": "200.00",
        "points_reversed": 200,
        "points_refunded": 0,
        "stored_value_refunded": "0.00",
        "occurred_at": None,
    }
    only, _ = follow(hq, type="purchase.recorded")
    assert [e["id"] for e in only] == [purchase["id"]]


def test_the_feed_is_for_hq_and_refuses_what_it_cannot_answer(api):
    assert api("clerk1").get("/api/v1/events/").status_code == 403
    assert api("manager1").get("/api/v1/events/").status_code == 403
    assert api().get("/api/v1/events/").status_code == 401
    hq = api("admin")
    for query, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"type": "member.nonsense"}, "type"),
        ({"after": "not-a-cursor"}, "after"),
    ):
        response = hq.get("/api/v1/events/", query)
        assert response.status_code == 400 and field in response.json()["error"]["fields"], (query, response.json())
    empty = hq.get("/api/v1/events/").json()
    assert empty == {"results": [], "next_cursor": None}


def test_internal_jobs_and_events_without_public_data_are_not_published(enrol):
    enrol()
    with transaction.atomic():
        outbox.record("notification.queued", {"notification_id": 1})
        outbox.record("points.expiring", {"member_id": 1, "points": 5, "expires_at": "2027-01-01"})
    settle()
    assert [e["type"] for e in events.page()["results"]] == ["member.enrolled"]


def test_a_cursor_from_the_other_database_kind_is_refused():
    other = events._encode(
        "s" if connection.vendor == "postgresql" else "p", 1, "2026-01-01T00:00:00+00:00", uuid.uuid4()
    )
    with pytest.raises(Invalid):
        events.page(after=other)


# --- out-of-order commits (PostgreSQL) -----------------------------------------------------------

ping = Signal()
WRITERS, EACH = 8, 25


@pytest.fixture
def ping_event():
    outbox.register_event("test.ping", ping)
    yield
    outbox.EVENT_TYPES.pop("test.ping", None)


@pytest.mark.postgres
def test_a_follower_sees_every_event_once_in_one_order_while_8_writers_commit_out_of_order(on_postgres, ping_event):
    """Each writer records an event and holds its transaction open a random while before committing,
    so transactions commit out of the order of their ids (and of their events' times). A follower
    polls the feed all the while: it must end with every event exactly once, and in the order a
    reader who comes afterwards sees."""
    written, errors, done = [], [], threading.Event()

    def writer(n):
        rng = random.Random(n)
        try:
            for i in range(EACH):
                with transaction.atomic():
                    event = outbox.record("test.ping", {"data": {"writer": n, "i": i}})
                    time.sleep(rng.uniform(0, 0.03))
                written.append(str(event.id))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    followed, cursor = [], None

    def follower():
        nonlocal cursor
        try:
            settled = False
            while True:
                finished = done.is_set()
                page = events.page(after=cursor, limit=7)
                followed.extend(e["id"] for e in page["results"])
                cursor = page["next_cursor"]
                if finished and not page["results"]:
                    if settled:
                        return
                    settle()  # the writers are done: wait out the horizon (other sessions too), once more
                    settled = True
                time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    reader = threading.Thread(target=follower)
    reader.start()
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join(timeout=60)
    assert errors == []
    assert len(written) == WRITERS * EACH
    assert len(followed) == len(set(followed)), "an event was seen twice"
    assert set(followed) == set(written), f"{len(set(written) - set(followed))} events were missed"
    afterwards = []
    cursor = None
    while page := events.page(after=cursor, limit=500)["results"]:
        afterwards += [e["id"] for e in page]
        cursor = events.page(after=cursor, limit=500)["next_cursor"]
    assert followed == afterwards  # one order for every reader
    assert OutboxEvent.objects.filter(type="test.ping", txid__isnull=True).count() == 0
