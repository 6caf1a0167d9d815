"""The keys that sign: SECRET_KEY, and during a key rotation SECRET_KEY_FALLBACKS (the former keys,
from the environment: docs/deploy.md, "Rotating SECRET_KEY").

Django's signing (sessions, signing.dumps, Signer and TimestampSigner: the member QR card, the staff
device cookie, top-up references) signs with SECRET_KEY and verifies with the fallbacks too. A keyed
hash made with salted_hmac does not: what keeps one (a member's session, a one-time code) verifies
it here, against each key."""

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac


def keyed_hash(key_salt: str, value: str, *, secret: str | None = None) -> str:
    """HMAC-SHA256 of `value` under SECRET_KEY (or `secret`), salted with `key_salt`."""
    return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()


def fallback_keys() -> list[str]:
    return list(getattr(settings, "SECRET_KEY_FALLBACKS", []))


def matches_fallback(expected: str, key_salt: str, value: str) -> bool:
    """Whether `expected` is the keyed hash of `value` under one of the fallback keys."""
    return any(constant_time_compare(expected, keyed_hash(key_salt, value, secret=key)) for key in fallback_keys())


def matches(expected: str, key_salt: str, value: str) -> bool:
    """Whether `expected` is the keyed hash of `value` under SECRET_KEY or one of the fallbacks."""
    return constant_time_compare(expected, keyed_hash(key_salt, value)) or matches_fallback(expected, key_salt, value)
