"""The counter (/counter/): keyboard- and scanner-first pages with htmx partials.

The views translate form posts to the same services as the API and render their results; a
domain error becomes a message beside the form, and nothing is half-written."""

import hashlib
import json
import uuid
from decimal import Decimal
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campaigns import selectors as campaign_selectors
from campaigns.models import Coupon
from campaigns.services import mall, scenes
from campaigns.services import paid_cards as campaign_paid_cards
from core.clock import local
from core.errors import MembershipError, NotFound, PhoneTaken
from membership import config, permissions, selectors
from membership.models import Member
from membership.services import enrolment, paid_cards, pricing, stored_value, tiers
from membership.services.common import dry_run

from . import selectors as pos_selectors
from .api_support import lookup_throttled
from .forms import EnrolForm, LookupForm, ReturnForm, SaleForm, TopUpForm
from .services import sales

counter_only = permissions.role_required(permissions.can_use_counter)

# what the counter needs to open without network (the service worker keeps them); a change of the list
# or of a file's content changes the version, so tills fetch them again
OFFLINE_ASSETS = ("css/portal.css", "vendor/htmx-2.0.11.min.js", "js/counter-offline.js", "img/counter-icon.svg")


def _offline_version() -> str:
    digest = hashlib.sha256()
    for path in OFFLINE_ASSETS:
        digest.update(path.encode())
        if found := finders.find(path):
            digest.update(Path(found).read_bytes())
    return digest.hexdigest()[:12]


def _receipt_suggestion(store) -> str:
    """A receipt number for tills that print none: store, day, and a random part."""
    return f"{store.code}-{local(timezone.now()):%y%m%d}-{uuid.uuid4().hex[:6].upper()}"


def _member_context(member: Member | None) -> dict:
    if member is None:
        return {"member": None}
    summary = selectors.member_summary(member)
    nxt, needed = config.growth_to_next(member)
    progress = selectors.tier_progress(member, nxt)
    program = config.program()
    available = list(campaign_selectors.member_coupons(member, Coupon.Status.AVAILABLE)[:5])
    today = local(timezone.now())
    return {
        "member": member,
        "summary": summary,
        "coupons": available,
        "next_tier": nxt,
        "growth_needed": needed,
        "progress": progress,
        "keep": tiers.keep_status(member),
        "paid_card": paid_cards.active_product(member),
        "paid_card_products": list(paid_cards.on_sale()),
        "mall_items": list(campaign_selectors.mall_items_on_sale().order_by("sort", "points_price")[:12]),
        "returnable": pos_selectors.returnable_sales(member),
        "discount_percent": pricing.discount_percent(member, member.tier, program, timezone.now()),
        "birthday_month": member.birth_month == today.month,
        "birthday_today": (member.birth_month, member.birth_day) == (today.month, today.day),
    }


def _offline_member(member: Member, discount: Decimal) -> dict:
    """What the till keeps of a member it has shown, for looking them up while offline: no more than
    the member card shows (name, tier, masked phone, balances), with the time of these figures."""
    return {
        "member_no": member.member_no,
        "name": member.name,
        "phone": member.masked_phone,
        "tier": member.tier.name,
        "discount_percent": str(discount),
        "points": member.points_balance,
        "stored_value": str(member.sv_principal + member.sv_bonus),
        "has_pin": bool(member.sv_pin),  # stored value then needs the PIN, which only the portal can check
        "as_of": timezone.now().isoformat(),
    }


