"""Analytics in admin: the settings row (windows and thresholds) and the roll-up runs (read-only)."""

from django.contrib import admin

from portal.history import ConfigHistoryAdmin

from .models import AnalyticsSettings, RollupRun


@admin.register(AnalyticsSettings)
class AnalyticsSettingsAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "active_days",
        "silent_days",
        "rfm_window_days",
        "low_usage_threshold",
        "attribution_days",
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
