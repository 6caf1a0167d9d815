"""Analytics in admin: the settings row (windows and thresholds), the roll-up runs and the campaign
alerts of the campaign watch (read-only)."""

from django.contrib import admin

from portal.history import ConfigHistoryAdmin

from .models import AnalyticsSettings, CampaignAlert, RollupRun


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
