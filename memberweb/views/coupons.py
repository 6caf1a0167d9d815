"""The member's coupons (with their codes as QR for the counter) and benefits to claim."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campaigns import selectors as campaign_selectors
from campaigns.services import scenes
from core.errors import MembershipError

from ..auth import member_required
from .common import member_page, qr_svg

# (tab, coupon status): the status as campaigns' selectors.member_coupons reads it
TABS = [("available", "available"), ("used", "used"), ("expired", "expired")]


@require_GET
@member_required
def coupon_list(request):
    member = request.member
    tab = request.GET.get("tab", "available")
    status = dict(TABS).get(tab, "available")
    rows = list(campaign_selectors.member_coupons(member, status)[:100])
    return member_page(
        request,
        "memberweb/coupons.html",
        {
            "tab": tab,
            "tabs": TABS,
            "coupons": [(c, qr_svg(c.code, css_class="qr coupon-qr")) for c in rows],
            "claimable": list(campaign_selectors.claimable(member)),
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
