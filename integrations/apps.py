from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """The chain's other systems' channel (../shared/spec/events.md): the event feed they follow and
    the webhooks pushed to them."""

    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from core import metrics, outbox

        from . import tasks, webhooks
        from .models import WebhookEndpoint

        for signal in set(outbox.EVENT_TYPES.values()):
            signal.connect(_published, weak=False, dispatch_uid=f"integrations.webhooks.{id(signal)}")
        for changed in (post_save, post_delete):
            changed.connect(webhooks.forget_subscriptions, sender=WebhookEndpoint, dispatch_uid=f"webhooks.{changed}")
        metrics.on_scrape(webhooks.update_gauges)
        assert tasks  # registers the schedule


def _published(signal, event_id=None, data=None, **kwargs) -> str | None:
    """A published event after its commit: fanned out to the endpoints that want it, by a task (one
    message; nothing when no active endpoint wants this type)."""
    from core import outbox

    from . import tasks, webhooks

    if data is None or event_id is None:
        return None
    wanted = webhooks.subscribed_types()
    if "*" not in wanted and outbox.event_type(signal) not in wanted:
        return None
    tasks.fan_out.delay(event_id)
    return webhooks.CONSUMER
