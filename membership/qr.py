"""The member's QR code payload: a short-lived signed token, not the bare card number, so a
screenshot stops working after a few minutes (product.md, "Membership and cards")."""

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from core.errors import Invalid

PREFIX = "MQ:"
SALT = "membership.qr"
MSG_EXPIRED = _("This member QR code has expired: ask the member to refresh it.")
MSG_FORGED = _("This member QR code is not valid.")


def ttl_seconds() -> int:
    return int(getattr(settings, "MEMBER_QR_TTL_SECONDS", 180))


def make_token(member_no: str) -> str:
    return PREFIX + signing.TimestampSigner(salt=SALT).sign(member_no)


def looks_like_token(value: str) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def read_token(token: str) -> str:
    """The member number inside a token; raises Invalid saying expired or forged."""
    try:
        return signing.TimestampSigner(salt=SALT).unsign(token[len(PREFIX) :], max_age=ttl_seconds())
    except signing.SignatureExpired as exc:
        raise Invalid(MSG_EXPIRED, field="q") from exc
    except signing.BadSignature as exc:
        raise Invalid(MSG_FORGED, field="q") from exc
