"""The points mall: browse, redeem with points (a pickup code, or a coupon at once), my orders,
cancel an order before pickup. The same services as the counter and the API."""

import uuid

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campaigns import selectors as campaign_selectors
from campaigns.services import mall
from core.errors import MembershipError

from ..auth import member_required
from .common import member_page


@require_GET
@member_required
def mall_page(request):
    member = request.member
    items = list(campaign_selectors.mall_items_on_sale().order_by("sort", "points_price"))
    orders = list(campaign_selectors.member_mall_orders(member)[:20])
    return member_page(
        request, "memberweb/mall.html", {"items": items, "orders": orders, "once": uuid.uuid4().hex}, nav="mall"
    )


@require_POST
@member_required
def redeem(request, code):
    member = request.member
    try:
        qty = int(request.POST.get("qty", "1"))
    except ValueError:
        qty = 0
    token = request.POST.get("once") or uuid.uuid4().hex
    try:
        order = mall.order(
            member=member, item=mall.item_by_code(code), qty=qty, idempotency_key=f"web:{member.pk}:{token[:40]}"
        )
        if order.status == order.Status.FULFILLED:
            messages.success(request, _("Redeemed %(item)s: it is in your coupons.") % {"item": order.item.name})
        else:
            messages.success(
                request,
                _("Redeemed %(item)s. Show pickup code %(code)s at any store.")
                % {"item": order.item.name, "code": order.pickup_code},
            )
    except MembershipError as exc:
        messages.error(request, exc.message)
    return redirect("campaigns:mall")


@require_POST
@member_required
def mall_cancel(request, order_no):
    """The member cancels their own order before pickup: points and stock go back."""
    try:
        order = mall.cancel_by_member(member=request.member, order_no=order_no)
        messages.success(
            request,
            _("Order %(order)s cancelled: %(points)s points are back.")
            % {"order": order.order_no, "points": order.points_spent},
        )
    except MembershipError as exc:
        messages.error(request, exc.message)
    return redirect("campaigns:mall")
