"""Staff sign-in with lockout, one rule for the web sign-in page, admin's sign-in and the API's token
endpoint (issues 12 and 28), counted in the database (core.lockout) like the members' sign-in.

From a device that has not signed in to the account before, three counts refuse it while locked:
- 5 wrong passwords for one account from one address lock that account at that address 15 minutes
  (not elsewhere: five anonymous requests cannot lock a manager out everywhere);
- 30 from one address lock the address (spraying many accounts), 20 for one account from anywhere
  lock the account (guessing from many addresses).
A known device (a signed cookie set when the account signed in on it) is slowed rather than refused
by those locks: one attempt per 10 seconds, and 5 wrong passwords from it lock it alone. Every
attempt is counted before its password is hashed, so parallel attempts cannot pass the limit
(R17); while locked the password is not even checked."""

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core import signing
from django.utils.translation import gettext_lazy as _

from core import lockout
from core.client_ip import client_ip
from core.clock import now
from core.errors import SignInLocked

from .common import audit

MAX_FAILURES = 5  # wrong passwords for one account from one address (or one known device) ...
WINDOW_MINUTES = 15  # ... within this many minutes ...
LOCK_MINUTES = 15  # ... lock it this long
MAX_IP_FAILURES = 30  # from one address, any accounts (spraying)
MAX_ACCOUNT_FAILURES = 20  # for one account, any addresses (guessing from many)
KNOWN_DEVICE_SECONDS = 10  # a known device, while those lock: one attempt per this many seconds

DEVICE_COOKIE = "staff_device"
DEVICE_SALT = "membership.staff_signin.device"
DEVICE_DAYS = 180

MSG_LOCKED = _("Too many wrong passwords: sign-in is locked for %(minutes)s minutes.")
MSG_SLOWED = _("Too many wrong passwords for this account: try again in %(seconds)s seconds.")


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def device_cookie(user) -> str:
    """The signed value of the known-device cookie for `user` on this device."""
    return signing.dumps({"u": user.pk}, salt=DEVICE_SALT)


def _known_device(request, username: str):
    """The user of `username` when this request comes from a device it signed in on, else None."""
    value = getattr(request, "COOKIES", {}).get(DEVICE_COOKIE)
    if not value:
        return None
    try:
        pk = signing.loads(value, salt=DEVICE_SALT, max_age=DEVICE_DAYS * 86400)["u"]
        user = get_user_model()._default_manager.get_by_natural_key(username)
    except (signing.BadSignature, KeyError, TypeError, get_user_model().DoesNotExist):
        return None
    return user if user.pk == pk else None


def _limits(username: str, ip: str | None, device) -> tuple[list[lockout.Limit], list[lockout.Limit]]:
    """The limits that refuse this attempt, and those that only slow a known device down."""
    name = username.strip().lower()
    window, lock = _limit("STAFF_LOGIN_WINDOW_MINUTES", WINDOW_MINUTES), _limit("STAFF_LOCK_MINUTES", LOCK_MINUTES)
    per_account = _limit("STAFF_LOGIN_MAX_FAILURES", MAX_FAILURES)
    shared = [
        lockout.Limit(lockout.key("staff", f"{name}@{ip or '-'}"), per_account, window, lock),
        lockout.Limit(
            lockout.key("staff", name), _limit("STAFF_LOGIN_MAX_ACCOUNT_FAILURES", MAX_ACCOUNT_FAILURES), window, lock
        ),
    ]
    if ip:
        shared.append(
            lockout.Limit(
                lockout.key("staff-ip", ip), _limit("STAFF_LOGIN_MAX_IP_FAILURES", MAX_IP_FAILURES), window, lock
            )
        )
    if device is None:
        return shared, []
    return [lockout.Limit(lockout.key("staff-device", device.pk), per_account, window, lock)], shared


def _refuse(row, at) -> SignInLocked:
    return SignInLocked(
        MSG_LOCKED % {"minutes": lockout.minutes_left(row, at)},
        field="password",
        retry_after=lockout.seconds_left(row, at),
    )


def _slow_down(device, slowed: list[lockout.Limit], at) -> None:
    """A known device while the shared counts lock: one attempt per KNOWN_DEVICE_SECONDS."""
    if not lockout.locked_row([limit.key for limit in slowed], at):
        return
    seconds = _limit("STAFF_KNOWN_DEVICE_SECONDS", KNOWN_DEVICE_SECONDS)
    if row := lockout.hold(lockout.key("staff-slow", device.pk), at, seconds):
        wait = lockout.seconds_left(row, at)
        raise SignInLocked(MSG_SLOWED % {"seconds": wait}, field="password", retry_after=wait)


def sign_in(request, *, username: str, password: str):
    """The active staff user for `username` and `password` (Django's authenticate, so every backend
    and hasher applies), None for a wrong username or password, SignInLocked while locked or when
    this failure locks. A success marks the device known (request.staff_device_cookie: the web's
    middleware and the token endpoint set the cookie)."""
    at = now()
    ip = client_ip(request)
    username = username or ""
    device = _known_device(request, username)
    limits, slowed = _limits(username, ip, device)
    if device is not None:
        _slow_down(device, slowed, at)
    if row := lockout.attempt(limits, at):
        raise _refuse(row, at)
    user = authenticate(request, username=username, password=password)
    if user is not None:
        lockout.succeeded(limits, clear_keys=[limits[0].key])
        getattr(request, "_request", request).staff_device_cookie = device_cookie(user)  # DRF's or Django's
        return user
    if row := lockout.failed(limits, at):
        audit("staff.sign_in_locked", username=username[:150], ip=ip)
        raise _refuse(row, at)
    return None
