"""Notifications through a channel interface: on-site inbox, e-mail (Django's e-mail backends) and
SMS (portal.sms, pluggable, console by default). Every send is recorded; marketing messages go only
to members who agreed to receive them."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from membership.services.common import now
from portal.sms import send_sms

from ..models import Notification

log = logging.getLogger(__name__)


class _Fields(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def render(text: str, **fields) -> str:
    """Fill {name}, {tier}, {points}, {scene} … ; unknown placeholders stay as they are."""
    return (text or "").format_map(_Fields(**fields))


@dataclass(frozen=True)
class Delivery:
    """What a channel answered: `status` (sent, failed, no_address, skipped …), the provider's
    message id and, when it failed, why."""

    status: str
    provider_id: str = ""
    error: str = ""


def _deliver(member, channel: str, title: str, body: str) -> Delivery:
    if channel == "inbox":
        return Delivery("sent")
    if channel == "sms":
        send_sms(member.phone, f"{title} {body}".strip())
        return Delivery("sent")
    if channel == "email":
        address = getattr(member, "email", "")
        if not address:
            return Delivery("no_address")
        send_mail(title, body, None, [address])
        return Delivery("sent")
    return Delivery("skipped")


def notify(
    *,
    member,
    channel: str,
    title: str,
    body: str,
    scene=None,
    marketing: bool = True,
    dedupe_key: str | None = None,
    at: datetime | None = None,
) -> Notification | None:
    """Send and record one message. Marketing without consent is recorded as not sent; the same
    dedupe key sends once."""
    if not channel:
        return None
    if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    delivery = Delivery("no_consent") if marketing and not member.marketing_consent and channel != "inbox" else None
    if delivery is None:
        try:
            delivery = _deliver(member, channel, title, body)
        except Exception as exc:  # a gateway failure is recorded, never raised into the caller
            log.warning("notification to member %s by %s failed: %s", member.pk, channel, exc)
            delivery = Delivery("failed", error=str(exc)[:200])
    try:
        with transaction.atomic():
            return Notification.objects.create(
                member=member,
                channel=channel,
                title=title[:100],
                body=body,
                scene=scene,
                status=delivery.status,
                created_at=at or now(),
                sent_at=now() if delivery.status == "sent" else None,
                provider_id=delivery.provider_id,
                error=delivery.error,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return None


def inbox(member):
    return Notification.objects.filter(member=member, channel="inbox").order_by("-created_at")


def mark_read(*, member, notification_id) -> int:
    return Notification.objects.filter(member=member, pk=notification_id, read_at__isnull=True).update(read_at=now())
