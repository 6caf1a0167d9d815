"""Cards and members: the member page and its actions, which call the services."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.errors import MembershipError, NotFound

from .. import identity
from ..forms import AdjustPointsForm, MergeForm, ReplaceCardForm, SetTierForm, domain_message
from ..models import Card, Member, PointsEntry
from ..resources import (
    CardExportResource,
    CardStockResource,
    MemberExportResource,
    MemberMigrationExportResource,
    MemberResource,
)
from ..services import cards as card_service
from ..services import enrolment, points, tiers
from .imports import ServiceImportMixin
from .ledgers import CardInline, PointsEntryInline, StoredValueEntryInline
from .program import RecordsOnly

#: Actions act on at most this many members at once (each is a locked transaction of its own).
MAX_ACTION_MEMBERS = 200


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
