"""The member's home page: points, tier and what it gives, stored value, coupons, latest notices."""

from django.urls import reverse
from django.views.decorators.http import require_GET

from campaigns import selectors as campaign_selectors
from membership import config, selectors
from membership.services import paid_cards, tiers

from ..auth import member_required
from .common import member_page


@require_GET
@member_required
def home(request):
    member = request.member
    summary = selectors.member_summary(member)
    next_tier = config.next_tier(member.tier)
    notices = list(campaign_selectors.inbox(member)[:3])
    unread = campaign_selectors.unread_count(member)
    return member_page(
        request,
        "memberweb/home.html",
        {
            "summary": summary,
            "next_tier": next_tier,
            "progress": selectors.tier_progress(member, next_tier),
            "keep": tiers.keep_status(member),
            "paid_card": paid_cards.active_product(member),
            "has_paid_cards": paid_cards.on_sale().exists(),
            "benefits": member.tier.benefit_list(),
            "next_benefits": next_tier.benefit_list() if next_tier else [],
            "coupon_count": campaign_selectors.available_coupon_count(member),
            "notices": notices,
            "unread": unread,
            "coupons_url": reverse("campaigns:coupons"),
        },
        nav="home",
    )
