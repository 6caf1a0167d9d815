from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """The ground floor: imports only Django and libraries; every other app stands on it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from .schedules import install_default_schedules

        # after every migrate, the beat schedules the apps registered and the database lacks
        post_migrate.connect(install_default_schedules, sender=self)
