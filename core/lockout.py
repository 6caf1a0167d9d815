"""Failed attempts counted per key in the database (LoginThrottle), shared by every web process:
member sign-in (services.accounts), staff sign-in (services.staff_signin) and stored-value PINs
(services.stored_value). One rule: `max_failures` failures of one key within `window` minutes
lock that key for `lock` minutes; while locked the secret is not even checked."""

import hashlib
from datetime import datetime, timedelta

from django.db import transaction

from core.models import LoginThrottle


def key(kind: str, value) -> str:
    """'staff:clerk1', 'pin:42', 'ip:10.0.0.1'; a value too long for the column is hashed."""
    text = f"{kind}:{value}"
    if len(text) > LoginThrottle._meta.get_field("key").max_length:
        text = f"{kind}#{hashlib.sha256(str(value).encode()).hexdigest()[:40]}"
    return text


def row(key: str) -> LoginThrottle | None:
    """The failures and lock kept for `key`, or None."""
    return LoginThrottle.objects.filter(key=key).first()


def locked_row(keys: list[str], at: datetime) -> LoginThrottle | None:
    """The row holding the lock that lasts longest among `keys`, or None."""
    return LoginThrottle.objects.filter(key__in=keys, locked_until__gt=at).order_by("-locked_until").first()


def minutes_left(row: LoginThrottle | None, at: datetime) -> int | None:
    if row and row.locked_until and row.locked_until > at:
        return max(1, int((row.locked_until - at).total_seconds() + 59) // 60)
    return None


def seconds_left(row: LoginThrottle, at: datetime) -> int:
    return max(1, int((row.locked_until - at).total_seconds() + 0.999))


def record_failure(key: str, at: datetime, *, max_failures: int, window: int, lock: int) -> bool:
    """Count one failure for `key`; returns True when it locks. Counts in a fixed window that
    starts at the first failure; the row is locked so parallel failures all count. Commits on its
    own when called outside a transaction: call it outside the one that the failure rolls back."""
    with transaction.atomic():
        LoginThrottle.objects.get_or_create(key=key)
        row = LoginThrottle.objects.select_for_update().get(key=key)
        if row.window_started_at is None or at - row.window_started_at > timedelta(minutes=window):
            row.failures, row.window_started_at = 0, at
        row.failures += 1
        locked = row.failures >= max_failures
        if locked:
            row.locked_until = at + timedelta(minutes=lock)
            row.failures, row.window_started_at = 0, None
        row.save()
    return locked


def clear(key: str) -> None:
    LoginThrottle.objects.filter(key=key).delete()
