"""System checks that make production refuse what is only fit for the demo.

Django runs these on `runserver`, `migrate` and `check --deploy`; the deploy guide starts
gunicorn only after `manage.py check --deploy --fail-level ERROR` passes.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.db.utils import DatabaseError

# username → password of the demo accounts (demo-program.md). Production refuses them.
DEMO_PASSWORDS = {
    "admin": "admin-demo",
    "manager1": "manager1-demo",
    "clerk1": "clerk1-demo",
    "clerk2": "clerk2-demo",
}


def demo_accounts_with_demo_password() -> list[str]:
    from django.contrib.auth import get_user_model

    found = []
    users = get_user_model().objects.filter(username__in=DEMO_PASSWORDS, is_active=True)
    for user in users:
        if user.check_password(DEMO_PASSWORDS[user.username]):
            found.append(user.username)
    return sorted(found)


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
