"""API authentication: DRF's token check, with the user's store read in the same query (every till
call needs it). Its own module: DRF imports the authentication classes while its views load.

Tokens expire after the program's `api_token_days` (counted from when the token was issued) and
die with a password change (membership.signals).

Each web process keeps what it read of a token (with its user and store) for CACHE_SECONDS: a till
calls several times a second and the token query was a sixth of a sale's web time. A token deleted
or a staff user saved in this process leaves the cache at once (the signals below); one ended by
another process, or in the database directly, stops working within CACHE_SECONDS. The expiry is
checked on every call. Each request gets its own copy of the user."""

import copy
from datetime import timedelta
from time import monotonic

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


def _lifetime() -> timedelta:
    from membership import config

    return timedelta(days=config.program().api_token_days)


def expired(token: Token, at=None) -> bool:
    return token.created <= (at or timezone.now()) - _lifetime()


def issue_token(user) -> Token:
    """The user's live token, or a new one in place of an expired one."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


CACHE_SECONDS = settings.API_TOKEN_CACHE_SECONDS
CACHE_SIZE = 10_000  # tokens per process; a full cache starts again
_cache: dict[str, tuple[float, Token]] = {}


def forget(*, key: str | None = None, user_id: int | None = None) -> None:
    """Drop a token (by key), a user's tokens, or with neither the whole cache."""
    if key is None and user_id is None:
        _cache.clear()
    elif key is not None:
        _cache.pop(key, None)
    else:
        for k, (_until, token) in list(_cache.items()):
            if token.user_id == user_id:
                _cache.pop(k, None)


def _token_deleted(sender, instance, **kwargs):
    forget(key=instance.key)


def _user_saved(sender, instance, **kwargs):
    forget(user_id=instance.pk)


post_delete.connect(_token_deleted, sender=Token, dispatch_uid="pos.authentication.token_deleted")
post_save.connect(_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="pos.authentication.user_saved")


def _read(key: str) -> Token | None:
    """The token with its user and store: this process's copy while it lives (kept only when
    CACHE_SECONDS > 0)."""
    clock = monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > clock:
        return hit[1]
    token = Token.objects.select_related("user__store").filter(key=key).first()
    if CACHE_SECONDS <= 0:
        return token
    if token is None:
        _cache.pop(key, None)
        return None
    if len(_cache) >= CACHE_SIZE:
        _cache.clear()
    _cache[key] = (clock + CACHE_SECONDS, token)
    return token


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = _read(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token = copy.copy(token)  # the request's own token and user: a view may set attributes on them
        token.user = copy.copy(token.user)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if expired(token):
            raise exceptions.AuthenticationFailed(_("The token has expired: sign in again for a new one."))
        return token.user, token
