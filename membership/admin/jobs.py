"""Member imports in the background (large files; membership/migration/jobs.py, tasks.import_members)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import MemberImportJob
from ..permissions import can_configure


@admin.register(MemberImportJob)
class MemberImportJobAdmin(admin.ModelAdmin):
    """Upload a member file; a Celery worker imports it while this page shows a progress bar. The
    progress and the reconciliation are stored on the job, so a reload shows them again."""

    list_display = (
        "__str__",
        "dry_run",
        "skip_bad_rows",
        "status",
        "rows_done",
        "rows_total",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "dry_run")
    fields = ("file", "dry_run", "skip_bad_rows", "tier_floor_until")
    change_form_template = "admin/membership/memberimportjob/change_form.html"
    actions = ("import_for_real",)

    def has_module_permission(self, request):
        return can_configure(request.user)

    def has_view_permission(self, request, obj=None):
        return can_configure(request.user)

    def has_add_permission(self, request):
        return can_configure(request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "<int:pk>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="membership_memberimportjob_progress",
            ),
            *urls,
        ]

    def progress_view(self, request, pk):
        if not can_configure(request.user):
            raise PermissionDenied
        job = MemberImportJob.objects.filter(pk=pk).first()
        if job is None:
            raise PermissionDenied
        return JsonResponse(job_state(job))

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        super().save_model(request, obj, form, change)
        start_job(obj)

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:membership_memberimportjob_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["job"] = obj
            context["job_state"] = job_state(obj)
            context["progress_url"] = reverse("admin:membership_memberimportjob_progress", args=[obj.pk])
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.action(description=_("Import these checked files for real"))
    def import_for_real(self, request, queryset):
        started = 0
        for job in queryset.filter(dry_run=True, status=MemberImportJob.Status.DONE):
            again = MemberImportJob.objects.create(
                file=job.file.name,
                dry_run=False,
                skip_bad_rows=job.skip_bad_rows,
                tier_floor_until=job.tier_floor_until,
                created_by=request.user,
            )
            start_job(again)
            started += 1
        messages.info(
            request, ngettext("%(count)d import started.", "%(count)d imports started.", started) % {"count": started}
        )


def start_job(job) -> None:
    """Queue the job after commit; with the broker down it stays queued and the relay queues it again."""
    from ..tasks import enqueue_import

    transaction.on_commit(lambda: enqueue_import(job.pk))


def job_state(job) -> dict:
    return {
        "status": job.status,
        "status_display": str(job.get_status_display()),
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "percent": job.percent,
        "result": job.result,
        "finished": job.status in (MemberImportJob.Status.DONE, MemberImportJob.Status.FAILED),
    }
