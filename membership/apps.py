from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipConfig(AppConfig):
    name = "membership"
    verbose_name = _("Membership")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from . import config, signals, tasks  # noqa: F401  (tasks registers the default beat schedules)
        from .models import EarnStage, PaidCardProduct, ProgramSettings, Tier, User

        post_save.connect(signals.end_tokens_on_password_change, sender=User, dispatch_uid="tokens.password")
        for model in (ProgramSettings, Tier, EarnStage, PaidCardProduct):
            post_save.connect(config.clear, sender=model, dispatch_uid=f"config.clear.save.{model.__name__}")
            post_delete.connect(config.clear, sender=model, dispatch_uid=f"config.clear.delete.{model.__name__}")
