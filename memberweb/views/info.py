"""The pages for anyone: the programme in plain words and the privacy notice."""

from django.views.decorators.http import require_GET

from membership import config
from membership.services import paid_cards

from ..auth import current_member
from .common import member_page


@require_GET
def program(request):
    """The programme in plain words, for anyone (seed 000: 首页展示会员制度和会员权益): the tiers, what
    each gives and how to reach and keep it, the points rules, the paid card."""
    current_member(request)
    prog = config.program()
    return member_page(
        request,
        "memberweb/program.html",
        {
            "tiers": [(t, t.benefit_list()) for t in config.tiers()],
            "program": prog,
            "basis": prog.tier_basis,
            "points_per_yuan": prog.earn_rate,
            "cap": prog.redeem_cap_percent,
            "yuan_points": prog.redeem_points_per_yuan,
            "paid_cards": list(paid_cards.on_sale()),
        },
        nav="home",
    )


@require_GET
def privacy(request):
    current_member(request)
    return member_page(request, "memberweb/privacy.html")
