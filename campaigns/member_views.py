"""The member's campaign pages at /m/: coupons (with their codes as QR for the counter) and
benefits to claim, the points mall (browse, redeem, my orders) and the daily check-in. They call the
same services as the counter and the API."""

import uuid

from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from membership.errors import MembershipError
from membership.member_auth import member_required
from membership.services import paid_cards as member_paid_cards
from membership.services.common import local
from membership.views import member_page, qr_svg

from . import selectors
from .models import CheckIn, Coupon, MallOrder, ProgramRules
from .services import engagement, mall, paid_cards, scenes

TABS = [("available", Coupon.Status.AVAILABLE), ("used", Coupon.Status.USED), ("expired", Coupon.Status.EXPIRED)]


@require_GET
@member_required
def coupon_list(request):
    member = request.member
    tab = request.GET.get("tab", "available")
    status = dict(TABS).get(tab, Coupon.Status.AVAILABLE)
    rows = list(selectors.member_coupons(member, status)[:100])
    return member_page(
        request,
        "campaigns/member/coupons.html",
        {
            "tab": tab,
            "tabs": TABS,
            "coupons": [(c, qr_svg(c.code, css_class="qr coupon-qr")) for c in rows],
            "claimable": list(selectors.claimable(member)),
            "now": timezone.now(),
        },
        nav="coupons",
    )


@require_POST
@member_required
def claim(request, grant_id):
    try:
        grant = scenes.claim(grant_id=grant_id, member=request.member)
        messages.success(request, _("Claimed: %(scene)s.") % {"scene": grant.scene.name})
    except MembershipError as exc:
        messages.error(request, exc.message)
    return redirect("campaigns:coupons")


@require_GET
@member_required
def mall_page(request):
    member = request.member
    items = list(selectors.mall_items_on_sale().order_by("sort", "points_price"))
    orders = list(MallOrder.objects.filter(member=member).select_related("item").order_by("-created_at")[:20])
    return member_page(
        request, "campaigns/member/mall.html", {"items": items, "orders": orders, "once": uuid.uuid4().hex}, nav="mall"
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
        if order.status == MallOrder.Status.FULFILLED:
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


@require_GET
@member_required
def checkin_page(request):
    member = request.member
    today = local(timezone.now()).date()
    recent = list(CheckIn.objects.filter(member=member).order_by("-day")[:7])
    done_today = bool(recent and recent[0].day == today)
    streak = recent[0].streak if recent and (recent[0].day == today or (today - recent[0].day).days == 1) else 0
    rules = ProgramRules.load()
    return member_page(
        request,
        "campaigns/member/checkin.html",
        {
            "done_today": done_today,
            "streak": streak,
            "recent": recent,
            "rules": rules,
            "to_bonus": (rules.checkin_streak_every - streak % rules.checkin_streak_every)
            if rules.checkin_streak_every
            else None,
        },
        nav="checkin",
    )


@require_POST
@member_required
def checkin(request):
    try:
        row = engagement.check_in(member=request.member)
        messages.success(
            request,
            _("Checked in: +%(points)s points (day %(streak)s in a row).")
            % {"points": row.points, "streak": row.streak},
        )
    except MembershipError as exc:
        messages.info(request, exc.message)
    return redirect("campaigns:checkin")


@require_GET
@member_required
def paid_card_page(request):
    """The paid cards on sale, the one the member holds and until when; bought here with points."""
    member = request.member
    return member_page(
        request,
        "campaigns/member/paid_card.html",
        {
            "held": member_paid_cards.active_product(member),
            "products": list(member_paid_cards.on_sale()),
            "once": uuid.uuid4().hex,
        },
        nav="home",
    )


@require_POST
@member_required
def paid_card_buy(request, code):
    try:
        product = member_paid_cards.product_by_code(code)
        card = paid_cards.buy(
            member=request.member,
            product=product,
            pay_with="points",
            idempotency_key=f"member:{request.member.pk}:{request.POST.get('once') or uuid.uuid4().hex}",
        )
        messages.success(
            request,
            _("%(name)s is yours until %(until)s.")
            % {"name": product.name, "until": f"{local(card.ends_at):%Y-%m-%d}"},
        )
    except MembershipError as exc:
        messages.error(request, exc.message)
    return redirect("campaigns:paid-card")


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
