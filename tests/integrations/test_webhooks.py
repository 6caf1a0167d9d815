"""Webhooks of ../shared/spec/events.md (issue 32): registered by HQ, signed as Standard Webhooks
(verified here with the `standardwebhooks` library, as an integrator would), retried with the same
webhook-id, every attempt recorded, and never sent to a private or local address."""

import json
import socket
import uuid
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations import webhooks
from integrations.models import WebhookDelivery, WebhookEndpoint

from .receiver import Receiver
from .test_catalogue import settle

# deliveries fan out after commit, as at a till
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver():
    made = []

    def make(*answers, delay=0.0):
        made.append(Receiver(answers or (200,), delay=delay))
        return made[-1]

    yield make
    for r in made:
        r.close()


def beat():
    """What beat runs every second: the fan-out follows the feed (once the transactions running now
    have ended: the feed's horizon); the sends it queues run at once here (eager tasks)."""
    settle()
    return webhooks.fan_out()


def register(hq, url, events=("purchase.recorded",)):
    response = hq.post("/api/v1/webhooks/", {"url": url, "events": list(events), "description": "ERP"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def sale(clerk, receipt="R-1", amount="88.00"):
    member = clerk.post("/api/v1/members/", {"phone": "13800138000"}, format="json").json()
    response = clerk.post(
        "/api/v1/sales/", {"receipt_no": receipt, "member": member["member_no"], "amount": amount}, format="json"
    )
    assert response.status_code == 201, response.json()
    beat()
    return response.json()


def time_passes(**delta):
    WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=F("next_attempt_at") - timedelta(**delta))


@override_settings(DEBUG=True)  # http://127.0.0.1 is allowed with DEBUG only
def test_a_sale_is_signed_and_a_500_is_retried_with_the_same_webhook_id_and_both_attempts_recorded(api, receiver):
    erp = receiver(500, 200)
    hq, clerk = api("admin"), api("clerk1")
    endpoint = register(hq, erp.url)
    assert endpoint["secret"].startswith("whsec_") and endpoint["active"] is True
    assert "secret" not in hq.get("/api/v1/webhooks/").json()[0]

    made = sale(clerk)
    assert len(erp.requests) == 1  # the first try, right after the sale's commit
    time_passes(seconds=5)  # the first retry is due 5 seconds later
    assert webhooks.send(WebhookDelivery.objects.get().pk) == "delivered"

    first, second = erp.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert first["body"] == second["body"] and first["headers"]["Content-Type"] == "application/json"
    event = json.loads(second["body"])
    assert event["type"] == "purchase.recorded" and event["data"]["sale_id"] == made["sale_id"]
    assert event["id"] == second["headers"]["webhook-id"]
    verified = Webhook(endpoint["secret"]).verify(second["body"], second["headers"])
    assert verified["id"] == event["id"]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(second["body"], second["headers"])

    log = hq.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries/").json()
    assert [(a["attempt"], a["status_code"]) for a in log] == [(2, 200), (1, 500)]
    assert log[1]["error"] == "HTTP 500" and {a["event_id"] for a in log} == {event["id"]}


@override_settings(DEBUG=True)
def test_a_receiver_that_does_not_answer_in_time_is_tried_again_later(api, receiver, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 1)
    slow = receiver(200, delay=2.5)
    endpoint = register(api("admin"), slow.url)
    sale(api("clerk1"))
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=3)  # 5 s after the try
    attempt = delivery.tries.get()
    assert attempt.status_code is None and attempt.error == "no answer within 1 s"
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).failing_since is not None


