"""The dashboards' filter: a period of local days and, for HQ, a store."""

from datetime import date, timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from membership import permissions

from .selectors import Scope

MAX_DAYS = 731


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    store = forms.IntegerField(label=_("Store"), required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The period starts after it ends."))
        if start and end and (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(_("A period is at most %(days)s days.") % {"days": MAX_DAYS})
        return data


def resolve(request, *, latest: date) -> tuple[Scope, PeriodForm, list]:
    """The scope a request asks for, within what the user may see.

    Default period: the 30 days ending with the last rolled-up day. HQ sees every store unless it
    picks one; a store manager sees their own store, and asking for another store's figures is
    refused (403), never silently answered with other figures."""
    allowed = list(permissions.report_stores(request.user).order_by("code"))
    form = PeriodForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    end = data.get("end") or latest
    start = data.get("start") or end - timedelta(days=29)
    if start > end:
        start, end = end - timedelta(days=29), end
    store_id = data.get("store")
    if store_id is None and request.GET.get("store") not in (None, ""):
        raise PermissionDenied  # not a number: nobody's store
    if permissions.is_hq(request.user):
        store = next((s for s in allowed if s.pk == store_id), None)
        if store_id is not None and store is None:
            raise PermissionDenied
    else:
        store = allowed[0] if allowed else None
        if store is None or (store_id is not None and store_id != store.pk):
            raise PermissionDenied
    return Scope(start, end, store), form, allowed


def presets(latest: date) -> list[tuple[str, date, date]]:
    """Quick periods, each ending with the last rolled-up day (or the last day of a past month)."""
    month_start = latest.replace(day=1)
    last_month_end = month_start - timedelta(days=1)
    return [
        (_("7 days"), latest - timedelta(days=6), latest),
        (_("30 days"), latest - timedelta(days=29), latest),
        (_("90 days"), latest - timedelta(days=89), latest),
        (_("This month"), month_start, latest),
        (_("Last month"), last_month_end.replace(day=1), last_month_end),
        (_("This year"), latest.replace(month=1, day=1), latest),
        (_("12 months"), latest - timedelta(days=364), latest),
    ]
