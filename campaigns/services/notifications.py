"""Notifications through a channel interface (channels.py): on-site inbox, e-mail (Django's e-mail
backends), SMS (core.sms: console, Alibaba Cloud, Tencent Cloud) and WeChat (core.wechat). Every
message is a row; marketing messages go only
to members who agreed to receive them.

Whether and when a message goes out is decided here, in the caller's transaction; the channel is
called after commit, outside any lock, exactly once:

- `notify()` records the row. An inbox message is the row itself (sent when it commits). Any other
  channel is "queued" with a "notification.queued" job in the transactional outbox (core.outbox),
  so a rollback sends nothing and a grant never waits on a gateway. A marketing message beyond the
  member's frequency cap is "capped"; an SMS or WeChat marketing message in quiet hours is "held"
  until they end (`deliver_after`), then `release_held()` (beat) queues it.
- `deliver()` (the job's Celery task, inside `outbox.once`) claims the row queued → sending with a
  conditional UPDATE, calls the channel (`_deliver`, the only call) and copies its answer onto the
  row. A redelivered job finds nothing to claim; a channel that raises leaves the row "failed" with
  its error. A worker killed while the channel answers leaves "sending": it is never sent twice.
- One-time codes (core.sms through membership's otp) do not come here: they are sent at once.
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.dispatch import Signal

from core import outbox
from core.clock import local, now, tz
from membership import config

from ..models import Notification
from . import channels
from .channels import Delivery

log = logging.getLogger(__name__)

Status = Notification.Status
JOB = "notification.queued"  # outbox job type: payload {"notification_id"}
notification_queued = Signal()  # notification_id, event_id (campaigns/apps.py queues the task)
CONSUMER = "campaigns.deliver_notification"  # its receipt (outbox.once): the outbox awaits it
QUIET_CHANNELS = ("sms", "wechat")  # held in quiet hours; the inbox and e-mail are read when one likes
UNCAPPED_CHANNELS = ("inbox",)  # the inbox is neither held nor capped nor counted
COUNTED = (Status.QUEUED, Status.SENDING, Status.HELD, Status.SENT)  # what the cap counts


class _Fields(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def render(text: str, **fields) -> str:
    """Fill {name}, {tier}, {points}, {scene} … ; unknown placeholders stay as they are."""
    return (text or "").format_map(_Fields(**fields))


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
    claimed: bool = False,
    template: str = "",
    params: dict | None = None,
) -> Delivery:
    """Send one message by its channel (channels.py) and answer what happened.

    With `notification` (its row, already saved) the send happens at most once: the row is claimed
    ("sending") before the provider is called and the outcome written on it, so a retried task, a
    second worker or a redelivered event finds it sent, in flight or timed out and sends nothing,
    answering what the row records; a rejected or failed row may be tried again. Call it outside a
    transaction, so the claim is committed before the provider is called; `claimed` says the caller
    has claimed the row already (the outbox job, `deliver`). `template` ("CODE:var=field,…")
    overrides the scene's; `params` adds fields for the template (e.g. points)."""
    adapter = channels.get(channel)
    if adapter is None:
        return Delivery("skipped")
    if notification is not None:
        claimed = claimed or (
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
        delivery = Delivery("failed", error=f"{type(exc).__name__}: {exc}"[:200])
    if notification is not None:
        # only over our own claim: a delivery receipt that arrived first has said more
        Notification.objects.filter(pk=notification.pk, status="sending").update(
            status=delivery.status,
            provider_id=delivery.provider_id[:64],
            error=delivery.error[:200],
            sent_at=now() if delivery.status == "sent" else None,
        )
    return delivery


def quiet_until(at: datetime, program=None) -> datetime | None:
    """The end of the quiet hours `at` falls in (local time of the program), or None outside them.
    The window starts at `quiet_hours_start` (included) and ends at `quiet_hours_end` (excluded);
    it may cross midnight (21:00–09:00). The same time in both: no quiet hours."""
    program = program or config.program()
    start, end = program.quiet_hours_start, program.quiet_hours_end
    if start == end:
        return None
    here = local(at)
    clock = here.time()
    if start < end:
        inside = start <= clock < end
    else:
        inside = clock >= start or clock < end
    if not inside:
        return None
    day = here.date() if clock < end else here.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz())


