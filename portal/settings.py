"""Settings for the store-membership portal.

One module, read from the environment (cookiecutter-django style). The defaults are the
embedded demo: SQLite in WAL mode and kombu's filesystem broker, so `make run` works on a
fresh machine with nothing but Python. Production (DEBUG=0) refuses to start with the
default secret; see portal/checks.py for the demo-password refusal.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(str(BASE_DIR / ".env"))

# Published in the README so nobody mistakes it for a secret; production refuses it.
DEFAULT_SECRET_KEY = "django-insecure-demo-only-store-membership-portal"

DEBUG = env.bool("DEBUG", default=True)
# Fixed at start-up: the test runner turns DEBUG off, but that does not make a test run production.
PRODUCTION = not DEBUG
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if not DEBUG:
    if SECRET_KEY == DEFAULT_SECRET_KEY or SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 40:
        raise ImproperlyConfigured("DEBUG=0 needs a SECRET_KEY of your own (at least 40 characters, not the demo key).")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG=0 needs ALLOWED_HOSTS naming the portal's host names.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "import_export",
    "core",
    "portal",
    "membership",
    "campaigns",
    "pos",
    "memberweb",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.RejectControlCharacters",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "portal.middleware.AuthenticationMiddleware",
    "portal.middleware.MessageMiddleware",
    "portal.middleware.HtmxRequest",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.site",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and beat read while one of them writes;
    # IMMEDIATE takes the write lock at BEGIN so two writers queue instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Server-side binding lets psycopg prepare the statements a connection repeats (each sale's
    # dozen): PostgreSQL parses and plans them once. Off behind a transaction-mode pooler (PgBouncer < 1.21).
    if env.bool("DB_SERVER_SIDE_BINDING", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "membership.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # sign-in (sessions name it: keep it first)
    "membership.permissions.RoleBackend",  # admin permissions follow the role
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- language and time ----------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Celery ---------------------------------------------------------------------------
# Default: kombu's filesystem transport, so a real worker and beat run with no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR = VAR_DIR / "broker"
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    # Redis gives an unacknowledged message to another worker after this long. It must outlast the
    # longest task (CELERY_TASK_TIME_LIMIT) plus the longest retry countdown (a retried task waits
    # reserved on a worker: portal.celery.RETRY_BACKOFF_MAX), or a long job would run twice at once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# a till's request never waits long on a broker that is down: its events stay in the outbox
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a task whose worker died is redelivered (tasks are idempotent)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# transactional outbox (core.outbox): after a broker error a process leaves delivery to the
# relay for this long; the relay takes events older than OUTBOX_SETTLE_SECONDS (younger ones are
# being delivered by the process that wrote them); sent events and consumers' receipts are purged
OUTBOX_PAUSE_SECONDS = env.int("OUTBOX_PAUSE_SECONDS", default=10)
OUTBOX_SETTLE_SECONDS = env.int("OUTBOX_SETTLE_SECONDS", default=5)
OUTBOX_KEEP_DAYS = env.int("OUTBOX_KEEP_DAYS", default=7)
OUTBOX_RECEIPT_DAYS = env.int("OUTBOX_RECEIPT_DAYS", default=30)

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
    "EXCEPTION_HANDLER": "pos.api_support.exception_handler",
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
}

# --- messages out: e-mail and SMS -----------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
SMS_BACKEND = env.str("SMS_BACKEND", default="core.sms.ConsoleSmsBackend")  # or aliyun, tencent
SMS_ACCESS_KEY_ID = env.str("SMS_ACCESS_KEY_ID", default="")  # Tencent: SecretId
SMS_ACCESS_KEY_SECRET = env.str("SMS_ACCESS_KEY_SECRET", default="")  # Tencent: SecretKey
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="")
SMS_SDK_APP_ID = env.str("SMS_SDK_APP_ID", default="")  # Tencent only
SMS_REGION = env.str("SMS_REGION", default="")  # empty: cn-hangzhou (Alibaba), ap-guangzhou (Tencent)
SMS_ENDPOINT = env.str("SMS_ENDPOINT", default="")  # empty: the SDK's; http://host:port for a local fake
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=5.0)
# delivery receipts: the providers push them to /hooks/sms/<aliyun|tencent>/<token>/; empty: off
SMS_RECEIPT_TOKEN = env.str("SMS_RECEIPT_TOKEN", default="")
# templates per purpose, "CODE:var=field,…" (core.sms.parse_template); a scene names its own
SMS_TEMPLATES = {
    "otp": env.str("SMS_TEMPLATE_OTP", default=""),
    "notice": env.str("SMS_TEMPLATE_NOTICE", default=""),
}
# WeChat official account (core/wechat.py): web sign-in inside WeChat and template messages
WECHAT_APP_ID = env.str("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env.str("WECHAT_APP_SECRET", default="")
WECHAT_OAUTH_SCOPE = env.str("WECHAT_OAUTH_SCOPE", default="snsapi_base")
WECHAT_MESSAGE_API = env.str("WECHAT_MESSAGE_API", default="template")  # or subscribe
WECHAT_TEMPLATE_NOTICE = env.str("WECHAT_TEMPLATE_NOTICE", default="")
WECHAT_API_BASE = env.str("WECHAT_API_BASE", default="https://api.weixin.qq.com")
WECHAT_OPEN_BASE = env.str("WECHAT_OPEN_BASE", default="https://open.weixin.qq.com")
WECHAT_TIMEOUT_SECONDS = env.float("WECHAT_TIMEOUT_SECONDS", default=5.0)

# --- security (production) ------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    # Preloading HSTS is hard to undo, so it is the operator's choice, not a deploy warning.
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # one line per task run is the worker's business (its own log), not the web's or a command's
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}

# Shown in the top bar and the page titles.
SITE_NAME = _("Store membership")

# =======================================================================================
# --- operations (issue 16): offline API docs, configuration history, logs, metrics -----
# Kept in one block so the other settings stay as they are; each line says what it adds.
# =======================================================================================
# Swagger UI and Redoc are served from our own static files (drf-spectacular-sidecar), not a CDN.
INSTALLED_APPS += ["drf_spectacular_sidecar", "auditlog"]
SPECTACULAR_SETTINGS.update(SWAGGER_UI_DIST="SIDECAR", SWAGGER_UI_FAVICON_HREF="SIDECAR", REDOC_DIST="SIDECAR")

# Who changed which program setting, from what, to what (django-auditlog; docs/decisions.md).
# Counters (issued, granted, stock) move by queryset updates, which are not configuration changes.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    "membership.ProgramSettings",
    "membership.Tier",
    "membership.EarnStage",
    "membership.EarnMultiplier",
    "membership.TopUpPlan",
    "membership.PaidCardProduct",
    "campaigns.ProgramRules",
    {"model": "campaigns.CouponTemplate", "m2m_fields": {"stores"}},
    {"model": "campaigns.Scene", "m2m_fields": {"tiers", "tags", "stores"}},
    {"model": "campaigns.BenefitPackage", "m2m_fields": {"coupons"}},
    {"model": "campaigns.MallItem", "m2m_fields": {"tiers"}},
    "analytics.AnalyticsSettings",
)
AUDITLOG_DISABLE_REMOTE_ADDR = env.bool("AUDITLOG_DISABLE_REMOTE_ADDR", default=False)
MIDDLEWARE.insert(MIDDLEWARE.index("portal.middleware.AuthenticationMiddleware") + 1, "core.history.AuditlogMiddleware")

# Prometheus metrics: requests and latency (web), task outcomes (worker), at /metrics for the
# operator only: a request from loopback, or one with `Authorization: Bearer $METRICS_TOKEN`.
MIDDLEWARE.insert(0, "core.metrics.RequestMetricsMiddleware")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# a worker machine serves its task metrics on WORKER_METRICS_ADDR:WORKER_METRICS_PORT when the port
# is set (e.g. 9808); loopback by default, 0.0.0.0 inside a container that only Prometheus reaches
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDR = env.str("WORKER_METRICS_ADDR", default="127.0.0.1")

# The load balancer's health check asks over plain HTTP from inside: no redirect to HTTPS for it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Compiled catalogues may live outside the source tree (the image and the smoke test build them).
if env.str("PORTAL_LOCALE_DIR", default=""):
    LOCALE_PATHS = [Path(env.str("PORTAL_LOCALE_DIR"))]

# Logs: LOG_FORMAT=json writes one JSON object per line (python-json-logger); Celery's worker
# and beat log through this same configuration (portal/celery.py, setup_logging).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING["formatters"]["json"] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
}
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "plain"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# --- end of the issue 16 block ----------------------------------------------------------
