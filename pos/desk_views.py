"""The counter's store desk (/counter/desk/…): the member-service operations of pos-api.md's "The
store desk" as counter forms, calling the same services as the API. Clerks bind and replace cards,
change a phone and set a PIN with the member's SMS code; managers also refund top-ups, merge and
close (and may do without the code). Results and errors come back in the workspace's desk panel."""

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.clock import local
from core.errors import Invalid, MembershipError, NotFound
from membership import config, permissions, selectors
from membership.identity import mask_phone
from membership.models import AdjustmentRequest, Card, Member
from membership.services import accounts, cards, enrolment, points, stored_value
from membership.services.common import dry_run

from . import selectors as pos_selectors
from .views import _member_or_none, _posted_member, _workspace, confirmed, confirming, counter_only, refusal_status

manager_only = permissions.role_required(permissions.can_manage_members)
FIELDS = (
    "card_no",
    "replacement_card_no",
    "lost_card_no",
    "phone",
    "code",
    "pin",
    "pin_code",
    "topup",
    "from",
    "merge_reason",
    "reason",
    "adjust_points",
    "adjust_reason",
)


def desk_context(request, member: Member, *, errors: dict | None = None, keep: bool = False) -> dict:
    """What the desk panel shows: the member's active cards, recent top-ups (for a refund), whether
    the user is a manager, and after an error the values typed and the message by field."""
    topups = pos_selectors.recent_top_ups(member)
    return {
        "cards": list(member.cards.primary_first()),
        "topups": [
            {"entry": t, "ref": stored_value.topup_ref(t.pk), "refunded": bool(t.refunds.all())} for t in topups
        ],
        "can_manage": permissions.can_manage_members(request.user),
        "adjust_limit": config.program().adjustment_limit,
        "values": {f: request.POST.get(f, "") for f in FIELDS} if keep else {},
        "errors": errors or {},
    }


def _desk(request, member, *, message, level="success", status=200, errors=None, keep=False, result=None):
    member = selectors.member_by_no_or_card(member.member_no)  # fresh balances and card
    return _workspace(
        request,
        member,
        show="desk",
        message=message,
        level=level,
        status=status,
        result=result,
        desk=desk_context(request, member, errors=errors, keep=keep),
    )


def _confirm(request, member, **confirm):
    """The desk's confirmation step (views.confirming) with the desk panel open."""
    member = selectors.member_by_no_or_card(member.member_no)
    return confirming(request, member, show="desk", desk=desk_context(request, member, keep=True), **confirm)


def _failed(request, member, exc: MembershipError, field: str):
    """A refusal: the message beside the form that was sent, every value kept."""
    return _desk(
        request,
        member,
        message=exc.message,
        level="error",
        status=refusal_status(exc),
        errors={field: exc.message},
        keep=True,
    )


@require_GET
@counter_only
def desk(request):
    member = _member_or_none(request.GET.get("m"))
    if member is None:
        return render(request, "pos/_desk_missing.html", status=404)
    return render(request, "pos/_desk.html", {"member": member, "desk": desk_context(request, member)})


@require_POST
@counter_only
def bind_card(request):
    member, refused = _posted_member(request)
    if refused:
        return refused
    try:
        card = cards.bind(member=member, number=request.POST.get("card_no", ""), acting_user=request.user)
    except MembershipError as exc:
        return _failed(request, member, exc, "card_no")
    return _desk(request, member, message=_("Card %(card)s is bound to the member.") % {"card": card.number})


@require_POST
@counter_only
def lost_card(request):
    member, refused = _posted_member(request)
    if refused:
        return refused

    def block():
        return cards.report_lost(
            member=member,
            card_no=request.POST.get("lost_card_no", ""),
            replacement_card_no=request.POST.get("replacement_card_no", "").strip() or None,
            acting_user=request.user,
        )

    try:
        if not confirmed(request):
            new = dry_run(block)
            if new.kind == Card.Kind.PHYSICAL:
                then = _("The new card %(new)s is bound to the member.") % {"new": new.number}
            else:
                then = _("A new virtual card is issued to the member.")
            return _confirm(
                request,
                member,
                title=_("Block card %(card)s?") % {"card": new.replaces.number},
                lines=[
                    _("Card %(card)s is blocked for good: it no longer finds the member.")
                    % {"card": new.replaces.number},
                    then,
                ],
                button=_("Confirm: block and replace"),
                danger=True,
            )
        new = block()
    except MembershipError as exc:
        about_new = exc.code == "card_taken" or exc.message in (cards.MSG_CARD_FORMAT, cards.MSG_CARD_NOT_IN_STOCK)
        return _failed(request, member, exc, "replacement_card_no" if about_new else "lost_card_no")
    old = new.replaces.number
    if new.kind == Card.Kind.PHYSICAL:
        message = _("Card %(old)s is blocked; the new card %(new)s is bound.") % {"old": old, "new": new.number}
    else:
        message = _("Card %(old)s is blocked; the new virtual card %(new)s is issued.") % {
            "old": old,
            "new": new.number,
        }
    return _desk(request, member, message=message)


