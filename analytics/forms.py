"""The dashboards' filter: a period of local days and, for HQ, a store."""

from datetime import date, timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from membership import permissions
from membership.models import StoreTree

from .selectors import Scope

MAX_DAYS = 731
DEFAULT_WINDOW = 90


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    store = forms.IntegerField(label=_("Store"), required=False)
    window = forms.TypedChoiceField(
        label=_("Repurchase window"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(30, _("30 days")), (90, _("90 days")), (365, _("365 days"))],
    )

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
    picks a node of the store tree (a store or a region); a regional manager sees their region
    unless they pick a node under it; a store manager sees their own store. Asking for a node
    outside what the user may see is refused (403), never silently answered with other figures.
    `allowed` is in tree order, each node with its `depth` and `is_region` (the filter's tree)."""
    tree = StoreTree.load()
    node = permissions.report_node(request.user)
    if node is permissions.ALL_STORES:
        visible = set(tree.nodes)
    else:
        visible = set(tree.subtree_ids(node)) if node in tree.nodes else set()
    allowed = []
    for node, depth in tree.walk():
        if node.pk in visible:
            node.depth = depth
            allowed.append(node)
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
        own = next((s for s in allowed if s.pk == request.user.store_id), None)
        store = own if store_id is None else next((s for s in allowed if s.pk == store_id), None)
        if store is None:
            raise PermissionDenied
    if allowed:
        top = min(s.depth for s in allowed)
        for s in allowed:
            s.depth -= top
            s.is_region = not tree.is_leaf(s.pk)
    ids = tuple(tree.subtree_ids(store.pk)) if store else None
    scope = Scope(start, end, store, ids, data.get("window") or DEFAULT_WINDOW)
    scope.__dict__["tree"] = tree  # the cached_property's slot: one read of the tree per request
    return scope, form, allowed


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


def store_groups(allowed: list) -> list[tuple[str, list]]:
    """The store filter as a grouped select: first the regions (each one a choice: its whole
    subtree), then each region's stores under its name; stores without a visible parent last."""
    regions = [s for s in allowed if s.is_region]
    by_pk = {s.pk: s for s in allowed}
    groups: dict = {}
    for s in allowed:
        if not s.is_region:
            parent = by_pk.get(s.parent_id)
            groups.setdefault(str(parent) if parent else "", []).append(s)
    out = [(str(_("Regions")), regions)] if regions else []
    return out + [(label, stores) for label, stores in groups.items()]
