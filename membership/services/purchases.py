"""A member's purchase and its returns: paying with points and stored value, earning points and
growth, upgrading, and reversing all of it in proportion on a return (product.md, "Points").

`record_purchase` is the one transaction of a member sale (the demo data, imports of history);
the till's sale (pos.services.sales.record_sale: the counter and the POS API) locks the member and
prices it with its coupon, then writes it through the same `record_priced`."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from core import money, rows
from core.clock import local, now
from core.errors import Invalid
from core.outbox import send_after_commit

from .. import config
from ..models import Member, PointsEntry, Purchase, PurchaseReturn, Tier
from ..signals import purchase_recorded, return_recorded
from . import points as points_service
from . import pricing, stored_value, tiers
from .common import MSG_CLOSED, lock_member
from .pricing import MSG_AMOUNT, CouponTerms, Pricing, parse_amount

Kind, Source = PointsEntry.Kind, PointsEntry.Source


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    points_earned: int
    points_pending: int
    points_redeemed: int
    points_value: Decimal
    stored_value_paid: Decimal
    coupon_value: Decimal
    member_discount: Decimal
    cash_due: Decimal
    points_balance: int
    growth_value: int
    tier: Tier
    upgraded: bool
    replayed: bool = False
    pricing: Pricing | None = None  # None on a replay: the first recording's figures are on `purchase`
    overdrawn: bool = False  # points or stored value paid took a balance below zero (overdraw)
    # records purchase.recorded when the caller asked to (`announce_later`), with the fields only it knows
    # (the till's sale_id, its row written after the purchase's); None on a replay or once recorded
    announce: Callable[..., object] | None = None


@dataclass(frozen=True)
class ReturnResult:
    purchase_return: PurchaseReturn
    points_balance: int
    replayed: bool = False


def quote(
    *,
    member: Member | None,
    amount=None,
    list_amount=None,
    lines=None,
    pay_points: int = 0,
    pay_stored_value=Decimal("0.00"),
    coupon: CouponTerms | None = None,
    best_price: bool = False,
    at: datetime | None = None,
    overdraw: bool = False,
) -> Pricing:
    """Price a member's sale without writing anything, as record_purchase prices it on the locked
    member (a till's sale and its preview price through pos.services.sales.quote_sale)."""
    return pricing.price_sale(
        pricing.sale_context(member, lines=lines, at=at or now()),
        amount=amount,
        list_amount=list_amount,
        lines=lines or (),
        pay_points=pay_points,
        pay_stored_value=pay_stored_value,
        coupon=coupon,
        best_price=best_price,
        overdraw=overdraw,
    )


def _result(
    purchase: Purchase,
    member: Member,
    *,
    replayed: bool,
    upgraded: bool,
    priced: Pricing | None = None,
    pending: int | None = None,
    overdrawn: bool = False,
    announce=None,
) -> PurchaseResult:
    if pending is None:  # a replay: read it from the sale's earn lot
        earn_entry = purchase.points_entries.filter(kind=Kind.EARN).first()
        pending = earn_entry.amount if earn_entry is not None and earn_entry.pending else 0
    return PurchaseResult(
        purchase=purchase,
        points_earned=purchase.points_earned,
        points_pending=pending,
        points_redeemed=purchase.points_paid,
        points_value=purchase.points_value,
        stored_value_paid=purchase.sv_paid,
        coupon_value=purchase.coupon_value,
        member_discount=purchase.member_discount,
        cash_due=pricing.cash_due(purchase.eligible_amount, purchase.sv_paid),
        points_balance=member.points_balance,
        growth_value=member.growth_value,
        tier=member.tier,
        upgraded=upgraded,
        replayed=replayed,
        pricing=priced,
        overdrawn=overdrawn,
        announce=announce,
    )


# the member columns a purchase may change (saving only these keeps the UPDATE small)
PURCHASE_FIELDS = [
    "points_balance",
    "points_pending",
    "points_flagged",
    "growth_value",
    "tier",
    "tier_since",
    "sv_principal",
    "sv_bonus",
    "purchase_count",
    "last_purchase_at",
]


def record_purchase(
    *,
    member,
    store,
    reference: str,
    idempotency_key: str,
    amount=None,
    list_amount=None,
    lines=None,
    pay_points: int = 0,
    pay_stored_value=Decimal("0.00"),
    coupon: CouponTerms | None = None,
    best_price: bool = False,
    pin: str | None = None,
    acting_user=None,
    at: datetime | None = None,
    overdraw: bool = False,
) -> PurchaseResult:
    """Record a member's sale in one transaction, as `pricing.price_sale` prices it: the member locked,
    the sale priced on the locked balances (`quote`), then `record_priced`.

    A repeated idempotency key returns the first result and changes nothing. `overdraw`: points and stored value paid may take the balances below zero (flagged; a
    till's offline sale). The till's sale (pos.services.sales.record_sale) locks, prices with its
    coupon and calls `record_priced` itself."""
    with transaction.atomic():
        member = lock_member(member)
        if existing := Purchase.objects.filter(idempotency_key=idempotency_key).values_list("pk", flat=True).first():
            return _result(Purchase.objects.get(pk=existing), member, replayed=True, upgraded=False)
        if member.status != Member.Status.ACTIVE:
            raise Invalid(MSG_CLOSED, field="member")
        at = at or now()
        priced = quote(
            member=member,
            amount=amount,
            list_amount=list_amount,
            lines=lines,
            pay_points=pay_points,
            pay_stored_value=pay_stored_value,
            coupon=coupon,
            best_price=best_price,
            at=at,
            overdraw=overdraw,
        )
        return record_priced(
            member,
            priced,
            store=store,
            reference=reference,
            idempotency_key=idempotency_key,
            pin=pin,
            acting_user=acting_user,
            at=at,
            overdraw=overdraw,
        )


def record_priced(
    member: Member,
    priced: Pricing,
    *,
    store,
    reference: str,
    idempotency_key: str,
    at: datetime,
    pin=None,
    acting_user=None,
    overdraw: bool = False,
    program=None,
    announce_later: bool = False,
) -> PurchaseResult:
    """Write a sale priced on `member` as locked in the caller's transaction: the purchase, then points
    paid (FIFO by expiry) → stored value paid (principal first, or in proportion; `pin` checked under
    the lock) → points earned on what was paid with money or stored value, at the tier held before
    this sale → growth (1 per whole yuan of that) → instant upgrade. `program`: the settings the sale
    was priced with (its SaleContext's), else the kept ones. The purchase.recorded event is recorded
    here, or with `announce_later` by the caller through `result.announce(sale_id=…)` in the same
    transaction (the till, whose sale row is written after the purchase)."""
    program = program or config.program()
    old_tier = member.tier
    purchase = rows.insert(
        Purchase(
            member=member,
            store=store,
            operator=acting_user,
            reference=reference,
            created_at=at,
            amount=priced.amount,
            member_discount=priced.member_discount,
            points_paid=priced.points_paid,
            points_value=priced.points_value,
            coupon_value=priced.coupon_value,
            eligible_amount=priced.eligible,
            points_earned=priced.points_to_earn,
            growth=priced.growth_to_earn,
            tier_at_sale=old_tier,
            idempotency_key=idempotency_key,
        )
    )
    common = dict(store=store, operator=acting_user, source_ref=reference, purchase=purchase)
    overdrawn = _pay(member, priced, program, at=at, pin=pin, overdraw=overdraw, key=idempotency_key, **common)
    pending = 0
    if priced.points_to_earn:
        entry = points_service.credit_locked(
            member,
            amount=priced.points_to_earn,
            kind=Kind.EARN,
            source=Source.SALE,
            at=at,
            program=program,
            pending_until=points_service.available_from(at, program),
            idempotency_key=f"{idempotency_key}:earn",
            **common,
        )
        pending = priced.points_to_earn if entry.pending else 0
    upgraded = tiers.add_growth(
        member, priced.growth_to_earn, at=at, purchase=purchase, program=program, paid=priced.paid_amount
    )
    member.purchase_count += 1
    member.last_purchase_at = max(filter(None, [member.last_purchase_at, at]))
    rows.update(member, PURCHASE_FIELDS)
    announce = _announcer(member, purchase, _purchase_data(member, priced, store=store, reference=reference, at=at))
    if not announce_later:
        announce()
    return _result(
        purchase,
        member,
        replayed=False,
        upgraded=upgraded,
        priced=priced,
        pending=pending,
        overdrawn=overdrawn,
        announce=announce if announce_later else None,
    )


def _announcer(member, purchase, data: dict):
    """Records purchase.recorded (with the fields the caller adds: the till's sale_id)."""

    def announce(**known):
        return send_after_commit(
            purchase_recorded,
            purchase_id=purchase.pk,
            member_id=member.pk,
            referred=member.referrer_id is not None,
            data={**data, **known},
        )

    return announce


def _purchase_data(member, priced: Pricing, *, store, reference: str, at) -> dict:
    """purchase.recorded's public fields (../shared/spec/events.md); the till adds its sale_id."""
    return {
        "member_no": member.member_no,
        "store": store.code,
        "sale_id": None,
        "receipt_no": reference,
        "amount": money.text(priced.amount),
        "list_amount": money.text(priced.list_amount),
        "member_discount": money.text(priced.member_discount),
        "points_earned": priced.points_to_earn,
        "points_redeemed": priced.points_paid,
        "stored_value_paid": money.text(priced.stored_value_paid),
        "coupon_value": money.text(priced.coupon_value),
        "occurred_at": local(at).isoformat(),
    }


def _pay(member, priced: Pricing, program, *, at, pin, overdraw: bool, key: str, **common) -> bool:
    """Points and stored value paid on the sale; True when either took its balance below zero."""
    purchase = common["purchase"]
    overdrawn = False
    if priced.points_paid:
        overdrawn = points_service.debit_locked(
            member,
            amount=priced.points_paid,
            kind=Kind.REDEEM,
            source=Source.SALE,
            at=at,
            allow_negative=overdraw,
            idempotency_key=f"{key}:redeem",
            **common,
        ).flagged
    if priced.stored_value_paid:
        entry = stored_value.pay(
            member,
            amount=priced.stored_value_paid,
            at=at,
            program=program,
            pin=pin,
            allow_negative=overdraw,
            idempotency_key=f"{key}:sv",
            **common,
        )
        overdrawn = overdrawn or member.sv_flagged
        purchase.sv_principal_paid, purchase.sv_bonus_paid = -entry.principal, -entry.bonus
        rows.update(purchase, ["sv_principal_paid", "sv_bonus_paid"])
    return overdrawn


@dataclass(frozen=True)
class _ReturnShare:
    """What a return of `amount` takes back of its purchase, each in proportion, rounded down; the
    completing return takes the rest."""

    returned: Decimal  # the purchase's returned amount with this return
    reverse_points: int
    refund_points: int
    reverse_growth: int
    refund_principal: Decimal
    refund_bonus: Decimal

    @classmethod
    def of(cls, p: Purchase, amount: Decimal) -> "_ReturnShare":
        returned = p.returned_amount + amount
        complete = returned == p.amount
        return cls(
            returned=returned,
            reverse_points=pricing.share(p.points_earned, p.points_reversed, returned, p.amount, complete),
            refund_points=pricing.share(p.points_paid, p.points_refunded, returned, p.amount, complete),
            reverse_growth=pricing.share(p.growth, p.growth_reversed, returned, p.amount, complete),
            refund_principal=pricing.share(
                p.sv_principal_paid, p.sv_principal_refunded, returned, p.amount, complete, as_money=True
            ),
            refund_bonus=pricing.share(
                p.sv_bonus_paid, p.sv_bonus_refunded, returned, p.amount, complete, as_money=True
            ),
        )

    def mark(self, purchase: Purchase) -> None:
        """Add this return to the purchase's running totals, and save them."""
        purchase.returned_amount = self.returned
        purchase.points_reversed += self.reverse_points
        purchase.points_refunded += self.refund_points
        purchase.growth_reversed += self.reverse_growth
        purchase.sv_principal_refunded += self.refund_principal
        purchase.sv_bonus_refunded += self.refund_bonus
        purchase.save(
            update_fields=[
                "returned_amount",
                "points_reversed",
                "points_refunded",
                "growth_reversed",
                "sv_principal_refunded",
                "sv_bonus_refunded",
            ]
        )


def _reverse_ledgers(member: Member, share: _ReturnShare, *, at: datetime, key: str, **common) -> None:
    """The return's ledger entries on the locked member: points earned reversed (the sale's own lot
    first; the balance may go below zero, flagged), points paid refunded, growth reversed, stored value
    paid refunded to the parts it came from."""
    program, purchase = config.program(), common["purchase"]
    if share.reverse_points:
        # what is due expires first, as on every debit: the reversal takes only from lots that are
        # still valid, so the available balance keeps equalling what is left in the lots
        points_service.debit_locked(
            member,
            amount=share.reverse_points,
            kind=Kind.REVERSE,
            source=Source.RETURN,
            at=at,
            allow_negative=True,
            prefer_purchase=purchase,
            idempotency_key=f"{key}:reverse",
            **common,
        )
    if share.refund_points:
        points_service.credit_locked(
            member,
            amount=share.refund_points,
            kind=Kind.REVERSE,
            source=Source.RETURN,
            at=at,
            program=program,
            idempotency_key=f"{key}:refund",
            **common,
        )
    if share.reverse_growth:
        tiers.add_growth(member, -share.reverse_growth, at=at, purchase=purchase, program=program)
    stored_value.refund_to_member(
        member,
        principal=share.refund_principal,
        bonus=share.refund_bonus,
        at=at,
        idempotency_key=f"{key}:sv",
        **common,
    )


def record_return(
    *,
    purchase: Purchase,
    amount,
    reference: str,
    idempotency_key: str,
    store=None,
    acting_user=None,
    at: datetime | None = None,
    sale_id: str | None = None,
) -> ReturnResult:
    """Return part or all of a purchase: reverse points and growth earned on it and refund points
    and stored value paid on it, each in proportion, rounded down; the completing return reverses
    the rest. Reversed points come from the sale's own lot first; a balance may go below zero only
    here, and that is flagged. `sale_id`: the till's sale, for the return.recorded event."""
    amount = parse_amount(amount)
    if amount <= 0:
        raise Invalid(MSG_AMOUNT, field="amount")
    with transaction.atomic():
        member = lock_member(purchase.member_id)
        if existing := PurchaseReturn.objects.filter(idempotency_key=idempotency_key).first():
            return ReturnResult(existing, member.points_balance, replayed=True)
        purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
        pricing.check_return(amount, total=purchase.amount, returned=purchase.returned_amount)
        at = at or now()
        share = _ReturnShare.of(purchase, amount)
        common = dict(store=store or purchase.store, operator=acting_user, source_ref=reference, purchase=purchase)
        _reverse_ledgers(member, share, at=at, key=idempotency_key, **common)
        member.save()
        share.mark(purchase)
        ret = PurchaseReturn.objects.create(
            purchase=purchase,
            reference=reference,
            amount=amount,
            points_reversed=share.reverse_points,
            points_refunded=share.refund_points,
            growth_reversed=share.reverse_growth,
            sv_refunded=share.refund_principal + share.refund_bonus,
            store=common["store"],
            operator=acting_user,
            created_at=at,
            idempotency_key=idempotency_key,
        )
        send_after_commit(
            return_recorded,
            return_id=ret.pk,
            purchase_id=purchase.pk,
            member_id=member.pk,
            amount=amount,
            data={
                "member_no": member.member_no,
                "store": common["store"].code,
                "sale_id": sale_id,
                "receipt_no": purchase.reference,
                "return_receipt_no": reference,
                "amount": money.text(amount),
                "points_reversed": share.reverse_points,
                "points_refunded": share.refund_points,
                "stored_value_refunded": money.text(share.refund_principal + share.refund_bonus),
                "occurred_at": local(at).isoformat(),
            },
        )
        return ReturnResult(ret, member.points_balance)
