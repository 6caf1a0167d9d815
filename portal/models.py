from django.db import models
from django.utils.translation import gettext_lazy as _


class Heartbeat(models.Model):
    """One row per worker host name: proves that beat schedules reach a worker that runs them."""

    worker = models.CharField(_("worker"), max_length=200, unique=True)
    beats = models.PositiveBigIntegerField(_("beats"), default=0)
    last_beat_at = models.DateTimeField(_("last beat at"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self):
        return f"{self.worker} @ {self.last_beat_at:%Y-%m-%d %H:%M:%S}"
