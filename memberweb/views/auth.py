"""Sign-in, sign-up (on the web and from a store's QR poster), one-time codes and passwords
(issue 5; product.md, "Who uses it"). Views check shape (forms) and who is signed in; every rule is
in membership's services.accounts and services.otp."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import wechat as wechat_api
from core.client_ip import client_ip
from core.errors import MembershipError, NotFound, PhoneTaken
from membership.identity import mask_phone
from membership.services import accounts
from membership.services import wechat as wechat_accounts

from ..auth import current_member, login_member, logout_member
from ..forms import CodeRequestForm, PasswordForm, SignInForm, SignUpForm
from .common import absolute, apply_error, member_page, qr_svg, safe_next, svg_response


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.method == "GET" and current_member(request) is not None:
        return redirect(safe_next(request))
    form = SignInForm(request.POST or None, initial={"phone": request.GET.get("phone", "")})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                member = accounts.check_login(
                    phone=form.cleaned_data["phone"], password=form.cleaned_data["password"], ip=client_ip(request)
                )
            except MembershipError as exc:
                form.add_error(None, str(exc.message))
                status = 429 if exc.code == "limit_reached" else 400
            else:
                login_member(request, member)
                return redirect(safe_next(request))
        else:
            status = 400
    # inside WeChat's browser, with an official account configured: one tap signs in by WeChat
    in_wechat = wechat_api.configured() and "MicroMessenger" in request.headers.get("User-Agent", "")
    return member_page(
        request,
        "memberweb/login.html",
        {"form": form, "next": safe_next(request), "in_wechat": in_wechat},
        status=status,
    )


@require_POST
def logout_view(request):
    logout_member(request)
    return redirect("member:login")


def _signup(request, *, store=None, store_code=None):
    ref = (request.GET.get("ref") or "").strip().upper()[:8]
    form = SignUpForm(request.POST or None, initial={"phone": request.GET.get("phone", ""), "referral_code": ref})
    status, phone_taken = 200, None
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                member = accounts.sign_up(
                    phone=d["phone"],
                    code=d["code"],
                    password=d["password"],
                    name=d["name"],
                    birthday=form.birthday(),
                    marketing_consent=d["marketing_consent"],
                    terms_accepted=d["terms"],
                    store=store,
                    referral_code=d["referral_code"] or None,
                    ip=client_ip(request),
                )
            except PhoneTaken as exc:
                form.add_error("phone", str(exc.message))
                phone_taken = "password" if exc.context.get("has_password") else "set"
                status = 409
            except MembershipError as exc:
                apply_error(form, exc)
                status = 400
            else:
                login_member(request, member)
                messages.success(request, _("Welcome! Your membership card is ready."))
                return redirect("member:home")
        else:
            status = 400
    return member_page(
        request,
        "memberweb/signup.html",
        {
            "form": form,
            "store": store,
            "phone_taken": phone_taken,
            "action": reverse("member:join", args=[store_code]) if store_code else reverse("member:signup"),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def signup(request):
    return _signup(request)


@require_http_methods(["GET", "POST"])
def join(request, store_code):
    """Sign-up from a store's QR poster: the new member belongs to that store (channel poster)."""
    try:
        store = accounts.poster_store(store_code)
    except NotFound:
        raise Http404 from None
    return _signup(request, store=store, store_code=store.code)


@require_GET
@cache_control(max_age=3600)
def join_qr(request, store_code):
    """The poster's QR code (SVG, prints sharp at any size): it opens /m/join/<store code>/."""
    try:
        store = accounts.poster_store(store_code)
    except NotFound:
        raise Http404 from None
    url = absolute(request, reverse("member:join", args=[store.code]))
    return svg_response(qr_svg(url), filename=f"join-{store.code}.svg")


@require_GET
def poster(request, store_code):
    """A printable A4 poster with the store's sign-up QR code."""
    try:
        store = accounts.poster_store(store_code)
    except NotFound:
        raise Http404 from None
    url = absolute(request, reverse("member:join", args=[store.code]))
    return render(request, "memberweb/poster.html", {"store": store, "join_url": url, "qr_svg": qr_svg(url)})


@require_POST
def send_code(request):
    """Send a one-time code (htmx: answers the status line under the phone field)."""
    purpose = request.POST.get("purpose")
    form = CodeRequestForm(request.POST)
    ok, status, message, resend_in, link = False, 400, "", 0, None
    if purpose not in ("signup", "password", "wechat"):
        message = _("Unknown purpose.")
    elif not form.is_valid():
        message = _("Enter your mobile number first.")
    else:
        try:
            if purpose == "signup":
                sent = accounts.send_signup_code(phone=form.cleaned_data["phone"], ip=client_ip(request))
            elif purpose == "wechat":
                sent = wechat_accounts.send_bind_code(phone=form.cleaned_data["phone"], ip=client_ip(request))
            else:
                sent = accounts.send_password_code(phone=form.cleaned_data["phone"], ip=client_ip(request))
        except PhoneTaken as exc:
            message, status = exc.message, 409
            link = "password" if exc.context.get("has_password") else "set"
        except MembershipError as exc:
            message, status = exc.message, exc.status
            resend_in = exc.context.get("retry_after", 0)
        else:
            # the same answer for members and strangers: /m/code/ tells nobody who is a member
            ok, status, resend_in = True, 200, sent.resend_in
            masked = {"phone": mask_phone(sent.phone)}
            if purpose == "signup":
                message, link = (
                    _(
                        "If %(phone)s is not a member yet, a code is on its way: it is valid for 10 "
                        "minutes. Already a member? Set your password instead."
                    )
                    % masked,
                    "set",
                )
            else:
                message = (
                    _("If %(phone)s belongs to a member, a code is on its way: it is valid for 10 minutes.") % masked
                )
    if not request.htmx:
        messages.add_message(request, messages.SUCCESS if ok else messages.ERROR, message)
        back = reverse({"signup": "member:signup", "wechat": "member:wechat-bind"}.get(purpose, "member:password"))
        return redirect(f"{back}?{urlencode({'phone': request.POST.get('phone', '')[:20]})}")
    return render(
        request,
        "memberweb/_code_status.html",
        {
            "ok": ok,
            "message": message,
            "resend_in": resend_in,
            "link": link,
            "phone": request.POST.get("phone", "")[:20],
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def password(request):
    """Set a first password (enrolled at the counter) or reset a forgotten one, with an SMS code."""
    form = PasswordForm(request.POST or None, initial={"phone": request.GET.get("phone", "")})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                member = accounts.set_password(
                    phone=d["phone"], code=d["code"], password=d["password"], ip=client_ip(request)
                )
            except MembershipError as exc:
                apply_error(form, exc)
                status = 400
            else:
                login_member(request, member)
                messages.success(request, _("Your password is set."))
                return redirect("member:home")
        else:
            status = 400
    return member_page(request, "memberweb/password.html", {"form": form}, status=status)
