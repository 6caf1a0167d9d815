"""Read-only ledgers: their admins, and the inlines of the member page."""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from ..models import (
    AuditLog,
    Card,
    GrowthEntry,
    PointsEntry,
    Purchase,
    PurchaseReturn,
    StoredValueEntry,
    TierChange,
)

#: The member page shows this many of the newest ledger entries; the ledger admins show them all.
LEDGER_INLINE_LIMIT = 50


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
