"""The POS REST API (pos-api.md): authentication, parsers and limits, throttles and their cache, the
OpenAPI schema, and exports."""

from .base import env

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pos.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # JSON with size, depth and control-character limits (API_MAX_BODY_BYTES, API_MAX_JSON_DEPTH)
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # proxies in front of the portal that append to X-Forwarded-For (nginx: 1); 0 trusts no header
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_RATES": {
        "lookup": env.str("THROTTLE_LOOKUP", default="120/min"),
        "lookup_ip": env.str("THROTTLE_LOOKUP_IP", default="300/min"),
        "write": env.str("THROTTLE_WRITE", default="300/min"),
    },
}
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)  # a sale of 1,000 lines is ~100 KB
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=10)  # a sale is 3 deep
# how long a write's Idempotency-Key response is kept for replays (pos-api.md, Conventions)
IDEMPOTENCY_KEY_DAYS = env.int("IDEMPOTENCY_KEY_DAYS", default=30)
# how long a web process keeps an API token it has read (pos.authentication): a token ended by another
# process stops working within this many seconds; 0 reads the token on every call
API_TOKEN_CACHE_SECONDS = env.float("API_TOKEN_CACHE_SECONDS", default=5)
# Throttle counters and other short-lived state; production: CACHE_URL=redis://host:6379/1
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # an unreachable Redis answers within half a second, and the throttles then count locally
    # (pos/api_support.py): a cache outage never holds or refuses a till call
    CACHES["default"].setdefault("OPTIONS", {})
    CACHES["default"]["OPTIONS"].setdefault("socket_connect_timeout", env.float("CACHE_CONNECT_TIMEOUT", default=0.5))
    CACHES["default"]["OPTIONS"].setdefault("socket_timeout", env.float("CACHE_TIMEOUT", default=0.5))
# Exports: a text cell starting with = + - @ is written as text, never run as a formula
# (core/spreadsheets.py applies the rule for django-import-export and the analytics tables)
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
SPECTACULAR_SETTINGS = {
    "TITLE": "Store-membership portal POS API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc are served from our own static files (drf-spectacular-sidecar), not a CDN
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- webhooks (integrations/webhooks.py, ../shared/spec/events.md) ------------------------------------
# hosts whose addresses may be private or local (a receiver inside the chain's network); by default a
# webhook URL must resolve to public addresses only
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
# Fernet keys (python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")
# that encrypt the endpoints' signing secrets at rest: the first encrypts, every one decrypts (rotation)
WEBHOOK_ENCRYPTION_KEYS = env.list("WEBHOOK_ENCRYPTION_KEYS", default=[])
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