def test_private_and_local_addresses_are_refused_when_registered_and_when_sent(api, monkeypatch):
    hq = api("admin")
    for url in ("http://example.com/hook", "https://10.1.2.3/hook", "https://127.0.0.1/hook", "https://[::1]/hook"):
        response = hq.post("/api/v1/webhooks/", {"url": url, "events": ["*"]}, format="json")
        assert response.status_code == 400 and "url" in response.json()["error"]["fields"], url
    bad = hq.post("/api/v1/webhooks/", {"url": "https://erp.example.com/h", "events": ["sale.made"]}, format="json")
    assert bad.status_code == 400 and "sale.made" in bad.json()["error"]["fields"]["events"][0]

    real = socket.getaddrinfo
    answers = {"erp.example.com": "93.184.216.34"}

    def resolve(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    endpoint = register(hq, "https://erp.example.com/hooks")  # public when registered
    answers["erp.example.com"] = "192.168.1.20"  # the name now points inside the network
    sale(api("clerk1"))
    attempt = WebhookDelivery.objects.get().tries.get()
    assert attempt.status_code is None and "192.168.1.20" in attempt.error and "WEBHOOK_ALLOWED_HOSTS" in attempt.error
    with override_settings(WEBHOOK_ALLOWED_HOSTS=["erp.example.com"]):
        webhooks.destination("https://erp.example.com/hooks")  # listed: allowed
    assert hq.delete(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 204
    assert hq.get("/api/v1/webhooks/").json() == []


@override_settings(DEBUG=True)
def test_a_rotated_secret_signs_beside_the_old_one_for_24_hours(api, receiver):
    erp = receiver(200)
    hq = api("admin")
    endpoint = register(hq, erp.url, events=["*"])
    rotated = hq.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret/").json()["secret"]
    assert rotated != endpoint["secret"]
    stored = WebhookEndpoint.objects.get()
    assert endpoint["secret"] not in stored.secret_encrypted + stored.previous_secret_encrypted  # encrypted
    sale(api("clerk1"))
    request = erp.requests[-1]
    assert len(request["headers"]["webhook-signature"].split()) == 2
    for secret in (endpoint["secret"], rotated):
        Webhook(secret).verify(request["body"], request["headers"])
    assert webhooks.signing_secrets(stored, at=timezone.now() + timedelta(hours=25)) == [rotated]


@override_settings(DEBUG=True, WEBHOOK_DISABLE_AFTER_DAYS=5)
def test_an_endpoint_failing_for_5_days_is_disabled_and_hq_is_told_in_admin(api, receiver, client, demo_staff):
    down = receiver(503)
    endpoint = register(api("admin"), down.url)
    sale(api("clerk1"))
    WebhookEndpoint.objects.update(failing_since=timezone.now() - timedelta(days=5, minutes=1))
    time_passes(seconds=5)
    webhooks.send(WebhookDelivery.objects.get().pk)
    stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert stored.active is False and "5" in stored.disabled_reason
    client.force_login(demo_staff["admin"])
    page = client.get("/admin/integrations/webhookendpoint/", follow=True)
    assert down.url in page.content.decode() and stored.disabled_reason in page.content.decode()


@override_settings(DEBUG=True)
def test_the_last_try_marks_the_delivery_failed_and_a_replay_sends_it_again(api, receiver):
    erp = receiver(500)
    hq = api("admin")
    endpoint = register(hq, erp.url)
    sale(api("clerk1"))
    delivery = WebhookDelivery.objects.get()
    for _ in webhooks.RETRY_AFTER:
        time_passes(hours=11)
        webhooks.send(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1 + len(webhooks.RETRY_AFTER) == 8
    erp.answers = [200]
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    replayed = hq.post(f"/api/v1/webhooks/{endpoint['id']}/replay/", {"since": since}, format="json")
    assert replayed.status_code == 202 and replayed.json() == {"events": 1}
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(erp.requests) == 9


@override_settings(DEBUG=True)
def test_prometheus_sees_the_attempts_the_backlog_per_endpoint_and_its_age(api, receiver, client):
    from prometheus_client import REGISTRY

    def attempts(outcome):
        return REGISTRY.get_sample_value("portal_webhook_attempts_total", {"outcome": outcome}) or 0

    before = attempts("retry"), attempts("delivered")
    erp = receiver(500, 200)
    endpoint = register(api("admin"), erp.url)
    sale(api("clerk1"))
    scraped = client.get("/metrics").content.decode()  # loopback, no proxy: the operator
    assert f'portal_webhook_backlog{{endpoint="{endpoint["id"]}"}} 1.0' in scraped
    age = [ln for ln in scraped.splitlines() if ln.startswith("portal_webhook_oldest_undelivered_seconds ")]
    assert age and float(age[0].split()[1]) > 0
    time_passes(seconds=5)
    webhooks.send(WebhookDelivery.objects.get().pk)
    assert (attempts("retry"), attempts("delivered")) == (before[0] + 1, before[1] + 1)
    scraped = client.get("/metrics").content.decode()
    assert f'portal_webhook_backlog{{endpoint="{endpoint["id"]}"}} 0.0' in scraped
    assert "portal_webhook_oldest_undelivered_seconds 0.0" in scraped


@override_settings(DEBUG=True)
def test_a_fan_out_queues_the_sends_of_its_own_event_only(api, receiver, monkeypatch):
    """Each fan-out queued a send of every due delivery (up to 500): while the webhooks' queue had a
    backlog, the deliveries made but not yet taken were queued again by every later event, and the
    webhooks worker ran about 18 send tasks a delivery (bench/bench_webhooks.py, 60 sales)."""
    from integrations import tasks

    erp = receiver(204)
    hq, clerk = api("admin"), api("clerk1")
    endpoint = register(hq, erp.url)
    waiting = WebhookDelivery.objects.create(  # an earlier event's send, queued and not taken yet
        endpoint_id=endpoint["id"],
        event_id=uuid.uuid4(),
        event_type="purchase.recorded",
        next_attempt_at=timezone.now(),
    )
    queued = []

    class Send:
        @staticmethod
        def delay(pk):
            queued.append(pk)

    monkeypatch.setattr(tasks, "send_delivery", Send)
    sale(clerk)
    made = WebhookDelivery.objects.exclude(pk=waiting.pk).get()
    assert made.event_type == "purchase.recorded"
    assert queued == [made.pk]


def test_the_schedules_pick_up_leaves_a_fresh_delivery_to_the_fan_out_that_queued_it(monkeypatch):
    """The pick-up every 5 seconds queued every due delivery again, those its fan-out had queued and
    no worker had taken yet among them: 3.3 send tasks a delivery while 900 deliveries waited
    (bench/bench_webhooks.py). A never-tried delivery is left to its fan-out's message for 20 seconds;
    retries, replays and older ones are picked up as before."""
    from integrations import tasks

    endpoint = WebhookEndpoint.objects.create(url="https://erp.example.com/hooks", events=["*"], secret_encrypted="x")
    now = timezone.now()

    def delivery(**fields):
        return WebhookDelivery.objects.create(
            endpoint=endpoint, event_id=uuid.uuid4(), event_type="purchase.recorded", **fields
        )

    fresh = delivery(next_attempt_at=now - timedelta(seconds=1))  # queued by its fan-out a second ago
    stale = delivery(next_attempt_at=now - timedelta(seconds=30))  # its fan-out's message lost
    WebhookDelivery.objects.filter(pk=stale.pk).update(created_at=now - timedelta(seconds=30))
    retry = delivery(next_attempt_at=now - timedelta(seconds=2), attempts=1)  # its 5-second retry is due
    queued = []

    class Send:
        @staticmethod
        def delay(pk):
            queued.append(pk)

    monkeypatch.setattr(tasks, "send_delivery", Send)
    assert tasks.queue_due_deliveries() == 2
    assert queued == [stale.pk, retry.pk]
    assert fresh.pk in webhooks.due()  # the sends of a replay or the admin's "send now" still take it


@pytest.mark.postgres
def test_a_send_is_not_skipped_while_another_send_to_the_same_endpoint_holds_the_endpoint(on_postgres):
    """Taking a delivery locked its endpoint's row too (FOR UPDATE of the joined endpoint), and with
    SKIP LOCKED a send to an endpoint whose row another send held (its own take, or the record of its
    answer) found nothing and did not send: with 4 webhooks processes and 3 endpoints the last tenth
    of 900 deliveries waited for the 5-second pick-up (bench/bench_webhooks.py)."""
    import psycopg
    from django.db import connection

    endpoint = WebhookEndpoint.objects.create(url="https://erp.example.com/hooks", events=["*"], secret_encrypted="x")
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=uuid.uuid4(), event_type="purchase.recorded", next_attempt_at=timezone.now()
    )
    d = connection.settings_dict
    info = {"dbname": d["NAME"], "user": d["USER"], "password": d["PASSWORD"], "host": d["HOST"], "port": d["PORT"]}
    with psycopg.connect(**{k: v for k, v in info.items() if v}) as other:  # another send, recording its answer
        other.execute("SELECT id FROM integrations_webhookendpoint WHERE id = %s FOR UPDATE", [endpoint.pk])
        taken = webhooks._take(delivery.pk)
        other.rollback()
    assert taken is not None and taken.pk == delivery.pk
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.next_attempt_at > timezone.now()  # leased to this send


@override_settings(DEBUG=True)
def test_the_fan_out_follows_the_feed_once_and_an_endpoint_gets_what_occurred_after_it_was_made(api, receiver):
    """The fan-out is a follower of the event feed: each event fanned out once however often it runs,
    none passed over, and a new endpoint receives the events after its registration (older ones by
    replay). A sale itself does nothing for the webhooks."""
    from integrations.models import FeedPosition

    erp = receiver(204)
    hq, clerk = api("admin"), api("clerk1")
    sale(clerk, receipt="BEFORE")  # before any endpoint: nobody to tell
    endpoint = register(hq, erp.url, events=["*"])
    assert WebhookDelivery.objects.count() == 0
    member = clerk.post("/api/v1/members/", {"phone": "13800138009"}, format="json").json()
    assert WebhookDelivery.objects.count() == 0  # the sale's request made nothing: beat's fan-out does
    assert beat() == 1 and beat() == 0  # once
    delivered = WebhookDelivery.objects.get()
    assert delivered.event_type == "member.enrolled" and delivered.status == "delivered"
    assert json.loads(erp.requests[-1]["body"])["data"]["member_no"] == member["member_no"]
    assert FeedPosition.objects.get().cursor
    assert hq.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries/").json()[0]["status_code"] == 204
