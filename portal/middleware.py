"""Project middleware: request.htmx, and control characters refused before any view sees them."""

from django.core.exceptions import BadRequest
from django.http import Http404
from django.utils.translation import gettext_lazy as _

# C0 controls and DEL: never part of a path or a query parameter
CONTROL = frozenset(chr(c) for c in [*range(0x00, 0x20), 0x7F])
MSG_PATH = _("The address holds a control character.")
MSG_QUERY = _("Control characters are not allowed.")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectControlCharacters:
    """A NUL or other control character in the path is 404, in a query parameter or a form field 400
    naming it (PostgreSQL refuses NUL in text, which was a 500). /api/ answers in pos-api.md's
    envelope; JSON bodies are checked by the API's parser (pos.parsers.JSONParser)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from pos.api_support import error_response
        from pos.parsers import FIELD_CONTROL

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
