"""Invite friends: the member's referral link as a QR code, and who joined with it (masked)."""

from django.urls import reverse
from django.views.decorators.http import require_GET

from membership import selectors
from membership.models import Member

from ..auth import member_required
from .common import absolute, member_page, qr_svg, svg_response


def _invite_url(request, member: Member) -> str:
    return absolute(request, f"{reverse('member:signup')}?ref={member.referral_code}")


@require_GET
@member_required
def invite(request):
    member = request.member
    # other people's data: masked, as at the counter
    joined = [
        {
            "masked_name": (m.name[:1] + "*" * max(1, len(m.name) - 1)) if m.name else "—",
            "masked_phone": m.masked_phone,
            "joined_at": m.joined_at,
            "purchase_count": m.purchase_count,
        }
        for m in selectors.active_referrals(member)[:100]
    ]
    link = _invite_url(request, member)
    return member_page(
        request, "memberweb/invite.html", {"link": link, "qr_svg": qr_svg(link), "joined": joined}, nav="invite"
    )


@require_GET
@member_required
def invite_qr(request):
    return svg_response(qr_svg(_invite_url(request, request.member)), filename="invite.svg")
