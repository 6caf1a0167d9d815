"""The daily check-in: the streak so far and the points it earns."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campaigns import selectors as campaign_selectors
from campaigns.services import engagement
from core.clock import local
from core.errors import MembershipError

from ..auth import member_required
from .common import member_page


@require_GET
@member_required
def checkin_page(request):
    member = request.member
    today = local(timezone.now()).date()
    recent = list(campaign_selectors.member_checkins(member)[:7])
    done_today = bool(recent and recent[0].day == today)
    streak = recent[0].streak if recent and (recent[0].day == today or (today - recent[0].day).days == 1) else 0
    rules = campaign_selectors.program_rules()
    return member_page(
        request,
        "memberweb/checkin.html",
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
