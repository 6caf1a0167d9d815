"""One-time codes by SMS: proof that a member holds a phone, for sign-up, a password reset and the
first password of a member enrolled at the counter (product.md, "Who uses it": members sign up
and log in; "What bad input gets": limits on request rates and login attempts).

Rules: a code is 6 digits, valid 10 minutes, good for one use and 5 attempts; the newest code of
a phone and purpose is the only one that counts. One code per phone per 60 seconds, at most 10 a
phone a day and 20 an IP address an hour, so nobody can run up SMS bills. Only a keyed hash of
the code is stored. Codes go out through the SMS backend interface (core.sms)."""

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from core import signing_keys
from core.clock import now
from core.errors import Invalid, LimitReached
from core.sms import SmsError, SmsTimeout, fill, parse_template, send_sms, template_for

from ..identity import mask_phone, normalise_phone
from ..models import OneTimeCode

Purpose = OneTimeCode.Purpose
log = logging.getLogger(__name__)

CODE_DIGITS = 6
VALID_MINUTES = 10
MAX_ATTEMPTS = 5
RESEND_SECONDS = 60
PER_PHONE_PER_DAY = 10
PER_IP_PER_HOUR = 20

MSG_WAIT = _("A code was just sent to this number: wait %(seconds)s seconds before asking again.")
MSG_TOO_MANY = _("Too many codes were requested: try again later.")
MSG_CODE_WRONG = _("The code is wrong: check the SMS and try again.")
MSG_CODE_EXPIRED = _("This code has expired or was already used: ask for a new one.")
MSG_CODE_ATTEMPTS = _("Too many wrong codes: ask for a new one.")
MSG_CODE_FORMAT = _("Enter the 6-digit code from the SMS.")
MSG_SMS_FAILED = _("The SMS could not be sent to this number: check it, or try again in a minute.")
SMS_TEXT = _(
    "Your membership verification code is %(code)s. It is valid for %(minutes)s minutes; do not tell it to anyone."
)


@dataclass(frozen=True)
class SentCode:
    phone: str
    purpose: str
    resend_in: int  # seconds until another code may be asked for


OTP_SALT = "membership.otp"


def _hash(code: str, *, phone: str, purpose: str) -> str:
    return signing_keys.keyed_hash(OTP_SALT, f"{purpose}:{phone}:{code}")


def _hash_matches(code_hash: str, code: str, *, phone: str, purpose: str) -> bool:
    """A code sent before a SECRET_KEY rotation was hashed with the former key (a fallback)."""
    return signing_keys.matches(code_hash, OTP_SALT, f"{purpose}:{phone}:{code}")


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def request_code(*, phone, purpose: str, ip: str | None = None, send: bool = True) -> SentCode:
    """Draw a new code for `phone` and `purpose`, store its hash and send it by SMS.

    Raises LimitReached when the phone asked less than a minute ago or when the phone or the IP
    address asked too often. Whether the phone may use this purpose (already a member or not) is
    the caller's rule (services.accounts). `send=False` draws and stores the code without sending
    it: the caller answers a phone that may not have a code exactly like one that may, and the
    stored row makes the same limits count (no telling members from strangers)."""
    phone = normalise_phone(phone)
    if purpose not in Purpose.values:
        raise Invalid(_("Unknown purpose."), field="purpose")
    at = now()
    resend = _setting("MEMBER_OTP_RESEND_SECONDS", RESEND_SECONDS)
    with transaction.atomic():
        recent = OneTimeCode.objects.filter(phone=phone, created_at__gt=at - timedelta(days=1))
        last = recent.order_by("-created_at").values_list("created_at", flat=True).first()
        if last and (at - last).total_seconds() < resend:
            wait = max(1, int(resend - (at - last).total_seconds()))
            raise LimitReached(MSG_WAIT % {"seconds": wait}, field="phone", retry_after=wait)
        if recent.count() >= _setting("MEMBER_OTP_PER_PHONE_PER_DAY", PER_PHONE_PER_DAY):
            raise LimitReached(MSG_TOO_MANY, field="phone")
        if ip and OneTimeCode.objects.filter(ip=ip, created_at__gt=at - timedelta(hours=1)).count() >= _setting(
            "MEMBER_OTP_PER_IP_PER_HOUR", PER_IP_PER_HOUR
        ):
            raise LimitReached(MSG_TOO_MANY, field="phone")
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        OneTimeCode.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=_hash(code, phone=phone, purpose=purpose),
            ip=ip or None,
            created_at=at,
            expires_at=at + timedelta(minutes=VALID_MINUTES),
        )
    # sent once the row is written: a failed SMS leaves a row that the resend limit counts (the safe side)
    if send:
        _send(phone, code)
    return SentCode(phone=phone, purpose=purpose, resend_in=resend)


def _send(phone: str, code: str) -> None:
    """The code by SMS: the OTP template (settings.SMS_TEMPLATES["otp"], its parameters named from
    `code` and `minutes`) for a provider, the text for the console. A refused or unreachable SMS is
    the member's error on the phone field; an unanswered one may have arrived, so it stands."""
    fields = {"code": code, "minutes": VALID_MINUTES}
    template, pairs = parse_template(template_for("otp"))
    try:
        send_sms(phone, str(SMS_TEXT % fields), template=template, params=fill(pairs, fields))
    except SmsTimeout as exc:
        log.warning("one-time code SMS to %s: no answer (%s)", mask_phone(phone), exc)
    except SmsError as exc:
        log.warning("one-time code SMS to %s refused: %s", mask_phone(phone), exc)
        raise Invalid(MSG_SMS_FAILED, field="phone") from exc


def check_code(*, phone: str, purpose: str, code) -> int:
    """Check `code` against the newest live code of this phone and purpose; returns its id for
    `consume`. A wrong code uses up an attempt, and that attempt stays counted even when the
    caller's transaction rolls back: call this outside the transaction that acts on the code."""
    code = "".join(str(code or "").split())
    if not (code.isdigit() and len(code) == CODE_DIGITS):
        raise Invalid(MSG_CODE_FORMAT, field="code")
    at = now()
    row = OneTimeCode.objects.filter(phone=phone, purpose=purpose, used_at__isnull=True).order_by("-created_at").first()
    if row is None or row.expires_at <= at:
        raise Invalid(MSG_CODE_EXPIRED, field="code")
    # count the attempt before comparing, in one conditional statement: parallel guesses each use
    # one up, and none gets past the fifth
    counted = OneTimeCode.objects.filter(pk=row.pk, attempts__lt=MAX_ATTEMPTS).update(attempts=F("attempts") + 1)
    if not counted:
        raise Invalid(MSG_CODE_ATTEMPTS, field="code")
    if not _hash_matches(row.code_hash, code, phone=phone, purpose=purpose):
        left = MAX_ATTEMPTS - row.attempts - 1
        raise Invalid(MSG_CODE_WRONG if left > 0 else MSG_CODE_ATTEMPTS, field="code")
    return row.pk


def consume(code_id: int) -> None:
    """Use up a checked code, inside the transaction that acts on it: if that transaction rolls
    back the code stays usable; two requests with one code cannot both succeed."""
    used = OneTimeCode.objects.filter(pk=code_id, used_at__isnull=True, expires_at__gt=now()).update(used_at=now())
    if not used:
        raise Invalid(MSG_CODE_EXPIRED, field="code")


def purge(at=None) -> int:
    """Delete codes that have expired and that no sending limit counts any more (those look back one
    day); returns how many. Safe to re-run."""
    at = at or now()
    return OneTimeCode.objects.filter(expires_at__lt=at, created_at__lt=at - timedelta(days=2)).delete()[0]
