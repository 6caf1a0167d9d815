"""The member's own settings: profile, stored-value PIN, and 'download my data'."""

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.client_ip import client_ip
from core.clock import local
from core.errors import MembershipError
from membership.services import accounts

from ..auth import member_required
from ..forms import PinForm, ProfileForm
from ..personal_data import personal_data
from .common import apply_error, member_page


@require_http_methods(["GET", "POST"])
@member_required
def profile(request):
    member = request.member
    locked = bool(member.birth_month)
    initial = {
        "name": member.name,
        "email": member.email,
        "gender": member.gender,
        "marketing_consent": member.marketing_consent,
    }
    form = ProfileForm(request.POST or None, initial=initial, birthday_locked=locked)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = accounts.update_profile(
                    member=member,
                    name=form.cleaned_data["name"],
                    marketing_consent=form.cleaned_data["marketing_consent"],
                    birthday=form.birthday(),
                    gender=form.cleaned_data["gender"] or None,
                    email=form.cleaned_data["email"],
                )
            except MembershipError as exc:
                apply_error(form, exc)
                status = 400
            else:
                messages.success(request, _("Saved.") if result.changed else _("Nothing changed."))
                return redirect("member:profile")
        else:
            status = 400
    return member_page(
        request, "memberweb/profile.html", {"form": form, "birthday_locked": locked}, nav="profile", status=status
    )


@require_http_methods(["GET", "POST"])
@member_required
def pin(request):
    """Set or reset the stored-value PIN: a code to the member's phone, then the new PIN twice."""
    member = request.member
    form = PinForm(request.POST if request.POST.get("action") == "set" else None)
    status = 200
    if request.method == "POST" and request.POST.get("action") == "send":
        try:
            accounts.send_pin_code(member=member, ip=client_ip(request))
            messages.success(
                request,
                _("A code is on its way to %(phone)s: it is valid for 10 minutes.") % {"phone": member.masked_phone},
            )
        except MembershipError as exc:
            messages.error(request, exc.message)
        return redirect("member:pin")
    if request.method == "POST":
        if form.is_valid():
            try:
                accounts.set_pin(member=member, pin=form.cleaned_data["pin"], code=form.cleaned_data["code"])
            except MembershipError as exc:
                apply_error(form, exc)
                status = 400
            else:
                messages.success(
                    request, _("Your stored-value PIN is set: the counter asks for it when you pay with stored value.")
                )
                return redirect("member:profile")
        else:
            status = 400
    return member_page(
        request, "memberweb/pin.html", {"form": form, "has_pin": bool(member.sv_pin)}, nav="profile", status=status
    )


@require_GET
@member_required
def my_data(request):
    """'Download my data': everything held about the member, as JSON."""
    data = personal_data(request.member)
    response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json")
    stamp = local(timezone.now()).strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-data-{request.member.member_no}-{stamp}.json"'
    return response