def offline_settings(request) -> dict:
    """What the counter's offline mode needs from the program, and its words (static/js/counter-offline.js)."""
    program = config.program()
    return {
        "store": request.user.store.code,
        "payments": program.offline_payments,
        "payment_limit": str(program.offline_payment_limit),
        "points_per_yuan": program.redeem_points_per_yuan,
        "cap_percent": str(program.redeem_cap_percent),
        "keep_days": program.offline_sale_days,
        "api_sales": "/api/v1/sales/",
        "worker": reverse("counter:service-worker"),
        "scope": reverse("counter:index"),
        "text": {
            "waiting": _("%(n)s waiting"),
            "as_of": _("as of %(time)s"),
            "no_match": _(
                "No member seen recently at this till matches. Sell without a member, or wait for the network."
            ),
            "provisional": _(
                "Provisional: the portal works out the final figures (and the points earned) when the sale is sent."
            ),
            "queued": _("Sale %(receipt)s is waiting on this till: it is sent when the network is back."),
            "return_queued": _("Return %(receipt)s is waiting on this till."),
            "sent": _("All waiting sales are sent."),
            "refused": _("Refused by the portal"),
            "settled": _("Settled"),
            "amount_needed": _("Enter the amount: above zero, with at most two decimals."),
            "receipt_needed": _("Enter the receipt number."),
            "receipt_used": _(
                "Receipt number %(receipt)s was already used at this till: type the receipt number of this sale."
            ),
            "points_limit": _("Offline, points and stored value may pay at most ¥%(limit)s of a sale."),
            "payments_exceed": _("Points and stored value together exceed the amount."),
            "points_cap": _("Points may pay at most %(percent)s%% of this sale."),
            "points_whole": _("Points paid must be a whole number of fen."),
            "unknown_sale": _("No sale with receipt %(receipt)s was recorded at this till."),
            "too_much": _("Only ¥%(left)s of this sale is left to return."),
            "sale_refused": _("Its sale was refused, so the return cannot be sent."),
            "discount": _("Member discount"),
            "points_value": _("Paid with points"),
            "sv_value": _("Paid with stored value"),
            "cash": _("Cash due"),
            "no_member": _("No member: the sale earns nothing."),
            "points": _("Points"),
            "stored_value": _("Stored value"),
        },
    }


def confirmed(request) -> bool:
    """Whether the clerk confirmed an irreversible operation (the confirmation step's button)."""
    return request.POST.get("confirm") == "yes"


def confirming(request, member, *, title, lines, button, show, account=None, danger=False, **extra):
    """The confirmation step of an irreversible operation: what it will do (worked out by the same
    service, as a dry run), and the form again, with every value sent and confirm=yes (issue 31)."""
    fields = [(k, v) for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "confirm")]
    confirm = {
        "title": title,
        "lines": [str(line) for line in lines if line],
        "button": button,
        "action": request.path,
        "fields": fields,
        "account": account,
        "danger": danger,
    }
    return _workspace(request, member, show=show, confirm=confirm, level="warning", **extra)


def refusal_status(exc: MembershipError) -> int:
    """The counter's answer to a refused operation: 400 for input to correct, 409 for every other
    refusal (the page shows the message either way; the API keeps the domain's own status)."""
    return 400 if exc.status == 400 else 409


def _refused(request, member, exc: MembershipError, *, show=None, **extra):
    """A refused operation on the counter's workspace: its message in the panel it came from."""
    return _workspace(
        request, member, status=refusal_status(exc), show=show, message=exc.message, level="error", **extra
    )


def _workspace(request, member=None, *, message=None, level="info", result=None, status=200, **extra):
    context = {
        **_member_context(member),
        "sale_form": extra.pop("sale_form", None)
        or SaleForm(
            initial={
                "member_no": member.member_no if member else "",
                "receipt_no": _receipt_suggestion(request.user.store),
            }
        ),
        "topup_form": TopUpForm(initial={"member_no": member.member_no if member else ""}),
        "plans": pos_selectors.top_up_plans(),
        "return_form": extra.pop("return_form", None) or ReturnForm(),
        "enrol_form": extra.pop("enrol_form", None) or EnrolForm(),
        "message": message,
        "level": level,
        "result": result,
        "once": uuid.uuid4().hex,
        "can_refund_paid_card": permissions.can_manage_members(request.user),
        **extra,
    }
    if member is not None:
        context["offline_member"] = _offline_member(member, context["discount_percent"])
    if not request.htmx:
        context["offline"] = offline_settings(request)
    template = "pos/_workspace.html" if request.htmx else "pos/counter.html"
    return render(request, template, context, status=status)


SALE_FIELDS = set(SaleForm.base_fields)


def _sale_errors(errors: dict) -> dict:
    """Form or service errors keyed by the sale form's fields; anything else under "form"."""
    out = {}
    for field, messages in errors.items():
        key = field if field in SALE_FIELDS else "form"
        out.setdefault(key, []).extend(str(m) for m in messages)
    return out


