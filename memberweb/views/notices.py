"""The member's inbox: the messages campaigns sent on the inbox channel; opening one marks it read."""

from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from campaigns import selectors as campaign_selectors
from campaigns.services import notifications

from ..auth import member_required
from .common import member_page


@require_GET
@member_required
def notices(request):
    rows = list(campaign_selectors.inbox(request.member)[:50])
    return member_page(request, "memberweb/notices.html", {"notices": rows}, nav="home")


@require_GET
@member_required
def notice(request, pk):
    item = get_object_or_404(campaign_selectors.inbox(request.member), pk=pk)
    if item.read_at is None:
        notifications.mark_read(member=request.member, notification_id=item.pk)
    return member_page(request, "memberweb/notice.html", {"notice": item}, nav="home")
