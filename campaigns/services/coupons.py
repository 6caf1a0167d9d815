"""Coupons: granting from templates, checking and redeeming at a sale, expiring
(product.md, "Campaigns and scenes": coupons)."""

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core import money
from core.clock import local, now
from core.errors import CouponInvalid, Forbidden, Invalid, LimitReached
from core.outbox import send_after_commit, send_all_after_commit
from membership.models import Member
from membership.permissions import is_hq
from membership.services import pricing
from membership.services.common import audit
from membership.services.pricing import CouponTerms

from .. import selectors
from ..models import Coupon, CouponTemplate
from ..signals import coupon_issued, coupon_redeemed

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MSG_UNKNOWN = _("No such coupon.")
MSG_NOT_YOURS = _("This coupon belongs to another member.")
MSG_NOT_AVAILABLE = _("This coupon was already used or has expired.")
MSG_NOT_YET = _("This coupon is not valid yet.")
MSG_EXPIRED = _("This coupon has expired.")
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


def _time(at: datetime | None) -> str | None:
    return local(at).isoformat() if at else None


def _issued(coupons, template: CouponTemplate, member_no: dict) -> list[dict]:
    """The coupon.issued payloads of coupons of one template (`member_no`: member id → number)."""
    return [
        dict(
            coupon_id=c.pk,
            member_id=c.member_id,
            data={
                "member_no": member_no[c.member_id],
                "coupon": c.code,
                "template": template.code,
                "source": c.source,
                "valid_from": _time(c.valid_from),
                "valid_until": _time(c.valid_until),
                "occurred_at": _time(c.granted_at),
            },
        )
        for c in coupons
    ]


def grant(
    *,
    template: CouponTemplate,
    member,
    source: str,
    idempotency_key: str,
    at: datetime | None = None,
    valid_days: int | None = None,
) -> Coupon:
    """Give one coupon of `template` to a member; counts against the template's total quantity.
    The same idempotency key gives back the same coupon."""
    if existing := Coupon.objects.filter(idempotency_key=idempotency_key).first():
        return existing
    at = at or now()
    with transaction.atomic():
        took = (
            CouponTemplate.objects.filter(pk=template.pk)
            .filter(Q(total_quantity__isnull=True) | Q(issued__lt=F("total_quantity")))
            .update(issued=F("issued") + 1)
        )
        if not took:
            raise LimitReached(MSG_SOLD_OUT % {"name": template.name}, field="coupon")
        start, end = validity(template, at, valid_days)
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    coupon = Coupon.objects.create(
                        template=template,
                        member_id=getattr(member, "pk", member),
                        code=_code(),
                        source=source,
                        granted_at=at,
                        valid_from=start,
                        valid_until=end,
                        idempotency_key=idempotency_key,
                    )
            except IntegrityError:
                if existing := Coupon.objects.filter(idempotency_key=idempotency_key).first():
                    return existing
                continue
            number = getattr(member, "member_no", None) or Member.objects.values_list("member_no", flat=True).get(
                pk=coupon.member_id
            )
            send_after_commit(coupon_issued, **_issued([coupon], template, {coupon.member_id: number})[0])
            return coupon
        raise RuntimeError("could not draw a free coupon code")


def grant_bulk(
    *, template: CouponTemplate, grants, source: str, at: datetime | None = None, valid_days: int | None = None
) -> int:
    """Many coupons of one template in one transaction: `grants` is [(member_id, idempotency_key)].
    Keys already used are skipped; the template's total quantity caps how many are issued (the
    first members in the list get them). Returns how many were issued."""
    at = at or now()
    with transaction.atomic():
        locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
        used = set(
            Coupon.objects.filter(idempotency_key__in=[k for _m, k in grants]).values_list("idempotency_key", flat=True)
        )
        todo = [(m, k) for m, k in dict.fromkeys(grants) if k not in used]
        if locked.total_quantity is not None:
            todo = todo[: max(0, locked.total_quantity - locked.issued)]
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
        issued = Coupon.objects.bulk_create(
            [
                Coupon(
                    template=locked,
                    member_id=m,
                    code=code,
                    source=source,
                    granted_at=at,
                    valid_from=start,
                    valid_until=end,
                    idempotency_key=k,
                )
                for (m, k), code in zip(todo, codes)
            ]
        )
        CouponTemplate.objects.filter(pk=locked.pk).update(issued=F("issued") + len(todo))
        member_no = dict(Member.objects.filter(pk__in={m for m, _k in todo}).values_list("pk", "member_no"))
        send_all_after_commit(coupon_issued, _issued(issued, locked, member_no))  # one INSERT for the batch
        return len(todo)


