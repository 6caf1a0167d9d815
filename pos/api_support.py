"""The API's plumbing, in one place each: throttles and Idempotency-Key (the error envelope: core.api)."""

import logging
import time
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from core import metrics
from core.api import exception_handler
from core.errors import IdempotencyConflict, Invalid, MembershipError

from .models import IdempotentResponse
from .services.sales import request_hash

logger = logging.getLogger(__name__)

SHARED_CACHE_RETRY_SECONDS = 5.0
_shared_cache_down_until = 0.0
_monotonic = time.monotonic
# Throttle counts while the shared cache (Redis) is unreachable: this process's own, so a limit
# still holds per worker instead of every call failing (issue 28, R2)
LOCAL_COUNTS = LocMemCache("throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


def shared_cache_usable() -> bool:
    return _monotonic() >= _shared_cache_down_until


def mark_shared_cache_down() -> None:
    """Count locally for SHARED_CACHE_RETRY_SECONDS before asking the shared cache again: with Redis
    unreachable each attempt costs a refused (or timed-out) connection."""
    global _shared_cache_down_until
    _shared_cache_down_until = _monotonic() + SHARED_CACHE_RETRY_SECONDS


def reset_shared_cache_state() -> None:
    """Back to the shared cache, with no local counts (tests)."""
    global _shared_cache_down_until
    _shared_cache_down_until = 0.0
    LOCAL_COUNTS.clear()


class CountingThrottle:
    """DRF's rate throttles keep a list of request times that each request reads, appends to and
    writes back: parallel requests in several gunicorn workers read the same list and all get
    through (a 10/min limit let more than 10 of 30 parallel lookups pass on Redis). This counts with the
    cache's atomic add and incr instead: a window opens at a key's first request and lasts the
    rate's period; requests past the limit in it are refused until it closes.

    When the shared cache fails (Redis down) the count goes on in this process's memory and
    `portal_throttle_fallback_total` says so: a throttle never turns a till call into a 500."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        if shared_cache_usable():
            try:
                return self._count(self.cache) <= self.num_requests
            except Exception:  # redis-py's ConnectionError and TimeoutError, OSError: whatever the backend raises
                logger.warning("throttle %s: the shared cache is unreachable, counting in this process", self.scope)
                mark_shared_cache_down()
        metrics.THROTTLE_FALLBACKS.labels(scope=self.scope).inc()
        return self._count(LOCAL_COUNTS) <= self.num_requests

    def _count(self, cache) -> int:
        cache.add(self.key + ":start", self.now, self.duration)
        self.start = cache.get(self.key + ":start") or self.now
        counter = f"{self.key}:{int(self.start * 1000)}"  # one counter per window, never carried over
        cache.add(counter, 0, self.duration + 1)
        try:
            return cache.incr(counter)
        except ValueError:  # the counter expired between add and incr
            cache.add(counter, 1, self.duration + 1)
            return 1

    def wait(self):
        return max(1.0, self.start + self.duration - self.now)


class LookupThrottle(CountingThrottle, UserRateThrottle):
    scope = "lookup"


class LookupIPThrottle(CountingThrottle, SimpleRateThrottle):
    """Per client address, whoever is signed in: keeps one till from walking the phone space."""

    scope = "lookup_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def lookup_throttled(view):
    """Page views that find members (the counter's lookup) get the API lookup's limits: per user
    (THROTTLE_LOOKUP) and per address (THROTTLE_LOOKUP_IP), counted in the same shared cache, so a
    till cannot walk the phone space through the page instead of the API. Over a limit: 429 with
    Retry-After."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        waits = [t.wait() for t in (LookupThrottle(), LookupIPThrottle()) if not t.allow_request(request, None)]
        if waits:
            wait = max(int(w or 1) for w in waits)
            response = HttpResponse(
                _("Too many lookups: try again in %(seconds)s seconds.") % {"seconds": wait},
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(wait)
            return response
        return view(request, *args, **kwargs)

    return wrapper


class WriteThrottle(CountingThrottle, UserRateThrottle):
    scope = "write"

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


def purge_idempotent_responses(at=None) -> int:
    """Delete stored Idempotency-Key responses older than IDEMPOTENCY_KEY_DAYS (a till retries
    within minutes; sales and returns stay idempotent on their receipt number for ever)."""
    at = at or timezone.now()
    return IdempotentResponse.objects.filter(
        created_at__lt=at - timedelta(days=settings.IDEMPOTENCY_KEY_DAYS)
    ).delete()[0]


# Refusals of the request as sent (a serializer's or a service's 400 `invalid`): the write did not
# start, so nothing is stored under its key and the same key sent again once the cause is fixed is
# executed, as Stripe does (issue 30). Any other answer under 500 (a conflict, a refusal of the
# member's state) is replayed.
NOT_STORED = (drf.ValidationError, Invalid)


def idempotent(method):
    """Replays the first response to a write repeated with the same Idempotency-Key and body;
    the same key with another body is 409 idempotency_conflict (pos-api.md, Conventions). A
    validation refusal (NOT_STORED) is not kept: the key stays free."""

    @wraps(method)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if not key:
            return method(view, request, *args, **kwargs)
        if len(key) > 100:
            raise Invalid("The Idempotency-Key is at most 100 characters.", field="Idempotency-Key")
        digest = request_hash({"method": request.method, "path": request.path, "body": request.data})

        def stored():
            record = IdempotentResponse.objects.filter(user=request.user, key=key).first()
            if record is None:
                return None
            if record.request_hash != digest:
                raise IdempotencyConflict(field="Idempotency-Key")
            return Response(None if record.status == 204 else record.body, status=record.status)

        if replay := stored():
            return replay
        try:
            with transaction.atomic():
                try:
                    response = method(view, request, *args, **kwargs)
                except (MembershipError, drf.APIException) as exc:
                    response = exception_handler(exc, {"view": view, "request": request})
                    if isinstance(exc, NOT_STORED):
                        return response
                if response.status_code < 500:
                    IdempotentResponse.objects.create(
                        user=request.user,
                        key=key,
                        method=request.method,
                        path=request.path[:300],
                        request_hash=digest,
                        status=response.status_code,
                        body=response.data if response.data is not None else {},
                    )
                return response
        except IntegrityError:
            if replay := stored():  # a parallel request with this key committed first
                return replay
            raise

    return wrapper
