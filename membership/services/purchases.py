"""A member's purchase and its returns: paying with points and stored value, earning points and
growth, upgrading, and reversing all of it in proportion on a return (product.md, "Points").

`record_purchase` is the one transaction of a member sale; the counter, the POS API and the demo
data all go through it (pos wraps it with coupons and the till's sale record)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from .. import hooks
from .. import config
from ..errors import Invalid, PointsCapExceeded
from ..models import Member, PointsEntry, ProgramSettings, Purchase, PurchaseReturn, Tier
from ..signals import purchase_recorded, return_recorded, send_after_commit
from . import points as points_service
from . import stored_value, tiers
from .common import CENT, local, lock_member, money, now

Kind, Source = PointsEntry.Kind, PointsEntry.Source

MSG_AMOUNT = _("The amount must be above zero, with at most two decimals.")
MSG_TOO_LARGE = _("The amount is larger than the largest sale accepted (¥%(max)s).")
MSG_POINTS_FEN = _("%(points)s points do not convert to whole fen; the nearest valid amounts are %(low)s and %(high)s.")
MSG_PAYMENTS_EXCEED = _("Points, coupon and stored value together exceed the amount.")
MSG_LINES = _("The lines add up to ¥%(lines)s, not the amount ¥%(amount)s.")
MSG_RETURN_TOO_MUCH = _("Only ¥%(left)s of this sale is left to return.")


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    points_earned: int
    points_pending: int
    points_redeemed: int
    points_value: Decimal
    stored_value_paid: Decimal
    coupon_value: Decimal
    cash_due: Decimal
    points_balance: int
    growth_value: int
    tier: Tier
    upgraded: bool
    replayed: bool = False


@dataclass(frozen=True)
class ReturnResult:
    purchase_return: PurchaseReturn
    points_balance: int
    replayed: bool = False


@dataclass(frozen=True)
class PaymentQuote:
    """What a sale would cost in points and what it would earn: the till's live preview."""

    max_points: int
    points_value: Decimal
    eligible: Decimal
    points_to_earn: int
    growth_to_earn: int
    cash_due: Decimal


def parse_amount(value, field="amount") -> Decimal:
    try:
        amount = Decimal(str(value))
    except Exception as exc:
        raise Invalid(MSG_AMOUNT, field=field) from exc
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise Invalid(MSG_AMOUNT, field=field)
    return amount


