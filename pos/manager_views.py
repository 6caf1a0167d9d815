"""The store manager's screen on the counter (/counter/manager/): balances taken below zero, flagged
offline sales, adjustments waiting for a decision, and the day's desk log, paged."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.clock import local
from core.errors import MembershipError
from membership import permissions, selectors
from membership.services import points

from . import selectors as pos_selectors

manager_only = permissions.role_required(
    lambda user: permissions.can_use_counter(user) and permissions.can_manage_members(user)
)


@require_GET
@manager_only
def manager(request):
    """The store manager's screen: balances returns took below zero, offline sales whose points took a
    balance below zero, and today's desk operations and manual adjustments by the store's staff."""
    return _manager_page(request)


DESK_LOG_PAGE = 30  # desk operations per page of the manager's screen (a busy day was one 8,700 px list)


def _manager_page(request, *, message=None, level="success", status=200):
    start = local(timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    entries, adjustments = selectors.staff_log(request.user.store, start)
    log_page = Paginator(entries, DESK_LOG_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "pos/manager.html",
        {
            "flagged": selectors.flagged_members(request.user.store),
            "flagged_sales": pos_selectors.flagged_sales(request.user.store),
            "waiting": selectors.waiting_adjustments(request.user.store),
            "entries": log_page,
            "adjustments": adjustments,
            "message": message,
            "level": level,
        },
        status=status,
    )


@require_POST
@manager_only
def manager_decide(request, request_id):
    """Approve or reject an adjustment a clerk asked for above the limit."""
    approve = request.POST.get("decision") == "approve"
    try:
        asked = points.decide_adjustment(request_id=request_id, approve=approve, acting_user=request.user)
    except MembershipError as exc:
        return _manager_page(request, message=exc.message, level="error", status=exc.status)
    message = (
        _("Approved: %(points)s points for member %(member)s.")
        if approve
        else _("Rejected: %(points)s points for member %(member)s.")
    )
    return _manager_page(request, message=message % {"points": asked.points, "member": asked.member.member_no})
