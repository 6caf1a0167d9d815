"""The member's history: points (by kind and month), stored value and purchases, 20 rows a page;
htmx asks for the next page when the last row scrolls into view."""

from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from membership import selectors
from membership.models import PointsEntry

from ..auth import member_required
from ..forms import PointsFilterForm
from .common import member_page, month_range, months_since, page_number, paged


@require_GET
@member_required
def history(request):
    """The points ledger, newest first, filtered by kind and month; 20 a page, and htmx asks for
    the next page when the last row scrolls into view."""
    member = request.member
    form = PointsFilterForm(request.GET)
    form.is_valid()
    filters = form.cleaned_data  # the valid ones: a bad month still filters by a good kind
    rows = selectors.points_history(member)
    if filters.get("kind"):
        rows = rows.filter(kind=filters["kind"])
    if filters.get("month"):
        start, end = month_range(filters["month"])
        rows = rows.filter(created_at__gte=start, created_at__lt=end)
    page = filters.get("page") or 1
    entries, has_next = paged(rows, page)
    query = {k: v for k, v in (("kind", filters.get("kind")), ("month", filters.get("month"))) if v}
    context = {
        "entries": entries,
        "has_next": has_next,
        "page": page,
        "query": query,
        "next_query": urlencode({**query, "page": page + 1}),
        "first_query": urlencode(query),
        "kinds": PointsEntry.Kind.choices,
        "months": months_since(member),
        "tab": "points",
    }
    if request.htmx and request.GET.get("page"):
        return render(request, "memberweb/_points_rows.html", context)
    return member_page(request, "memberweb/history.html", context, nav="history")


def _paged_rows(request, rows, *, tab: str, rows_template: str, page_template: str):
    """One page of a member's history list: the rows alone when htmx asks for the next page."""
    page = page_number(request)
    entries, has_next = paged(rows, page)
    context = {
        "entries": entries,
        "has_next": has_next,
        "page": page,
        "next_query": urlencode({"page": page + 1}),
        "tab": tab,
    }
    if request.htmx and request.GET.get("page"):
        return render(request, rows_template, context)
    return member_page(request, page_template, context, nav="history")


@require_GET
@member_required
def history_sv(request):
    return _paged_rows(
        request,
        selectors.stored_value_history(request.member),
        tab="sv",
        rows_template="memberweb/_sv_rows.html",
        page_template="memberweb/history_sv.html",
    )


@require_GET
@member_required
def history_purchases(request):
    return _paged_rows(
        request,
        selectors.purchase_history(request.member),
        tab="purchases",
        rows_template="memberweb/_purchase_rows.html",
        page_template="memberweb/history_purchases.html",
    )


@require_GET
@member_required
def purchase(request, pk):
    p = get_object_or_404(selectors.purchase_history(request.member), pk=pk)
    return member_page(
        request,
        "memberweb/purchase.html",
        {
            "purchase": p,
            "points": selectors.purchase_points(p, request.member),
            "returns": selectors.purchase_returns(p),
            "tab": "purchases",
        },
        nav="history",
    )
