"""The paid membership cards on sale, the one the member holds and until when; bought here with points."""

import uuid

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campaigns.services import paid_cards
from core.clock import local
from core.errors import MembershipError
from membership.services import paid_cards as member_paid_cards

from ..auth import member_required
from .common import member_page


@require_GET
@member_required
def paid_card_page(request):
    """The paid cards on sale, the one the member holds and until when; bought here with points."""
    member = request.member
    return member_page(
        request,
        "memberweb/paid_card.html",
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