def terms(coupon: Coupon) -> CouponTerms:
    """The coupon's terms as the sale arithmetic (membership.services.pricing) reads them."""
    t = coupon.template
    return CouponTerms(
        kind=t.kind, value=t.value, threshold=t.threshold, max_discount=t.max_discount, stackable=t.stackable
    )


def discount_for(coupon: Coupon, amount: Decimal) -> Decimal:
    """The coupon's money off a sale of `amount` (the rule is pricing.coupon_value)."""
    return pricing.coupon_value(terms(coupon), amount)


def check(
    *, code: str, member, store, amount: Decimal | None = None, at: datetime | None = None, lock: bool = False
) -> Coupon:
    """The member's coupon `code` if it can be used now in `store` (and on a sale of `amount`, when
    given); raises CouponInvalid saying why. At a sale, its threshold and whether it stacks with the
    member discount are the sale arithmetic's part (pricing.price_sale)."""
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
    if amount is not None:
        discount_for(coupon, amount)
    coupon.member = member  # its owner, known: mark_used's event names it without a query
    return coupon


def mark_used(coupon: Coupon, *, discount: Decimal, store, sale_ref: str, at: datetime | None = None) -> None:
    """Record a coupon (locked by check(lock=True) in the sale's transaction) as used on a sale, and
    coupon.redeemed in that transaction."""
    coupon.status, coupon.used_at, coupon.used_store, coupon.used_sale_ref, coupon.discount = (
        Coupon.Status.USED,
        at or now(),
        store,
        sale_ref,
        discount,
    )
    coupon.save(update_fields=["status", "used_at", "used_store", "used_sale_ref", "discount"])
    send_after_commit(
        coupon_redeemed,
        coupon_id=coupon.pk,
        member_id=coupon.member_id,
        data={
            "member_no": coupon.member.member_no,
            "coupon": coupon.code,
            "template": coupon.template.code,
            "store": store.code,
            "receipt_no": sale_ref,
            "discount": money.text(discount),
            "occurred_at": _time(coupon.used_at),
        },
    )


def usable(member, store, at: datetime | None = None) -> list[Coupon]:
    """The member's coupons that can be used now in `store` (for the counter's suggestion)."""
    at = at or now()
    rows = (
        selectors.member_coupons(member, Coupon.Status.AVAILABLE, at=at)
        .filter(valid_from__lte=at)
        .prefetch_related("template__stores")[:50]
    )
    return [c for c in rows if not c.template.stores.all() or any(s.pk == store.pk for s in c.template.stores.all())]


def void(*, coupon_ids, reason: str, acting_user, at: datetime | None = None) -> list[Coupon]:
    """HQ voids coupons granted by mistake (admin, with why): each unused coupon among `coupon_ids`
    is locked, marked void with the reason, and audited; a used or already void one is left as it is
    (a sale that locked it first wins). Returns the coupons voided."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Say why the coupons are voided."), field="reason")
    if not is_hq(acting_user):
        raise Forbidden(_("Only HQ voids coupons."))
    at = at or now()
    with transaction.atomic():
        rows = list(
            Coupon.objects.select_for_update(of=("self",))  # the coupons only: a sale locks the member first
            .filter(pk__in=list(coupon_ids), status=Coupon.Status.AVAILABLE)
            .select_related("member")
            .order_by("pk")
        )
        for coupon in rows:
            coupon.status, coupon.void_reason, coupon.voided_at, coupon.voided_by = (
                Coupon.Status.VOID,
                reason[:200],
                at,
                acting_user,
            )
            coupon.save(update_fields=["status", "void_reason", "voided_at", "voided_by"])
            audit("coupon_void", member=coupon.member, operator=acting_user, coupon=coupon.code, reason=reason[:200])
    return rows


def expire_due(*, at: datetime | None = None) -> int:
    return Coupon.objects.filter(status=Coupon.Status.AVAILABLE, valid_until__lt=at or now()).update(
        status=Coupon.Status.EXPIRED
    )
