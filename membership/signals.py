"""Events membership tells the other apps about.

Each event is a row of the transactional outbox (`core.outbox`), written in the transaction
of the change, with a stable type, a UUID, a time and a JSON payload. After commit the relay sends
the signal below with `event_id` plus the payload (JSON values: ids, strings, numbers) to the
receivers the consuming apps connect in their AppConfig.ready(); a broker outage leaves the row
pending and the relay's beat schedule delivers it later. Receivers (and the tasks they queue) must
be idempotent on `event_id`: an event can be delivered more than once, never zero times.
"""

from django.dispatch import Signal

from core import outbox

member_enrolled = Signal()  # event_id, member_id
tier_changed = Signal()  # event_id, member_id, from_tier_id, to_tier_id, reason
purchase_recorded = Signal()  # event_id, purchase_id, member_id, referred
points_expiring = Signal()  # event_id, member_id, points, expires_at (ISO 8601)
return_recorded = Signal()  # event_id, return_id, purchase_id, member_id, amount (string)
# published only (events.md's catalogue: `data` is the payload; no receiver in the portal yet)
member_merged = Signal()  # event_id, member_id, merged_member_id
member_closed = Signal()  # event_id, member_id
points_adjusted = Signal()  # event_id, member_id, entry_id
points_expired = Signal()  # event_id, member_id
stored_value_topped_up = Signal()  # event_id, member_id, entry_id
stored_value_refunded = Signal()  # event_id, member_id, entry_id, topup_id
paid_card_purchased = Signal()  # event_id, member_id, paid_card_id

# the stable event types of the outbox (webhooks will publish these names), registered with the
# outbox's event-type registry (core.outbox) when this module is imported (MembershipConfig.ready)
for _name, _signal in {
    "member.enrolled": member_enrolled,
    "member.tier_changed": tier_changed,
    "purchase.recorded": purchase_recorded,
    "points.expiring": points_expiring,
    "return.recorded": return_recorded,
    "member.merged": member_merged,
    "member.closed": member_closed,
    "points.adjusted": points_adjusted,
    "points.expired": points_expired,
    "stored_value.topped_up": stored_value_topped_up,
    "stored_value.refunded": stored_value_refunded,
    "paid_card.purchased": paid_card_purchased,
}.items():
    outbox.register_event(_name, _signal)


def end_tokens_on_password_change(sender, instance, **kwargs):
    """post_save of a staff user: a password set since the last save (set_password keeps the raw
    value in `_password` until the save) ends the user's API tokens, as it ends their sessions."""
    if getattr(instance, "_password", None) is not None:
        from rest_framework.authtoken.models import Token

        Token.objects.filter(user=instance).delete()
