"""The merchant admin (HQ only: User.is_staff and has_perm follow permissions.can_configure).

- Configuration rows (program settings, tiers, staged rates, multipliers, top-up plans, tags) are
  the merchant's settings and are edited here directly.
- Members, cards and balances change only through the services: the member actions below call
  services.points.adjust, services.cards.replace, services.enrolment.merge and
  services.tiers.set_manual; imports call services.enrolment.enrol and services.cards.add_stock
  (membership/resources.py). A domain error becomes an admin error message and the action's
  transaction is rolled back, so nothing is half-written.
- Ledgers (points, stored value, growth, tier changes, purchases, returns, audit) are read-only:
  no add, change or delete, as admins or as inlines.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats

from core import spreadsheets
from core.errors import MembershipError, NotFound
from core.history import ConfigHistoryAdmin

from . import identity
from .forms import (
    AdjustPointsForm,
    MergeForm,
    ReplaceCardForm,
    ServiceConfirmImportForm,
    ServiceImportForm,
    SetTierForm,
    domain_message,
)
from .models import (
    AuditLog,
    Card,
    EarnMultiplier,
    EarnStage,
    GrowthEntry,
    Member,
    MemberImportJob,
    PaidCard,
    PaidCardProduct,
    PointsEntry,
    ProgramSettings,
    Purchase,
    PurchaseReturn,
    Store,
    StoredValueEntry,
    Tag,
    Tier,
    TierChange,
    TopUpPlan,
    User,
)
from .permissions import can_configure
from .resources import (
    CardExportResource,
    CardStockResource,
    MemberExportResource,
    MemberMigrationExportResource,
    MemberResource,
)
from .services import cards as card_service
from .services import enrolment, points, tiers

#: Actions act on at most this many members at once (each is a locked transaction of its own).
MAX_ACTION_MEMBERS = 200
#: The member page shows this many of the newest ledger entries; the ledger admins show them all.
LEDGER_INLINE_LIMIT = 50


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "parent", "is_active")
    list_filter = ("is_active", "parent")
    search_fields = ("code", "name")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "first_name", "store", "role", "is_active", "last_login")
    list_filter = ("role", "store", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (_("Store and role"), {"fields": ("store", "role", "is_active", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "store", "role", "password1", "password2")}),)


# ---------------------------------------------------------------------------------------
# Program configuration
# ---------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------
# Import and export through the services
# ---------------------------------------------------------------------------------------


class ServiceImportMixin(ImportExportMixin):
    """django-import-export, with the rows written by services (see resources.py) and the rule of
    product.md "What bad input gets": a file with a bad row imports nothing, unless the user ticked
    "skip rows with errors", in which case the valid rows are imported and the bad ones reported."""

    import_resource = None
    export_resource = None
    import_help = ""
    import_form_class = ServiceImportForm
    confirm_form_class = ServiceConfirmImportForm
    import_template_name = "admin/membership/import.html"
    import_formats = [base_formats.CSV, base_formats.XLSX]
    export_formats = [spreadsheets.CSV, spreadsheets.XLSX]  # formula cells escaped (core.spreadsheets)

    def get_import_resource_classes(self, request):
        return [self.import_resource]

    def get_import_context_data(self, **kwargs):
        return {**super().get_import_context_data(**kwargs), "import_help": self.import_help}

    extra_export_resources = ()

    def get_export_resource_classes(self, request):
        return [self.export_resource, *self.extra_export_resources]

    def has_import_permission(self, request):
        return can_configure(request.user)

    def has_export_permission(self, request):
        return can_configure(request.user)

    @staticmethod
    def _skips_invalid_rows(form) -> bool:
        return bool(form is not None and getattr(form, "cleaned_data", {}).get("skip_invalid_rows"))

    def get_import_data_kwargs(self, **kwargs):
        form = kwargs.pop("form", None)
        kwargs.pop("request", None)
        # a row that fails validation rolls the whole file back, unless bad rows are to be skipped
        kwargs["rollback_on_validation_errors"] = not self._skips_invalid_rows(form)
        return kwargs

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["skip_invalid_rows"] = self._skips_invalid_rows(import_form)
        return initial

    def import_action(self, request, **kwargs):
        """The upload and preview step (a dry run). Adds the row counts to the page and, when the user
        chose to skip bad rows, offers to confirm a file that has some valid rows."""
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        result = context.get("result")
        if result is not None:
            context["import_summary"] = import_summary(result)
            form = context.get("form")
            if (
                not context.get("confirm_form")
                and self._skips_invalid_rows(form)
                and not result.has_errors()
                and result.has_validation_errors()
                and import_summary(result)["valid"]
            ):
                context["confirm_form"] = self.create_confirm_form(request, import_form=form)
        return response

    def process_dataset(self, dataset, form, request, **kwargs):
        result = super().process_dataset(dataset, form, request, **kwargs)
        result.skipped_invalid_rows = self._skips_invalid_rows(form)
        return result

    def process_result(self, result, request):
        """After the confirmed import: report a rolled-back file as an error and go back to the upload
        page; otherwise the library's summary, plus the rows that were left out."""
        rolled_back = result.has_errors() or (
            result.has_validation_errors() and not getattr(result, "skipped_invalid_rows", False)
        )
        if rolled_back:
            messages.error(request, _("Nothing was imported. %(errors)s") % {"errors": describe_errors(result)})
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import", current_app=self.admin_site.name)
            )
        response = super().process_result(result, request)
        if result.invalid_rows:
            messages.warning(
                request,
                ngettext(
                    "%(count)d row with errors was left out. %(errors)s",
                    "%(count)d rows with errors were left out. %(errors)s",
                    len(result.invalid_rows),
                )
                % {"count": len(result.invalid_rows), "errors": describe_errors(result)},
            )
        return response


