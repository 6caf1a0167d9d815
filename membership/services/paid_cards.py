"""Paid membership cards (付费会员卡 / 权益卡): buying and renewing with money or points, the card's
rules at a sale, and the manager's pro-rata refund (demo-program.md, "Paid membership card").

A member holds at most one product at a time; buying it again adds its days to the end. The member
row keeps a copy of the product and its end (`paid_card_product`, `paid_card_until`) so a sale reads
the card's multiplier and discount without a query. The monthly coupon is campaigns' part
(campaigns.services.paid_cards)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core import money
from core.clock import local, now
from core.errors import Forbidden, Invalid, NotFound
from core.money import CENT
from core.outbox import send_after_commit

from .. import config
from ..models import Member, PaidCard, PaidCardProduct, PointsEntry
from ..permissions import can_manage_members
from ..signals import paid_card_purchased
from . import points
from .common import audit, lock_member

MSG_NOT_ON_SALE = _("No paid card %(code)s is on sale.")
MSG_NO_POINTS_PRICE = _("%(name)s cannot be bought with points.")
MSG_OTHER_CARD = _("The member holds %(name)s until %(until)s: one paid card at a time.")
MSG_PAY_WITH = _("Pay with money or points.")
MSG_REFUND_MANAGER = _("Only a store manager can refund a paid card.")
MSG_NOTHING_TO_REFUND = _("The member holds no paid card to refund.")


@dataclass(frozen=True)
class Refund:
    amount: Decimal
    points: int
    purchases: int


def active_product(member: Member, at: datetime | None = None) -> PaidCardProduct | None:
    """The paid card the member holds at `at` (no query: the member row keeps it)."""
    at = at or now()
    if member.paid_card_product_id is None or member.paid_card_until is None or member.paid_card_until <= at:
        return None
    return config.paid_card_product(member.paid_card_product_id)


def product_by_code(code: str) -> PaidCardProduct:
    product = PaidCardProduct.objects.filter(code=(code or "").strip().upper(), is_active=True).first()
    if product is None:
        raise NotFound(MSG_NOT_ON_SALE % {"code": code}, field="product")
    return product


def on_sale():
    return PaidCardProduct.objects.filter(is_active=True).order_by("price")


def buy(
    *,
    member,
    product: PaidCardProduct,
    pay_with: str,
    idempotency_key: str,
    store=None,
    acting_user=None,
    at: datetime | None = None,
) -> PaidCard:
    """Buy or renew a paid card, with money (taken at the till) or with points (from the ledger), in
    one transaction. Renewing adds the days to the end of the current card. Idempotent on the key."""
    if pay_with not in ("money", "points"):
        raise Invalid(MSG_PAY_WITH, field="pay_with")
    if pay_with == "points" and not product.points_price:
        raise Invalid(MSG_NO_POINTS_PRICE % {"name": product.name}, field="pay_with")
    with transaction.atomic():
        member = lock_member(member)
        if existing := PaidCard.objects.filter(idempotency_key=idempotency_key).first():
            return existing
        if member.status != Member.Status.ACTIVE:
            raise Invalid(_("This member account is closed."), field="member")
        at = at or now()
        current = active_product(member, at)
        if current is not None and current.pk != product.pk:
            raise Invalid(
                MSG_OTHER_CARD % {"name": current.name, "until": f"{member.paid_card_until:%Y-%m-%d}"}, field="product"
            )
        starts = member.paid_card_until if current is not None else at
        card = PaidCard.objects.create(
            member=member,
            product=product,
            paid_amount=product.price if pay_with == "money" else Decimal("0.00"),
            paid_points=product.points_price if pay_with == "points" else 0,
            starts_at=starts,
            ends_at=starts + timedelta(days=product.days),
            store=store,
            operator=acting_user,
            created_at=at,
            idempotency_key=idempotency_key,
        )
        if pay_with == "points":
            points.debit_locked(
                member,
                amount=product.points_price,
                kind=PointsEntry.Kind.REDEEM,
                source=PointsEntry.Source.PAID_CARD,
                at=at,
                store=store,
                operator=acting_user,
                source_ref=product.code,
                idempotency_key=f"paid-card:{card.pk}:points",
            )
        member.paid_card_product, member.paid_card_until = product, card.ends_at
        member.save(
            update_fields=["paid_card_product", "paid_card_until", "points_balance", "points_pending", "points_flagged"]
        )
        audit(
            "paid_card.buy",
            member=member,
            operator=acting_user,
            product=product.code,
            pay_with=pay_with,
            until=card.ends_at.isoformat(),
        )
        data = _purchased(member, product, card, renewal=current is not None, store=store, at=at)
        send_after_commit(paid_card_purchased, member_id=member.pk, paid_card_id=card.pk, data=data)
        return card


def _purchased(member, product, card, *, renewal: bool, store, at) -> dict:
    """paid_card.purchased's public fields (../shared/spec/events.md)."""
    return {
        "member_no": member.member_no,
        "product": product.code,
        "valid_from": local(card.starts_at).isoformat(),
        "valid_until": local(card.ends_at).isoformat(),
        "price": money.text(card.paid_amount),
        "points": card.paid_points,
        "renewal": renewal,
        "store": getattr(store, "code", None),
        "occurred_at": local(at).isoformat(),
    }


def refund(*, member, acting_user, store=None, at: datetime | None = None) -> Refund:
    """A manager refunds the member's paid card pro rata: each purchase gives back the share of its
    time not yet used (to the second, rounded half-up to the fen and the point, so a refund in the
    minute of purchase is whole), and the card ends now."""
    if not can_manage_members(acting_user):
        raise Forbidden(MSG_REFUND_MANAGER, field="member")
    with transaction.atomic():
        member = lock_member(member)
        at = at or now()
        if active_product(member, at) is None:
            raise Invalid(MSG_NOTHING_TO_REFUND, field="member")
        total, total_points, count = Decimal("0.00"), 0, 0
        program = config.program()
        for card in (
            PaidCard.objects.select_for_update()
            .filter(member=member, refunded_at__isnull=True, ends_at__gt=at)
            .order_by("starts_at")
        ):
            span = (card.ends_at - card.starts_at).total_seconds()
            unused = (card.ends_at - max(card.starts_at, at)).total_seconds()
            share = Decimal(unused) / Decimal(span)
            card.refund_amount = (card.paid_amount * share).quantize(CENT, rounding=ROUND_HALF_UP)
            card.refund_points = int((card.paid_points * share).to_integral_value(rounding=ROUND_HALF_UP))
            card.refunded_at = at
            card.save(update_fields=["refund_amount", "refund_points", "refunded_at"])
            if card.refund_points:
                points.credit_locked(
                    member,
                    amount=card.refund_points,
                    kind=PointsEntry.Kind.REVERSE,
                    source=PointsEntry.Source.PAID_CARD,
                    at=at,
                    program=program,
                    store=store,
                    operator=acting_user,
                    source_ref=card.product.code,
                    idempotency_key=f"paid-card:{card.pk}:refund",
                )
            total += card.refund_amount
            total_points += card.refund_points
            count += 1
        member.paid_card_until = at
        member.save(update_fields=["paid_card_until", "points_balance", "points_pending", "points_flagged"])
        audit("paid_card.refund", member=member, operator=acting_user, amount=str(total), points=total_points)
        return Refund(total, total_points, count)
