"""The points mall (积分商城): an order reserves stock and deducts points in one transaction and
yields a pickup code; a clerk fulfils it at the counter; cancelling returns both. Stock is never
oversold (the item row is locked, and a constraint-like conditional update), points never spent
twice (idempotency keys)."""

import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Sum
from django.utils.translation import gettext_lazy as _

from core import money
from core.clock import local, now
from core.errors import Conflict, Forbidden, Invalid, LimitReached, NotFound, OutOfStock
from core.outbox import send_after_commit, send_all_after_commit
from membership.models import Member, PointsEntry
from membership.permissions import can_use_counter
from membership.services import points
from membership.services.common import lock_member

from ..models import MallItem, MallOrder
from ..signals import mall_order_fulfilled, mall_order_placed
from . import coupons

MSG_QTY = _("Order 1 to 99 of an item.")
MSG_NOT_ON_SALE = _("This item is not on sale.")
MSG_TIER = _("This item is for other tiers.")
MSG_LIMIT = _("You can have at most %(limit)s of this item.")
MSG_DONE = _("This order was already picked up.")
MSG_CANCELLED = _("This order was cancelled.")


def _pickup_code() -> str:
    return "".join(secrets.choice("0123456789") for _i in range(8))


def item_by_code(code: str) -> MallItem:
    item = MallItem.objects.filter(code=(code or "").strip()).first()
    if item is None:
        raise NotFound(field="item")
    return item


def _take_stock(item: MallItem, qty: int) -> None:
    if item.stock is None:
        return
    if not MallItem.objects.filter(pk=item.pk, stock__gte=qty).update(stock=F("stock") - qty):
        raise OutOfStock(field="item")


def _payload(order: MallOrder, *, member_no: str, item: MallItem, at: datetime, **fields) -> dict:
    """The payload of mall.order_placed / mall.order_fulfilled (never the pickup code: it collects the
    item)."""
    return dict(
        order_id=order.pk,
        member_id=order.member_id,
        data={
            "member_no": member_no,
            "order_no": order.order_no,
            "item": item.code,
            "qty": order.qty,
            "points": order.points_spent,
            **fields,
            "occurred_at": local(at).isoformat(),
        },
    )


def _announce(signal, order: MallOrder, **fields) -> None:
    """The event in the order's transaction."""
    send_after_commit(signal, **_payload(order, **fields))


def _fulfilled(order: MallOrder, *, member_no: str, item: MallItem) -> None:
    store = order.fulfilled_store
    _announce(
        mall_order_fulfilled,
        order,
        member_no=member_no,
        item=item,
        at=order.fulfilled_at,
        store=getattr(store, "code", None),
        cash=money.text(order.cash_collected or 0),
    )


def order(*, member, item: MallItem, qty: int = 1, idempotency_key: str, at: datetime | None = None) -> MallOrder:
    """Redeem points for an item. Locks the member, then the item; checks sale window, tier,
    per-member limit, stock and points; a coupon item issues its coupon at once."""
    if not isinstance(qty, int) or not 1 <= qty <= 99:
        raise Invalid(MSG_QTY, field="qty")
    if existing := MallOrder.objects.filter(idempotency_key=idempotency_key).first():
        return existing
    at = at or now()
    with transaction.atomic():
        member = lock_member(member)
        if existing := MallOrder.objects.filter(idempotency_key=idempotency_key).first():
            return existing
        item = MallItem.objects.select_for_update().get(pk=item.pk)
        if (
            not item.is_active
            or (item.valid_from and item.valid_from > at)
            or (item.valid_until and item.valid_until < at)
        ):
            raise Invalid(MSG_NOT_ON_SALE, field="item")
        tiers = list(item.tiers.values_list("pk", flat=True))
        if tiers and member.tier_id not in tiers:
            raise Forbidden(MSG_TIER, field="item")
        if item.per_member_limit is not None:
            had = (
                MallOrder.objects.filter(member=member, item=item)
                .exclude(status=MallOrder.Status.CANCELLED)
                .aggregate(n=Sum("qty"))["n"]
                or 0
            )
            if had + qty > item.per_member_limit:
                raise LimitReached(MSG_LIMIT % {"limit": item.per_member_limit}, field="qty")
        _take_stock(item, qty)
        cost = item.points_price * qty
        order = MallOrder.objects.create(
            order_no=f"M{at:%y%m%d}{secrets.randbelow(10**8):08d}",
            member=member,
            item=item,
            qty=qty,
            points_spent=cost,
            cash_due=item.cash_price * qty,
            pickup_code=_pickup_code(),
            created_at=at,
            idempotency_key=idempotency_key,
        )
        points.spend(
            member=member,
            points=cost,
            source=PointsEntry.Source.MALL_ORDER,
            source_ref=order.order_no,
            idempotency_key=f"mall:{order.order_no}",
            at=at,
        )
        _announce(
            mall_order_placed,
            order,
            member_no=member.member_no,
            item=item,
            at=at,
            cash=money.text(order.cash_due),
            gift=False,
        )
        if item.coupon_template_id:
            for i in range(qty):
                coupons.grant(
                    template=item.coupon_template,
                    member=member,
                    source=f"mall:{order.order_no}",
                    at=at,
                    idempotency_key=f"mall:{order.order_no}:{i}",
                )
            order.status, order.fulfilled_at = MallOrder.Status.FULFILLED, at
            order.save(update_fields=["status", "fulfilled_at"])
            _fulfilled(order, member_no=member.member_no, item=item)  # a coupon is handed over at once
        return order


