"""Member pages (/m/): mobile-first pages where members sign up, sign in, and see their points,
tier, card code, history, invitations and profile (issue 5; product.md, "Who uses it").

Views check shape (forms) and who is signed in (member_auth); every rule is in
services.accounts / services.otp, and every balance comes from selectors.member_summary and the
ledgers, so what a member sees equals what the counter and the API see. A member reads only their
own rows: every query below starts from `request.member`.

Coupons, the points mall and check-in are the campaigns app's pages; it adds them to the member
navigation with `register_member_page` at start-up (membership never imports campaigns)."""

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import barcode
import segno
from django.contrib import messages
from django.db.models import DecimalField, ExpressionWrapper, F, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import wechat as wechat_api
from core.client_ip import client_ip
from core.clock import local, tz
from core.errors import MembershipError, NotFound, PhoneTaken

from . import config, qr, selectors
from .forms_member import (
    CodeRequestForm,
    PasswordForm,
    PinForm,
    PointsFilterForm,
    ProfileForm,
    SignInForm,
    SignUpForm,
    WeChatBindForm,
)
from .member_auth import current_member, login_member, logout_member, member_required
from .models import Member, PointsEntry, Purchase, StoredValueEntry
from .services import accounts, cards, paid_cards, tiers
from .services import wechat as wechat_accounts

PAGE_SIZE = 20


# ---------------------------------------------------------------------------------------
# The navigation slot other apps fill (coupons, points mall, check-in)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberPage:
    key: str
    label: object  # a lazy translation
    url_name: str
    icon: str = "•"
    order: int = 100


extra_pages: list[MemberPage] = []


def register_member_page(key: str, label, url_name: str, *, icon: str = "•", order: int = 100) -> None:
    """Add a page to the member navigation (home shortcuts and the wide-screen top bar), e.g. from
    CampaignsConfig.ready(): register_member_page("coupons", _("Coupons"), "campaigns:coupons", icon="🎫")."""
    if all(p.key != key for p in extra_pages):
        extra_pages.append(MemberPage(key, label, url_name, icon, order))
        extra_pages.sort(key=lambda p: p.order)


def _extra_nav() -> list[dict]:
    out = []
    for page in extra_pages:
        try:
            out.append({"key": page.key, "label": page.label, "url": reverse(page.url_name), "icon": page.icon})
        except NoReverseMatch:
            continue
    return out


CORE_NAV = [
    ("home", gettext_lazy("Home"), "member:home", "⌂"),
    ("card", gettext_lazy("Card"), "member:card", "▣"),
    ("history", gettext_lazy("History"), "member:history", "≡"),
    ("invite", gettext_lazy("Invite"), "member:invite", "✚"),
    ("profile", gettext_lazy("Me"), "member:profile", "☺"),
]


def _page(request, template, context=None, *, nav="", status=200):
    context = {
        "member": getattr(request, "member", None),
        "nav_active": nav,
        "core_nav": [
            {"key": key, "label": label, "url": reverse(name), "icon": icon} for key, label, name, icon in CORE_NAV
        ],
        "extra_nav": _extra_nav(),
        **(context or {}),
    }
    return render(request, template, context, status=status)


# ---------------------------------------------------------------------------------------
# What campaigns keeps for the member, read through the reverse relations its models declare on
# Member (campaigns.Coupon.member → "coupons", campaigns.Notification.member → "notifications").
# Membership never imports campaigns (docs/architecture.md); without it these are empty.
# ---------------------------------------------------------------------------------------


def _coupon_count(member: Member) -> int:
    coupons = getattr(member, "coupons", None)
    if coupons is None:
        return 0
    at = timezone.now()
    return coupons.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at), status="available").count()


def _inbox(member: Member):
    notifications = getattr(member, "notifications", None)
    if notifications is None:
        return None
    return notifications.filter(channel="inbox").order_by("-created_at", "-id")


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _ip(request) -> str | None:
    return client_ip(request)


def _apply_error(form, exc: MembershipError) -> None:
    """A service error beside the field it names, or above the form."""
    field = {"birthday": "birth_month"}.get(exc.field, exc.field)
    if field in form.fields:
        form.add_error(field, str(exc.message))
    else:
        form.add_error(None, str(exc.message))


def _safe_next(request, default="member:home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/m/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(default)


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path)


def _qr_svg(data: str, *, css_class: str = "qr") -> str:
    """A QR code as inline SVG: scalable (viewBox only), black on white, quiet zone of 4 modules."""
    return segno.make(data, error="m", micro=False).svg_inline(
        scale=1, border=4, omitsize=True, svgclass=css_class, lineclass=None, dark="#000", light="#fff"
    )


