"""Events membership tells the other apps about.

Each event is a row of the transactional outbox (`core.outbox`), written in the transaction
of the change, with a stable type, a UUID, a time and a JSON payload. After commit the relay sends
the signal below with `event_id` plus the payload (JSON values: ids, strings, numbers) to the
receivers the consuming apps connect in their AppConfig.ready(); a broker outage leaves the row
pending and the relay's beat schedule delivers it later. Receivers (and the tasks they queue) must
be idempotent on `event_id`: an event can be delivered more than once, never zero times.
"""

from django.dispatch import Signal

member_enrolled = Signal()  # event_id, member_id
tier_changed = Signal()  # event_id, member_id, from_tier_id, to_tier_id, reason
purchase_recorded = Signal()  # event_id, purchase_id, member_id, referred
points_expiring = Signal()  # event_id, member_id, points, expires_at (ISO 8601)
return_recorded = Signal()  # event_id, return_id, purchase_id, member_id, amount (string)

# the stable event types of the outbox (webhooks will publish these names)
EVENT_TYPES = {
    "member.enrolled": member_enrolled,
    "member.tier_changed": tier_changed,
    "purchase.recorded": purchase_recorded,
    "points.expiring": points_expiring,
    "return.recorded": return_recorded,
}
_TYPE_OF = {id(signal): name for name, signal in EVENT_TYPES.items()}

# Internal jobs that ride the outbox for its guarantee (the row exists exactly when the caller's
# transaction committed; delivered at least once) but are not domain events: webhooks do not
# publish them. Other apps register theirs at start-up (campaigns: "notification.queued").
JOB_TYPES: dict[str, Signal] = {}


def register_job(job_type: str, signal: Signal) -> None:
    JOB_TYPES[job_type] = signal


def signal_for(event_type: str) -> Signal:
    """The signal an outbox row of this type is delivered to."""
    return EVENT_TYPES.get(event_type) or JOB_TYPES[event_type]


def event_type(signal: Signal) -> str:
    return _TYPE_OF[id(signal)]


def send_after_commit(signal: Signal, **payload) -> None:
    """Record the event in the caller's transaction (an outbox row); its receivers get it after
    commit, at least once, even if the broker or the process fails in between."""
    from core import outbox

    outbox.record(event_type(signal), payload)


def send_all_after_commit(signal: Signal, payloads) -> None:
    """The same for many events of one kind at once (one INSERT)."""
    from core import outbox

    outbox.record_many(event_type(signal), payloads)


def end_tokens_on_password_change(sender, instance, **kwargs):
    """post_save of a staff user: a password set since the last save (set_password keeps the raw
    value in `_password` until the save) ends the user's API tokens, as it ends their sessions."""
    if getattr(instance, "_password", None) is not None:
        from rest_framework.authtoken.models import Token

        Token.objects.filter(user=instance).delete()