def _member_or_none(member_no: str | None) -> Member | None:
    if not member_no:
        return None
    try:
        return selectors.member_by_no_or_card(member_no)
    except NotFound:
        return None


def _posted_member(request, **shown):
    """The member the form names, or (None, the refusal to answer) when the counter has none."""
    member = _member_or_none(request.POST.get("member_no"))
    if member is None:
        return None, _workspace(request, None, status=400, message=_("Find the member first."), level="error", **shown)
    return member, None


@require_GET
@counter_only
def counter(request):
    member = _member_or_none(request.GET.get("m"))
    return _workspace(request, member)


@require_GET
@counter_only
@lookup_throttled
def lookup(request):
    form = LookupForm(request.GET)
    if not form.is_valid():
        return _workspace(
            request, None, message=_("Type or scan a phone number, card or member QR code."), level="warning"
        )
    q = form.cleaned_data["q"]
    try:
        found = selectors.find_members(q)
    except MembershipError as exc:
        return _workspace(request, None, message=exc.message, level="error")
    if len(found) == 1:
        return _workspace(request, found[0])
    if len(found) > 1:
        return _workspace(request, None, matches=found, message=_("Several members match: choose one."))
    if (card := selectors.blocked_card(q)) is not None:
        return _workspace(request, None, message=_lost_card_message(card), level="warning")
    initial = {}
    digits = "".join(ch for ch in q if ch.isdigit())
    if len(digits) >= 11:
        initial["phone"] = q
    return _workspace(
        request,
        None,
        message=_("No member found. Enrol them below?"),
        level="warning",
        enrol_form=EnrolForm(initial=initial),
        show="enrol",
    )


def _lost_card_message(card) -> str:
    """A scanned card that was reported lost: whose it is (name and masked phone, as the member card
    shows them), not an offer to enrol; the blocked card does not open the member."""
    owner = card.member
    if owner.status != Member.Status.ACTIVE:
        return _("Card %(card)s is blocked: its membership is closed.") % {"card": card.number}
    return _(
        "Card %(card)s was reported lost on %(date)s and is blocked. It is the card of %(who)s: find the "
        "member by phone to use the new card."
    ) % {
        "card": card.number,
        "date": f"{local(card.blocked_at):%Y-%m-%d}" if card.blocked_at else "—",
        "who": " ".join(p for p in (owner.name, owner.masked_phone) if p),
    }


@require_POST
@counter_only
def enrol(request):
    form = EnrolForm(request.POST)
    if not form.is_valid():
        return _workspace(
            request,
            None,
            enrol_form=form,
            show="enrol",
            status=400,
            message=_("Please correct the marked fields."),
            level="error",
        )
    d = form.cleaned_data
    try:
        member = enrolment.enrol(
            phone=d["phone"],
            name=d["name"],
            gender=d["gender"] or "U",
            birthday=form.birthday(),
            card_no=d["card_no"] or None,
            referral_code=d["referral_code"] or None,
            marketing_consent=d["marketing_consent"],
            store=request.user.store,
            acting_user=request.user,
        )
    except PhoneTaken as exc:
        return _workspace(
            request,
            exc.context["member"],
            level="warning",
            message=_("This mobile number is already a member: here they are."),
        )
    except MembershipError as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, str(exc.message))
        elif exc.field == "birthday":
            form.add_error("birth_day", str(exc.message))
        else:
            form.add_error(None, str(exc.message))
        return _workspace(request, None, enrol_form=form, show="enrol", status=400, message=exc.message, level="error")
    scenes.on_enrolled(member.pk)  # welcome benefits now, for the result panel (idempotent with the event)
    member = enrolment.get_member(member.member_no)
    return _workspace(
        request,
        member,
        level="success",
        result={"kind": "enrolled"},
        message=_("Welcome! %(name)s is now a member (%(member_no)s).")
        % {"name": member.name or member.masked_phone, "member_no": member.member_no},
    )