@lru_cache(maxsize=2048)
def _barcode_svg(number: str) -> str:
    """Code128 of the card number as inline SVG (python-barcode encodes, bars drawn here so the
    SVG scales to the screen width). Cached: a card number never changes its bars."""
    modules = barcode.get("code128", number).build()[0]
    quiet = 10
    bars, x, run = [], quiet, 0
    for i, bit in enumerate(modules + "0"):
        if bit == "1":
            run += 1
        elif run:
            bars.append(f"M{x + i - run} 0h{run}v1h-{run}z")
            run = 0
    width = len(modules) + 2 * quiet
    return (
        f'<svg class="barcode" viewBox="0 0 {width} 1" preserveAspectRatio="none" role="img" '
        f'aria-label="{number}"><rect width="{width}" height="1" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(bars)}"/></svg>'
    )


def _svg_response(svg: str, *, filename: str | None = None) -> HttpResponse:
    svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + svg
    response = HttpResponse(body, content_type="image/svg+xml")
    if filename:
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _month_range(month: str):
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=tz())
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz())
    return start, end


def _months_since(member: Member, limit: int = 36) -> list[tuple[str, str]]:
    """(value, label) for each month from now back to the member's joining month."""
    today = local(timezone.now()).date().replace(day=1)
    first = local(member.joined_at).date().replace(day=1)
    out = []
    d = today
    while d >= first and len(out) < limit:
        out.append((f"{d:%Y-%m}", f"{d:%Y-%m}"))
        d = (d - timedelta(days=1)).replace(day=1)
    return out


