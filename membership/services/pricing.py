"""The one arithmetic of a sale (product.md, "Points"; pos-api.md, "Member price").

`price_sale` is a pure function: from what a sale's inputs are (list amount or amount, lines, points
and stored value to pay, a coupon's terms) and a `SaleContext` (the member's tier, balances and the
program's rules, read once by `sale_context`), it works out every figure of the sale: member
discount, coupon value, points value, stored value, cash due, the eligible amount, points and growth
to earn. `pos.services.sales.quote_sale()` returns it for a till's sale and the counter's preview
(`purchases.quote()` for a member's purchase), `purchases.record_priced()` applies it, the API
answers it, and returns take their proportions from what it recorded. Nothing else computes these
figures."""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from math import gcd

from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy as _

from core.clock import local, now, tz
from core.errors import (
    CouponInvalid,
    InsufficientPoints,
    InsufficientStoredValue,
    Invalid,
    MembershipError,
    PointsCapExceeded,
)
from core.money import CENT, in_cents

from .. import config, hooks
from ..models import EarnMultiplier, Member, PointsEntry, ProgramSettings, Tier, TierBasis
from . import paid_cards, tiers

ZERO = Decimal("0.00")

MSG_AMOUNT = _("The amount must be above zero, with at most two decimals.")
MSG_TOO_LARGE = _("The amount is larger than the largest sale accepted (¥%(max)s).")
MSG_AMOUNT_OR_LIST = _("Send either the amount or the list amount of the sale, not both.")
MSG_POINTS_WHOLE = _("Points paid must be a whole number, zero or more.")
MSG_POINTS_FEN = _("%(points)s points do not convert to whole fen; the nearest valid amounts are %(low)s and %(high)s.")
MSG_PAYMENTS_EXCEED = _("Points, coupon and stored value together exceed the amount.")
MSG_LINES = _("The lines add up to ¥%(lines)s, not the amount ¥%(amount)s.")
MSG_LINE_NEGATIVE = _("A line's amount cannot be below zero.")
MSG_RETURN_TOO_MUCH = _("Only ¥%(left)s of this sale is left to return.")
MSG_THRESHOLD = _("This coupon needs a sale of at least ¥%(threshold)s.")
MSG_NO_STACK = _(
    "This coupon does not stack with the member discount of ¥%(discount)s: use one or the other "
    "(or ask for the best price)."
)


class Basis:
    """Which offers priced the sale (the `price_basis` of a sale response)."""

    NONE, MEMBER_DISCOUNT, COUPON, BOTH = "none", "member_discount", "coupon", "both"


@dataclass(frozen=True)
class Line:
    """A sale line: its amount (list price when the sale has a list amount), what it is, and whether
    the member discount applies to it (tobacco, gift cards: not)."""

    amount: Decimal
    sku: str = ""
    category: str = ""
    qty: int = 1
    discountable: bool = True


@dataclass(frozen=True)
class CouponTerms:
    """What a coupon takes off a sale (its template's terms; campaigns builds these)."""

    kind: str  # "cash_off" | "percent_off" | "gift"
    value: Decimal
    threshold: Decimal = ZERO
    max_discount: Decimal | None = None
    stackable: bool = True


@dataclass(frozen=True)
class SaleContext:
    """Everything the arithmetic reads besides the sale's own inputs. Built by `sale_context`
    (which does the reads); a member-less sale has tier None and zero balances."""

    program: ProgramSettings
    stages: tuple = ()
    tier: Tier | None = None
    discount_percent: Decimal = Decimal(0)  # the tier's discount, plus the birthday-month extra
    points_multiplier: Decimal = Decimal(1)
    campaign_multiplier: Decimal = Decimal(1)
    line_multipliers: dict = field(default_factory=dict)  # {("sku"|"category", key): multiplier}
    earned_today: int = 0
    points_balance: int = 0
    stored_value: Decimal = ZERO
    growth_needed: int | None = None  # to the next tier; None at the top or without a member
    growth_value: int = 0  # the member's growth now (the upgrade a sale brings: tiers.upgrade_target)