def _sale_args(request, form):
    """A counter sale: the amount typed is the list price, and the member price applies; with a
    coupon that does not stack with it, the lower price for the member wins (docs/decisions.md)."""
    d = form.cleaned_data
    args = dict(
        list_amount=d["amount"],
        pay_points=d["pay_points"] or 0,
        pay_stored_value=d["pay_stored_value"] or Decimal("0.00"),
        coupon_code=d["coupon_code"] or None,
        best_price=True,
    )
    if d.get("not_discountable"):  # two lines: the discountable rest and the part the discount excludes
        rest = d["amount"] - d["not_discountable"]
        args["lines"] = ([{"amount": rest}] if rest else []) + [
            {"amount": d["not_discountable"], "discountable": False}
        ]
    return args


@require_POST
@counter_only
def sale_preview(request):
    """The live preview of the sale form: the same arithmetic the sale will record."""
    form = SaleForm(request.POST)
    member = _member_or_none(request.POST.get("member_no"))
    context = {"member": member}
    if form.is_valid() and form.cleaned_data["amount"]:
        sale = _sale_args(request, form)
        sale["lines"] = sales.parse_lines(sale.get("lines"))
        store = request.user.store
        try:
            quote = sales.quote_sale(store=store, member=member, **sale)
            context["quote"] = quote.priced
            context["next_tier"] = config.growth_to_next(member)[0] if member else None
            if member is not None and quote.coupon is None:
                del sale["coupon_code"]
                context["suggestion"] = sales.suggest_coupon(quote, member=member, store=store, **sale)
        except MembershipError as exc:
            context["error"] = exc.message
    return render(request, "pos/_preview.html", context)


@require_POST
@counter_only
def sale(request):
    form = SaleForm(request.POST)
    member = _member_or_none(request.POST.get("member_no"))
    if member is None and (request.POST.get("member_no") or "").strip():
        # a member number the counter cannot find is an error, never a sale without a member
        message = _(
            "No member has number %(number)s: find the member again, or clear it for a sale without a member."
        ) % {"number": request.POST["member_no"].strip()[:30]}
        return _workspace(
            request, None, status=400, message=message, level="error", sale_errors={"form": [message]}, sale_form=form
        )
    if not form.is_valid():
        return _workspace(
            request,
            member,
            status=400,
            message=_("Please correct the sale."),
            level="error",
            sale_errors=_sale_errors(form.errors),
            sale_form=form,
        )
    d = form.cleaned_data
    args = _sale_args(request, form)
    try:
        outcome = sales.record_sale(
            store=request.user.store,
            clerk=request.user,
            receipt_no=d["receipt_no"],
            member=member,
            pin=d["pin"] or None,
            digest=sales.request_hash(
                {
                    "receipt_no": d["receipt_no"],
                    "member": member.member_no if member else None,
                    **{k: str(v) for k, v in args.items()},
                }
            ),
            **args,
        )
    except MembershipError as exc:
        message = exc.message
        if exc.code == "idempotency_conflict":
            message = _(
                "Receipt number %(receipt)s was already used for a different sale: type the receipt "
                "number of this sale."
            ) % {"receipt": d["receipt_no"]}
        return _workspace(
            request,
            member,
            status=refusal_status(exc),
            message=message,
            level="error",
            sale_errors=_sale_errors({exc.field or "form": [message]}),
            sale_form=form,
        )
    if member is not None:
        member = selectors.member_by_no_or_card(member.member_no)
    message = (
        _("Sale %(receipt)s recorded again: nothing changed.") if outcome.replayed else _("Sale %(receipt)s recorded.")
    )
    return _workspace(
        request,
        member,
        level="success",
        result={"kind": "sale", **outcome.body},
        message=message % {"receipt": outcome.body["receipt_no"]},
    )


@require_POST
@counter_only
def sale_return(request):
    form = ReturnForm(request.POST)
    member = _member_or_none(request.POST.get("member_no"))
    if not form.is_valid():
        return _workspace(
            request,
            member,
            status=400,
            message=_("Please correct the return."),
            level="error",
            show="return",
            return_errors=form.errors,
            return_form=form,
        )
    d = form.cleaned_data
    # a return may happen at any store of the chain; the clerk's own store's receipt wins a tie
    original = pos_selectors.sale_to_return(d["sale_receipt_no"], request.user.store)
    if original is None:
        return _workspace(
            request,
            member,
            status=404,
            show="return",
            level="error",
            return_form=form,
            message=_("No sale with receipt number %(receipt)s.") % {"receipt": d["sale_receipt_no"]},
        )
    try:
        outcome = sales.record_return(
            sale=original,
            store=request.user.store,
            clerk=request.user,
            receipt_no=d["receipt_no"],
            amount=d["amount"],
            digest=sales.request_hash({"sale": original.pk, "receipt_no": d["receipt_no"], "amount": str(d["amount"])}),
        )
    except MembershipError as exc:
        return _refused(request, original.member, exc, show="return", return_form=form)
    member = selectors.member_by_no_or_card(original.member.member_no) if original.member_id else None
    return _workspace(
        request,
        member,
        level="success",
        show="return",
        result={"kind": "return", **outcome.body},
        message=_("Return %(receipt)s recorded.") % {"receipt": d["receipt_no"]},
    )