def import_summary(result) -> dict:
    invalid = len(result.invalid_rows) + len(result.row_errors())
    return {"total": result.total_rows, "invalid": invalid, "valid": max(0, result.total_rows - invalid)}


def describe_errors(result, limit: int = 5) -> str:
    """The first few errors of an import, line by line, for a message."""
    lines = [str(error.error) for error in result.base_errors]
    for row in result.invalid_rows:
        text = "; ".join(
            f"{field}: {' '.join(msgs)}" if field != NON_FIELD_ERRORS else " ".join(msgs)
            for field, msgs in row.error_dict.items()
        )
        lines.append(_("row %(row)s: %(errors)s") % {"row": row.number, "errors": text})
    for number, errors in result.row_errors():
        lines.append(_("row %(row)s: %(errors)s") % {"row": number, "errors": " ".join(str(e.error) for e in errors)})
    more = len(lines) - limit
    text = " · ".join(lines[:limit])
    if more > 0:
        text += " " + ngettext("(and %(count)d more)", "(and %(count)d more)", more) % {"count": more}
    return text


# ---------------------------------------------------------------------------------------
# Read-only ledgers
# ---------------------------------------------------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LatestEntriesFormSet(BaseInlineFormSet):
    """The newest entries first, at most LEDGER_INLINE_LIMIT of them (a member can have thousands)."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            self._queryset = super().get_queryset().order_by("-created_at", "-id")[:LEDGER_INLINE_LIMIT]
        return self._queryset


class CardInline(ReadOnlyInline):
    model = Card
    fk_name = "member"
    fields = ("number", "kind", "status", "batch", "bound_at", "blocked_at", "replaces")
    ordering = ("-bound_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("replaces")


class PointsEntryInline(ReadOnlyInline):
    model = PointsEntry
    formset = LatestEntriesFormSet
    verbose_name_plural = _("Points ledger (newest first, latest 50)")
    fields = (
        "amount",
        "kind",
        "source",
        "balance_after",
        "remaining",
        "expires_at",
        "store",
        "operator",
        "created_at",
        "reason",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("store", "operator")


class StoredValueEntryInline(ReadOnlyInline):
    model = StoredValueEntry
    formset = LatestEntriesFormSet
    fk_name = "member"
    verbose_name_plural = _("Stored-value ledger (newest first, latest 50)")
    fields = ("kind", "principal", "bonus", "principal_after", "bonus_after", "plan", "store", "operator", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan", "store", "operator")


class LedgerAdmin(admin.ModelAdmin):
    """Append-only: written by the services, never added, changed or deleted by hand.

    Big tables: newest first by primary key (indexed), filters only on choices and small tables,
    searches only on indexed columns."""

    show_full_result_count = False
    list_per_page = 50
    ordering = ("-id",)

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PointsEntry)
class PointsEntryAdmin(LedgerAdmin):
    list_display = (
        "created_at",
        "member",
        "amount",
        "kind",
        "source",
        "balance_after",
        "remaining",
        "expires_at",
        "store",
        "operator",
        "flagged",
    )
    list_filter = ("kind", "source", "flagged")
    search_fields = ("=member__member_no",)
    list_select_related = ("member", "store", "operator")


@admin.register(StoredValueEntry)
class StoredValueEntryAdmin(LedgerAdmin):
    list_display = (
        "created_at",
        "member",
        "kind",
        "principal",
        "bonus",
        "principal_after",
        "bonus_after",
        "plan",
        "store",
        "operator",
    )
    list_filter = ("kind",)
    search_fields = ("=member__member_no",)
    list_select_related = ("member", "plan", "store", "operator")


@admin.register(GrowthEntry)
class GrowthEntryAdmin(LedgerAdmin):
    list_display = ("created_at", "member", "amount", "purchase__reference")
    search_fields = ("=member__member_no",)
    list_select_related = ("member", "purchase")


@admin.register(TierChange)
class TierChangeAdmin(LedgerAdmin):
    list_display = ("created_at", "member", "from_tier", "to_tier", "reason", "note", "operator")
    list_filter = ("reason", "to_tier")
    search_fields = ("=member__member_no",)
    list_select_related = ("member", "from_tier", "to_tier", "operator")


@admin.register(Purchase)
class PurchaseAdmin(LedgerAdmin):
    list_display = (
        "created_at",
        "reference",
        "member",
        "store",
        "amount",
        "points_paid",
        "eligible_amount",
        "points_earned",
        "growth",
        "returned_amount",
    )
    list_filter = ("store",)
    search_fields = ("=reference", "=member__member_no")
    list_select_related = ("member", "store")


@admin.register(PurchaseReturn)
class PurchaseReturnAdmin(LedgerAdmin):
    list_display = (
        "created_at",
        "reference",
        "purchase__reference",
        "purchase__member",
        "store",
        "amount",
        "points_reversed",
        "points_refunded",
        "sv_refunded",
    )
    list_filter = ("store",)
    search_fields = ("=reference", "=purchase__reference", "=purchase__member__member_no")
    list_select_related = ("purchase__member", "store")


@admin.register(AuditLog)
class AuditLogAdmin(LedgerAdmin):
    list_display = ("created_at", "action", "member", "operator", "data")
    search_fields = ("=member__member_no",)
    list_select_related = ("member", "operator")


# ---------------------------------------------------------------------------------------
# Cards
# ---------------------------------------------------------------------------------------


@admin.register(Card)
class CardAdmin(RecordsOnly, ServiceImportMixin, admin.ModelAdmin):
    """Cards are issued, bound, blocked and replaced by services.cards; stock comes by import."""

    import_resource = CardStockResource
    export_resource = CardExportResource
    import_help = _(
        "One row per physical card: number (12 to 19 digits ending in a check digit) and batch. "
        "The cards go into stock and are bound to members at the counter by scanning."
    )
    list_display = ("number", "kind", "status", "member", "batch", "bound_at", "blocked_at")
    list_filter = ("kind", "status")
    search_fields = ("=number", "=member__member_no")
    list_select_related = ("member",)
    show_full_result_count = False
    ordering = ("-id",)


# ---------------------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------------------


class ActionFailed(Exception):
    """A service refused one member of an action: the whole action is rolled back."""


def _failed(member, exc) -> ActionFailed:
    return ActionFailed(
        _("Member %(member_no)s: %(message)s") % {"member_no": member.member_no, "message": domain_message(exc)}
    )


MEMBER_FIELDSETS = (
    (
        None,
        {
            "fields": (
                "member_no",
                "phone",
                "email",
                "wechat_openid",
                "name",
                "gender",
                "birth_year",
                "birth_month",
                "birth_day",
                "status",
                "merged_into",
            )
        },
    ),
    (
        _("Enrolment"),
        {
            "fields": (
                "home_store",
                "channel",
                "enrolled_by",
                "joined_at",
                "referrer",
                "referral_code",
                "marketing_consent",
                "consent_at",
            )
        },
    ),
    (_("Tier"), {"fields": ("tier", "tier_since", "tier_floor", "tier_floor_until", "growth_value")}),
    (
        _("Balances"),
        {
            "fields": (
                "points_balance",
                "points_pending",
                "points_flagged",
                "sv_principal",
                "sv_bonus",
                "sv_flagged",
                "purchase_count",
                "last_purchase_at",
            )
        },
    ),
    (_("Tags"), {"fields": ("tags",)}),
)


@admin.register(Member)
class MemberAdmin(ServiceImportMixin, admin.ModelAdmin):
    import_resource = MemberResource
    export_resource = MemberExportResource
    extra_export_resources = (MemberMigrationExportResource,)
    import_help = _(
        "One row per member from the previous system. Columns: phone and home_store (the store "
        "code) are required; name, gender (F, M or U), birthday (YYYY-MM-DD, or --MM-DD without the "
        "year), marketing_consent (1 or 0) and joined_at (YYYY-MM-DD HH:MM) are optional; so are "
        "member_no, card_no (physical cards, separated by ;), points with points_expire_on "
        "(YYYY-MM-DD) and points_pending_until (one lot per row: repeat the phone and member_no for "
        "more lots), growth_value, tier, sv_principal, sv_bonus, referrer_phone, tags (separated by "
        "semicolons) and consent_at. Imported members get the channel Import, a virtual card when the file "
        "gives none, no welcome gift and no notification. For large files, or to keep the file's "
        "tiers as a floor, use Member imports (in the background)."
    )
    skip_admin_log = True  # every imported member has its "member.enrol" audit row

    list_display = (
        "member_no",
        "name",
        "phone_masked",
        "tier",
        "home_store",
        "points_balance",
        "points_pending",
        "stored_value",
        "status",
        "joined_at",
    )
    search_fields = ("=member_no", "^phone", "name", "=cards__number", "=email")
    search_help_text = _("Member number, mobile (any format), card number, name or e-mail.")
    list_filter = ("tier", "home_store", "status", "channel", "points_flagged", "sv_flagged")
    list_select_related = ("tier", "home_store")
    show_full_result_count = False
    ordering = ("-joined_at",)
    fieldsets = MEMBER_FIELDSETS
    # Balances, tier and identity change only through the services (the actions below); the
    # member row itself is never saved from this page, only the tags.
    readonly_fields = tuple(f for _name, opts in MEMBER_FIELDSETS for f in opts["fields"] if f != "tags")
    filter_horizontal = ("tags",)
    inlines = (CardInline, PointsEntryInline, StoredValueEntryInline)
    actions = ("adjust_points", "replace_card", "merge_into", "set_tier")

    @admin.display(description=_("mobile"), ordering="phone")
    def phone_masked(self, member):
        return member.masked_phone

    @admin.display(description=_("stored value"))
    def stored_value(self, member):
        return member.sv_principal + member.sv_bonus

    def has_add_permission(self, request):
        return False  # members are enrolled at the counter, on the web or by import

    def has_delete_permission(self, request, obj=None):
        return False  # ledgers keep members; two accounts of one person are merged instead

    def save_model(self, request, obj, form, change):
        """Do not write the member row. Its columns are read-only here, and a full save of the row read
        at the start of this request would overwrite balances that a sale committed meanwhile (only the
        services write them, with the row locked). Tags are saved by save_related."""

    def get_search_results(self, request, queryset, search_term):
        """A mobile in any format ('+86 138-0013-8000') or a scanned card number finds its member."""
        term = search_term.strip()
        if term:
            try:
                return queryset.filter(phone=identity.normalise_phone(term)), False
            except MembershipError:
                pass
            digits = "".join(term.split())
            if identity.is_valid_number(digits):
                return queryset.filter(cards__number=digits), False
        return super().get_search_results(request, queryset, search_term)

    # --- actions ------------------------------------------------------------------------

    def _action_page(self, request, queryset, *, action, form, title, intro, submit_label, apply):
        """The intermediate page of an action: show the form; on a valid submission run `apply`
        in one transaction and go back to the list; a domain error rolls it all back."""
        if form.is_bound and form.is_valid():
            try:
                with transaction.atomic():
                    notes = apply(form.cleaned_data)
            except ActionFailed as exc:
                messages.error(request, str(exc))
            else:
                for level, text in notes:
                    messages.add_message(request, level, text)
                return None  # back to the member list
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "opts": self.opts,
            "form": form,
            "members": queryset,
            "columns": [
                Member._meta.get_field(name).verbose_name
                for name in ("member_no", "name", "phone", "tier", "points_balance")
            ],
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "submit_label": submit_label,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/membership/member/action_form.html", context)

    def _selected(self, request, queryset):
        members = list(queryset.select_related("tier").order_by("member_no")[: MAX_ACTION_MEMBERS + 1])
        if len(members) > MAX_ACTION_MEMBERS:
            messages.error(
                request, _("Select at most %(count)d members for this action.") % {"count": MAX_ACTION_MEMBERS}
            )
            return None
        return members

    @staticmethod
    def _submitted(request):
        return request.POST if "apply" in request.POST else None

    @admin.action(description=_("Adjust points"))
    def adjust_points(self, request, queryset):
        members = self._selected(request, queryset)
        if members is None:
            return None
        form = AdjustPointsForm(self._submitted(request))

        def apply(data):
            adjusted = replayed = 0
            for member in members:
                # one key per form submission and member: a double submit adjusts once
                key = f"admin-adjust:{data['token']}:{member.pk}"
                if PointsEntry.objects.filter(idempotency_key=key).exists():
                    replayed += 1
                    continue
                try:
                    points.adjust(
                        member=member,
                        points=data["points"],
                        reason=data["reason"],
                        acting_user=request.user,
                        idempotency_key=key,
                    )
                except MembershipError as exc:
                    raise _failed(member, exc) from exc
                adjusted += 1
            notes = []
            if adjusted:
                notes.append(
                    (
                        messages.SUCCESS,
                        ngettext(
                            "Adjusted %(points)+d points for %(count)d member.",
                            "Adjusted %(points)+d points for each of %(count)d members.",
                            adjusted,
                        )
                        % {"points": data["points"], "count": adjusted},
                    )
                )
            if replayed:
                notes.append(
                    (
                        messages.WARNING,
                        ngettext(
                            "This form was already submitted: %(count)d member was not adjusted again.",
                            "This form was already submitted: %(count)d members were not adjusted again.",
                            replayed,
                        )
                        % {"count": replayed},
                    )
                )
            return notes

        return self._action_page(
            request,
            members,
            action="adjust_points",
            form=form,
            title=_("Adjust points"),
            intro=_(
                "Add or take away points for the members below. The adjustment is recorded in each "
                "member's points ledger with your name and the reason."
            ),
            submit_label=_("Adjust points"),
            apply=apply,
        )

    @admin.action(description=_("Replace card (block and issue a virtual card)"))
    def replace_card(self, request, queryset):
        members = self._selected(request, queryset)
        if members is None:
            return None
        form = ReplaceCardForm(self._submitted(request), members=members)
        if not form.fields["cards"].queryset.exists():
            messages.error(request, _("The selected members have no active card to replace."))
            return None

        def apply(data):
            notes = []
            for card in data["cards"]:
                try:
                    new = card_service.replace(card=card, acting_user=request.user)
                except MembershipError as exc:
                    raise _failed(card.member, exc) from exc
                notes.append(
                    (
                        messages.SUCCESS,
                        _("Card %(old)s of member %(member_no)s is blocked; new virtual card %(new)s is issued.")
                        % {"old": card.number, "member_no": card.member.member_no, "new": new.number},
                    )
                )
            return notes

        return self._action_page(
            request,
            members,
            action="replace_card",
            form=form,
            title=_("Replace card"),
            intro=_(
                "A lost card is blocked and the member gets a new virtual card. Points and stored "
                "value stay with the member."
            ),
            submit_label=_("Block and replace"),
            apply=apply,
        )

    @admin.action(description=_("Merge into…"))
    def merge_into(self, request, queryset):
        members = self._selected(request, queryset)
        if members is None:
            return None
        if len(members) != 1:
            messages.error(request, _("Select exactly one member, the account to merge into another."))
            return None
        source = members[0]
        form = MergeForm(self._submitted(request))

        def apply(data):
            try:
                target = enrolment.get_member(data["target_member_no"])
            except NotFound as exc:
                raise ActionFailed(
                    _("No member has the number %(member_no)s.") % {"member_no": data["target_member_no"]}
                ) from exc
            try:
                enrolment.merge(source=source, target=target, acting_user=request.user)
            except MembershipError as exc:
                raise _failed(source, exc) from exc
            return [
                (
                    messages.SUCCESS,
                    _("Member %(source)s is merged into %(target)s and closed.")
                    % {"source": source.member_no, "target": target.member_no},
                )
            ]

        return self._action_page(
            request,
            members,
            action="merge_into",
            form=form,
            title=_("Merge into another member"),
            intro=_(
                "Two accounts of one person: the member below is merged into the account you name, "
                "with all its history, and closed."
            ),
            submit_label=_("Merge"),
            apply=apply,
        )

    @admin.action(description=_("Set tier by hand"))
    def set_tier(self, request, queryset):
        members = self._selected(request, queryset)
        if members is None:
            return None
        form = SetTierForm(self._submitted(request))

        def apply(data):
            for member in members:
                try:
                    tiers.set_manual(
                        member=member,
                        tier=data["tier"],
                        reason=data["reason"],
                        acting_user=request.user,
                        floor_until=data["floor_until"],
                    )
                except MembershipError as exc:
                    raise _failed(member, exc) from exc
            return [
                (
                    messages.SUCCESS,
                    ngettext("%(count)d member is now %(tier)s.", "%(count)d members are now %(tier)s.", len(members))
                    % {"count": len(members), "tier": data["tier"]},
                )
            ]

        return self._action_page(
            request,
            members,
            action="set_tier",
            form=form,
            title=_("Set tier by hand"),
            intro=_(
                "The tier is set at once and recorded with your name and the reason. Until the floor "
                "date, reviews do not drop the member below it."
            ),
            submit_label=_("Set tier"),
            apply=apply,
        )


# ---------------------------------------------------------------------------------------
# Member imports in the background (large files; membership/migration/jobs.py, tasks.import_members)
# ---------------------------------------------------------------------------------------


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
    from .tasks import enqueue_import

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
