from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from . import tasks  # noqa: F401  (registers the nightly beat schedule)
        from .services import rfm

        rfm.register_segments()  # "rfm:high_value", "lifecycle:active", … for campaign scenes
