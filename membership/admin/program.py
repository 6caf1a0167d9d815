"""Program configuration: the merchant's settings, edited here directly; paid card purchases, read only."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.history import ConfigHistoryAdmin

from ..models import EarnMultiplier, EarnStage, PaidCard, PaidCardProduct, ProgramSettings, Tag, Tier, TopUpPlan


@admin.register(ProgramSettings)
class ProgramSettingsAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    """One row (pk 1): the list page opens it; it is never added or deleted."""

    fieldsets = (
        (
            _("Earning points"),
            {
                "fields": (
                    "earn_rate",
                    "per_sale_cap",
                    "per_day_cap",
                    "pending_days",
                    "profile_birthday_points",
                    "profile_gender_points",
                )
            },
        ),
        (_("Paying with points"), {"fields": ("redeem_points_per_yuan", "redeem_cap_percent")}),
        (_("Points expiry"), {"fields": ("expiry_policy", "expiry_months", "expiry_notice_days")}),
        (_("Tiers"), {"fields": ("tier_basis", "review_period", "review_window", "reset_growth_on_promotion")}),
        (_("Member price"), {"fields": ("birthday_month_discount",)}),
        (_("Stored value"), {"fields": ("stored_value_pay_order", "max_topup_amount")}),
        (_("Limits"), {"fields": ("adjustment_limit", "max_sale_amount", "api_token_days")}),
        (
            _("Marketing messages"),
            {"fields": ("quiet_hours_start", "quiet_hours_end", "message_cap", "message_cap_days")},
        ),
        (_("Tills without network"), {"fields": ("offline_sale_days", "offline_payments", "offline_payment_limit")}),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = ProgramSettings.load()
        return HttpResponseRedirect(
            reverse("admin:membership_programsettings_change", args=[row.pk], current_app=self.admin_site.name)
        )


@admin.register(Tier)
class TierAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = (
        "rank",
        "code",
        "name",
        "reach_growth",
        "keep_growth",
        "points_multiplier",
        "discount_rate",
        "monthly_coupons",
        "birthday_gift",
    )
    list_display_links = ("code", "name")
    ordering = ("rank",)
    search_fields = ("code", "name")
    fieldsets = (
        (None, {"fields": ("code", "name", "rank")}),
        (_("Growth value"), {"fields": ("reach_growth", "keep_growth", "instant_sale_amount")}),
        (
            _("Benefits"),
            {"fields": ("points_multiplier", "discount_rate", "monthly_coupons", "birthday_gift", "benefits")},
        ),
    )


@admin.register(EarnStage)
class EarnStageAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = ("from_amount", "rate")
    ordering = ("from_amount",)


@admin.register(EarnMultiplier)
class EarnMultiplierAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = ("kind", "key", "multiplier", "starts_on", "ends_on")
    list_filter = ("kind",)
    search_fields = ("key",)
    ordering = ("kind", "key", "starts_on")


class RecordsOnly:
    """Admin pages of rows only services write: listed and read, never added, changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PaidCardProduct)
class PaidCardProductAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "price",
        "points_price",
        "days",
        "points_multiplier",
        "discount_rate",
        "monthly_coupon_code",
        "is_active",
    )
    list_filter = ("is_active",)
    search_fields = ("code", "name")


@admin.register(PaidCard)
class PaidCardAdmin(RecordsOnly, admin.ModelAdmin):
    """Purchases are made at the counter or on the member pages (and refunded there by a manager)."""

    list_display = (
        "member",
        "product",
        "paid_amount",
        "paid_points",
        "starts_at",
        "ends_at",
        "refunded_at",
        "refund_amount",
        "refund_points",
        "store",
    )
    list_filter = ("product", "store")
    search_fields = ("member__member_no", "member__phone")
    list_select_related = ("member", "product", "store")
    raw_id_fields = ("member",)


@admin.register(TopUpPlan)
class TopUpPlanAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = ("code", "name", "pay_amount", "bonus_amount", "bonus_points", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    ordering = ("pay_amount",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    ordering = ("name",)
