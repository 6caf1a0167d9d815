"""The member's card: the card number as a barcode and a short-lived QR code for the counter."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from membership import qr
from membership.models import Member
from membership.services import cards

from ..auth import member_required
from .common import barcode_svg, member_page, qr_svg


def _card_qr_context(member: Member) -> dict:
    ttl = qr.ttl_seconds()
    token = qr.make_token(member.member_no)
    return {
        "qr_svg": qr_svg(token),
        "token": token,
        "ttl": ttl,
        # refresh well before expiry, and at most every 60 s so a phone left open stays fresh
        "refresh_every": max(5, min(60, ttl - 30)) if ttl > 10 else max(1, ttl // 2),
    }


@require_GET
@member_required
def card(request):
    member = request.member
    primary = cards.primary_card(member)
    return member_page(
        request,
        "memberweb/card.html",
        {"card": primary, "barcode_svg": barcode_svg(primary.number) if primary else "", **_card_qr_context(member)},
        nav="card",
    )


@require_GET
@member_required
def card_qr(request):
    """The QR partial that the card page polls: a fresh token, its countdown restarted."""
    return render(request, "memberweb/_card_qr.html", _card_qr_context(request.member))