def over_cap(member, at: datetime, program=None) -> bool:
    """Whether the member already had the program's number of marketing messages (sent, on their
    way or held; not the inbox) within its days before `at`."""
    program = program or config.program()
    if not program.message_cap:
        return False
    recent = Notification.objects.filter(
        member=member,
        marketing=True,
        status__in=COUNTED,
        created_at__gt=at - timedelta(days=program.message_cap_days),
        created_at__lte=at,
    ).exclude(channel__in=UNCAPPED_CHANNELS)
    return recent.count() >= program.message_cap


def _decide(member, channel: str, marketing: bool, at: datetime) -> tuple[str, datetime | None]:
    """(status, deliver_after) of a new message."""
    if channel in UNCAPPED_CHANNELS:
        return Status.SENT, None  # the row is the message: it is there when the caller commits
    if not marketing:
        return Status.QUEUED, None
    if not member.marketing_consent:
        return Status.NO_CONSENT, None
    program = config.program()
    if over_cap(member, at, program):
        return Status.CAPPED, None
    if channel in QUIET_CHANNELS and (until := quiet_until(at, program)):
        return Status.HELD, until
    return Status.QUEUED, None


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
    """Record one message in the caller's transaction; it is sent after commit (see the module).
    Marketing without consent is recorded as not sent, beyond the cap as capped, in quiet hours as
    held; the same dedupe key records once. Never calls a channel and never raises a channel's error."""
    if not channel:
        return None
    at = at or now()
    if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    status, deliver_after = _decide(member, channel, marketing, at)
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                member=member,
                channel=channel,
                title=title[:100],
                body=body,
                scene=scene,
                status=status,
                marketing=marketing,
                created_at=at,
                deliver_after=deliver_after,
                sent_at=at if status == Status.SENT else None,
                dedupe_key=dedupe_key,
            )
            if status == Status.QUEUED:
                outbox.record(JOB, {"notification_id": note.pk})
    except IntegrityError:
        return None
    return note


def claim(notification_id: int) -> bool:
    """queued → sending, if it still is queued: the one who claims it is the one who sends it."""
    return bool(Notification.objects.filter(pk=notification_id, status=Status.QUEUED).update(status=Status.SENDING))


def send_claimed(notification_id: int) -> str:
    """Call the channel for a claimed row (outside any transaction) and record its answer (which
    `_deliver` has done already, over the same claim, unless it raised)."""
    note = Notification.objects.select_related("member", "scene").get(pk=notification_id)
    try:
        delivery = _deliver(note.member, note.channel, note.title, note.body, notification=note, claimed=True)
    except Exception as exc:  # a gateway failure is recorded, never raised
        log.warning("notification %s to member %s by %s failed: %s", note.pk, note.member_id, note.channel, exc)
        delivery = Delivery(Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    Notification.objects.filter(pk=note.pk, status=Status.SENDING).update(
        status=delivery.status,
        sent_at=now() if delivery.status == Status.SENT else None,
        provider_id=(delivery.provider_id or "")[:64],
        error=(delivery.error or "")[:200],
    )
    return delivery.status


def deliver(notification_id: int, event_id=None) -> str | None:
    """The outbox job: claim once (with the event's receipt), then send outside the transaction.
    Returns the channel's status, or None when there was nothing to send (already claimed)."""
    with outbox.once(CONSUMER, event_id) as first:
        claimed = first and claim(notification_id)
    return send_claimed(notification_id) if claimed else None


def release_held(*, at: datetime | None = None, batch_size: int = 500) -> int:
    """Queue the held messages whose quiet hours are over (beat, every few minutes). A member who
    withdrew consent meanwhile is not sent the message. Returns how many were queued."""
    at = at or now()
    released = 0
    while True:
        with transaction.atomic():
            rows = list(
                Notification.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Status.HELD, deliver_after__lte=at)
                .order_by("deliver_after", "pk")
                .values_list("pk", "member__marketing_consent")[:batch_size]
            )
            if not rows:
                return released
            ids = [pk for pk, consent in rows if consent]
            Notification.objects.filter(pk__in=[pk for pk, consent in rows if not consent]).update(
                status=Status.NO_CONSENT
            )
            Notification.objects.filter(pk__in=ids).update(status=Status.QUEUED)
            outbox.record_many(JOB, [{"notification_id": pk} for pk in ids])
        released += len(ids)


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


def mark_read(*, member, notification_id) -> int:
    """The member opened their message: stamp when, the first time only; returns the rows changed."""
    return Notification.objects.filter(member=member, pk=notification_id, read_at__isnull=True).update(read_at=now())
