"""Notifications through a channel interface (channels.py): on-site inbox, e-mail (Django's e-mail
backends), SMS (portal.sms: console, Alibaba Cloud, Tencent Cloud) and WeChat (portal.wechat).
Every send is recorded; marketing messages go only to members who agreed to receive them."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from membership.services.common import now

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


# a row in one of these states is never sent again: sent (and what its receipt said), being sent,
# or perhaps sent (no answer)
ONCE_STATUSES = ("sent", "sending", "timeout", "delivered", "undelivered")


def _deliver(
    member,
    channel: str,
    title: str,
    body: str,
    *,
    scene=None,
    notification: Notification | None = None,
    template: str = "",
    params: dict | None = None,
) -> Delivery:
    """Send one message by its channel (channels.py) and answer what happened.

    With `notification` (its row, already saved) the send happens at most once: the row is claimed
    ("sending") before the provider is called and the outcome written on it, so a retried task, a
    second worker or a redelivered event finds it sent, in flight or timed out and sends nothing,
    answering what the row records; a rejected or failed row may be tried again. Call it outside a
    transaction, so the claim is committed before the provider is called. `template` ("CODE:var=
    field,…") overrides the scene's; `params` adds fields for the template (e.g. points)."""
    from . import channels

    adapter = channels.get(channel)
    if adapter is None:
        return Delivery("skipped")
    if notification is not None:
        claimed = (
            Notification.objects.filter(pk=notification.pk).exclude(status__in=ONCE_STATUSES).update(status="sending")
        )
        if not claimed:
            row = Notification.objects.only("status", "provider_id", "error").get(pk=notification.pk)
            return Delivery(row.status, provider_id=row.provider_id, error=row.error)
        scene = scene if scene is not None else notification.scene
    message = channels.Message(
        member=member,
        title=title,
        body=body,
        scene=scene,
        template=template,
        params=dict(params or {}),
        reference=f"n{notification.pk}" if notification is not None else "",
    )
    try:
        delivery = adapter.deliver(message)
    except Exception as exc:  # a backend's own failure (an SMTP error …): recorded, not raised
        log.warning("notification to member %s by %s failed: %s", member.pk, channel, exc)
        delivery = Delivery("failed", error=str(exc)[:200])
    if notification is not None:
        # only over our own claim: a delivery receipt that arrived first has said more
        Notification.objects.filter(pk=notification.pk, status="sending").update(
            status=delivery.status,
            provider_id=delivery.provider_id[:64],
            error=delivery.error[:200],
            sent_at=now() if delivery.status == "sent" else None,
        )
    return delivery


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
            delivery = _deliver(member, channel, title, body, scene=scene)
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


def record_receipt(*, provider_id: str = "", reference: str = "", delivered: bool, error: str = "") -> int:
    """A provider's delivery receipt for one SMS: the row named by our reference ("n<id>", sent as
    Alibaba's OutId) or by the provider's message id becomes delivered or undelivered (with the
    provider's code). A receipt also settles a row whose send timed out. Repeated receipts change
    nothing more; returns how many rows changed."""
    rows = Notification.objects.filter(channel="sms", status__in=("sent", "sending", "timeout"))
    if reference.startswith("n") and reference[1:].isdigit():
        rows = rows.filter(pk=int(reference[1:]))
    elif provider_id:
        rows = rows.filter(provider_id=provider_id[:64])
    else:
        return 0
    changes = {"status": "delivered" if delivered else "undelivered", "error": "" if delivered else error[:200]}
    if provider_id:
        changes["provider_id"] = provider_id[:64]
    changed = rows.filter(sent_at__isnull=False).update(**changes)
    return changed + rows.filter(sent_at__isnull=True).update(**changes, sent_at=now())


def inbox(member):
    return Notification.objects.filter(member=member, channel="inbox").order_by("-created_at")


def mark_read(*, member, notification_id) -> int:
    return Notification.objects.filter(member=member, pk=notification_id, read_at__isnull=True).update(read_at=now())
