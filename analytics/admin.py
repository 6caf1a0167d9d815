"""Analytics in admin: the settings row (windows and thresholds), the roll-up runs and the campaign
alerts of the campaign watch (read-only), and the monthly targets (edited here or imported from a
spreadsheet)."""

from django.contrib import admin
from import_export.admin import ImportExportMixin

from core import spreadsheets
from core.history import ConfigHistoryAdmin

from .models import AnalyticsSettings, CampaignAlert, RollupRun, Target
from .resources import TargetResource


@admin.register(AnalyticsSettings)
class AnalyticsSettingsAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "active_days",
        "silent_days",
        "rfm_window_days",
        "low_usage_threshold",
        "attribution_days",
        "watch_idle_days",
        "watch_pace_days",
    )

    def has_add_permission(self, request):
        return not AnalyticsSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RollupRun)
class RollupRunAdmin(admin.ModelAdmin):
    list_display = ("kind", "day", "rows", "seconds", "finished_at")
    list_filter = ("kind",)
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CampaignAlert)
class CampaignAlertAdmin(admin.ModelAdmin):
    """HQ's list of campaign alerts (计划异常提醒): open ones first; the daily watch opens and closes them."""

    list_display = ("scene", "kind", "detail", "raised_on", "checked_on", "closed_on")
    list_filter = ("kind", ("closed_on", admin.EmptyFieldListFilter))
    search_fields = ("scene__name",)
    date_hierarchy = "raised_on"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Target)
class TargetAdmin(spreadsheets.ReadsUploads, ImportExportMixin, admin.ModelAdmin):
    """Monthly targets per store or region (issue 20): new members, member net sales, repurchase rate.
    A region without its own target has the sum of its stores' (analytics.selectors.effective_targets)."""

    resource_classes = [TargetResource]
    export_formats = [spreadsheets.CSV, spreadsheets.XLSX]
    list_display = ("month", "store", "new_members", "member_sales", "repurchase_rate")
    list_filter = ("month", "store")
    list_select_related = ("store",)
    autocomplete_fields = ("store",)
    date_hierarchy = "month"