def points_value(points: int, program: ProgramSettings) -> Decimal:
    """¥ value of `points` paid; raises Invalid unless it is a whole number of fen."""
    rate = program.redeem_points_per_yuan
    if (points * 100) % rate:
        step = rate // _gcd(rate, 100)
        low, high = points - points % step, points - points % step + step
        raise Invalid(MSG_POINTS_FEN % {"points": points, "low": low, "high": high}, field="pay_points")
    return Decimal(points * 100 // rate) / 100


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def max_points_for(amount: Decimal, balance: int, program: ProgramSettings) -> int:
    """The most points that may pay `amount`: the cap, the balance, and whole fen."""
    cap_value = (amount * program.redeem_cap_percent / 100).quantize(CENT, rounding=ROUND_DOWN)
    by_cap = int(cap_value * program.redeem_points_per_yuan)
    best = max(0, min(by_cap, balance))
    step = program.redeem_points_per_yuan // _gcd(program.redeem_points_per_yuan, 100)
    return best - best % step


def quote(*, member: Member, amount, pay_points: int = 0, coupon_value=Decimal(0), lines=None,
          at: datetime | None = None) -> PaymentQuote:
    """Preview a sale without writing anything (same rules as record_purchase)."""
    program = config.program()
    amount = parse_amount(amount)
    at = at or now()
    value = points_value(pay_points, program) if pay_points else Decimal("0.00")
    eligible = max(Decimal(0), amount - value - Decimal(coupon_value))
    earn = points_service.points_for(eligible=eligible, tier_multiplier=member.tier.points_multiplier,
                                     campaign_multiplier=hooks.largest_campaign_multiplier(member, at), lines=lines,
                                     on=local(at).date(), program=program)
    earn = points_service.apply_caps(earn, member=member, at=at, program=program)
    return PaymentQuote(max_points=max_points_for(amount, member.points_balance, program), points_value=value,
                        eligible=eligible, points_to_earn=earn, growth_to_earn=int(eligible),
                        cash_due=amount - value - Decimal(coupon_value))


def _result(purchase: Purchase, member: Member, *, replayed: bool, upgraded: bool,
            pending: int | None = None) -> PurchaseResult:
    if pending is None:  # a replay: read it from the sale's earn lot
        earn_entry = purchase.points_entries.filter(kind=Kind.EARN).first()
        pending = earn_entry.amount if earn_entry is not None and earn_entry.pending else 0
    return PurchaseResult(
        purchase=purchase, points_earned=purchase.points_earned, points_pending=pending,
        points_redeemed=purchase.points_paid, points_value=purchase.points_value,
        stored_value_paid=purchase.sv_paid, coupon_value=purchase.coupon_value,
        cash_due=purchase.amount - purchase.points_value - purchase.coupon_value - purchase.sv_paid,
        points_balance=member.points_balance, growth_value=member.growth_value, tier=member.tier,
        upgraded=upgraded, replayed=replayed)


# the member columns a purchase may change (saving only these keeps the UPDATE small)
PURCHASE_FIELDS = ["points_balance", "points_pending", "points_flagged", "growth_value", "tier", "tier_since",
                   "sv_principal", "sv_bonus", "purchase_count", "last_purchase_at"]


def record_purchase(*, member, store, reference: str, amount, idempotency_key: str, lines=None,
                    pay_points: int = 0, pay_stored_value=Decimal("0.00"), coupon_value=Decimal("0.00"),
                    pin: str | None = None, acting_user=None, at: datetime | None = None,
                    savepoint: bool = True) -> PurchaseResult:
    """Record a member's sale in one transaction.

    Order: points paid (FIFO by expiry, within the cap, whole fen) → stored value paid (principal
    first, or in proportion) → points earned on what was paid with money or stored value, at the
    tier held before this sale → growth (1 per whole yuan of that) → instant upgrade. A repeated
    idempotency key returns the first result and changes nothing. `savepoint=False` when the
    caller's own transaction rolls back as a whole on any error (pos's sale): one round trip less."""
    program = config.program()
    amount = parse_amount(amount)
    if amount <= 0:
        raise Invalid(MSG_AMOUNT, field="amount")
    if amount > program.max_sale_amount:
        raise Invalid(MSG_TOO_LARGE % {"max": program.max_sale_amount}, field="amount")
    if not isinstance(pay_points, int) or isinstance(pay_points, bool) or pay_points < 0:
        raise Invalid(_("Points paid must be a whole number, zero or more."), field="pay_points")
    sv = parse_amount(pay_stored_value or 0, field="pay_stored_value")
    coupon_value = parse_amount(coupon_value or 0, field="coupon_code")
    if sv < 0:
        raise Invalid(MSG_AMOUNT, field="pay_stored_value")
    if lines:
        total = sum((ln.amount for ln in lines), Decimal(0))
        if total != amount:
            raise Invalid(MSG_LINES % {"lines": total, "amount": amount}, field="lines")
    value = points_value(pay_points, program) if pay_points else Decimal("0.00")
    cap = (amount * program.redeem_cap_percent / 100).quantize(CENT, rounding=ROUND_DOWN)
    if value > cap:
        raise PointsCapExceeded(field="pay_points", max_points=int(cap * program.redeem_points_per_yuan))
    if value + coupon_value + sv > amount:
        raise Invalid(MSG_PAYMENTS_EXCEED, field="amount")

    with transaction.atomic(savepoint=savepoint):
        member = lock_member(member)
        if existing := Purchase.objects.filter(idempotency_key=idempotency_key).values_list("pk", flat=True).first():
            return _result(Purchase.objects.get(pk=existing), member, replayed=True, upgraded=False)
        if member.status != Member.Status.ACTIVE:
            raise Invalid(_("This member account is closed."), field="member")
        at = at or now()
        old_tier = member.tier
        eligible = amount - value - coupon_value
        earned = points_service.points_for(
            eligible=eligible, tier_multiplier=old_tier.points_multiplier,
            campaign_multiplier=hooks.largest_campaign_multiplier(member, at), lines=lines,
            on=local(at).date(), program=program)
        earned = points_service.apply_caps(earned, member=member, at=at, program=program)
        growth = int(eligible)  # 1 per whole yuan paid with money or stored value
        purchase = Purchase.objects.create(
            member=member, store=store, operator=acting_user, reference=reference, created_at=at, amount=amount,
            points_paid=pay_points, points_value=value, coupon_value=coupon_value, eligible_amount=eligible,
            points_earned=earned, growth=growth, tier_at_sale=old_tier, idempotency_key=idempotency_key)
        common = dict(store=store, operator=acting_user, source_ref=reference, purchase=purchase)
        if pay_points:
            points_service._expire_member_due(member, at)
            points_service._debit(member, amount=pay_points, kind=Kind.REDEEM, source=Source.SALE, at=at,
                                  idempotency_key=f"{idempotency_key}:redeem", **common)
        if sv:
            entry = stored_value.pay(member, amount=sv, at=at, program=program, pin=pin,
                                     idempotency_key=f"{idempotency_key}:sv", **common)
            purchase.sv_principal_paid, purchase.sv_bonus_paid = -entry.principal, -entry.bonus
            purchase.save(update_fields=["sv_principal_paid", "sv_bonus_paid"])
        pending = 0
        if earned:
            entry = points_service._credit(member, amount=earned, kind=Kind.EARN, source=Source.SALE, at=at,
                                           program=program, pending_until=points_service.available_from(at, program),
                                           idempotency_key=f"{idempotency_key}:earn", **common)
            pending = earned if entry.pending else 0
        upgraded = tiers.add_growth(member, growth, at=at, purchase=purchase, program=program)
        member.purchase_count += 1
        member.last_purchase_at = max(filter(None, [member.last_purchase_at, at]))
        member.save(update_fields=PURCHASE_FIELDS)
        send_after_commit(purchase_recorded, purchase_id=purchase.pk, member_id=member.pk,
                          referred=member.referrer_id is not None)
        return _result(purchase, member, replayed=False, upgraded=upgraded, pending=pending)


def _share(total, done, returned, amount, complete, *, as_money=False):
    """This return's part of `total`: the cumulative proportion rounded down, minus what earlier
    returns took; the return that completes the sale takes whatever remains."""
    if complete:
        return total - done
    target = Decimal(total) * returned / amount
    target = money(target) if as_money else int(target.to_integral_value(rounding=ROUND_DOWN))
    return max(target - done, 0 if not as_money else Decimal("0.00"))


def record_return(*, purchase: Purchase, amount, reference: str, idempotency_key: str, store=None,
                  acting_user=None, at: datetime | None = None) -> ReturnResult:
    """Return part or all of a purchase: reverse points and growth earned on it and refund points
    and stored value paid on it, each in proportion, rounded down; the completing return reverses
    the rest. Reversed points come from the sale's own lot first; a balance may go below zero only
    here, and that is flagged."""
    amount = parse_amount(amount)
    if amount <= 0:
        raise Invalid(MSG_AMOUNT, field="amount")
    with transaction.atomic():
        member = lock_member(purchase.member_id)
        if existing := PurchaseReturn.objects.filter(idempotency_key=idempotency_key).first():
            return ReturnResult(existing, member.points_balance, replayed=True)
        purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
        left = purchase.amount - purchase.returned_amount
        if amount > left:
            raise Invalid(MSG_RETURN_TOO_MUCH % {"left": left}, field="amount")
        at = at or now()
        returned = purchase.returned_amount + amount
        complete = returned == purchase.amount
        p = purchase
        reverse_points = _share(p.points_earned, p.points_reversed, returned, p.amount, complete)
        refund_points = _share(p.points_paid, p.points_refunded, returned, p.amount, complete)
        reverse_growth = _share(p.growth, p.growth_reversed, returned, p.amount, complete)
        refund_principal = _share(p.sv_principal_paid, p.sv_principal_refunded, returned, p.amount, complete,
                                  as_money=True)
        refund_bonus = _share(p.sv_bonus_paid, p.sv_bonus_refunded, returned, p.amount, complete, as_money=True)
        store = store or purchase.store
        common = dict(store=store, operator=acting_user, source_ref=reference, purchase=purchase)
        program = config.program()
        if reverse_points:
            # expire what is due first, as every other debit does: the reversal takes only from lots that
            # are still valid, so the available balance keeps equalling what is left in the lots
            points_service._expire_member_due(member, at)
            points_service._debit(member, amount=reverse_points, kind=Kind.REVERSE, source=Source.RETURN, at=at,
                                  allow_negative=True, prefer_purchase=purchase,
                                  idempotency_key=f"{idempotency_key}:reverse", **common)
        if refund_points:
            points_service._credit(member, amount=refund_points, kind=Kind.REVERSE, source=Source.RETURN, at=at,
                                   program=program, idempotency_key=f"{idempotency_key}:refund", **common)
        if reverse_growth:
            tiers.add_growth(member, -reverse_growth, at=at, purchase=purchase, program=program)
        stored_value.refund_to_member(member, principal=refund_principal, bonus=refund_bonus, at=at,
                                      idempotency_key=f"{idempotency_key}:sv", **common)
        member.save()
        purchase.returned_amount = returned
        purchase.points_reversed += reverse_points
        purchase.points_refunded += refund_points
        purchase.growth_reversed += reverse_growth
        purchase.sv_principal_refunded += refund_principal
        purchase.sv_bonus_refunded += refund_bonus
        purchase.save(update_fields=["returned_amount", "points_reversed", "points_refunded", "growth_reversed",
                                     "sv_principal_refunded", "sv_bonus_refunded"])
        ret = PurchaseReturn.objects.create(
            purchase=purchase, reference=reference, amount=amount, points_reversed=reverse_points,
            points_refunded=refund_points, growth_reversed=reverse_growth,
            sv_refunded=refund_principal + refund_bonus, store=store, operator=acting_user, created_at=at,
            idempotency_key=idempotency_key)
        send_after_commit(return_recorded, return_id=ret.pk, purchase_id=purchase.pk, member_id=member.pk,
                          amount=amount)
        return ReturnResult(ret, member.points_balance)
