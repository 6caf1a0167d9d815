"""Webhooks (../shared/spec/events.md): endpoints HQ registers, and the delivery of published events
to them, signed as Standard Webhooks.

- `fan_out` (beat, every second) follows the event feed (core.events) from its stored position: one
  delivery row per active endpoint that wants each published event, the position moved in the same
  transaction, so each event is fanned out once and none is passed over; a sale does nothing for it.
- `send` takes a due delivery with a lease (its next attempt moved forward, committed at once), posts
  the event with no transaction or lock held, and writes the attempt; a failure waits its turn on
  the retry schedule, the last one marks the delivery failed. The sends run on their own Celery
  queue (`webhooks`), so a slow receiver never delays the portal's own tasks.
- Destinations are checked when registered and again at every send, on the addresses the host name
  resolves to then: loopback, private, link-local and other non-global addresses are refused unless
  the host is in WEBHOOK_ALLOWED_HOSTS (with DEBUG, http://127.0.0.1 and http://localhost are
  allowed); the connection goes to the address checked, never to a second lookup's."""

import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import events, metrics
from core.errors import Invalid, NotFound

from . import secrets
from .models import FeedPosition, WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

CONSUMER = "integrations.webhooks"
TIMEOUT_SECONDS = 10
LEASE = timedelta(seconds=60)  # longer than a send can take
# after the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, then failed
RETRY_AFTER = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
ROTATION_OVERLAP = timedelta(hours=24)
# the schedule's pick-up leaves a delivery not tried yet to its fan-out's message this long (a lost
# message is sent within it plus 5 seconds: inside events.md's 30 seconds)
FAN_OUT_GRACE = timedelta(seconds=20)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


# --- destinations ----------------------------------------------------------------------------------


class Refused(Exception):
    pass


def _allowed_hosts() -> set[str]:
    return {h.strip().lower() for h in settings.WEBHOOK_ALLOWED_HOSTS if h.strip()}


