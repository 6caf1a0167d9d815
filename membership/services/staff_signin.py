"""Staff sign-in with lockout, one rule for the web sign-in page, admin's sign-in and the API's token
endpoint (issue 12): 5 wrong passwords for one username within 15 minutes lock that account's
sign-in for 15 minutes; 30 from one address lock the address. While locked the password is not
even checked. Counted in the database (services.lockout), like the members' sign-in."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _

from core import lockout
from core.client_ip import client_ip
from core.clock import now
from core.errors import SignInLocked

from .common import audit

MAX_FAILURES = 5  # wrong passwords for one username ...
WINDOW_MINUTES = 15  # ... within this many minutes ...
LOCK_MINUTES = 15  # ... lock that username this long
MAX_IP_FAILURES = 30  # and this many from one address (spraying across accounts)

MSG_LOCKED = _("Too many wrong passwords: sign-in is locked for %(minutes)s minutes.")


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _keys(username: str, ip: str | None) -> tuple[str, str | None]:
    return lockout.key("staff", username.strip().lower()), lockout.key("staff-ip", ip) if ip else None


def sign_in(request, *, username: str, password: str):
    """The active staff user for `username` and `password` (Django's authenticate, so every backend
    and hasher applies), None for a wrong username or password, SignInLocked while the account or
    the address is locked or when this failure locks it."""
    at = now()
    ip = client_ip(request)
    account_key, ip_key = _keys(username or "", ip)
    if row := lockout.locked_row([k for k in (account_key, ip_key) if k], at):
        raise SignInLocked(
            MSG_LOCKED % {"minutes": lockout.minutes_left(row, at)},
            field="password",
            retry_after=lockout.seconds_left(row, at),
        )
    user = authenticate(request, username=username, password=password)
    if user is not None:
        lockout.clear(account_key)
        return user
    window = _limit("STAFF_LOGIN_WINDOW_MINUTES", WINDOW_MINUTES)
    lock = _limit("STAFF_LOCK_MINUTES", LOCK_MINUTES)
    locked = lockout.record_failure(
        account_key, at, max_failures=_limit("STAFF_LOGIN_MAX_FAILURES", MAX_FAILURES), window=window, lock=lock
    )
    if ip_key:
        locked = (
            lockout.record_failure(
                ip_key,
                at,
                max_failures=_limit("STAFF_LOGIN_MAX_IP_FAILURES", MAX_IP_FAILURES),
                window=window,
                lock=lock,
            )
            or locked
        )
    if locked:
        audit("staff.sign_in_locked", username=(username or "")[:150], ip=ip)
        raise SignInLocked(MSG_LOCKED % {"minutes": lock}, field="password", retry_after=lock * 60)
    return None
