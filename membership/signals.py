"""Events membership tells the other apps about. Sent only after the transaction that caused
them commits (`send_after_commit`), so receivers never see a change that was rolled back."""

from django.db import transaction
from django.dispatch import Signal

member_enrolled = Signal()      # member
tier_changed = Signal()         # member, from_tier, to_tier, reason
purchase_recorded = Signal()    # purchase
points_expiring = Signal()      # member, points, expires_at


def send_after_commit(signal: Signal, **kwargs) -> None:
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))


def end_tokens_on_password_change(sender, instance, **kwargs):
    """post_save of a staff user: a password set since the last save (set_password keeps the raw
    value in `_password` until the save) ends the user's API tokens, as it ends their sessions."""
    if getattr(instance, "_password", None) is not None:
        from rest_framework.authtoken.models import Token

        Token.objects.filter(user=instance).delete()
