"""The settings every process shares: where files live, the apps, middleware and templates, sign-in,
language and time, static files, logs, and what operations add (configuration history, metrics)."""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(str(BASE_DIR / ".env"))

# Published in the README so nobody mistakes it for a secret; production refuses it.
DEFAULT_SECRET_KEY = "django-insecure-demo-only-store-membership-portal"  # nosec B105
# production's shortest key: settings refuse a shorter one at start (every process), `check --deploy`
# (portal.checks) also refuses the published placeholders and keys of few distinct characters
SECRET_KEY_MIN_LENGTH = 50

DEBUG = env.bool("DEBUG", default=True)
# Fixed at start-up: the test runner turns DEBUG off, but that does not make a test run production.
PRODUCTION = not DEBUG
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
# Former keys, comma-separated, while a rotation settles: what they signed (sessions, one-time codes,
# member QR cards) is still accepted; new signatures use SECRET_KEY (docs/deploy.md, "Rotating SECRET_KEY").
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The release this process runs (e.g. a git tag), shown by /healthz: set it in .env with each release
RELEASE = env.str("PORTAL_RELEASE", default="")

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
    "integrations",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc from our own static files, not a CDN
    "auditlog",  # who changed which program setting (AUDITLOG_INCLUDE_TRACKING_MODELS)
]

MIDDLEWARE = [
    "core.metrics.RequestMetricsMiddleware",  # requests and latency for /metrics, first so it times all
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.RejectControlCharacters",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "portal.middleware.ApiNotFoundAsJson",  # outside CommonMiddleware: its slash redirects stand
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "portal.middleware.AuthenticationMiddleware",
    "core.history.AuditlogMiddleware",  # the signed-in user as the actor of configuration changes
    "portal.middleware.MessageMiddleware",
    "portal.middleware.HtmxRequest",
    "portal.middleware.StaffDeviceCookie",  # a device a staff account signed in on (staff_signin)
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

# Compiled catalogues may live outside the source tree (the image and the smoke test build them).
if env.str("PORTAL_LOCALE_DIR", default=""):
    LOCALE_PATHS = [Path(env.str("PORTAL_LOCALE_DIR"))]

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

# --- security (production) ------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # one line per task run is the worker's business (its own log), not the web's or a command's
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}

# Logs: LOG_FORMAT=json writes one JSON object per line (python-json-logger); Celery's worker
# and beat log through this same configuration (portal/celery.py, setup_logging).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING["formatters"]["json"] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
}
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "plain"
# Shown in the top bar and the page titles.
SITE_NAME = _("Store membership")

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
# Prometheus metrics: requests and latency (web), task outcomes (worker), at /metrics for the
# operator only: a request from loopback, or one with `Authorization: Bearer $METRICS_TOKEN`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# a worker machine serves its task metrics on WORKER_METRICS_ADDR:WORKER_METRICS_PORT when the port
# is set (e.g. 9808); loopback by default, 0.0.0.0 inside a container that only Prometheus reaches
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDR = env.str("WORKER_METRICS_ADDR", default="127.0.0.1")

# The load balancer's health check asks over plain HTTP from inside, and so does Prometheus scraping a
# web machine's /metrics directly (with its token, or from loopback): no redirect to HTTPS for them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
