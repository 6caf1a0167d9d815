"""Webhook signing secrets: made, kept encrypted, and used to sign (the Standard Webhooks convention).

A secret is `whsec_` + base64 of 24 random bytes; the receiver keys HMAC-SHA256 with those bytes.
It is stored encrypted with Fernet under `WEBHOOK_ENCRYPTION_KEYS` (environment; the first key
encrypts, every key decrypts, so that key can be rotated too). Without it, keys derived from
SECRET_KEY and SECRET_KEY_FALLBACKS serve (the demo), and `check --deploy` warns: once a former
SECRET_KEY leaves the fallbacks, the secrets encrypted under it cannot be read."""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _keys() -> list[bytes]:
    keys = [k.strip().encode() for k in settings.WEBHOOK_ENCRYPTION_KEYS if k.strip()]
    if not keys:  # derived from SECRET_KEY (and, during its rotation, the former keys): a deploy warning
        signing = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        keys = [base64.urlsafe_b64encode(hashlib.sha256(f"webhooks:{k}".encode()).digest()) for k in signing]
    return keys


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in _keys()])


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature per secret in use (the new and, for 24 hours after a rotation, the previous),
    space-separated: a receiver holding either verifies."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)