@require_POST
@counter_only
def topup(request):
    form = TopUpForm(request.POST)
    member, refused = _posted_member(request)
    if refused:
        return refused
    if not form.is_valid():
        return _workspace(
            request,
            member,
            status=400,
            show="topup",
            level="error",
            message=" ".join(str(e) for errors in form.errors.values() for e in errors),
        )
    d = form.cleaned_data
    try:
        result = stored_value.top_up(
            member=member,
            amount=d["amount"],
            plan_code=d["plan"].code if d["plan"] else None,
            store=request.user.store,
            acting_user=request.user,
            idempotency_key=f"counter:{request.user.pk}:{request.POST.get('once', '')}"
            if request.POST.get("once")
            else None,
        )
    except MembershipError as exc:
        return _refused(request, member, exc, show="topup")
    member = selectors.member_by_no_or_card(member.member_no)
    return _workspace(
        request,
        member,
        level="success",
        show="topup",
        result={
            "kind": "topup",
            "principal_added": result.principal_added,
            "bonus_added": result.bonus_added,
            "points_added": result.points_added,
        },
        message=_("Topped up ¥%(amount)s (bonus ¥%(bonus)s).")
        % {"amount": result.principal_added, "bonus": result.bonus_added},
    )


@require_POST
@counter_only
def paid_card(request):
    """Sell (or renew) a paid card: money taken at the till, or the member's points."""
    member, refused = _posted_member(request)
    if refused:
        return refused
    once = request.POST.get("once") or uuid.uuid4().hex

    def sell():
        return campaign_paid_cards.buy(
            member=member,
            product=product,
            pay_with=request.POST.get("pay_with", ""),
            idempotency_key=f"counter:{request.user.pk}:{once}",
            store=request.user.store,
            acting_user=request.user,
        )

    try:
        product = paid_cards.product_by_code(request.POST.get("product", ""))
        if not confirmed(request):
            card, balance = dry_run(lambda: (sell(), Member.objects.get(pk=member.pk).points_balance))
            return _confirm_paid_card(request, member, product, card, balance)
        card = sell()
    except MembershipError as exc:
        return _refused(request, member, exc, show="paid-card")
    member = selectors.member_by_no_or_card(member.member_no)
    return _workspace(
        request,
        member,
        level="success",
        show="paid-card",
        result={
            "kind": "paid_card",
            "name": product.name,
            "paid_amount": card.paid_amount,
            "paid_points": card.paid_points,
            "until": card.ends_at,
        },
        message=_("%(name)s valid until %(until)s.")
        % {"name": product.name, "until": f"{local(card.ends_at):%Y-%m-%d}"},
    )


def _confirm_paid_card(request, member, product, card, balance):
    until = f"{local(card.ends_at):%Y-%m-%d}"
    if card.paid_points:
        pay = _("Take %(points)s points (balance after: %(balance)s).") % {
            "points": card.paid_points,
            "balance": balance,
        }
    else:
        pay = _("Collect ¥%(amount)s at the till.") % {"amount": card.paid_amount}
    return confirming(
        request,
        member,
        show="paid-card",
        title=_("Sell %(name)s to this member?") % {"name": product.name},
        lines=[pay, _("Valid until %(until)s.") % {"until": until}],
        button=_("Confirm: sell %(name)s") % {"name": product.name},
    )


