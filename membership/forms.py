"""Forms of the merchant admin: the intermediate forms of member actions and the import forms; and
BirthdayFields, the birthday's shape that the member site's and the counter's forms share.

They check shape only (a number, a date, a choice); the rules are the services' (a reason is
required, points cannot be zero, who may do what) and their errors reach the user as admin
messages."""

import secrets

from django import forms
from django.utils.translation import gettext_lazy as _
from import_export.forms import ConfirmImportForm, ImportForm

from .models import Card, Tier


def new_submission_token() -> str:
    """A token rendered into an action form: replaying the same submission reuses it."""
    return secrets.token_urlsafe(16)


def domain_message(exc) -> str:
    """How a MembershipError reads in admin: its (translatable) message."""
    return str(exc.message)


class ActionForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=40)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("token", new_submission_token())
        super().__init__(*args, **kwargs)


class AdjustPointsForm(ActionForm):
    points = forms.IntegerField(
        label=_("Points"),
        min_value=-10_000_000,
        max_value=10_000_000,
        help_text=_("Positive to add, negative to take away."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, help_text=_("Shown in the member's points history."))


class ReplaceCardForm(ActionForm):
    cards = forms.ModelMultipleChoiceField(
        label=_("Cards to block and replace"),
        queryset=Card.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each card chosen is blocked and its member gets a new virtual card."),
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        active = (
            Card.objects.filter(member__in=members, status=Card.Status.ACTIVE)
            .select_related("member")
            .order_by("member__member_no", "number")
        )
        self.fields["cards"].queryset = active
        self.fields["cards"].label_from_instance = lambda card: (
            _("%(number)s (%(kind)s) of member %(member_no)s")
            % {"number": card.number, "kind": card.get_kind_display(), "member_no": card.member.member_no}
        )
        if not self.is_bound:
            # a member with one active card: that is the lost one
            by_member = {}
            for card in active:
                by_member.setdefault(card.member_id, []).append(card.pk)
            self.initial["cards"] = [pks[0] for pks in by_member.values() if len(pks) == 1]


class MergeForm(ActionForm):
    target_member_no = forms.CharField(
        label=_("Merge into member number"),
        max_length=12,
        help_text=_(
            "The account that stays. The selected account's points, stored value, purchases and "
            "cards move to it and the selected account is closed."
        ),
    )

    def clean_target_member_no(self):
        return self.cleaned_data["target_member_no"].strip()


class SetTierForm(ActionForm):
    tier = forms.ModelChoiceField(label=_("Tier"), queryset=Tier.objects.order_by("rank"))
    reason = forms.CharField(label=_("Reason"), max_length=200)
    floor_until = forms.DateField(
        label=_("Floor until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_(
            "Reviews do not drop the member below this tier before this date. Leave it empty "
            "for a floor without an end date."
        ),
    )


class ServiceImportForm(ImportForm):
    """django-import-export's upload form with one choice more: leave out bad rows, or (the default)
    import nothing when any row is bad."""

    skip_invalid_rows = forms.BooleanField(
        label=_("Skip rows with errors"),
        required=False,
        help_text=_(
            "Import the valid rows and leave out the rows with errors. Without this, a file "
            "with any bad row imports nothing."
        ),
    )
    field_order = ["resource", "import_file", "format", "skip_invalid_rows"]


class ServiceConfirmImportForm(ConfirmImportForm):
    skip_invalid_rows = forms.BooleanField(required=False, widget=forms.HiddenInput)


class BirthdayFields(forms.Form):
    """Month and day of the birthday, year optional (product.md, Membership and cards)."""

    birth_month = forms.TypedChoiceField(
        label=_("Birth month"),
        coerce=int,
        required=False,
        empty_value=None,
        choices=[("", "—")] + [(m, m) for m in range(1, 13)],
    )
    birth_day = forms.TypedChoiceField(
        label=_("Birth day"),
        coerce=int,
        required=False,
        empty_value=None,
        choices=[("", "—")] + [(d, d) for d in range(1, 32)],
    )
    birth_year = forms.IntegerField(
        label=_("Birth year (optional)"),
        min_value=1900,
        max_value=2100,
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def clean(self):
        data = super().clean()
        month, day = data.get("birth_month"), data.get("birth_day")
        if bool(month) != bool(day):
            raise forms.ValidationError(_("Give both the month and the day of the birthday, or neither."))
        if data.get("birth_year") and not month:
            self.add_error("birth_month", _("Give the month and day with the year."))
        return data

    def birthday(self) -> str | None:
        d = self.cleaned_data
        if not d.get("birth_month"):
            return None
        return f"{d.get('birth_year') or '-'}-{d['birth_month']:02d}-{d['birth_day']:02d}"
