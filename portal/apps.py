from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portal")

    def ready(self):
        from . import checks, tasks  # noqa: F401  (system checks; default schedules)
        from .schedules import install_default_schedules

        post_migrate.connect(install_default_schedules, sender=self)
