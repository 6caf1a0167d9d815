"""Prometheus metrics (prometheus_client): HTTP requests and their latency, Celery task outcomes.

- Web: RequestMetricsMiddleware counts every request by view name (not path: one series per
  route, whatever the ids in it) and status, and times it.
- Worker: the task signals count outcomes (portal/celery.py connects them).
- /metrics serves them to the operator only: a request from loopback that did not come through a
  proxy, or one carrying `Authorization: Bearer <METRICS_TOKEN>`. Everyone else gets 404.
- Several processes (gunicorn's workers, Celery's prefork children): set PROMETHEUS_MULTIPROC_DIR
  to an empty directory of theirs and the endpoint adds them up (docs/deploy.md, "Metrics"). A
  worker serves its own endpoint (WORKER_METRICS_PORT); the web's /metrics has the web's figures.
"""

import hmac
import ipaddress
import os
import time

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

REQUESTS = Counter(
    "portal_http_requests_total", "HTTP requests answered, by view and status.", ["method", "view", "status"]
)
LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by view.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASKS = Counter(
    "portal_celery_tasks_total", "Celery task runs by outcome (success, failure, retry).", ["task", "outcome"]
)
SCENE_ERRORS = Counter(
    "portal_scene_errors_total",
    "Scenes skipped because they failed (a row that bypassed validation): in a sale's multiplier, an event or the "
    "daily run.",
    ["where"],
)
THROTTLE_FALLBACKS = Counter(
    "portal_throttle_fallback_total",
    "Throttle checks counted in the process's own memory because the shared cache (Redis) was unreachable.",
    ["scope"],
)

# --- gauges read when /metrics is scraped ---------------------------------------------
OUTBOX_BACKLOG = Gauge(
    "portal_outbox_backlog", "Outbox events not yet delivered (core.outbox).", multiprocess_mode="mostrecent"
)
OUTBOX_OLDEST = Gauge(
    "portal_outbox_oldest_pending_seconds",
    "Age of the oldest outbox event not yet delivered (0 when none).",
    multiprocess_mode="mostrecent",
)

# webhooks (integrations/webhooks.py): each try by outcome in the worker; the backlog at scrape time
WEBHOOK_ATTEMPTS = Counter(
    "portal_webhook_attempts_total",
    "Webhook sends by outcome: delivered, retry (answered badly or not at all; tried again later), failed (the "
    "last try).",
    ["outcome"],
)
WEBHOOK_BACKLOG = Gauge(
    "portal_webhook_backlog",
    "Webhook deliveries not yet delivered, by endpoint.",
    ["endpoint"],
    multiprocess_mode="mostrecent",
)
WEBHOOK_OLDEST = Gauge(
    "portal_webhook_oldest_undelivered_seconds",
    "Age of the oldest event still waiting to be delivered to some endpoint (0 when none).",
    multiprocess_mode="mostrecent",
)

# what the apps above read from the database at scrape time (integrations: its backlog)
_SCRAPE_HOOKS = []


def on_scrape(update) -> None:
    _SCRAPE_HOOKS.append(update)


def update_scrape_time_gauges() -> None:
    """Set the gauges that are read from the database at scrape time: the outbox backlog and its age
    (a growing age means the relay or the broker is down: events are delayed, never lost)."""
    from django.utils import timezone

    from core import outbox
    from core.models import OutboxEvent

    OUTBOX_BACKLOG.set(outbox.pending_count())
    oldest = (
        OutboxEvent.objects.filter(sent_at__isnull=True)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    OUTBOX_OLDEST.set((timezone.now() - oldest).total_seconds() if oldest else 0)
    for update in _SCRAPE_HOOKS:
        update()


# --- web ------------------------------------------------------------------------------
class RequestMetricsMiddleware:
    """First in MIDDLEWARE, so the time includes every other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else "") or "unresolved"
        LATENCY.labels(request.method, view).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


def operator_may_read(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    if request.headers.get("X-Forwarded-For") or request.headers.get("X-Real-IP"):
        return False  # came through a proxy: loopback is the proxy's address, not the operator's
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        return collected
    return DEFAULT_REGISTRY


@never_cache
def metrics_view(request):
    if not operator_may_read(request):
        raise Http404
    update_scrape_time_gauges()
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


# --- worker ---------------------------------------------------------------------------
def task_succeeded(sender=None, **kwargs):
    TASKS.labels(getattr(sender, "name", str(sender)), "success").inc()


def task_failed(sender=None, **kwargs):
    TASKS.labels(getattr(sender, "name", str(sender)), "failure").inc()


def task_retried(sender=None, request=None, **kwargs):
    name = getattr(request, "task", None) or getattr(sender, "name", str(sender))
    TASKS.labels(name, "retry").inc()


def serve_worker_metrics(sender=None, **kwargs):
    """worker_ready: a worker serves its task metrics on WORKER_METRICS_ADDR:WORKER_METRICS_PORT
    (loopback by default). With the prefork pool, set PROMETHEUS_MULTIPROC_DIR to a directory of the
    worker's own (not the web's: gunicorn clears its directory when it starts)."""
    from prometheus_client import start_http_server

    if settings.WORKER_METRICS_PORT:
        start_http_server(settings.WORKER_METRICS_PORT, addr=settings.WORKER_METRICS_ADDR, registry=registry())
