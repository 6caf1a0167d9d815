"""The paid card's monthly coupon (demo: PLUS20 on the 1st of each month while PLUS lasts, and one on
the day of purchase). Buying goes through here so that the counter and the member pages give it
the same way; the card itself is membership's (membership.services.paid_cards)."""

from datetime import datetime

from core.clock import local, now
from membership.models import Member
from membership.services import paid_cards

from ..models import CouponTemplate
from . import coupons


def _monthly_template(product) -> CouponTemplate | None:
    """The active coupon template the card gives each month (None when it gives none)."""
    if not product.monthly_coupon_code:
        return None
    return CouponTemplate.objects.filter(code=product.monthly_coupon_code, is_active=True).first()


def _key(month: str, member_id: int) -> str:
    return f"paid-card-monthly:{month}:{member_id}"


def buy(
    *, member, product, pay_with: str, idempotency_key: str, store=None, acting_user=None, at: datetime | None = None
):
    """Buy or renew a paid card and give this month's coupon of the card at once (idempotent with the
    monthly run: one coupon per member and month)."""
    at = at or now()
    card = paid_cards.buy(
        member=member,
        product=product,
        pay_with=pay_with,
        idempotency_key=idempotency_key,
        store=store,
        acting_user=acting_user,
        at=at,
    )
    template = _monthly_template(product)
    if template is not None:
        month = f"{local(at):%Y-%m}"
        coupons.grant(
            template=template,
            member=card.member_id,
            source=f"paid-card:{month}",
            idempotency_key=_key(month, card.member_id),
            at=at,
        )
    return card


def monthly_coupons(month: str | None = None, at: datetime | None = None, progress=None) -> int:
    """On the 1st: every member holding a paid card gets its monthly coupon (keyed by month); `progress()`
    after each batch (a claimed run: campaigns.tasks)."""
    at = at or now()
    month = month or f"{local(at):%Y-%m}"
    issued = 0
    for product in paid_cards.on_sale().exclude(monthly_coupon_code=""):
        template = _monthly_template(product)
        if template is None:
            continue
        holders = (
            Member.objects.filter(status=Member.Status.ACTIVE, paid_card_product=product, paid_card_until__gt=at)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        last = 0
        while batch := list(holders.filter(pk__gt=last)[:2000]):
            last = batch[-1]
            issued += coupons.grant_bulk(
                template=template, source=f"paid-card:{month}", at=at, grants=[(pk, _key(month, pk)) for pk in batch]
            )
            if progress:
                progress()
    return issued
