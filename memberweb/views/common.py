"""What every member page shares: the layout's navigation, the page renderer, and the small helpers
of the forms, QR codes, barcodes and paged lists."""

from datetime import datetime, timedelta
from functools import lru_cache

import barcode
import segno
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy

from core.clock import local, tz
from core.errors import MembershipError
from membership.models import Member

PAGE_SIZE = 20

# (key, label, URL name, icon): the tab bar and the wide-screen top bar
CORE_NAV = [
    ("home", gettext_lazy("Home"), "member:home", "⌂"),
    ("card", gettext_lazy("Card"), "member:card", "▣"),
    ("history", gettext_lazy("History"), "member:history", "≡"),
    ("invite", gettext_lazy("Invite"), "member:invite", "✚"),
    ("profile", gettext_lazy("Me"), "member:profile", "☺"),
]
# the campaign pages: the home page's shortcuts and the wide-screen top bar
CAMPAIGN_NAV = [
    ("coupons", gettext_lazy("Coupons"), "campaigns:coupons", "🎫"),
    ("mall", gettext_lazy("Points mall"), "campaigns:mall", "🎁"),
    ("checkin", gettext_lazy("Check-in"), "campaigns:checkin", "✔"),
]


def _nav(items) -> list[dict]:
    return [{"key": key, "label": label, "url": reverse(name), "icon": icon} for key, label, name, icon in items]


def member_page(request, template, context=None, *, nav="", status=200):
    """Render a page of the member layout (templates/memberweb/base_member.html)."""
    context = {
        "member": getattr(request, "member", None),
        "nav_active": nav,
        "core_nav": _nav(CORE_NAV),
        "extra_nav": _nav(CAMPAIGN_NAV),
        **(context or {}),
    }
    return render(request, template, context, status=status)


def apply_error(form, exc: MembershipError) -> None:
    """A service error beside the field it names, or above the form."""
    field = {"birthday": "birth_month"}.get(exc.field, exc.field)
    if field in form.fields:
        form.add_error(field, str(exc.message))
    else:
        form.add_error(None, str(exc.message))


def safe_next(request, default="member:home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/m/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(default)


def absolute(request, path: str) -> str:
    return request.build_absolute_uri(path)


def qr_svg(data: str, *, css_class: str = "qr") -> str:
    """A QR code as inline SVG: scalable (viewBox only), black on white, quiet zone of 4 modules."""
    return segno.make(data, error="m", micro=False).svg_inline(
        scale=1, border=4, omitsize=True, svgclass=css_class, lineclass=None, dark="#000", light="#fff"
    )


@lru_cache(maxsize=2048)
def barcode_svg(number: str) -> str:
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


def svg_response(svg: str, *, filename: str | None = None) -> HttpResponse:
    svg = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + svg
    response = HttpResponse(body, content_type="image/svg+xml")
    if filename:
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def month_range(month: str):
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=tz())
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz())
    return start, end


def months_since(member: Member, limit: int = 36) -> list[tuple[str, str]]:
    """(value, label) for each month from now back to the member's joining month."""
    today = local(timezone.now()).date().replace(day=1)
    first = local(member.joined_at).date().replace(day=1)
    out = []
    d = today
    while d >= first and len(out) < limit:
        out.append((f"{d:%Y-%m}", f"{d:%Y-%m}"))
        d = (d - timedelta(days=1)).replace(day=1)
    return out


def paged(queryset, page: int):
    """One page of rows without a COUNT: fetch one more than a page to know whether more follow."""
    offset = (page - 1) * PAGE_SIZE
    rows = list(queryset[offset : offset + PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def page_number(request) -> int:
    try:
        return max(1, min(100_000, int(request.GET.get("page", 1))))
    except ValueError:
        return 1