@require_POST
@counter_only
def phone(request):
    member, refused = _posted_member(request)
    if refused:
        return refused
    try:
        if request.POST.get("action") == "send":
            sent = accounts.send_phone_change_code(member=member, phone=request.POST.get("phone", ""))
            return _desk(
                request,
                member,
                keep=True,
                level="info",
                message=_("A code was sent to %(phone)s: ask the member to read it out.")
                % {"phone": mask_phone(sent.phone)},
            )
        accounts.change_phone(
            member=member, phone=request.POST.get("phone", ""), code=request.POST.get("code"), acting_user=request.user
        )
    except MembershipError as exc:
        return _failed(request, member, exc, "code" if exc.field == "code" else "phone")
    return _desk(request, member, message=_("The member's mobile number is changed."))


@require_POST
@counter_only
def pin(request):
    member, refused = _posted_member(request)
    if refused:
        return refused
    try:
        if request.POST.get("action") == "send":
            sent = accounts.send_pin_code(member=member)
            return _desk(
                request,
                member,
                keep=True,
                level="info",
                message=_("A code was sent to %(phone)s: ask the member to read it out.")
                % {"phone": mask_phone(sent.phone)},
            )
        accounts.set_pin(
            member=member, pin=request.POST.get("pin", ""), code=request.POST.get("pin_code"), acting_user=request.user
        )
    except MembershipError as exc:
        return _failed(request, member, exc, "pin_code" if exc.field == "code" else "pin")
    return _desk(request, member, message=_("The stored-value PIN is set."))


@require_POST
@manager_only
def refund_topup(request):
    member, refused = _posted_member(request)
    if refused:
        return refused
    try:
        topup = stored_value.topup_entry(request.POST.get("topup", ""))
        if topup.member_id != member.pk:
            raise NotFound(field="topup")
        if not confirmed(request):
            will = stored_value.preview_top_up_refund(topup=topup, acting_user=request.user)
            lines = [_("Hand back ¥%(principal)s to the member.") % {"principal": will.principal}]
            if will.bonus or will.points:
                lines.append(
                    _("Take back ¥%(bonus)s bonus and %(points)s points.")
                    % {"bonus": will.bonus, "points": will.points}
                )
            return _confirm(
                request,
                member,
                title=_("Refund the top-up of %(day)s?") % {"day": f"{local(topup.created_at):%Y-%m-%d %H:%M}"},
                lines=lines,
                button=_("Confirm: refund ¥%(principal)s") % {"principal": will.principal},
                danger=True,
            )
        entry = stored_value.refund_top_up(topup=topup, acting_user=request.user, store=request.user.store)
    except MembershipError as exc:
        return _failed(request, member, exc, "topup")
    return _desk(
        request,
        member,
        message=_("Top-up refunded: hand back ¥%(principal)s; bonus ¥%(bonus)s removed.")
        % {"principal": -entry.principal, "bonus": -entry.bonus},
    )


@require_POST
@manager_only
def merge(request):
    member, refused = _posted_member(request)
    if refused:
        return refused
    try:
        try:
            source = selectors.member_by_no_or_card(request.POST.get("from", ""))
        except NotFound as exc:
            raise NotFound(_("No member has this number or card."), field="from") from exc

        def merge_it():
            return enrolment.merge(
                source=source,
                target=member,
                acting_user=request.user,
                reason=request.POST.get("merge_reason", "").strip(),
            )

        if not confirmed(request):
            kept = dry_run(merge_it)
            return _confirm(
                request,
                member,
                title=_("Merge account %(source)s into this one?") % {"source": source.member_no},
                lines=[
                    _("Check with the member that this account is theirs: it is closed after the merge."),
                    _("This account then has %(points)s points and ¥%(sv)s stored value, tier %(tier)s.")
                    % {
                        "points": kept.points_balance,
                        "sv": kept.sv_principal + kept.sv_bonus,
                        "tier": kept.tier.name,
                    },
                ],
                account=source,
                button=_("Confirm: merge %(source)s") % {"source": source.member_no},
                danger=True,
            )
        merge_it()
    except MembershipError as exc:
        return _failed(request, member, exc, "from")
    return _desk(
        request,
        member,
        message=_("Member %(source)s is merged into this account and closed.") % {"source": source.member_no},
    )


@require_POST
@manager_only
def close(request):
    member, refused = _posted_member(request)
    if refused:
        return refused
    try:
        if request.POST.get("confirm") != "yes":
            raise Invalid(_("Tick the box to confirm that the member asked to close the membership."), field="reason")
        enrolment.close(member=member, reason=request.POST.get("reason", ""), acting_user=request.user)
    except MembershipError as exc:
        return _failed(request, member, exc, "reason")
    return _workspace(
        request,
        None,
        level="success",
        message=_("Membership %(member_no)s is closed: the personal data is erased; the phone number can enrol again.")
        % {"member_no": member.member_no},
    )


@require_POST
@counter_only
def adjust(request):
    """A manual points adjustment with a reason: applied within the user's limit, else sent to a manager."""
    member, refused = _posted_member(request)
    if refused:
        return refused
    try:
        amount = int((request.POST.get("adjust_points") or "").strip())
    except ValueError:
        amount = 0
    try:
        done = points.request_adjustment(
            member=member, points=amount, reason=request.POST.get("adjust_reason", ""), acting_user=request.user
        )
    except MembershipError as exc:
        return _failed(request, member, exc, "adjust_reason" if exc.field == "reason" else "adjust_points")
    if isinstance(done, AdjustmentRequest):
        return _desk(
            request,
            member,
            level="info",
            message=_(
                "The adjustment of %(points)s points is above today's limit: it waits for a store manager's approval."
            )
            % {"points": amount},
        )
    return _desk(request, member, message=_("Adjusted by %(points)s points.") % {"points": amount})
