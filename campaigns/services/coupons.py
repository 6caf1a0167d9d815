"""Coupons: granting from templates, checking and redeeming at a sale, expiring
(product.md, "Campaigns and scenes": coupons)."""

import secrets
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from membership.errors import CouponInvalid, LimitReached
from membership.services.common import now

from ..models import Coupon, CouponTemplate

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MSG_UNKNOWN = _("No such coupon.")
MSG_NOT_YOURS = _("This coupon belongs to another member.")
MSG_NOT_AVAILABLE = _("This coupon was already used or has expired.")
MSG_NOT_YET = _("This coupon is not valid yet.")
MSG_EXPIRED = _("This coupon has expired.")
MSG_THRESHOLD = _("This coupon needs a sale of at least ¥%(threshold)s.")
MSG_STORE = _("This coupon cannot be used in this store.")
MSG_SOLD_OUT = _("All coupons of %(name)s have been issued.")


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(10))


def validity(template: CouponTemplate, at: datetime, valid_days: int | None = None):
    start = max(filter(None, [template.valid_from, at]))
    days = valid_days or template.valid_days
    if template.valid_until:
        end = template.valid_until
    elif days:
        end = at + timedelta(days=days)
    else:
        end = None
    return start, end


def grant(*, template: CouponTemplate, member, source: str, idempotency_key: str, at: datetime | None = None,
          valid_days: int | None = None) -> Coupon:
    """Give one coupon of `template` to a member; counts against the template's total quantity.
    The same idempotency key gives back the same coupon."""
    if existing := Coupon.objects.filter(idempotency_key=idempotency_key).first():
        return existing
    at = at or now()
    with transaction.atomic():
        took = CouponTemplate.objects.filter(pk=template.pk).filter(
            Q(total_quantity__isnull=True) | Q(issued__lt=F("total_quantity"))).update(issued=F("issued") + 1)
        if not took:
            raise LimitReached(MSG_SOLD_OUT % {"name": template.name}, field="coupon")
        start, end = validity(template, at, valid_days)
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    return Coupon.objects.create(template=template, member_id=getattr(member, "pk", member),
                                                 code=_code(), source=source, granted_at=at, valid_from=start,
                                                 valid_until=end, idempotency_key=idempotency_key)
            except IntegrityError:
                if existing := Coupon.objects.filter(idempotency_key=idempotency_key).first():
                    return existing
        raise RuntimeError("could not draw a free coupon code")


def grant_bulk(*, template: CouponTemplate, grants, source: str, at: datetime | None = None,
               valid_days: int | None = None) -> int:
    """Many coupons of one template in one transaction: `grants` is [(member_id, idempotency_key)].
    Keys already used are skipped; the template's total quantity caps how many are issued (the
    first members in the list get them). Returns how many were issued."""
    at = at or now()
    with transaction.atomic():
        locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
        used = set(Coupon.objects.filter(idempotency_key__in=[k for _m, k in grants])
                   .values_list("idempotency_key", flat=True))
        todo = [(m, k) for m, k in dict.fromkeys(grants) if k not in used]
        if locked.total_quantity is not None:
            todo = todo[:max(0, locked.total_quantity - locked.issued)]
        if not todo:
            return 0
        start, end = validity(locked, at, valid_days)
        codes = set()
        while len(codes) < len(todo):
            codes.add(_code())
        taken = set(Coupon.objects.filter(code__in=codes).values_list("code", flat=True))
        codes = [c for c in codes if c not in taken]
        while len(codes) < len(todo):
            c = _code()
            if c not in taken and c not in codes and not Coupon.objects.filter(code=c).exists():
                codes.append(c)
        Coupon.objects.bulk_create([Coupon(template=locked, member_id=m, code=code, source=source, granted_at=at,
                                           valid_from=start, valid_until=end, idempotency_key=k)
                                    for (m, k), code in zip(todo, codes)])
        CouponTemplate.objects.filter(pk=locked.pk).update(issued=F("issued") + len(todo))
        return len(todo)


def discount_for(coupon: Coupon, amount: Decimal) -> Decimal:
    t = coupon.template
    if amount < t.threshold:
        raise CouponInvalid(MSG_THRESHOLD % {"threshold": t.threshold}, field="coupon_code")
    if t.kind == CouponTemplate.Kind.CASH_OFF:
        return min(t.value, amount)
    if t.kind == CouponTemplate.Kind.PERCENT_OFF:
        off = (amount * t.value / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return min(off, t.max_discount) if t.max_discount is not None else off
    return Decimal("0.00")  # a gift: handed over, no money off


def check(*, code: str, member, amount: Decimal, store, at: datetime | None = None, lock: bool = False) -> Coupon:
    """The member's coupon `code` if it can be used on this sale; raises CouponInvalid saying why."""
    at = at or now()
    qs = Coupon.objects.select_related("template")
    if lock:
        qs = qs.select_for_update(of=("self",))
    coupon = qs.filter(code=(code or "").strip().upper()).first()
    if coupon is None:
        raise CouponInvalid(MSG_UNKNOWN, field="coupon_code")
    if member is None or coupon.member_id != member.pk:
        raise CouponInvalid(MSG_NOT_YOURS, field="coupon_code")
    if coupon.status != Coupon.Status.AVAILABLE:
        raise CouponInvalid(MSG_NOT_AVAILABLE, field="coupon_code")
    if coupon.valid_from > at:
        raise CouponInvalid(MSG_NOT_YET, field="coupon_code")
    if coupon.valid_until and coupon.valid_until < at:
        raise CouponInvalid(MSG_EXPIRED, field="coupon_code")
    if coupon.template.stores.exists() and not coupon.template.stores.filter(pk=store.pk).exists():
        raise CouponInvalid(MSG_STORE, field="coupon_code")
    discount_for(coupon, amount)
    return coupon


def redeem(*, code: str, member, amount: Decimal, store, sale_ref: str, at: datetime | None = None) -> Decimal:
    """Use a coupon on a sale, inside the sale's transaction (the member row is locked first by the
    caller's order of work; the coupon row is locked here). Returns the money off."""
    at = at or now()
    coupon = check(code=code, member=member, amount=amount, store=store, at=at, lock=True)
    discount = discount_for(coupon, amount)
    coupon.status, coupon.used_at, coupon.used_store, coupon.used_sale_ref, coupon.discount = (
        Coupon.Status.USED, at, store, sale_ref, discount)
    coupon.save(update_fields=["status", "used_at", "used_store", "used_sale_ref", "discount"])
    return discount


def expire_due(*, at: datetime | None = None) -> int:
    return Coupon.objects.filter(status=Coupon.Status.AVAILABLE, valid_until__lt=at or now()).update(
        status=Coupon.Status.EXPIRED)


def member_coupons(member, status: str | None = None):
    qs = Coupon.objects.filter(member=member).select_related("template").order_by("valid_until", "-granted_at")
    return qs.filter(status=status) if status else qs