def destination(url: str) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, addresses to connect to) of a webhook URL, or Refused saying why."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    local_debug = settings.DEBUG and host in LOCAL_HOSTS
    if parts.scheme not in ("https", "http") or not host:
        raise Refused(_("A webhook URL is an https:// address."))
    if parts.scheme == "http" and not local_debug:
        raise Refused(_("A webhook URL is an https:// address."))
    if parts.username or parts.password:
        raise Refused(_("A webhook URL carries no user name or password."))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise Refused(_("The host name %(host)s does not resolve.") % {"host": host}) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not (local_debug or host in _allowed_hosts()):
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise Refused(
                    _("%(host)s resolves to %(address)s, a private or local address (WEBHOOK_ALLOWED_HOSTS).")
                    % {"host": host, "address": address}
                )
    return parts.scheme, host, port, addresses


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, address, *args, **kwargs):
        self.address = address
        super().__init__(*args, **kwargs)

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """Connects to the address checked, and verifies the certificate for the host name."""

    def __init__(self, address, *args, **kwargs):
        self.address = address
        super().__init__(*args, **kwargs)

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict) -> int:
    """POST and return the status code; raises Refused or OSError (timeouts included)."""
    scheme, host, port, addresses = destination(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if scheme == "https":
        conn = _PinnedHTTPS(addresses[0], host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context())
    else:
        conn = _PinnedHTTP(addresses[0], host, port, timeout=TIMEOUT_SECONDS)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(65536)
        return response.status
    finally:
        conn.close()


# --- endpoints -------------------------------------------------------------------------------------


def _check_events(types) -> list[str]:
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise Invalid(_('events is a list of event types, or ["*"].'), field="events")
    unknown = sorted(set(types) - set(events.published_types()) - {"*"})
    if unknown:
        raise Invalid(_("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}, field="events")
    return sorted(set(types))


def register(*, url: str, types, description: str = "", acting_user=None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown this once)."""
    types = _check_events(types)
    try:
        destination(url)
    except Refused as refused:
        raise Invalid(str(refused), field="url") from None
    secret = secrets.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        events=types,
        description=(description or "")[:200],
        secret_encrypted=secrets.encrypt(secret),
        created_by=acting_user,
    )
    return endpoint, secret


def rotate_secret(endpoint: WebhookEndpoint, *, at=None) -> str:
    """A new secret; the old one keeps signing beside it for 24 hours."""
    at = at or timezone.now()
    secret = secrets.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_until = at + ROTATION_OVERLAP
        endpoint.secret_encrypted = secrets.encrypt(secret)
        endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_until"])
    return secret


def signing_secrets(endpoint: WebhookEndpoint, *, at=None) -> list[str]:
    at = at or timezone.now()
    keys = [secrets.decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_until and endpoint.previous_until > at:
        keys.append(secrets.decrypt(endpoint.previous_secret_encrypted))
    return keys


def replay(endpoint: WebhookEndpoint, *, since) -> int:
    """Send again every kept event the endpoint wants that occurred since `since`: each becomes due
    now (a new try of its delivery, or a new delivery). Returns how many."""
    kept = events.published().filter(occurred_at__gte=since)
    if "*" not in endpoint.events:
        kept = kept.filter(type__in=endpoint.events)
    wanted = list(kept.order_by("occurred_at").only("id", "type"))
    now = timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(endpoint=endpoint, event_id=e.id, event_type=e.type) for e in wanted],
            ignore_conflicts=True,
        )
        WebhookDelivery.objects.filter(endpoint=endpoint, event_id__in=[e.id for e in wanted]).update(
            status=WebhookDelivery.Status.PENDING, next_attempt_at=now
        )
    _queue_due()
    return len(wanted)


# --- delivery --------------------------------------------------------------------------------------


def fan_out(*, limit: int = 500, pages: int = 10) -> int:
    """The webhooks' fan-out (beat, every second): follow the event feed from where it last stopped
    and make one delivery per active endpoint that wants each event and existed when it occurred;
    the position moves in the same transaction, so each event is fanned out once, and the feed's
    order means none is passed over. A sale does nothing for the webhooks: the feed holds its events
    (the sale's cost is unchanged with endpoints subscribed; bench/README.md, webhooks). Returns how
    many deliveries were made; their sends are queued at commit."""
    made = 0
    for _page in range(pages):
        count, more = _fan_out_page(limit)
        made += count
        if not more:
            break
    return made


def _fan_out_page(limit: int) -> tuple[int, bool]:
    with transaction.atomic():
        position = FeedPosition.objects.select_for_update().get_or_create(follower=CONSUMER)[0]
        rows, cursor = events.follow(after=position.cursor or None, limit=limit)
        if not rows:
            return 0, False
        endpoints = list(WebhookEndpoint.objects.filter(active=True))
        now = timezone.now()
        made = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(endpoint=endpoint, event_id=event.id, event_type=event.type, next_attempt_at=now)
                for event in rows
                for endpoint in endpoints
                if endpoint.wants(event.type) and event.occurred_at >= endpoint.created_at
            ],
            ignore_conflicts=True,
        )
        position.cursor = cursor
        position.save(update_fields=["cursor", "moved_at"])
        mine = list(
            WebhookDelivery.objects.filter(
                event_id__in=[e.id for e in rows], status=WebhookDelivery.Status.PENDING, attempts=0
            ).values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: _queue(mine))
    return len(made), len(rows) == limit


def _queue(pks) -> None:
    from . import tasks

    for pk in pks:
        tasks.send_delivery.delay(pk)


def _queue_due() -> None:
    _queue(due(limit=500))


def due(*, limit: int = 500, fresh_since=None) -> list[int]:
    """Pending deliveries whose try is due, the longest waiting first; with `fresh_since`, without
    those never tried that were made after it (their fan-out queued them)."""
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
    if fresh_since is not None:
        pending = pending.exclude(attempts=0, created_at__gt=fresh_since)
    return list(pending.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def pick_up() -> int:
    """The schedule's pick-up (every 5 seconds): queue the sends of retries, replays, and deliveries
    whose worker died mid-send or whose fan-out's message was lost. A delivery never tried is left to
    its fan-out's message for FAN_OUT_GRACE: queued again every 5 seconds while the webhooks' queue
    had a backlog, each waiting delivery was sent as several tasks (bench/README.md, webhooks)."""
    pks = due(fresh_since=timezone.now() - FAN_OUT_GRACE)
    _queue(pks)
    return len(pks)


def _take(delivery_id) -> WebhookDelivery | None:
    """The delivery, leased for this send (committed at once), if it is due and no one else has it."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            # the delivery's row only: another send to the same endpoint may hold the endpoint's
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def send(delivery_id) -> str | None:
    """One try of a delivery: returns its status after it, or None when it was not due."""
    from core.models import OutboxEvent

    delivery = _take(delivery_id)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    event = OutboxEvent.objects.filter(pk=delivery.event_id).first()
    started, status_code, error = time.monotonic(), None, ""
    if event is None:
        error = "the event is no longer kept"
    elif not endpoint.active:
        error = "the endpoint is disabled"
    else:
        body = json.dumps(events.envelope(event), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "store-membership-portal-webhooks",
            "webhook-id": str(event.id),
            "webhook-timestamp": str(timestamp),
            "webhook-signature": secrets.signature_header(signing_secrets(endpoint), str(event.id), timestamp, body),
        }
        try:
            status_code = _post(endpoint.url, body, headers)
        except Refused as refused:
            error = str(refused)
        except TimeoutError:
            error = f"no answer within {TIMEOUT_SECONDS} s"
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
    return _record(delivery, status_code, error, int((time.monotonic() - started) * 1000), final=event is None)


def _record(delivery: WebhookDelivery, status_code, error: str, duration_ms: int, *, final: bool) -> str:
    now = timezone.now()
    ok = status_code is not None and 200 <= status_code < 300
    if status_code is not None and not ok:
        error = error or f"HTTP {status_code}"
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            at=now,
            status_code=status_code,
            error=error[:300],
            duration_ms=duration_ms,
        )
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        if ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.DELIVERED,
                now,
                None,
            )
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
            metrics.WEBHOOK_ATTEMPTS.labels("delivered").inc()
        else:
            retry = None if final or delivery.attempts > len(RETRY_AFTER) else RETRY_AFTER[delivery.attempts - 1]
            if retry is None:
                delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
            else:
                delivery.next_attempt_at = now + retry
            metrics.WEBHOOK_ATTEMPTS.labels("failed" if retry is None else "retry").inc()
            _failing(endpoint, now)
        delivery.save(update_fields=["status", "delivered_at", "next_attempt_at"])
    return delivery.status


def _failing(endpoint: WebhookEndpoint, now) -> None:
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    elif endpoint.active and now - endpoint.failing_since >= timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS):
        endpoint.active, endpoint.disabled_at = False, now
        endpoint.disabled_reason = _("Failing since %(since)s: disabled after %(days)s days.") % {
            "since": timezone.localtime(endpoint.failing_since).strftime("%Y-%m-%d %H:%M"),
            "days": settings.WEBHOOK_DISABLE_AFTER_DAYS,
        }
        endpoint.save(update_fields=["active", "disabled_at", "disabled_reason"])
        log.warning("webhooks: endpoint %s disabled: %s", endpoint.url, endpoint.disabled_reason)


def endpoint_for(pk) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise NotFound(field="id")
    return endpoint


def update_gauges() -> None:
    """At scrape time (core.metrics): deliveries waiting per endpoint and the oldest one's age."""
    from django.db.models import Count, Min

    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
    counts = dict(pending.values_list("endpoint_id").annotate(n=Count("pk")).values_list("endpoint_id", "n"))
    for endpoint in WebhookEndpoint.objects.values_list("pk", flat=True):
        metrics.WEBHOOK_BACKLOG.labels(str(endpoint)).set(counts.get(endpoint, 0))
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    metrics.WEBHOOK_OLDEST.set((timezone.now() - oldest).total_seconds() if oldest else 0)
