"""Merchant admin for campaigns: coupons, packages, scenes (with the audience size now, a dry run,
a run-now action and the results of A/B and holdout), the mall, rules; grants, coupons issued,
orders and notifications are records, read-only."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.clock import local, now
from core.errors import MembershipError
from core.history import ConfigHistoryAdmin
from membership.permissions import is_hq

from . import kinds
from .models import (
    BenefitPackage,
    CheckIn,
    Coupon,
    CouponTemplate,
    MallItem,
    MallOrder,
    Notification,
    ProgramRules,
    ReferralReward,
    Scene,
    SceneGrant,
)
from .services import config_check, coupons, mall, results, scenes


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CouponTemplate)
class CouponTemplateAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "value",
        "threshold",
        "valid_days",
        "valid_until",
        "issued",
        "total_quantity",
        "is_active",
    )
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")
    filter_horizontal = ("stores",)
    readonly_fields = ("issued",)


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = ("code", "template", "member", "status", "valid_until", "used_at", "used_store", "void_reason")
    list_filter = ("status", "template")
    search_fields = ("code", "member__phone", "member__member_no")
    list_select_related = ("template", "member", "used_store")
    actions = ["void_coupons"]

    def has_void_permission(self, request):
        return is_hq(request.user)

    @admin.action(description=_("Void the selected coupons (asks why)"), permissions=["void"])
    def void_coupons(self, request, queryset):
        """First the page that asks why; its form posts back here with the reason."""
        available = queryset.filter(status=Coupon.Status.AVAILABLE)
        if "reason" in request.POST:
            try:
                voided = coupons.void(
                    coupon_ids=queryset.values_list("pk", flat=True),
                    reason=request.POST["reason"],
                    acting_user=request.user,
                )
            except MembershipError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(n)s coupons voided; %(left)s used, expired or already void were left as they are.")
                    % {"n": len(voided), "left": queryset.count() - len(voided)},
                    messages.SUCCESS,
                )
                return None
        return TemplateResponse(
            request,
            "admin/campaigns/coupon/void.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "coupons": available.select_related("member", "template")[:200],
                "selected": queryset.values_list("pk", flat=True),
                "skipped": queryset.count() - available.count(),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "title": _("Void coupons"),
            },
        )


@admin.register(BenefitPackage)
class BenefitPackageAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = ("name", "bonus_points", "multiplier", "mall_item", "cost_per_grant")
    filter_horizontal = ("coupons",)


@admin.register(Scene)
class SceneAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = (
        "name",
        "kind",
        "is_active",
        "claim_mode",
        "granted",
        "budget_grants",
        "holdout_percent",
        "problem",
        "links",
    )
    list_filter = ("kind", "is_active", "claim_mode")
    search_fields = ("name",)
    filter_horizontal = ("tiers", "tags", "stores")
    readonly_fields = ("granted", "points_granted", "audience_now", "last_error", "last_error_at")
    change_form_template = "admin/campaigns/scene/change_form.html"
    actions = ["run_now"]
    fieldsets = (
        (None, {"fields": ("name", "kind", "is_active", "starts_on", "ends_on", "last_error", "last_error_at")}),
        (
            _("When"),
            {
                "fields": kinds.WHEN_FIELDS,
                "description": _("Only the fields the chosen kind uses are shown."),
            },
        ),
        (
            _("Who"),
            {
                "fields": (
                    "tiers",
                    "tags",
                    "stores",
                    "birthday_gift_tiers",
                    "consent_required",
                    "audience_segment",
                    "preferred_category",
                    "audience_now",
                )
            },
        ),
        (_("What"), {"fields": ("package", "package_b", "holdout_percent", "claim_mode", "claim_valid_days")}),
        (_("Limits"), {"fields": ("budget_grants", "budget_points", "granted", "points_granted")}),
        (_("Message"), {"fields": ("channel", "message_title", "message_body", "sms_template", "wechat_template")}),
    )

    @admin.display(description=_("problem"))
    def problem(self, obj):
        if not obj.last_error:
            return ""
        return format_html('<strong style="color:#cf222e" title="{}">⚠ {}</strong>', obj.last_error, _("skipped"))

    def changelist_view(self, request, extra_context=None):
        failing = list(Scene.objects.exclude(last_error="").values_list("name", flat=True)[:10])
        if failing:
            messages.warning(
                request,
                _("These scenes failed and were skipped: %(names)s. Open each to see why and correct it.")
                % {"names": "、".join(failing)},
            )
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, *args, **kwargs):
        context["scene_kinds"] = {
            code: {"fields": list(kind.fields), "help": {name: str(text) for name, text in kind.help.items()}}
            for code, kind in kinds.KINDS.items()
        }
        context["when_fields"] = list(kinds.WHEN_FIELDS)
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description=_("audience now"))
    def audience_now(self, obj):
        return scenes.audience(obj).count() if obj.pk else "—"

    @admin.display(description=_("today"))
    def links(self, obj):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:campaigns_scene_dry_run", args=[obj.pk]),
            _("dry run"),
            reverse("admin:campaigns_scene_results", args=[obj.pk]),
            _("results"),
        )

    def get_urls(self):
        return [
            path("<int:pk>/dry-run/", self.admin_site.admin_view(self.dry_run_view), name="campaigns_scene_dry_run"),
            path("<int:pk>/results/", self.admin_site.admin_view(self.results_view), name="campaigns_scene_results"),
            path("check/", self.admin_site.admin_view(self.config_check_view), name="campaigns_config_check"),
        ] + super().get_urls()

    def config_check_view(self, request):
        """HQ's page of `manage.py check_config`: what to mend in the programme's configuration."""
        if not is_hq(request.user):
            raise PermissionDenied
        found = config_check.problems()
        return TemplateResponse(
            request,
            "admin/campaigns/scene/config_check.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "problems": found,
                "errors": config_check.errors(found),
                "title": _("Configuration check"),
            },
        )

    def dry_run_view(self, request, pk):
        scene = get_object_or_404(Scene, pk=pk)
        result = scenes.run_scene(scene, dry_run=True)
        return TemplateResponse(
            request,
            "admin/campaigns/scene/dry_run.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "scene": scene,
                "result": result,
                "today": local(now()).date(),
                "audience": scenes.audience(scene).count(),
                "title": _("Who would get what today: %(name)s") % {"name": scene.name},
            },
        )

    def results_view(self, request, pk):
        scene = get_object_or_404(Scene, pk=pk)
        days = int(request.GET.get("days", 30)) if request.GET.get("days", "30").isdigit() else 30
        return TemplateResponse(
            request,
            "admin/campaigns/scene/results.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "scene": scene,
                "days": days,
                "rows": results.scene_results(scene, days=days),
                "low_usage": results.LOW_USAGE * 100,
                "grants": SceneGrant.objects.filter(scene=scene).select_related("member").order_by("-created_at")[:50],
                "messages": results.message_counts(scene),
                "title": _("Results: %(name)s") % {"name": scene.name},
            },
        )

    @admin.action(description=_("Run the selected scenes for today now"))
    def run_now(self, request, queryset):
        for scene in queryset:
            r = scenes.run_scene(scene)
            self.message_user(
                request,
                _("%(scene)s: %(granted)s granted, %(held)s held out, %(over)s over budget.")
                % {"scene": scene.name, "granted": r.granted, "held": r.held_out, "over": r.over_budget},
                messages.SUCCESS,
            )


@admin.register(SceneGrant)
class SceneGrantAdmin(ReadOnlyAdmin):
    list_display = ("scene", "member", "occurrence", "variant", "status", "points", "created_at", "claimed_at")
    list_filter = ("scene", "variant", "status")
    search_fields = ("member__phone", "member__member_no")
    list_select_related = ("scene", "member")


@admin.register(MallItem)
class MallItemAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    list_display = ("code", "name", "points_price", "cash_price", "stock", "per_member_limit", "is_active", "sort")
    list_editable = ("is_active", "sort")
    filter_horizontal = ("tiers",)
    search_fields = ("code", "name")


@admin.register(MallOrder)
class MallOrderAdmin(ReadOnlyAdmin):
    list_display = ("order_no", "member", "item", "qty", "points_spent", "status", "created_at", "fulfilled_store")
    list_filter = ("status", "item")
    search_fields = ("order_no", "pickup_code", "member__phone")
    list_select_related = ("member", "item", "fulfilled_store")
    actions = ["cancel_orders"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)

    @admin.action(description=_("Cancel the selected orders (points and stock go back)"))
    def cancel_orders(self, request, queryset):
        done = 0
        for order in queryset:
            try:
                mall.cancel(order=order, acting_user=request.user)
                done += 1
            except MembershipError as exc:
                self.message_user(request, f"{order.order_no}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, _("%(n)s orders cancelled.") % {"n": done}, messages.SUCCESS)


@admin.register(ProgramRules)
class ProgramRulesAdmin(ConfigHistoryAdmin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return redirect("admin:campaigns_programrules_change", ProgramRules.load().pk)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = (
        "member",
        "channel",
        "title",
        "status",
        "marketing",
        "scene",
        "created_at",
        "deliver_after",
        "sent_at",
        "provider_id",
        "error",
        "read_at",
    )
    list_filter = ("status", "channel", "marketing", "scene")
    search_fields = ("member__phone", "title", "provider_id")
    list_select_related = ("member", "scene")


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = ("member", "day", "streak", "points")
    date_hierarchy = "day"


@admin.register(ReferralReward)
class ReferralRewardAdmin(ReadOnlyAdmin):
    list_display = ("inviter", "invited", "points", "purchase_ref", "created_at", "reversed_at")
    list_filter = (("reversed_at", admin.EmptyFieldListFilter),)
