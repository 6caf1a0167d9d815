"""Project middleware: request.htmx, control characters refused before any view sees them, and
Django's session, authentication and messages middleware skipped for token calls of /api/ (CSRF's
stays: DRF's views are exempt, so it costs a cookie read, and `check --deploy` looks for Django's
own class by name)."""

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as message_middleware
from django.contrib.sessions import middleware as session_middleware
from django.core.exceptions import BadRequest
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from core.api import error_response
from membership.services import staff_signin

# C0 controls and DEL: never part of a path or a query parameter
CONTROL = frozenset(chr(c) for c in [*range(0x00, 0x20), 0x7F])
MSG_PATH = _("The address holds a control character.")
MSG_QUERY = _("Control characters are not allowed.")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectControlCharacters:
    """A NUL or other control character in the path is 404, in a query parameter or a form field 400
    naming it (PostgreSQL refuses NUL in text, which was a 500). /api/ answers in pos-api.md's
    envelope; JSON bodies are checked by the API's parser (core.parsers.JSONParser)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from core.parsers import FIELD_CONTROL

        api = request.path_info.startswith("/api/")
        if not CONTROL.isdisjoint(request.path):
            if api:
                return error_response(404, "not_found", _("Not found."))
            raise Http404(MSG_PATH)
        bad = _first_bad(request.GET, CONTROL)
        if bad is None and request.method == "POST" and request.content_type in FORM_TYPES:
            bad = _first_bad(request.POST, FIELD_CONTROL)
        if bad is not None:
            if api:
                return error_response(400, "invalid", f"{bad}: {MSG_QUERY}", {bad: [str(MSG_QUERY)]})
            raise BadRequest(f"{bad}: {MSG_QUERY}")
        return self.get_response(request)


def _first_bad(data, chars) -> str | None:
    """The first parameter whose name or a value holds one of `chars`."""
    for key, values in data.lists():
        if not chars.isdisjoint(key) or any(not chars.isdisjoint(v) for v in values):
            return "".join(ch for ch in key if ch not in CONTROL) or "?"
    return None


class HtmxRequest:
    """Sets request.htmx: whether htmx sent the request (its HX-Request header)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.htmx = request.headers.get("HX-Request") == "true"
        return self.get_response(request)


def token_api(request) -> bool:
    """A call of the POS API with `Authorization: Token …`: it needs no session, messages or
    request.user from the session (DRF's token authentication sets the user)."""
    return request.path_info.startswith("/api/") and request.META.get("HTTP_AUTHORIZATION", "")[:6].lower() == "token "


class _SkippedForTokenAPI:
    """Runs Django's middleware except for token calls of /api/ (a browser's session still reaches
    the API, e.g. the docs page's "try it out")."""

    def __call__(self, request):
        if token_api(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_SkippedForTokenAPI, session_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(_SkippedForTokenAPI, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(_SkippedForTokenAPI, message_middleware.MessageMiddleware):
    pass


class StaffDeviceCookie:
    """Sets the known-device cookie that a staff sign-in asked for (membership.services.staff_signin:
    a device an account signed in on is slowed rather than refused by the lockouts), for the web's
    and admin's sign-in and the API's token endpoint alike."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if value := getattr(request, "staff_device_cookie", None):
            response.set_cookie(
                staff_signin.DEVICE_COOKIE,
                value,
                max_age=staff_signin.DEVICE_DAYS * 86400,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


class ApiNotFoundAsJson:
    """An unknown /api/ path answers the JSON envelope docs/api.md promises for every error, also with
    DEBUG on (`make run`), where Django answers its HTML debug page instead of calling handler404."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path_info.startswith("/api/")
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return error_response(404, "not_found", _("Not found."))
        return response
