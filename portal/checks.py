"""System checks that make production refuse what is only fit for the demo.

Django runs these on `runserver`, `migrate` and `check --deploy`; the deploy guide starts
gunicorn only after `manage.py check --deploy --fail-level ERROR` passes.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.db.utils import DatabaseError

from membership import demo
from portal.settings.base import DEFAULT_SECRET_KEY, SECRET_KEY_MIN_LENGTH

# The placeholder of .env.production.example (a copy left unfilled must not start production) and the
# demo key of the settings; any key starting "django-insecure" is Django's own generated placeholder.
PLACEHOLDER_SECRET_KEYS = {
    "change-me-to-50-random-characters-python-c-import-secrets-token-urlsafe",
    DEFAULT_SECRET_KEY,
}
SECRET_KEY_MIN_DISTINCT = 5

# username → password of the demo accounts (demo-program.md). Production refuses them.
DEMO_PASSWORDS = demo.STAFF_PASSWORDS


def demo_accounts_with_demo_password() -> list[str]:
    return demo.staff_with_demo_password()


@register(Tags.security, deploy=True)
def check_demo_passwords(app_configs=None, **kwargs):
    if not settings.PRODUCTION:
        return []
    try:
        found = demo_accounts_with_demo_password()
    except DatabaseError:  # no tables yet: nothing to refuse
        return []
    if not found:
        return []
    return [
        Error(
            "Demo accounts still have their published demo passwords: %s." % ", ".join(found),
            hint="Change or deactivate these accounts before running with DEBUG=0.",
            id="portal.E001",
        )
    ]


@register(Tags.security, deploy=True)
def check_embedded_defaults(app_configs=None, **kwargs):
    if not settings.PRODUCTION:
        return []
    errors = []
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        errors.append(Error("DEBUG=0 with SQLite: set DATABASE_URL to PostgreSQL.", id="portal.E002"))
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        errors.append(Error("DEBUG=0 with the filesystem broker: set CELERY_BROKER_URL to Redis.", id="portal.E003"))
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        errors.append(
            CheckWarning(
                "DEBUG=0 with a per-process cache: the throttles count per gunicorn worker.",
                hint="Set CACHE_URL to Redis, e.g. redis://redis.internal:6379/1.",
                id="portal.W004",
            )
        )
    return errors


def is_placeholder_secret(key: str) -> bool:
    """A key that is published (the example file's, the demo's), Django's insecure placeholder or too weak
    to sign sessions with: shorter than 50 characters or of fewer than 5 distinct ones (Django's W009 rule)."""
    return (
        key in PLACEHOLDER_SECRET_KEYS
        or key.startswith("django-insecure")
        or "change-me" in key.lower()
        or len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < SECRET_KEY_MIN_DISTINCT
    )


@register(Tags.security, deploy=True)
def check_secret_key(app_configs=None, **kwargs):
    """Django only warns about a weak SECRET_KEY (security.W009), which the gate (--fail-level ERROR)
    lets through: production refuses it, and a weak or published key among SECRET_KEY_FALLBACKS too
    (whoever knows a fallback signs sessions that the portal accepts)."""
    if not settings.PRODUCTION:
        return []
    hint = 'Generate one: python -c "import secrets; print(secrets.token_urlsafe(38))".'
    errors = []
    if is_placeholder_secret(settings.SECRET_KEY):
        errors.append(
            Error(
                "SECRET_KEY is a placeholder or too weak: at least 50 random characters, not the example's.",
                hint=hint,
                id="portal.E005",
            )
        )
    weak = [i for i, key in enumerate(getattr(settings, "SECRET_KEY_FALLBACKS", []), 1) if is_placeholder_secret(key)]
    if weak:
        errors.append(
            Error(
                "SECRET_KEY_FALLBACKS has a placeholder or too weak key (number %s)." % ", ".join(map(str, weak)),
                hint="Fallbacks are former SECRET_KEYs: drop this one from the list.",
                id="portal.E006",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def check_webhook_encryption_key(app_configs=None, **kwargs):
    """Webhook signing secrets are encrypted at rest (integrations/secrets.py). Without a key of their own
    they are encrypted under keys derived from SECRET_KEY: a rotation that later drops the former key from
    SECRET_KEY_FALLBACKS leaves them unreadable (the endpoints then need a new secret)."""
    if not settings.PRODUCTION or settings.WEBHOOK_ENCRYPTION_KEYS:
        return []
    return [
        CheckWarning(
            "WEBHOOK_ENCRYPTION_KEYS is not set: webhook secrets are encrypted under SECRET_KEY and are lost "
            "with it after a rotation.",
            hint='Generate one: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())".',
            id="portal.W007",
        )
    ]
