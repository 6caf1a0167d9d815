from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    """The chain's other systems' channel (../shared/spec/events.md): the event feed they follow and
    the webhooks pushed to them."""

    name = "integrations"
    verbose_name = _("Integrations")
