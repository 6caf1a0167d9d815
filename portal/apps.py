from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self):
        from . import admin_labels, checks, tasks  # noqa: F401  (system checks; default schedules)

        admin_labels.install()  # third-party admins in the user's language (issue 31)