@dataclass(frozen=True)
class Pricing:
    """Every figure of one sale."""

    list_amount: Decimal  # before the member discount
    member_discount: Decimal
    discount_percent: Decimal  # the rate that priced it (0 when no discount applied)
    amount: Decimal  # what the sale is worth after the member discount: returns are against this
    paid_amount: Decimal  # after discounts and coupons, by any means of payment (the instant tier's measure)
    coupon_value: Decimal
    coupon_applied: bool
    price_basis: str
    points_paid: int
    points_value: Decimal
    max_points: int  # the most points this sale accepts (cap, balance, whole fen)
    max_points_value: Decimal
    stored_value_paid: Decimal
    cash_due: Decimal
    eligible: Decimal  # paid with money or stored value: what earns points and growth
    points_to_earn: int
    growth_to_earn: int
    growth_needed_after: int | None  # to the next tier once this sale is recorded
    lines: tuple  # the lines with the member discount spread over them
    tier_after: Tier | None = None  # the tier this sale lifts the member to (tiers.upgrade_target), None: no upgrade


# ---------------------------------------------------------------------------------------
# Small rules
# ---------------------------------------------------------------------------------------


def parse_amount(value, field="amount") -> Decimal:
    if (amount := in_cents(value)) is None:
        raise Invalid(MSG_AMOUNT, field=field)
    return amount


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _points_step(program: ProgramSettings) -> int:
    """The smallest number of points worth whole fen."""
    rate = program.redeem_points_per_yuan
    return rate // gcd(rate, 100)


