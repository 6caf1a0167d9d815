import logging
import sys

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from kombu import Connection

from core.api import error_response
from core.models import Heartbeat
from membership import permissions

log = logging.getLogger(__name__)
DEPENDENCY_RETRY_AFTER_SECONDS = 5


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means down, whatever the driver raises
        log.warning("healthz: database down: %s", exc)
        return "down"
    return "ok"


def broker_status() -> str:
    try:
        with Connection(
            settings.CELERY_BROKER_URL, connect_timeout=2, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        log.warning("healthz: broker down: %s", exc)
        return "down"
    return "ok"


def favicon(request):
    """/favicon.ico, which browsers ask for on pages that name no icon (the admin, a JSON answer): the
    static icon (scripts/make_favicon.py), by its hashed name in production. Not permanent, so a new
    icon is seen without clearing a browser's cache."""
    return redirect(static("img/favicon.ico"))


@never_cache
def healthz(request):
    """200 when the database and the broker answer, 503 when either is down; `release` names the
    release this worker runs (PORTAL_RELEASE), so an operator sees a reload take effect."""
    db = database_status()
    broker = broker_status()
    beat = None
    if db == "ok":
        last = Heartbeat.objects.order_by("-last_beat_at").values_list("last_beat_at", flat=True).first()
        if last:
            beat = {"last_beat_at": last.isoformat(), "age_seconds": int((timezone.now() - last).total_seconds())}
    ok = db == "ok" and broker == "ok"
    body = {"status": "ok" if ok else "down", "database": db, "broker": broker, "heartbeat": beat}
    if settings.RELEASE:
        body["release"] = settings.RELEASE
    return JsonResponse(body, status=200 if ok else 503)


@login_required
def home(request):
    """Staff landing page: what this user's role gives access to."""
    user = request.user
    if permissions.can_use_counter(user) and not permissions.can_view_reports(user):
        return redirect("counter:index")  # a clerk's day starts at the counter
    context = {
        "can_use_counter": permissions.can_use_counter(user),
        "can_view_reports": permissions.can_view_reports(user),
        "can_configure": permissions.can_configure(user),
    }
    return render(request, "portal/home.html", context)


# ---------------------------------------------------------------------------------------
# Error pages: /api/ answers in pos-api.md's envelope with application/json, the rest as Django does
# ---------------------------------------------------------------------------------------


def _api(request) -> bool:
    return request.path_info.startswith("/api/")


def bad_request(request, exception, *args, **kwargs):
    if _api(request):
        if isinstance(exception, RequestDataTooBig):
            return error_response(413, "too_large", _("The request body is too large."))
        return error_response(400, "invalid", _("The request is not valid."))
    return defaults.bad_request(request, exception, *args, **kwargs)


def permission_denied(request, exception, *args, **kwargs):
    if _api(request):
        return error_response(403, "forbidden", _("You are not allowed to do this."))
    return defaults.permission_denied(request, exception, *args, **kwargs)


def page_not_found(request, exception, *args, **kwargs):
    if _api(request):
        return error_response(404, "not_found", _("Not found."))
    return defaults.page_not_found(request, exception, *args, **kwargs)


def _dependency_down() -> bool:
    """Whether the exception being handled is a database, cache or broker that cannot be reached
    (not a fault of the request: the same request later goes through)."""
    import kombu.exceptions
    import redis.exceptions
    from django.db import InterfaceError, OperationalError

    exc = sys.exc_info()[1]
    return isinstance(
        exc,
        (
            OperationalError,
            InterfaceError,
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            kombu.exceptions.OperationalError,
        ),
    )


def server_error(request, *args, **kwargs):
    """500, or 503 with Retry-After when a dependency is unreachable: the offline counter then queues
    its sales as if the network were down (static/js/counter-offline.js), a till retries later."""
    unavailable = _dependency_down()
    if _api(request):
        if unavailable:
            response = error_response(
                503, "unavailable", _("The service is briefly unavailable: try again in a few seconds.")
            )
        else:
            return error_response(500, "server_error", _("Server error: the request was not completed."))
    elif unavailable:
        response = HttpResponse(
            _("The service is briefly unavailable: try again in a few seconds."),
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    else:
        return defaults.server_error(request, *args, **kwargs)
    response["Retry-After"] = str(DEPENDENCY_RETRY_AFTER_SECONDS)
    return response
