"""The API's JSON parser, with limits. Its own module: DRF imports the parser classes while its views
load (pos.api_support imports those views)."""

import json
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf
from rest_framework import parsers

MSG_TOO_LARGE = _("The request body is too large (at most %(limit)s bytes).")
MSG_TOO_DEEP = _("The JSON is nested too deep (at most %(limit)s levels).")
MSG_CONTROL = _("Control characters are not allowed.")
# C0 controls and DEL, except tab, line feed and carriage return (a reason may have lines)
FIELD_CONTROL = frozenset(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


class BodyTooLarge(drf.APIException):
    status_code = 413
    default_code = "too_large"


def has_control(text: str) -> bool:
    return not FIELD_CONTROL.isdisjoint(text)


TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_depth(text: str, limit: int) -> None:
    """Refuse JSON nested deeper than `limit` before parsing it (Python's parser recurses: 1,000 levels
    were a RecursionError), naming the top-level field that holds the nesting."""
    depth, key = 0, None
    for token in TOKEN.finditer(text):
        ch = token.group()[0]
        if ch == '"':
            if depth == 1 and text[token.end() : token.end() + 20].lstrip().startswith(":"):
                key = token.group()
        elif ch in "[{":
            depth += 1
            if depth > limit:
                try:
                    field = json.loads(key) if key else "non_field_errors"
                except ValueError:
                    field = "non_field_errors"
                raise drf.ValidationError({field: [MSG_TOO_DEEP % {"limit": limit}]})
        else:
            depth -= 1


def _check_strings(data) -> None:
    """Refuse control characters in any key or string of the parsed JSON, naming the field (`lines[0].sku`)."""
    stack = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if has_control(key):
                    raise drf.ValidationError({path or "non_field_errors": [MSG_CONTROL]})
                stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))
        elif isinstance(value, str) and has_control(value):
            raise drf.ValidationError({path or "non_field_errors": [MSG_CONTROL]})


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with limits: a body over API_MAX_BODY_BYTES is 413, JSON nested deeper than
    API_MAX_JSON_DEPTH or holding control characters is 400 naming the field (DRF reads the body
    as a stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise BodyTooLarge(MSG_TOO_LARGE % {"limit": limit})
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
            _check_depth(text, settings.API_MAX_JSON_DEPTH)
            data = json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise drf.ParseError(_("JSON parse error: %s") % exc) from None
        _check_strings(data)
        return data


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")
