from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PosConfig(AppConfig):
    name = "pos"
    verbose_name = _("Counter")

    def ready(self):
        from membership import hooks

        from . import tasks  # noqa: F401  (registers the daily housekeeping schedule)
        from .services import members

        hooks.register_merge_mover(members.move)