@require_POST
@counter_only
def paid_card_refund(request):
    member, refused = _posted_member(request)
    if refused:
        return refused
    try:
        refund = paid_cards.refund(member=member, acting_user=request.user, store=request.user.store)
    except MembershipError as exc:
        return _workspace(request, member, status=exc.status, show="paid-card", message=exc.message, level="error")
    member = selectors.member_by_no_or_card(member.member_no)
    return _workspace(
        request,
        member,
        level="success",
        show="paid-card",
        result={"kind": "paid_card_refund", "amount": refund.amount, "points": refund.points},
        message=_("Paid card refunded: hand back ¥%(amount)s.") % {"amount": refund.amount},
    )


@require_POST
@counter_only
def pickup(request):
    code = (request.POST.get("pickup_code") or "").strip()
    member = _member_or_none(request.POST.get("member_no"))
    if not code:
        return _workspace(
            request, member, status=400, show="pickup", level="error", message=_("Type or scan the pickup code.")
        )
    try:
        order = mall.fulfil(pickup_code=code, clerk=request.user)
    except MembershipError as exc:
        return _workspace(request, member, status=exc.status, show="pickup", level="error", message=exc.message)
    return _pickup_done(request, order)


def _pickup_done(request, order):
    member = selectors.member_by_no_or_card(order.member.member_no)
    message = (
        _("Redeemed %(qty)s × %(item)s: the coupon is in the member's coupons.")
        if order.item.coupon_template_id
        else _("Hand over %(qty)s × %(item)s (order %(order)s).")
    ) % {"qty": order.qty, "item": order.item.name, "order": order.order_no}
    if order.cash_collected:
        message += " " + _("Collect ¥%(cash)s.") % {"cash": order.cash_collected}
    return _workspace(
        request,
        member,
        show="pickup",
        level="success",
        result={
            "kind": "pickup",
            "item": order.item.name,
            "qty": order.qty,
            "order_no": order.order_no,
            "cash_due": order.cash_collected,
        },
        message=message,
    )


@require_POST
@counter_only
def mall_redeem(request):
    """Redeem a points-mall item for the member on the spot (order and hand-over in one go)."""
    member, refused = _posted_member(request, show="pickup")
    if refused:
        return refused
    once = request.POST.get("once") or uuid.uuid4().hex

    def redeem():
        return mall.redeem_at_counter(
            member=member,
            item=mall.item_by_code(request.POST.get("item", "")),
            clerk=request.user,
            idempotency_key=f"counter:{request.user.pk}:{once}",
        )

    try:
        if not confirmed(request):
            order, balance = dry_run(lambda: (redeem(), Member.objects.get(pk=member.pk).points_balance))
            lines = [
                _("%(qty)s × %(item)s for %(points)s points (balance after: %(balance)s).")
                % {"qty": order.qty, "item": order.item.name, "points": order.points_spent, "balance": balance}
            ]
            if order.cash_due:
                lines.append(_("Collect ¥%(cash)s.") % {"cash": order.cash_due})
            return confirming(
                request,
                member,
                show="pickup",
                title=_("Redeem this gift for the member?"),
                lines=lines,
                button=_("Confirm: redeem"),
            )
        order = redeem()
    except MembershipError as exc:
        return _workspace(request, member, status=exc.status, show="pickup", level="error", message=exc.message)
    return _pickup_done(request, order)


@require_GET
@counter_only
def today(request):
    start = local(timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    return render(request, "pos/_today.html", pos_selectors.clerk_day(request.user, start))


@require_GET
def service_worker(request):
    """The counter's service worker (static/js/counter-offline.js registers it): served under /counter/
    so that its scope covers the counter's pages; it keeps the counter page and its scripts and styles
    for a reload without network. No personal data: it is public, like the static files it lists."""
    response = render(
        request,
        "pos/sw.js",
        {"assets_json": json.dumps([static(p) for p in OFFLINE_ASSETS]), "version": _offline_version()},
        content_type="text/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = reverse("counter:index")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request):
    """The web app manifest that makes the counter installable on a till."""
    index = reverse("counter:index")
    return JsonResponse(
        {
            "name": _("Counter"),
            "short_name": _("Counter"),
            "start_url": index,
            "scope": index,
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#1f6feb",
            "icons": [{"src": static("img/counter-icon.svg"), "sizes": "any", "type": "image/svg+xml"}],
        },
        content_type="application/manifest+json",
        json_dumps_params={"ensure_ascii": False},
    )