def points_value(points: int, program: ProgramSettings) -> Decimal:
    """¥ value of `points` paid; raises Invalid unless it is a whole number of fen."""
    rate = program.redeem_points_per_yuan
    if (points * 100) % rate:
        step = _points_step(program)
        low, high = points - points % step, points - points % step + step
        raise Invalid(MSG_POINTS_FEN % {"points": points, "low": low, "high": high}, field="pay_points")
    return Decimal(points * 100 // rate) / 100


def points_cap_value(amount: Decimal, program: ProgramSettings) -> Decimal:
    """The most of `amount` that points may pay."""
    return (amount * program.redeem_cap_percent / 100).quantize(CENT, rounding=ROUND_DOWN)


def max_points_for(amount: Decimal, balance: int, program: ProgramSettings) -> int:
    """The most points that may pay `amount`: the cap, the balance, and whole fen."""
    by_cap = int(points_cap_value(amount, program) * program.redeem_points_per_yuan)
    best = max(0, min(by_cap, balance))
    return best - best % _points_step(program)


def coupon_value(terms: CouponTerms, amount: Decimal) -> Decimal:
    """The money a coupon takes off a sale of `amount`; raises CouponInvalid below its threshold."""
    if amount < terms.threshold:
        raise CouponInvalid(MSG_THRESHOLD % {"threshold": terms.threshold}, field="coupon_code")
    if terms.kind == "cash_off":
        return min(terms.value, amount)
    if terms.kind == "percent_off":
        off = (amount * terms.value / 100).quantize(CENT, rounding=ROUND_DOWN)
        return min(off, terms.max_discount) if terms.max_discount is not None else off
    return ZERO  # a gift: handed over, no money off


def staged_points(eligible: Decimal, base_rate: Decimal, stages) -> Decimal:
    """Points before multipliers: the base rate, or staged rates (阶梯) where configured.

    Each stage's rate applies to the part of the amount from its `from_amount` up to the next
    stage's (marginal, like tax brackets); below the first stage the base rate applies."""
    stages = sorted(stages, key=lambda s: s.from_amount)
    if not stages:
        return eligible * base_rate
    total = Decimal(0)
    bounds = [(Decimal(0), base_rate)] + [(s.from_amount, s.rate) for s in stages]
    for i, (start, rate) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else None
        if eligible <= start:
            break
        part = (min(eligible, end) if end is not None else eligible) - start
        total += part * rate
    return total


def line_factor(lines, table: dict) -> Decimal:
    """Amount-weighted multiplier of the sale's lines: a SKU multiplier wins over its category's."""
    total = sum((ln.amount for ln in lines or ()), Decimal(0))
    if not lines or total <= 0 or not table:
        return Decimal(1)
    weighted = sum(
        (ln.amount * table.get(("sku", ln.sku), table.get(("category", ln.category), Decimal(1))) for ln in lines),
        Decimal(0),
    )
    return weighted / total


def earn(eligible: Decimal, ctx: SaleContext, lines=()) -> int:
    """points = floor(eligible × base rate (or stages) × line multipliers × tier × campaign), then
    the per-sale and per-day caps."""
    if eligible <= 0:
        return 0
    base = staged_points(eligible, ctx.program.earn_rate, ctx.stages)
    points = max(
        0,
        _floor(
            base
            * line_factor(lines, ctx.line_multipliers)
            * Decimal(ctx.points_multiplier)
            * Decimal(ctx.campaign_multiplier)
        ),
    )
    if ctx.program.per_sale_cap is not None:
        points = min(points, ctx.program.per_sale_cap)
    if ctx.program.per_day_cap is not None:
        points = min(points, max(0, ctx.program.per_day_cap - ctx.earned_today))
    return max(0, points)


def cash_due(eligible: Decimal, stored_value_paid: Decimal) -> Decimal:
    """What is left to pay in cash: the eligible amount less what stored value paid."""
    return eligible - stored_value_paid


def growth_for(eligible: Decimal, points: int, program: ProgramSettings) -> int:
    """What a sale adds to growth, by the program's tier basis: 1 per whole yuan paid with money or
    stored value (spend), 1 per purchase, or the points it earned."""
    if program.tier_basis == TierBasis.PURCHASES:
        return 1
    if program.tier_basis == TierBasis.POINTS:
        return points
    return int(eligible)


def share(total, done, returned, amount, complete, *, as_money=False):
    """A return's part of `total` (points, growth, stored value, cash of a sale): the cumulative
    proportion rounded down, minus what earlier returns took; the return that completes the sale
    takes whatever remains, so returning in parts or whole gives the same totals."""
    if complete:
        return total - done
    target = Decimal(total) * returned / amount
    target = (
        target.quantize(CENT, rounding=ROUND_DOWN) if as_money else int(target.to_integral_value(rounding=ROUND_DOWN))
    )
    return max(target - done, ZERO if as_money else 0)


def check_return(amount: Decimal, *, total: Decimal, returned: Decimal) -> None:
    """A return may take at most what is left of its sale."""
    left = total - returned
    if amount > left:
        raise Invalid(MSG_RETURN_TOO_MUCH % {"left": left}, field="amount")


def _spread(lines: tuple, discount: Decimal, discountable_total: Decimal) -> tuple:
    """The lines after the member discount: each discountable line gives its share, rounded down to
    the fen; the last discountable line gives what rounding left."""
    if not discount or not lines:
        return lines
    out, given = [], ZERO
    last = max(i for i, ln in enumerate(lines) if ln.discountable)
    for i, ln in enumerate(lines):
        if not ln.discountable:
            out.append(ln)
            continue
        share = (
            discount - given
            if i == last
            else (discount * ln.amount / discountable_total).quantize(CENT, rounding=ROUND_DOWN)
        )
        given += share
        out.append(replace(ln, amount=ln.amount - share))
    return tuple(out)


# ---------------------------------------------------------------------------------------
# The sale
# ---------------------------------------------------------------------------------------


def _checked_inputs(program, amount, list_amount, lines, pay_points, pay_stored_value):
    """The sale's own inputs checked, in this order: (gross, priced from a list amount, stored value, lines)."""
    if amount is not None and list_amount is not None:
        raise Invalid(MSG_AMOUNT_OR_LIST, field="list_amount")
    with_list = list_amount is not None
    gross_field = "list_amount" if with_list else "amount"
    gross = parse_amount(list_amount if with_list else amount, field=gross_field)
    if gross <= 0:
        raise Invalid(MSG_AMOUNT, field=gross_field)
    if gross > program.max_sale_amount:
        raise Invalid(MSG_TOO_LARGE % {"max": program.max_sale_amount}, field=gross_field)
    if not isinstance(pay_points, int) or isinstance(pay_points, bool) or pay_points < 0:
        raise Invalid(MSG_POINTS_WHOLE, field="pay_points")
    sv = parse_amount(pay_stored_value or 0, field="pay_stored_value")
    if sv < 0:
        raise Invalid(MSG_AMOUNT, field="pay_stored_value")
    lines = tuple(lines or ())
    if any(ln.amount < 0 for ln in lines):
        raise Invalid(MSG_LINE_NEGATIVE, field="lines")
    if lines:
        total = sum((ln.amount for ln in lines), Decimal(0))
        if total != gross:
            raise Invalid(MSG_LINES % {"lines": total, "amount": gross}, field="lines")
    return gross, with_list, sv, lines


def _with_coupon(coupon: CouponTerms | None, gross: Decimal, discount: Decimal, rate: Decimal, best_price: bool):
    """The coupon, and whether it stacks with the member discount: (discount, rate, coupon value, applied)."""
    if coupon is None:
        return discount, rate, ZERO, False
    if discount and not coupon.stackable:
        if not best_price:
            raise CouponInvalid(MSG_NO_STACK % {"discount": discount}, field="coupon_code")
        alone = coupon_value(coupon, gross)  # the coupon instead of the discount, on the full price
        if alone > discount:
            return ZERO, Decimal(0), alone, True
        return discount, rate, ZERO, False
    return discount, rate, coupon_value(coupon, gross - discount), True


def _check_payments(ctx: SaleContext, net, value, off, sv, pay_points: int, overdraw: bool) -> None:
    """Points paid within the cap, payments within the price, and within the balances (unless overdraw)."""
    program = ctx.program
    cap = points_cap_value(net, program)
    if value > cap:
        raise PointsCapExceeded(field="pay_points", max_points=int(cap * program.redeem_points_per_yuan))
    if value + off + sv > net:
        raise Invalid(MSG_PAYMENTS_EXCEED, field="amount")
    if ctx.tier is not None and pay_points and pay_points > ctx.points_balance and not overdraw:
        raise InsufficientPoints(field="pay_points", balance=ctx.points_balance)
    if ctx.tier is not None and sv and sv > ctx.stored_value and not overdraw:  # a cash sale while owing goes through
        raise InsufficientStoredValue(field="pay_stored_value", available=str(ctx.stored_value))


def price_sale(
    ctx: SaleContext,
    *,
    amount=None,
    list_amount=None,
    lines=(),
    pay_points: int = 0,
    pay_stored_value=ZERO,
    coupon: CouponTerms | None = None,
    best_price: bool = False,
    overdraw: bool = False,
) -> Pricing:
    """Price a sale. With `list_amount` (the shelf price) the member's discount applies to the
    discountable lines (all of it without lines); with `amount` the till already priced it and no
    discount is added (member_discount 0.00). A coupon that does not stack with a member discount is
    refused, unless `best_price`, which keeps whichever of the two gives the lower price (a tie keeps
    the member discount and the coupon). `overdraw`: points and stored value may pay beyond the balances (a
    till's sale queued offline, where the program allows it). Raises the domain error of the first rule broken."""
    program = ctx.program
    gross, with_list, sv, lines = _checked_inputs(program, amount, list_amount, lines, pay_points, pay_stored_value)

    # member discount: on the discountable part of a list amount
    rate = ctx.discount_percent if with_list and ctx.tier is not None else Decimal(0)
    discountable = sum((ln.amount for ln in lines if ln.discountable), Decimal(0)) if lines else gross
    discount = (discountable * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP) if rate > 0 else ZERO
    discount, rate, off, applied = _with_coupon(coupon, gross, discount, rate, best_price)
    net = gross - discount
    net_lines = _spread(lines, discount, discountable)
    basis = {
        (False, False): Basis.NONE,
        (True, False): Basis.MEMBER_DISCOUNT,
        (False, True): Basis.COUPON,
        (True, True): Basis.BOTH,
    }[(discount > 0, applied and off > 0)]

    value = points_value(pay_points, program) if pay_points else ZERO
    _check_payments(ctx, net, value, off, sv, pay_points, overdraw)
    # the most points this sale accepts: the cap, the balance, and what the coupon leaves, in whole fen
    room = int((net - off) * program.redeem_points_per_yuan)
    most = max_points_for(net, min(ctx.points_balance, room), program) if ctx.tier is not None else 0

    eligible = net - value - off  # paid with money or stored value
    points = earn(eligible, ctx, net_lines) if ctx.tier is not None else 0
    growth = growth_for(eligible, points, ctx.program) if ctx.tier is not None else 0
    # the one upgrade rule (what add_growth applies when the sale is recorded, paid=net - off)
    lifted = tiers.upgrade_target(ctx.tier, ctx.growth_value + growth, growth, net - off)[0] if ctx.tier else None
    return Pricing(
        list_amount=gross,
        member_discount=discount,
        discount_percent=rate if discount else Decimal(0),
        amount=net,
        paid_amount=net - off,
        coupon_value=off,
        coupon_applied=applied,
        price_basis=basis,
        points_paid=pay_points,
        points_value=value,
        max_points=most,
        max_points_value=points_value(most, program),
        stored_value_paid=sv,
        cash_due=cash_due(eligible, sv),
        eligible=eligible,
        points_to_earn=points,
        growth_to_earn=growth,
        growth_needed_after=None if ctx.growth_needed is None else max(0, ctx.growth_needed - growth),
        lines=net_lines,
        tier_after=lifted,
    )


def best_coupon(ctx: SaleContext, candidates, *, without: Pricing | None = None, **sale):
    """The candidate coupon that leaves the member the least to pay on this sale: `candidates` is
    [(key, CouponTerms)]; `without` is the sale already priced with no coupon (priced here if not
    given). Returns (key, Pricing) or None when none of them can be used or saves money."""
    best = None
    sale = {**sale, "best_price": True}
    base = (without or price_sale(ctx, **sale)).cash_due
    for key, terms in candidates:
        try:
            priced = price_sale(ctx, coupon=terms, **sale)
        except MembershipError:  # this coupon does not fit this sale
            continue
        if priced.coupon_applied and priced.cash_due < base and (best is None or priced.cash_due < best[1].cash_due):
            best = (key, priced)
    return best


# ---------------------------------------------------------------------------------------
# Reading the context (the only part that touches the database)
# ---------------------------------------------------------------------------------------


def multipliers_for(lines, on: date) -> dict:
    """The active SKU and category multipliers that apply to `lines`."""
    keys = {ln.sku for ln in lines or () if ln.sku} | {ln.category for ln in lines or () if ln.category}
    if not keys:
        return {}
    active = EarnMultiplier.objects.filter(
        Q(starts_on__isnull=True) | Q(starts_on__lte=on), Q(ends_on__isnull=True) | Q(ends_on__gte=on), key__in=keys
    )
    return {(m.kind, m.key): m.multiplier for m in active}


def discount_percent(member: Member, tier: Tier, program: ProgramSettings, at: datetime) -> Decimal:
    """The member's discount in percent: the tier's, plus the birthday-month extra where set, plus the
    paid card's while the member holds one."""
    rate = Decimal(tier.discount_rate)
    if program.birthday_month_discount and member.birth_month == local(at).month:
        rate += program.birthday_month_discount
    if (card := paid_cards.active_product(member, at)) is not None:
        rate += card.discount_rate
    return min(rate, Decimal(100))


def points_multiplier(member: Member, tier: Tier, at: datetime) -> Decimal:
    """The tier's multiplier, times the paid card's while the member holds one (demo: PLUS ×1.5)."""
    card = paid_cards.active_product(member, at)
    return Decimal(tier.points_multiplier) * (card.points_multiplier if card is not None else 1)


def earned_today(member: Member, at: datetime) -> int:
    """Points the member earned on sales on the local day of `at` (the per-day cap; a till's queued
    sale counts its own day, not the days after it)."""
    start = datetime.combine(local(at).date(), time.min, tzinfo=tz())
    total = PointsEntry.objects.filter(
        member=member, kind=PointsEntry.Kind.EARN, created_at__gte=start, created_at__lt=start + timedelta(days=1)
    ).aggregate(s=Sum("amount"))["s"]
    return total or 0


def sale_context(member: Member | None, *, lines=(), at: datetime | None = None) -> SaleContext:
    """Read what `price_sale` needs for `member` (None: a sale without a member) at `at`."""
    program = config.program()
    if member is None:
        return SaleContext(program=program)
    at = at or now()
    tier = config.tier(member.tier_id)
    nxt, needed = config.growth_to_next(member)
    return SaleContext(
        program=program,
        stages=tuple(config.stages()),
        tier=tier,
        discount_percent=discount_percent(member, tier, program, at),
        points_multiplier=points_multiplier(member, tier, at),
        campaign_multiplier=hooks.largest_campaign_multiplier(member, at),
        line_multipliers=multipliers_for(lines, local(at).date()),
        earned_today=earned_today(member, at) if program.per_day_cap is not None else 0,
        points_balance=member.points_balance,
        stored_value=member.sv_principal + member.sv_bonus,
        growth_needed=needed if nxt else None,
        growth_value=member.growth_value,
    )
