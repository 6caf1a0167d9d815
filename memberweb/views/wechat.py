"""Sign-in inside WeChat: OAuth gives the openid; a bound openid signs its member in, a new one is
bound after a phone code (membership's services.wechat on portal.wechat)."""

import secrets

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core import wechat as wechat_api
from core.client_ip import client_ip
from core.errors import MembershipError
from membership.services import wechat as wechat_accounts

from ..auth import login_member
from ..forms import WeChatBindForm
from .common import absolute, apply_error, member_page, safe_next

SESSION_WECHAT_STATE = "wechat_state"
SESSION_WECHAT_NEXT = "wechat_next"
SESSION_WECHAT_OPENID = "wechat_openid"


@require_GET
def wechat_start(request):
    """Send the browser to WeChat's OAuth page; it comes back to wechat_callback with a code."""
    if not wechat_api.configured():
        raise Http404
    state = secrets.token_urlsafe(16)
    request.session[SESSION_WECHAT_STATE] = state
    request.session[SESSION_WECHAT_NEXT] = safe_next(request)
    return redirect(wechat_api.authorize_url(absolute(request, reverse("member:wechat-callback")), state))


@require_GET
@never_cache
def wechat_callback(request):
    """WeChat's answer: the code gives the openid; a bound openid signs its member in, another one
    waits in the session for the member to prove their phone (wechat_bind)."""
    if not wechat_api.configured():
        raise Http404
    state = request.session.pop(SESSION_WECHAT_STATE, None)
    code = request.GET.get("code", "")
    if not state or not constant_time_compare(state, request.GET.get("state", "")) or not code:
        messages.error(request, _("WeChat sign-in did not complete: try again."))
        return member_page(request, "memberweb/wechat_bind.html", {"form": None}, status=400)
    try:
        openid = wechat_api.openid_for_code(code)
    except wechat_api.WeChatError:
        messages.error(request, _("WeChat did not answer: try again, or sign in with your password."))
        return redirect("member:login")
    next_url = request.session.pop(SESSION_WECHAT_NEXT, None) or reverse("member:home")
    member = wechat_accounts.member_for_openid(openid)
    if member is not None:
        login_member(request, member)
        return redirect(next_url)
    request.session[SESSION_WECHAT_OPENID] = openid
    request.session[SESSION_WECHAT_NEXT] = next_url
    return redirect("member:wechat-bind")


@require_http_methods(["GET", "POST"])
@never_cache
def wechat_bind(request):
    """First time in WeChat: the member proves their phone with a code, and WeChat signs them in
    from then on."""
    openid = request.session.get(SESSION_WECHAT_OPENID)
    if not openid:
        return redirect("member:login")
    form = WeChatBindForm(request.POST or None, initial={"phone": request.GET.get("phone", "")})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                member = wechat_accounts.bind(
                    openid=openid,
                    phone=form.cleaned_data["phone"],
                    code=form.cleaned_data["code"],
                    ip=client_ip(request),
                )
            except MembershipError as exc:
                apply_error(form, exc)
                status = 400
            else:
                next_url = request.session.get(SESSION_WECHAT_NEXT) or reverse("member:home")
                login_member(request, member)
                request.session.pop(SESSION_WECHAT_OPENID, None)
                request.session.pop(SESSION_WECHAT_NEXT, None)
                messages.success(request, _("WeChat is bound: next time WeChat signs you in."))
                return redirect(next_url)
        else:
            status = 400
    return member_page(request, "memberweb/wechat_bind.html", {"form": form}, status=status)
