"""Member migration jobs (large files imported in the background), and the adjustments waiting for a
manager that sat in the same section of the old models.py."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .ledgers import PointsEntry
from .members import Member
from .stores import Store, User


class MemberImportJob(models.Model):
    """A member file imported by a Celery worker (membership/migration/jobs.py). The progress and
    the reconciliation live here, so the admin page shows them again after a reload."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file = models.FileField(_("file"), upload_to="member-imports/")
    dry_run = models.BooleanField(
        _("dry run"), default=True, help_text=_("Check the file and show what would be written; write nothing.")
    )
    skip_bad_rows = models.BooleanField(_("skip rows with errors"), default=False)
    tier_floor_until = models.DateField(
        _("keep the file's tiers until"),
        null=True,
        blank=True,
        help_text=_(
            "Tiers given in the file are kept as a floor until this date; without it, the tier is "
            "computed from the growth value."
        ),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows in the file"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows processed"), default=0)
    result = models.JSONField(_("reconciliation"), default=dict, blank=True)
    created_by = models.ForeignKey(
        User, verbose_name=_("started by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("member import")
        verbose_name_plural = _("member imports")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.file.name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.rows_done / self.rows_total))


class AdjustmentRequest(models.Model):
    """A clerk's manual point adjustment above the program's limit, waiting for a store manager."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a manager")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+")
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=200)
    requested_by = models.ForeignKey(User, verbose_name=_("asked by"), on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("time"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        User, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    entry = models.ForeignKey(PointsEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("adjustment waiting for approval")
        verbose_name_plural = _("adjustments waiting for approval")
        indexes = [models.Index(fields=["store", "status"])]