def _paged(queryset, page: int):
    """One page of rows without a COUNT: fetch one more than a page to know whether more follow."""
    offset = (page - 1) * PAGE_SIZE
    rows = list(queryset[offset : offset + PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


# ---------------------------------------------------------------------------------------
# Sign-in, sign-up, codes, passwords
# ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.method == "GET" and current_member(request) is not None:
        return redirect(_safe_next(request))
    form = SignInForm(request.POST or None, initial={"phone": request.GET.get("phone", "")})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                member = accounts.check_login(
                    phone=form.cleaned_data["phone"], password=form.cleaned_data["password"], ip=_ip(request)
                )
            except MembershipError as exc:
                form.add_error(None, str(exc.message))
                status = 429 if exc.code == "limit_reached" else 400
            else:
                login_member(request, member)
                return redirect(_safe_next(request))
        else:
            status = 400
    # inside WeChat's browser, with an official account configured: one tap signs in by WeChat
    in_wechat = wechat_api.configured() and "MicroMessenger" in request.headers.get("User-Agent", "")
    return _page(
        request,
        "membership/login.html",
        {"form": form, "next": _safe_next(request), "in_wechat": in_wechat},
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
                    ip=_ip(request),
                )
            except PhoneTaken as exc:
                form.add_error("phone", str(exc.message))
                phone_taken = "password" if exc.context.get("has_password") else "set"
                status = 409
            except MembershipError as exc:
                _apply_error(form, exc)
                status = 400
            else:
                login_member(request, member)
                messages.success(request, _("Welcome! Your membership card is ready."))
                return redirect("member:home")
        else:
            status = 400
    return _page(
        request,
        "membership/signup.html",
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
    url = _absolute(request, reverse("member:join", args=[store.code]))
    return _svg_response(_qr_svg(url), filename=f"join-{store.code}.svg")


@require_GET
def poster(request, store_code):
    """A printable A4 poster with the store's sign-up QR code."""
    try:
        store = accounts.poster_store(store_code)
    except NotFound:
        raise Http404 from None
    url = _absolute(request, reverse("member:join", args=[store.code]))
    return render(request, "membership/poster.html", {"store": store, "join_url": url, "qr_svg": _qr_svg(url)})


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
                sent = accounts.send_signup_code(phone=form.cleaned_data["phone"], ip=_ip(request))
            elif purpose == "wechat":
                sent = wechat_accounts.send_bind_code(phone=form.cleaned_data["phone"], ip=_ip(request))
            else:
                sent = accounts.send_password_code(phone=form.cleaned_data["phone"], ip=_ip(request))
        except PhoneTaken as exc:
            message, status = exc.message, 409
            link = "password" if exc.context.get("has_password") else "set"
        except MembershipError as exc:
            message, status = exc.message, exc.status
            resend_in = exc.context.get("retry_after", 0)
        else:
            # the same answer for members and strangers: /m/code/ tells nobody who is a member
            ok, status, resend_in = True, 200, sent.resend_in
            masked = {"phone": f"{sent.phone[:3]}****{sent.phone[-4:]}"}
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
        "membership/_code_status.html",
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
                    phone=d["phone"], code=d["code"], password=d["password"], ip=_ip(request)
                )
            except MembershipError as exc:
                _apply_error(form, exc)
                status = 400
            else:
                login_member(request, member)
                messages.success(request, _("Your password is set."))
                return redirect("member:home")
        else:
            status = 400
    return _page(request, "membership/password.html", {"form": form}, status=status)


# ---------------------------------------------------------------------------------------
# Inside WeChat: OAuth sign-in, the openid bound after a phone code
# ---------------------------------------------------------------------------------------

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
    request.session[SESSION_WECHAT_NEXT] = _safe_next(request)
    return redirect(wechat_api.authorize_url(_absolute(request, reverse("member:wechat-callback")), state))


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
        return _page(request, "membership/wechat_bind.html", {"form": None}, status=400)
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
                    openid=openid, phone=form.cleaned_data["phone"], code=form.cleaned_data["code"], ip=_ip(request)
                )
            except MembershipError as exc:
                _apply_error(form, exc)
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
    return _page(request, "membership/wechat_bind.html", {"form": form}, status=status)


@require_GET
def program(request):
    """The programme in plain words, for anyone (seed 000: 首页展示会员制度和会员权益): the tiers, what
    each gives and how to reach and keep it, the points rules, the paid card."""
    current_member(request)
    prog = config.program()
    return _page(
        request,
        "membership/program.html",
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
    return _page(request, "membership/privacy.html")


# ---------------------------------------------------------------------------------------
# Home, card
# ---------------------------------------------------------------------------------------


@require_GET
@member_required
def home(request):
    member = request.member
    summary = selectors.member_summary(member)
    next_tier = config.next_tier(member.tier)
    inbox = _inbox(member)
    notices = list(inbox[:3]) if inbox is not None else []
    unread = inbox.filter(read_at__isnull=True).count() if inbox is not None else 0
    return _page(
        request,
        "membership/home.html",
        {
            "summary": summary,
            "next_tier": next_tier,
            "progress": selectors.tier_progress(member, next_tier),
            "keep": tiers.keep_status(member),
            "paid_card": paid_cards.active_product(member),
            "has_paid_cards": paid_cards.on_sale().exists(),
            "benefits": member.tier.benefit_list(),
            "next_benefits": next_tier.benefit_list() if next_tier else [],
            "coupon_count": _coupon_count(member),
            "notices": notices,
            "unread": unread,
            "has_inbox": inbox is not None,
            "coupons_url": next((item["url"] for item in _extra_nav() if item["key"] == "coupons"), None),
        },
        nav="home",
    )


def _card_qr_context(member: Member) -> dict:
    ttl = qr.ttl_seconds()
    token = qr.make_token(member.member_no)
    return {
        "qr_svg": _qr_svg(token),
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
    return _page(
        request,
        "membership/card.html",
        {"card": primary, "barcode_svg": _barcode_svg(primary.number) if primary else "", **_card_qr_context(member)},
        nav="card",
    )


@require_GET
@member_required
def card_qr(request):
    """The QR partial that the card page polls: a fresh token, its countdown restarted."""
    return render(request, "membership/_card_qr.html", _card_qr_context(request.member))


# ---------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------


@require_GET
@member_required
def history(request):
    """The points ledger, newest first, filtered by kind and month; 20 a page, and htmx asks for
    the next page when the last row scrolls into view."""
    member = request.member
    form = PointsFilterForm(request.GET)
    form.is_valid()
    filters = form.cleaned_data  # the valid ones: a bad month still filters by a good kind
    rows = selectors.points_history(member)
    if filters.get("kind"):
        rows = rows.filter(kind=filters["kind"])
    if filters.get("month"):
        start, end = _month_range(filters["month"])
        rows = rows.filter(created_at__gte=start, created_at__lt=end)
    page = filters.get("page") or 1
    entries, has_next = _paged(rows, page)
    query = {k: v for k, v in (("kind", filters.get("kind")), ("month", filters.get("month"))) if v}
    context = {
        "entries": entries,
        "has_next": has_next,
        "page": page,
        "query": query,
        "next_query": urlencode({**query, "page": page + 1}),
        "first_query": urlencode(query),
        "kinds": PointsEntry.Kind.choices,
        "months": _months_since(member),
        "tab": "points",
    }
    if request.htmx and request.GET.get("page"):
        return render(request, "membership/_points_rows.html", context)
    return _page(request, "membership/history.html", context, nav="history")


@require_GET
@member_required
def history_sv(request):
    member = request.member
    page = _page_number(request)
    money = DecimalField(max_digits=14, decimal_places=2)
    rows = (
        StoredValueEntry.objects.filter(member=member)
        .select_related("store")
        .annotate(
            total=ExpressionWrapper(F("principal") + F("bonus"), output_field=money),
            total_after=ExpressionWrapper(F("principal_after") + F("bonus_after"), output_field=money),
        )
        .order_by("-created_at", "-id")
    )
    entries, has_next = _paged(rows, page)
    context = {
        "entries": entries,
        "has_next": has_next,
        "page": page,
        "next_query": urlencode({"page": page + 1}),
        "tab": "sv",
    }
    if request.htmx and request.GET.get("page"):
        return render(request, "membership/_sv_rows.html", context)
    return _page(request, "membership/history_sv.html", context, nav="history")


@require_GET
@member_required
def history_purchases(request):
    member = request.member
    page = _page_number(request)
    rows = Purchase.objects.filter(member=member).select_related("store").order_by("-created_at", "-id")
    entries, has_next = _paged(rows, page)
    context = {
        "entries": entries,
        "has_next": has_next,
        "page": page,
        "next_query": urlencode({"page": page + 1}),
        "tab": "purchases",
    }
    if request.htmx and request.GET.get("page"):
        return render(request, "membership/_purchase_rows.html", context)
    return _page(request, "membership/history_purchases.html", context, nav="history")


def _page_number(request) -> int:
    try:
        return max(1, min(100_000, int(request.GET.get("page", 1))))
    except ValueError:
        return 1


@require_GET
@member_required
def purchase(request, pk):
    p = get_object_or_404(Purchase.objects.select_related("store"), pk=pk, member=request.member)
    return _page(
        request,
        "membership/purchase.html",
        {
            "purchase": p,
            "points": p.points_entries.filter(member=request.member).order_by("created_at", "id"),
            "returns": p.returns.select_related("store").order_by("created_at", "id"),
            "tab": "purchases",
        },
        nav="history",
    )


# ---------------------------------------------------------------------------------------
# Notices
# ---------------------------------------------------------------------------------------


@require_GET
@member_required
def notices(request):
    inbox = _inbox(request.member)
    rows = list(inbox[:50]) if inbox is not None else []
    return _page(request, "membership/notices.html", {"notices": rows}, nav="home")


@require_GET
@member_required
def notice(request, pk):
    inbox = _inbox(request.member)
    if inbox is None:
        raise Http404
    item = get_object_or_404(inbox, pk=pk)
    if item.read_at is None:
        inbox.filter(pk=item.pk, read_at__isnull=True).update(read_at=timezone.now())
    return _page(request, "membership/notice.html", {"notice": item}, nav="home")


# ---------------------------------------------------------------------------------------
# Invite, profile, my data
# ---------------------------------------------------------------------------------------


def _invite_url(request, member: Member) -> str:
    return _absolute(request, f"{reverse('member:signup')}?ref={member.referral_code}")


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
        for m in member.referrals.filter(status=Member.Status.ACTIVE)
        .order_by("-joined_at")
        .only("name", "phone", "joined_at", "purchase_count")[:100]
    ]
    link = _invite_url(request, member)
    return _page(
        request, "membership/invite.html", {"link": link, "qr_svg": _qr_svg(link), "joined": joined}, nav="invite"
    )


@require_GET
@member_required
def invite_qr(request):
    return _svg_response(_qr_svg(_invite_url(request, request.member)), filename="invite.svg")


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
                _apply_error(form, exc)
                status = 400
            else:
                messages.success(request, _("Saved.") if result.changed else _("Nothing changed."))
                return redirect("member:profile")
        else:
            status = 400
    return _page(
        request, "membership/profile.html", {"form": form, "birthday_locked": locked}, nav="profile", status=status
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
            accounts.send_pin_code(member=member, ip=_ip(request))
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
                _apply_error(form, exc)
                status = 400
            else:
                messages.success(
                    request, _("Your stored-value PIN is set: the counter asks for it when you pay with stored value.")
                )
                return redirect("member:profile")
        else:
            status = 400
    return _page(
        request, "membership/pin.html", {"form": form, "has_pin": bool(member.sv_pin)}, nav="profile", status=status
    )


@require_GET
@member_required
def my_data(request):
    """'Download my data': everything held about the member, as JSON."""
    data = accounts.personal_data(request.member)
    response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json")
    stamp = local(timezone.now()).strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-data-{request.member.member_no}-{stamp}.json"'
    return response


# Public names for the pages other apps add to the member site (campaigns: coupons, mall, check-in).
member_page = _page
qr_svg = _qr_svg
