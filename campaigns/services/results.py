"""Campaign results per scene and variant: grants, claims, coupon use, sales after the grant, cost,
incremental sales against the holdout (or the other half), ROI (product.md, Analytics: campaigns).

Definitions (per variant of a scene):
- members: grants of the variant (the holdout's rows record who was kept out).
- claimed: grants claimed (claim mode) or granted at once (automatic mode).
- coupons issued / used: the scene's coupons, and those used at a sale; usage rate = used ÷ issued.
- sales per member: what the variant's members paid in member purchases (amount − returned) within
  `days` after their grant, divided by the variant's members.
- incremental sales: (sales per member − the holdout's, or B's for A when there is no holdout)
  × members. cost: members × the package's cost per grant + coupon money given at sales.
- ROI: incremental sales ÷ cost. A benefit used by under 30% of those who got it is flagged."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, F, Sum

from core.money import to_cents
from membership.models import Purchase

from ..models import Coupon, Notification, Scene, SceneGrant

LOW_USAGE = Decimal("0.30")


@dataclass
class VariantResult:
    variant: str
    members: int
    claimed: int
    coupons_issued: int
    coupons_used: int
    points: int
    sales: Decimal
    sales_per_member: Decimal
    cost: Decimal
    incremental: Decimal | None = None
    roi: Decimal | None = None

    @property
    def usage_rate(self) -> Decimal | None:
        return (Decimal(self.coupons_used) / self.coupons_issued) if self.coupons_issued else None

    @property
    def low_usage(self) -> bool:
        rate = self.usage_rate
        return rate is not None and rate < LOW_USAGE


def scene_results(scene: Scene, *, days: int = 30) -> list[VariantResult]:
    grants = SceneGrant.objects.filter(scene=scene)
    source = f"scene:{scene.pk}"
    out = []
    for variant in (SceneGrant.Variant.A, SceneGrant.Variant.B, SceneGrant.Variant.HOLDOUT):
        rows = grants.filter(variant=variant)
        members = rows.count()
        if not members:
            continue
        window = F("member__scene_grants__created_at")
        sold = Purchase.objects.filter(
            member__scene_grants__scene=scene,
            member__scene_grants__variant=variant,
            created_at__gte=window,
            created_at__lt=window + timedelta(days=days),
        ).aggregate(amount=Sum("amount"), returned=Sum("returned_amount"))
        sales = (sold["amount"] or Decimal(0)) - (sold["returned"] or Decimal(0))
        issued = Coupon.objects.filter(source=source, member__scene_grants__in=rows).distinct()
        used = issued.filter(status=Coupon.Status.USED)
        package = scene.package_b if variant == SceneGrant.Variant.B else scene.package
        given = used.aggregate(d=Sum("discount"))["d"] or Decimal(0)
        cost = Decimal(0) if variant == SceneGrant.Variant.HOLDOUT else (package.cost_per_grant * members + given)
        out.append(
            VariantResult(
                variant=variant,
                members=members,
                claimed=rows.filter(status__in=[SceneGrant.Status.CLAIMED, SceneGrant.Status.GRANTED]).count(),
                coupons_issued=issued.count(),
                coupons_used=used.count(),
                points=rows.aggregate(p=Sum("points"))["p"] or 0,
                sales=to_cents(sales),
                sales_per_member=to_cents(Decimal(sales) / members),
                cost=cost,
            )
        )
    baseline = next((r for r in out if r.variant == SceneGrant.Variant.HOLDOUT), None)
    for r in out:
        base = baseline
        if r.variant == SceneGrant.Variant.HOLDOUT:
            continue
        if base is None:  # no holdout: compare A with B and B with A
            base = next((o for o in out if o.variant not in (r.variant, SceneGrant.Variant.HOLDOUT)), None)
        if base is not None:
            r.incremental = to_cents((r.sales_per_member - base.sales_per_member) * r.members)
            r.roi = to_cents(r.incremental / r.cost) if r.cost else None
    return out


def message_counts(scene: Scene) -> list[tuple[str, str, int]]:
    """The scene's messages by channel and status (sent, held for quiet hours, over the cap, failed …):
    (channel label, status label, count), in the order of the choices."""
    counts = {
        (row["channel"], row["status"]): row["n"]
        for row in Notification.objects.filter(scene=scene).values("channel", "status").annotate(n=Count("pk"))
    }
    channels = dict(Scene.Channel.choices)
    statuses = dict(Notification.Status.choices)
    order = {value: i for i, value in enumerate(statuses)}
    return [
        (channels.get(channel, channel), statuses.get(status, status), n)
        for (channel, status), n in sorted(counts.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99)))
    ]
