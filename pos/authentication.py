"""API authentication: DRF's token check, with the user's store read in the same query (every till
call needs it). Its own module: DRF imports the authentication classes while its views load.

Tokens expire after the program's `api_token_days` (counted from when the token was issued) and
die with a password change (membership.signals)."""

from datetime import timedelta

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


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = self.get_model().objects.select_related("user__store").filter(key=key).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if expired(token):
            raise exceptions.AuthenticationFailed(_("The token has expired: sign in again for a new one."))
        return token.user, token
