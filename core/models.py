"""The ground floor's tables: the transactional outbox, sign-in lockouts and the workers' heartbeat.
They were membership's and portal's; their tables keep those names (core/migrations/0001 moved only
Django's state: nothing in the database changed)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.db_functions import CurrentTransactionId


class LoginThrottle(models.Model):
    """Failed member sign-ins counted per key ("phone:<number>" or "ip:<address>") in the database,
    so every web process sees the same count; `locked_until` refuses sign-in while it lasts."""

    key = models.CharField(max_length=60, unique=True)
    failures = models.PositiveSmallIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in throttle")
        verbose_name_plural = _("sign-in throttles")
        db_table = "membership_loginthrottle"


class OutboxEvent(models.Model):
    """A domain event, written in the transaction of the change it reports (the transactional
    outbox): it exists exactly when the change committed. The relay (core.outbox) hands it
    to its receivers after commit and marks it sent; a broker outage leaves it pending, never lost."""

    id = models.UUIDField(primary_key=True)  # the event id consumers deduplicate on
    type = models.CharField(max_length=60)  # stable name, e.g. "purchase.recorded"
    occurred_at = models.DateTimeField()
    payload = models.JSONField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # the consumers (their `outbox.once` names) the receivers queued work for when the event was
    # handed over, whose receipt is still to be seen; null once each has one (or nothing was queued)
    awaiting = models.JSONField(null=True, blank=True)
    # the inserting transaction's id (PostgreSQL; null elsewhere and on rows of earlier releases): the
    # event feed's order (core.events)
    txid = models.BigIntegerField(null=True, editable=False, db_default=CurrentTransactionId())

    class Meta:
        db_table = "membership_outboxevent"
        indexes = [
            # the event feed's order (core.events.page)
            models.Index(
                fields=["txid", "occurred_at", "id"], condition=models.Q(txid__isnull=False), name="outbox_feed"
            ),
            # the relay's queue; the daily purge reads the (small, purged) table without an index
            models.Index(fields=["occurred_at"], condition=models.Q(sent_at__isnull=True), name="outbox_pending"),
            # the reconciler's: events handed over whose effects are not all confirmed yet
            models.Index(fields=["sent_at"], condition=models.Q(awaiting__isnull=False), name="outbox_awaiting"),
        ]

    def __str__(self):
        return f"{self.type} {self.id}"


class EventReceipt(models.Model):
    """A consumer has handled an event: written in the consumer's own transaction, so a
    redelivered event (at-least-once relay, acks_late redelivery) is handled once."""

    consumer = models.CharField(max_length=60)
    event_id = models.UUIDField()
    handled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "membership_eventreceipt"
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="event_receipt_once")]


class Heartbeat(models.Model):
    """One row per worker host name: proves that beat schedules reach a worker that runs them."""

    worker = models.CharField(_("worker"), max_length=200, unique=True)
    beats = models.PositiveBigIntegerField(_("beats"), default=0)
    last_beat_at = models.DateTimeField(_("last beat at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")
        db_table = "portal_heartbeat"

    def __str__(self):
        return f"{self.worker} @ {self.last_beat_at:%Y-%m-%d %H:%M:%S}"
