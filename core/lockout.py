"""Failed attempts counted per key in the database (LoginThrottle), shared by every web process:
member sign-in (services.accounts), staff sign-in (services.staff_signin) and stored-value PINs
(services.stored_value). One rule: `max_failures` failures of one key within `window` minutes
lock that key for `lock` minutes; while locked the secret is not even checked."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

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


@dataclass(frozen=True)
class Limit:
    """`max_failures` failures of `key` within `window` minutes lock it for `lock` minutes."""

    key: str
    max_failures: int
    window: int
    lock: int


def _rows(limits: list[Limit]) -> list[tuple[Limit, LoginThrottle]]:
    """The rows of `limits`, created where missing and locked in key order (no deadlock between two
    attempts on the same keys)."""
    for limit in limits:
        LoginThrottle.objects.get_or_create(key=limit.key)
    by_key = {limit.key: limit for limit in limits}
    rows = LoginThrottle.objects.select_for_update().filter(key__in=by_key).order_by("key")
    return [(by_key[row.key], row) for row in rows]


def _fresh(row: LoginThrottle, limit: Limit, at: datetime) -> LoginThrottle:
    """`row` with a window that has passed counted as no failures."""
    if row.window_started_at is None or at - row.window_started_at > timedelta(minutes=limit.window):
        row.failures, row.window_started_at = 0, at
    return row


def attempt(limits: list[Limit], at: datetime) -> LoginThrottle | None:
    """Count an attempt on every key of `limits` as a failure before its secret is checked, so that
    parallel attempts cannot all pass the limit while each is being hashed: the row that refuses it
    (a lock that lasts, or one this attempt sets by going past a limit), or None to go on and check
    the secret; then `failed` or `succeeded` settle it. Commits on its own."""
    refusing = None
    with transaction.atomic():
        rows = _rows(limits)
        if locked := [row for _, row in rows if row.locked_until and row.locked_until > at]:
            return max(locked, key=lambda row: row.locked_until)
        for limit, row in rows:
            _fresh(row, limit, at).failures += 1
            if row.failures > limit.max_failures:  # the attempts counted before it already reach the limit
                row.locked_until, row.failures, row.window_started_at = at + timedelta(minutes=limit.lock), 0, None
                refusing = row
            row.save()
    return refusing


def failed(limits: list[Limit], at: datetime) -> LoginThrottle | None:
    """An attempt counted by `attempt` failed: each key whose count reached its limit locks; the row
    that locks for longest, or None."""
    locked = None
    with transaction.atomic():
        for limit, row in _rows(limits):
            if row.window_started_at is not None and row.failures >= limit.max_failures:
                row.locked_until, row.failures, row.window_started_at = at + timedelta(minutes=limit.lock), 0, None
                row.save()
                locked = row if locked is None or row.locked_until > locked.locked_until else locked
    return locked


def succeeded(limits: list[Limit], *, clear_keys=()) -> None:
    """An attempt counted by `attempt` succeeded: it is taken back from each key's count, and the
    keys of `clear_keys` (the right secret resets them) are cleared."""
    with transaction.atomic():
        LoginThrottle.objects.filter(key__in=list(clear_keys)).delete()
        rows = LoginThrottle.objects.select_for_update().filter(
            key__in=[limit.key for limit in limits if limit.key not in clear_keys], failures__gt=0
        )
        for row in rows.order_by("key"):
            row.failures -= 1
            row.save(update_fields=["failures"])


def hold(key: str, at: datetime, seconds: int) -> LoginThrottle | None:
    """At most one attempt per `seconds` for `key`: the row holding this attempt back, or None (and
    the next is held back until `seconds` from now)."""
    with transaction.atomic():
        LoginThrottle.objects.get_or_create(key=key)
        row = LoginThrottle.objects.select_for_update().get(key=key)
        if row.locked_until and row.locked_until > at:
            return row
        row.locked_until = at + timedelta(seconds=seconds)
        row.save(update_fields=["locked_until"])
    return None


def clear(*keys: str, prefix: str | None = None) -> None:
    """Forget `keys` (and every key that starts with `prefix`)."""
    rows = Q(key__in=keys)
    if prefix:
        rows |= Q(key__startswith=prefix)
    LoginThrottle.objects.filter(rows).delete()
