"""Sales and returns at the till: the till's record around the member engine's purchase.

One transaction per sale: coupon (campaigns), points and stored value paid, points earned
(membership), the till's Sale row. Idempotent on (store, receipt_no): the same request again gets
the first response; a different request with a used receipt number is a conflict."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from campaigns.services import coupons
from core import rows
from core.clock import now
from core.errors import Forbidden, IdempotencyConflict, Invalid, MembershipError, NotFound, SaleTooOld
from core.money import text as money_text
from membership import config
from membership.permissions import can_use_counter
from membership.services import pricing, purchases, stored_value
from membership.services.common import lock_member
from membership.services.pricing import Line

from ..models import Return, Sale, SaleLine

MSG_RECEIPT = _("A receipt number is 1 to 64 characters.")
MSG_NEEDS_MEMBER = _("Paying with points, stored value or a coupon needs a member.")
MSG_OCCURRED_FUTURE = _("The sale's time is in the future: check the till's clock.")
MSG_OCCURRED_OFFSET = _("The sale's time needs its offset from UTC, e.g. 2026-05-20T14:30:00+08:00.")
MSG_TOO_OLD = _("The sale's time is more than %(days)s days ago: tills send queued sales within %(days)s days.")

MSG_BEFORE_JOINED = _("The sale's time is before the member joined: check the till's clock.")
MSG_BEFORE_SALE = _("The return's time is before its sale: check the till's clock.")

CLOCK_SKEW = timedelta(minutes=5)  # a till's clock may run this far ahead of the server's (or behind)
QUEUE_FLUSH = timedelta(minutes=10)  # a till back online sends its queue within this, beside new sales


def bounded(at: datetime, since: datetime, message, *, field: str = "occurred_at") -> datetime:
    """A queued time that cannot come before `since` (the member joining, the sale returned): up to
    CLOCK_SKEW before it, `since` (the till's clock ran behind); earlier, Invalid (R14)."""
    if at >= since:
        return at
    if at >= since - CLOCK_SKEW:
        return since
    raise Invalid(message, field=field)


def till_was_online(store, clerk, at: datetime) -> bool:
    """Whether the clerk's till at `store` recorded a sale online after `at` and well before now: it
    was online since the time a sale is queued for, so that sale is backdated, not queued (R8). The
    (clerk, created_at) index answers it."""
    return Sale.objects.filter(
        clerk=clerk, store=store, offline=False, created_at__gt=at + CLOCK_SKEW, created_at__lt=now() - QUEUE_FLUSH
    ).exists()


def check_occurred_at(value: datetime, *, field: str = "occurred_at") -> datetime:
    """The original time of a sale or return a till queued while offline (pos-api.md's optional
    `occurred_at`): with its offset, not in the future beyond CLOCK_SKEW (then it is now: the till's
    clock ran a little ahead), not older than the program's `offline_sale_days` (SaleTooOld)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid(MSG_OCCURRED_OFFSET, field=field)
    current = now()
    if value > current + CLOCK_SKEW:
        raise Invalid(MSG_OCCURRED_FUTURE, field=field)
    days = config.program().offline_sale_days
    if value < current - timedelta(days=days):
        raise SaleTooOld(MSG_TOO_OLD % {"days": days}, field=field)
    return min(value, current)


def offline_overdraw(member, pay_points: int, pay_stored_value: Decimal, program) -> bool:
    """Whether a queued offline sale may pay `pay_points` and `pay_stored_value` beyond the (locked)
    member's balances: only where the program allows it (off by default), only up to its per-sale
    limit in money for the two together, and only while what the member then owes in all, points
    and stored value below zero in money, stays within that limit (R3: queued sales cannot stack
    debts; the cap holds until the balances are back at zero)."""
    if member is None or not (pay_points or pay_stored_value) or not program.offline_payments:
        return False
    per_yuan = program.redeem_points_per_yuan
    if Decimal(pay_points) / per_yuan + pay_stored_value > program.offline_payment_limit:
        return False
    owed_points = max(0, pay_points - member.points_balance)
    owed_money = max(Decimal(0), pay_stored_value - (member.sv_principal + member.sv_bonus))
    return Decimal(owed_points) / per_yuan + owed_money <= program.offline_payment_limit


def request_hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    record: object
    body: dict
    replayed: bool


def _check_receipt(receipt_no) -> str:
    receipt_no = (receipt_no or "").strip()
    if not receipt_no or len(receipt_no) > 64:
        raise Invalid(MSG_RECEIPT, field="receipt_no")
    return receipt_no


def _replay(model, store, receipt_no, digest):
    existing = model.objects.filter(store=store, receipt_no=receipt_no).first()
    if existing is None:
        return None
    if existing.request_hash != digest:
        raise IdempotencyConflict(field="receipt_no")
    return Outcome(existing, _body(existing), replayed=True)


def _body(record) -> dict:
    """The response of a sale or return: its id first, then what was stored with it (the stored copy
    leaves the id out, so the row is written once, before its id is known)."""
    key = "sale_id" if isinstance(record, Sale) else "return_id"
    body = {key: str(record.pk), **{k: v for k, v in record.response.items() if k != key}}
    if key == "sale_id":
        body.setdefault("member_discount", "0.00")  # a sale stored before the member price had none
    return body


def parse_lines(lines) -> list[Line]:
    """Sale lines as the API and the counter send them ({amount, sku, category, qty, discountable})."""
    return [
        Line(
            amount=pricing.parse_amount(ln["amount"], field="lines"),
            sku=ln.get("sku") or "",
            category=ln.get("category") or "",
            qty=ln.get("qty") or 1,
            discountable=ln.get("discountable", True) is not False,
        )
        for ln in (lines or [])
    ]


def _check_member_pays(member, pay_points, pay_stored_value, coupon_code) -> None:
    if member is None and (pay_points or pay_stored_value or coupon_code):
        raise Invalid(MSG_NEEDS_MEMBER, field="member")


@dataclass(frozen=True)
class SaleQuote:
    """A sale priced: what the counter's preview shows and what record_sale records."""

    context: pricing.SaleContext
    coupon: object  # the member's Coupon, checked (locked in a sale), or None
    priced: pricing.Pricing


def quote_sale(
    *,
    store,
    member,
    lines=(),
    amount=None,
    list_amount=None,
    pay_points: int = 0,
    pay_stored_value=Decimal("0.00"),
    coupon_code: str | None = None,
    best_price: bool = False,
    at=None,
    lock: bool = False,
    overdraw: bool = False,
) -> SaleQuote:
    """Price a sale: the coupon checked (and locked, `lock`, inside a sale's transaction, after the
    member), the member's context read, the one arithmetic applied (pricing.price_sale). The counter's
    live preview and record_sale both go through here; `lines` parsed (parse_lines)."""
    _check_member_pays(member, pay_points, pay_stored_value, coupon_code)
    coupon = coupons.check(code=coupon_code, member=member, store=store, at=at, lock=lock) if coupon_code else None
    context = pricing.sale_context(member, lines=lines, at=at or now())
    priced = pricing.price_sale(
        context,
        amount=amount,
        list_amount=list_amount,
        lines=lines or (),
        pay_points=pay_points,
        pay_stored_value=pay_stored_value,
        coupon=coupons.terms(coupon) if coupon else None,
        best_price=best_price,
        overdraw=overdraw,
    )
    return SaleQuote(context, coupon, priced)


def suggest_coupon(quote: SaleQuote, *, member, store, **sale):
    """The member's usable coupon that would lower the cash due the most, against a quote without one
    (the counter's hint), or None."""
    candidates = [(c, coupons.terms(c)) for c in coupons.usable(member, store)]
    return pricing.best_coupon(quote.context, candidates, without=quote.priced, **sale)


def record_sale(
    *,
    store,
    clerk,
    receipt_no: str,
    amount=None,
    list_amount=None,
    member=None,
    lines=None,
    pay_points: int = 0,
    pay_stored_value=Decimal("0.00"),
    coupon_code: str | None = None,
    best_price: bool = False,
    pin: str | None = None,
    digest: str,
    at=None,
    offline: bool = False,
    occurred_at=None,
) -> Outcome:
    """A sale at the till, priced by membership's one sale arithmetic (quote_sale): `member` a Member,
    or a MemberRef as the till named them (found by the sale's lock: NotFound with field "member" when
    there is no such active member); `amount` as the till priced it, or `list_amount` for the portal
    to apply the member price. `at` backdates the sale (imports from a previous system, the demo
    history, a till's queued sale). `offline`: a sale the till queued while its network was down
    (sent with its `occurred_at`, checked by check_occurred_at): it earns at the rules of its time,
    and may pay with points and stored value beyond the balances where the program allows it
    (offline_overdraw), which flags the sale for the store manager. `occurred_at`: a queued sale's
    time as the till sent it (then `offline`), checked by check_occurred_at after a replay was looked
    for: a recorded sale retried after it left the window gets its first answer, not sale_too_old.

    One transaction: the member locked once (first: then the coupon), the PIN checked once under that
    lock, the sale priced and written. A wrong PIN rolls it back and is counted after."""
    if not can_use_counter(clerk) or clerk.store_id != store.pk:
        raise Forbidden(field="store")
    receipt_no = _check_receipt(receipt_no)
    sale = dict(
        amount=amount,
        list_amount=list_amount,
        lines=parse_lines(lines),
        pay_points=pay_points,
        pay_stored_value=pricing.parse_amount(pay_stored_value or 0, field="pay_stored_value"),
        coupon_code=coupon_code,
        best_price=best_price,
    )
    _check_member_pays(member, pay_points, sale["pay_stored_value"], coupon_code)  # before a replay is looked up
    # A repeated receipt meets the unique key of the purchase (under the member's lock) or of the sale
    # (store, receipt_no) at the insert: the transaction rolls back as a whole and the first sale
    # answers (below). A coupon is checked before anything is written, and a queued sale's time may
    # have left the window since it was recorded, so for those it is looked up here.
    if (coupon_code or member is None or occurred_at is not None) and (
        replay := _replay(Sale, store, receipt_no, digest)
    ):
        return replay
    if occurred_at is not None:
        at, offline = check_occurred_at(occurred_at), True
    try:
        with transaction.atomic():
            return _record(store, clerk, receipt_no, member, sale, pin=pin, digest=digest, at=at, offline=offline)
    except stored_value.WrongPin as wrong:
        stored_value.count_wrong_pin(wrong.member, wrong.store)  # outside the rolled-back sale: the count stays
        raise
    except IntegrityError:
        # the same receipt was recorded by a parallel request that committed first
        if replay := _replay(Sale, store, receipt_no, digest):
            return replay
        raise
    except MembershipError:
        # a till's retry of a sale already recorded, refused now because that sale spent the points or
        # stored value it paid with (insufficient_points: the soak, issue 28): the first answer, as for
        # any repeated receipt. Looked up only on a refusal, so a sale pays no query for it.
        if replay := _replay(Sale, store, receipt_no, digest):
            return replay
        raise


def _record(store, clerk, receipt_no, member, sale: dict, *, pin, digest, at, offline) -> Outcome:
    """record_sale's transaction: lock, PIN, quote, the member's purchase, the coupon used, the till's row."""
    result = None
    if member is not None:
        member = lock_member(member, active=True)  # lock order: the member first, then the coupon
        if sale["pay_stored_value"]:
            pin = stored_value.check_pin(member, pin, store=store)
        if offline:
            at = bounded(at, member.joined_at, MSG_BEFORE_JOINED)
    at = at or now()
    overdraw = offline and offline_overdraw(member, sale["pay_points"], sale["pay_stored_value"], config.program())
    quote = quote_sale(store=store, member=member, at=at, lock=True, overdraw=overdraw, **sale)
    priced = quote.priced
    backdated = offline and till_was_online(store, clerk, at)
    if member is not None:
        result = purchases.record_priced(
            member,
            priced,
            store=store,
            reference=receipt_no,
            idempotency_key=f"sale:{store.pk}:{receipt_no}",
            at=at,
            pin=pin,
            acting_user=clerk,
            overdraw=overdraw,
            program=quote.context.program,
            announce_later=True,
        )
        if quote.coupon is not None and priced.coupon_applied:
            coupons.mark_used(quote.coupon, discount=priced.coupon_value, store=store, sale_ref=receipt_no, at=at)
    row = Sale(
        store=store,
        clerk=clerk,
        member=member,
        purchase=result.purchase if result else None,
        receipt_no=receipt_no,
        amount=priced.amount,
        member_discount=priced.member_discount,
        points_redeemed=priced.points_paid,
        points_value=priced.points_value,
        coupon_code=quote.coupon.code if quote.coupon is not None and priced.coupon_applied else "",
        coupon_value=priced.coupon_value,
        stored_value_paid=priced.stored_value_paid,
        cash_due=priced.cash_due,
        points_earned=result.points_earned if result else 0,
        request_hash=digest,
        created_at=at,
        offline=offline,
        backdated=backdated,
        flagged=bool(result and result.overdrawn) or backdated,
    )
    row.response = sale_body(row, result, priced)
    rows.insert(row)
    if result is not None and result.announce is not None:
        result.announce(sale_id=str(row.pk))  # purchase.recorded names the till's sale (the API's sale_id)
    if sale["lines"]:
        SaleLine.objects.bulk_create(
            [SaleLine(sale=row, sku=ln.sku, category=ln.category, qty=ln.qty, amount=ln.amount) for ln in sale["lines"]]
        )
    return Outcome(row, _body(row), replayed=False)


def sale_body(sale: Sale, result, priced) -> dict:
    """What the till gets back, but the sale's id (see _body), in the shape pos.serializers.SaleResponse documents."""
    return {
        "receipt_no": sale.receipt_no,
        "member_no": sale.member.member_no if sale.member_id else None,
        "list_amount": money_text(priced.list_amount),
        "member_discount": money_text(priced.member_discount),
        "amount": money_text(sale.amount),
        "points_value": money_text(sale.points_value),
        "coupon_value": money_text(sale.coupon_value),
        "stored_value_paid": money_text(sale.stored_value_paid),
        "cash_due": money_text(sale.cash_due),
        "points_earned": sale.points_earned,
        "points_pending": result.points_pending if result else 0,
        "points_redeemed": sale.points_redeemed,
        "points_balance": result.points_balance if result else None,
        "growth_value": result.growth_value if result else None,
        "tier": {"code": result.tier.code, "name": result.tier.name} if result else None,
        "upgraded": result.upgraded if result else False,
        "price_basis": priced.price_basis,
        # a till's queued sale: the time it happened, and whether points took the balance below zero
        **({"occurred_at": sale.created_at.isoformat(), "flagged": sale.flagged} if sale.offline else {}),
    }


def get_sale(sale_id) -> Sale:
    try:
        return Sale.objects.select_related("purchase", "member", "store").get(pk=int(sale_id))
    except (Sale.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(field="sale_id") from exc


def record_return(
    *, sale: Sale, store, clerk, receipt_no: str, amount, digest: str, at=None, occurred_at=None
) -> Outcome:
    """A return against a sale, at any store of the chain (recorded at the returning store).
    `occurred_at`: a queued return's time, checked after a replay was looked for (as record_sale)."""
    if not can_use_counter(clerk) or clerk.store_id != store.pk:
        raise Forbidden(field="store")
    receipt_no = _check_receipt(receipt_no)
    amount = pricing.parse_amount(amount)
    if amount <= 0:
        raise Invalid(pricing.MSG_AMOUNT, field="amount")
    if replay := _replay(Return, store, receipt_no, digest):
        return replay
    if occurred_at is not None:
        at = check_occurred_at(occurred_at)
    try:
        with transaction.atomic():
            sale = Sale.objects.select_for_update().get(pk=sale.pk)
            if at is not None and occurred_at is not None:
                at = bounded(at, sale.created_at, MSG_BEFORE_SALE)
            pricing.check_return(amount, total=sale.amount, returned=sale.returned_amount)
            member_return, balance = None, None
            if sale.purchase_id:
                outcome = purchases.record_return(
                    purchase=sale.purchase,
                    amount=amount,
                    reference=receipt_no,
                    store=store,
                    acting_user=clerk,
                    idempotency_key=f"return:{store.pk}:{receipt_no}",
                    at=at,
                    sale_id=str(sale.pk),
                )
                member_return, balance = outcome.purchase_return, outcome.points_balance
            Sale.objects.filter(pk=sale.pk).update(returned_amount=F("returned_amount") + amount)
            # the cash to hand back: this return's share of what the sale took in cash (coupons, points and
            # stored value go back their own way), in the same cumulative proportion as points and growth
            returned = sale.returned_amount + amount
            cash_done = sum((Decimal(r.response.get("cash_back", "0")) for r in sale.returns.all()), Decimal("0.00"))
            cash_back = pricing.share(
                sale.cash_due, cash_done, returned, sale.amount, returned == sale.amount, as_money=True
            )
            response = {
                "amount": money_text(amount),
                "cash_back": money_text(cash_back),
                "points_reversed": member_return.points_reversed if member_return else 0,
                "growth_reversed": member_return.growth_reversed if member_return else 0,
                "points_refunded": member_return.points_refunded if member_return else 0,
                "stored_value_refunded": money_text(member_return.sv_refunded if member_return else Decimal(0)),
                "points_balance": balance,
            }
            ret = Return.objects.create(
                sale=sale,
                store=store,
                clerk=clerk,
                purchase_return=member_return,
                receipt_no=receipt_no,
                amount=amount,
                request_hash=digest,
                response=response,
                created_at=member_return.created_at if member_return else (at or now()),
            )
            return Outcome(ret, _body(ret), replayed=False)
    except IntegrityError:
        if replay := _replay(Return, store, receipt_no, digest):
            return replay
        raise
