"""The API's error envelope (pos-api.md, "Errors"): the one translation point from errors to its codes,
for DRF's views (exception_handler, named in settings) and for responses made outside DRF
(error_response: the /api/ error handlers, the input middleware)."""

from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from core.errors import MembershipError

CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


def _flatten(detail, prefix=""):
    """DRF's nested error detail → {"field" or "lines[0].amount": ["message", ...]}."""
    out = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(detail, list) and detail and all(isinstance(d, (dict, list)) for d in detail):
        for i, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}[{i}]"))
    elif isinstance(detail, list):
        out[prefix or "non_field_errors"] = [str(d) for d in detail]
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def envelope(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


def exception_handler(exc, context):
    """The one translation point from errors to pos-api.md's envelope and codes. An error is JSON
    whatever the client's Accept header asked for (a browser would get the browsable page)."""
    response = _error_response(exc, context)
    request = context.get("request")
    if response is not None and request is not None:
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
    return response


def _error_response(exc, context):
    if isinstance(exc, MembershipError):
        response = Response(envelope(exc.code, exc.message, exc.fields), status=exc.status)
        if exc.context.get("retry_after"):
            response["Retry-After"] = str(int(exc.context["retry_after"]))
        return response
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    response = drf_handler(exc, context)
    if response is None:
        return None
    code = CODES.get(response.status_code, "error")
    if isinstance(exc, drf.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()), ("", ["invalid"]))
        message = f"{first[0]}: {first[1][0]}" if first[0] != "non_field_errors" else first[1][0]
        response.data = envelope("invalid", message, fields)
    else:
        detail = exc.detail if isinstance(exc, drf.APIException) else str(exc)
        response.data = envelope(code, detail if isinstance(detail, str) else str(detail))
    return response


def error_response(status: int, code: str, message, fields: dict | None = None) -> JsonResponse:
    """The envelope outside DRF (the /api/ error handlers, the input middleware)."""
    return JsonResponse(envelope(code, message, fields), status=status, json_dumps_params={"ensure_ascii": False})