def gift(*, item: MallItem, member, idempotency_key: str, at: datetime | None = None) -> MallOrder | None:
    """A mall item given by a scene: no points, stock reserved, picked up at the counter."""
    return gifts(item=item, members=[(getattr(member, "pk", member), idempotency_key)], at=at)[0]


def gifts(*, item: MallItem, members, at: datetime | None = None) -> list[MallOrder | None]:
    """The item given to each of `members` [(member id, idempotency key)] (a scene's batch), in one
    transaction: the same key gives back the same order, None once the stock is out; the new orders'
    mall.order_placed in one INSERT."""
    at = at or now()
    with transaction.atomic():
        existing = {
            o.idempotency_key: o for o in MallOrder.objects.filter(idempotency_key__in=[k for _m, k in members])
        }
        locked = MallItem.objects.select_for_update().get(pk=item.pk)
        given, new = [], []
        for member_id, key in members:
            if key in existing:
                given.append(existing[key])
                continue
            try:
                _take_stock(locked, 1)
            except OutOfStock:
                given.append(None)
                continue
            order = MallOrder.objects.create(
                order_no=f"G{at:%y%m%d}{secrets.randbelow(10**8):08d}",
                member_id=member_id,
                item=locked,
                qty=1,
                points_spent=0,
                pickup_code=_pickup_code(),
                created_at=at,
                idempotency_key=key,
            )
            existing[key] = order
            given.append(order)
            new.append(order)
        if new:
            member_no = dict(Member.objects.filter(pk__in={o.member_id for o in new}).values_list("pk", "member_no"))
            send_all_after_commit(
                mall_order_placed,
                [
                    _payload(o, member_no=member_no[o.member_id], item=locked, at=at, cash="0.00", gift=True)
                    for o in new
                ],
            )
        return given


def fulfil(*, pickup_code: str, clerk, at: datetime | None = None) -> MallOrder:
    """Hand over the item at the counter; a second time is a conflict."""
    if not can_use_counter(clerk):
        raise Forbidden(field="store")
    with transaction.atomic():
        order = (
            MallOrder.objects.select_for_update(of=("self",))
            .select_related("member", "item")
            .filter(pickup_code=(pickup_code or "").strip())
            .first()
        )
        if order is None:
            raise NotFound(field="pickup_code")
        if order.status == MallOrder.Status.FULFILLED:
            raise Conflict(MSG_DONE, field="pickup_code")
        if order.status == MallOrder.Status.CANCELLED:
            raise Conflict(MSG_CANCELLED, field="pickup_code")
        order.status, order.fulfilled_at = MallOrder.Status.FULFILLED, at or now()
        order.fulfilled_store, order.fulfilled_by = clerk.store, clerk
        order.cash_collected = order.cash_due  # the cash part of a points-plus-cash item, taken now
        order.save(update_fields=["status", "fulfilled_at", "fulfilled_store", "fulfilled_by", "cash_collected"])
        _fulfilled(order, member_no=order.member.member_no, item=order.item)
        return order


def redeem_at_counter(
    *, member, item: MallItem, qty: int = 1, clerk, idempotency_key: str, at: datetime | None = None
) -> MallOrder:
    """A clerk redeems an item for the member on the spot: the order and its hand-over in one go."""
    if not can_use_counter(clerk):
        raise Forbidden(field="store")
    with transaction.atomic():
        placed = order(member=member, item=item, qty=qty, idempotency_key=idempotency_key, at=at)
        if placed.status == MallOrder.Status.RESERVED:
            placed = fulfil(pickup_code=placed.pickup_code, clerk=clerk, at=at)
        return placed


def cancel_by_member(*, member, order_no: str, at: datetime | None = None) -> MallOrder:
    """The member cancels their own order before pickup."""
    found = MallOrder.objects.filter(order_no=order_no, member=member).first()
    if found is None:
        raise NotFound(field="order")
    return cancel(order=found, at=at)


def lapse_unpicked(*, at: datetime | None = None) -> int:
    """Cancel orders not picked up within the program's days (daily): points and stock go back."""
    from ..models import ProgramRules

    days = ProgramRules.load().mall_pickup_days
    if not days:
        return 0
    at = at or now()
    cut = at - timedelta(days=days)
    done = 0
    for stale in MallOrder.objects.filter(status=MallOrder.Status.RESERVED, created_at__lt=cut).order_by("pk")[:5000]:
        try:
            cancel(order=stale, at=at)
            done += 1
        except Conflict:  # picked up or cancelled meanwhile
            continue
    return done


def cancel(*, order: MallOrder, acting_user=None, at: datetime | None = None) -> MallOrder:
    """Cancel an order not yet picked up: points and stock go back."""
    at = at or now()
    with transaction.atomic():
        lock_member(order.member_id)
        order = MallOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != MallOrder.Status.RESERVED:
            raise Conflict(MSG_DONE if order.status == MallOrder.Status.FULFILLED else MSG_CANCELLED, field="order")
        if order.item.stock is not None:
            MallItem.objects.filter(pk=order.item_id).update(stock=F("stock") + order.qty)
        if order.points_spent:
            points.grant(
                member=order.member_id,
                points=order.points_spent,
                source=PointsEntry.Source.MALL_ORDER,
                kind=PointsEntry.Kind.REVERSE,
                source_ref=order.order_no,
                acting_user=acting_user,
                idempotency_key=f"mall-cancel:{order.order_no}",
                at=at,
            )
        order.status, order.cancelled_at = MallOrder.Status.CANCELLED, at
        order.save(update_fields=["status", "cancelled_at"])
        return order
