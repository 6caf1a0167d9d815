"""Webhook endpoints of the chain's other systems and what was sent to them (events.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookEndpoint(models.Model):
    """A URL HQ registered for some event types (or all: "*"). Its signing secret is kept encrypted
    (integrations.secrets): a database dump alone does not reveal it. After a rotation the previous
    secret signs beside the new one until `previous_until`."""

    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("event types"), help_text=_('Event types, or ["*"] for all.'))
    description = models.CharField(_("description"), max_length=200, blank=True, default="")
    active = models.BooleanField(_("active"), default=True)
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(editable=False, blank=True, default="")
    previous_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        "membership.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by")
    )
    # the first failure since the last delivery; failing for WEBHOOK_DISABLE_AFTER_DAYS disables it
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["pk"]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One event for one endpoint: tried until a 2xx answer, on the retry schedule, then failed."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    event_id = models.UUIDField(_("event"))
    event_type = models.CharField(_("event type"), max_length=60)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # when it may be sent (again); a worker taking it moves this forward by a lease first, so a worker
    # that dies mid-request leaves it to be taken again
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="webhook_delivery_due"),
        ]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """Each try of a delivery: what the endpoint answered, or the error."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="tries", verbose_name=_("delivery")
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    at = models.DateTimeField(_("time"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True, default="")
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["-at"]

    def __str__(self):
        return f"{self.delivery} #{self.number}"


class FeedPosition(models.Model):
    """Where a follower of the event feed inside the portal stands (the webhooks' fan-out): its
    cursor, moved in the transaction that acts on the events it passes, so each is acted on once."""

    follower = models.CharField(max_length=60, unique=True)
    cursor = models.TextField(blank=True, default="")
    moved_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.follower
