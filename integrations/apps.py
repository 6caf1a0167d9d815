from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """The chain's other systems' channel (../shared/spec/events.md): the event feed they follow and
    the webhooks pushed to them (fanned out by following the same feed: integrations/webhooks.py)."""

    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self):
        from core import metrics

        from . import (
            tasks,  # noqa: F401  (registers the beat schedules)
            webhooks,
        )

        metrics.on_scrape(webhooks.update_gauges)
