"""Production (DEBUG=0): refuses the demo secret and open host names, and turns on HTTPS-only cookies,
the redirect to HTTPS and HSTS. Read by the package only when DEBUG is off."""

from django.core.exceptions import ImproperlyConfigured

from .base import ALLOWED_HOSTS, DEFAULT_SECRET_KEY, SECRET_KEY, SECRET_KEY_MIN_LENGTH, env

if (
    SECRET_KEY == DEFAULT_SECRET_KEY
    or SECRET_KEY.startswith("django-insecure")
    or len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
):
    raise ImproperlyConfigured(
        f"DEBUG=0 needs a SECRET_KEY of your own (at least {SECRET_KEY_MIN_LENGTH} characters, not the demo key)."
    )
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("DEBUG=0 needs ALLOWED_HOSTS naming the portal's host names.")


SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Preloading HSTS is hard to undo, so it is the operator's choice, not a deploy warning.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
