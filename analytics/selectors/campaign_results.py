"""Campaign results per scene and variant (grants, coupons, sales after the grant, ROI)."""

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from campaigns.models import Scene, SceneGrant

from .. import definitions as d
from ..models import AnalyticsSettings, CampaignDay
from .base import MONEY, PCT, RATIO, TEXT, Column, Scope, Table
from .sums import cents

# ---------------------------------------------------------------------------------------------
# campaigns
# ---------------------------------------------------------------------------------------------


def campaigns(scope: Scope, settings: AnalyticsSettings | None = None) -> Table:
    """Per scene and variant, for the grants (and the scene's coupons) of the period: members,
    claims, coupons issued and used, usage rate, sales after the grant, incremental sales, cost, ROI."""
    settings = settings or AnalyticsSettings.load()
    agg = _campaign_sums(scope)
    scenes = Scene.objects.in_bulk({k[0] for k in agg})
    rows = []
    order = {SceneGrant.Variant.A: 0, SceneGrant.Variant.B: 1, SceneGrant.Variant.HOLDOUT: 2}
    for (scene_id, variant), r in sorted(agg.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
        rows.append(_campaign_row(agg, scene_id, variant, r, scenes, settings))
    return Table(
        "campaigns",
        _("Campaign results"),
        [
            Column("scene", _("Scene"), TEXT),
            Column("variant_label", _("Variant"), TEXT),
            Column("members", _("Members")),
            Column("claimed", _("Claimed or granted")),
            Column("coupons_issued", _("Coupons issued")),
            Column("coupons_used", _("Coupons used")),
            Column("usage_rate", _("Usage rate"), PCT),
            Column("sales_after", _("Sales after grant"), MONEY),
            Column("sales_per_member", _("Sales per member"), MONEY),
            Column("incremental", _("Incremental sales"), MONEY),
            Column("cost", _("Cost"), MONEY),
            Column("roi", _("ROI"), RATIO),
            Column("flag", _("Flag"), TEXT),
        ],
        rows,
        note=_(
            "Sales within %(days)s days after each grant; incremental against the holdout, or the other A/B half; "
            "benefits used by under %(low)s%% of those who got them are flagged."
        )
        % {"days": settings.attribution_days, "low": f"{settings.low_usage_threshold:g}"},
    )


def _campaign_sums(scope: Scope) -> dict[tuple, dict]:
    """{(scene, variant): the CampaignDay sums of the period at the scope's stores}."""
    agg = {}
    for r in (
        CampaignDay.objects.filter(scope.stores_q(), day__gte=scope.start, day__lte=scope.end)
        .order_by()
        .values("scene", "variant")
        .annotate(
            grants=Sum("grants"),
            claimed=Sum("claimed"),
            points=Sum("points"),
            sales_after=Sum("sales_after"),
            coupons_issued=Sum("coupons_issued"),
            coupons_used=Sum("coupons_used"),
            coupon_discount=Sum("coupon_discount"),
            cost=Sum("cost"),
        )
    ):
        agg[(r["scene"], r["variant"])] = {k: cents(v) for k, v in r.items()}
    return agg


def _baseline(agg: dict, scene_id, variant) -> dict | None:
    """What a variant is compared with: the scene's holdout, or (without holdout grants) the other
    A/B half; none for the holdout itself."""
    base = agg.get((scene_id, SceneGrant.Variant.HOLDOUT))
    if variant == SceneGrant.Variant.HOLDOUT:
        base = None
    elif base is None or not base["grants"]:
        other = SceneGrant.Variant.B if variant == SceneGrant.Variant.A else SceneGrant.Variant.A
        base = agg.get((scene_id, other))
    return base


def _campaign_row(agg: dict, scene_id, variant, r: dict, scenes: dict, settings: AnalyticsSettings) -> dict:
    """One row of the table: a scene's variant with its usage, incremental sales and ROI."""
    base = _baseline(agg, scene_id, variant)
    incremental = (
        d.incremental_sales(r["sales_after"], r["grants"], base["sales_after"], base["grants"])
        if base and base["grants"]
        else None
    )
    usage = d.usage_rate(r["coupons_used"], r["coupons_issued"])
    scene = scenes[scene_id]
    return {
        "scene": scene.name,
        "scene_id": scene_id,
        "variant": variant,
        "variant_label": dict(SceneGrant.Variant.choices)[variant],
        "members": r["grants"],
        "claimed": r["claimed"],
        "points": r["points"],
        "coupons_issued": r["coupons_issued"],
        "coupons_used": r["coupons_used"],
        "usage_rate": usage,
        "low_usage": variant != SceneGrant.Variant.HOLDOUT and d.low_usage(usage, settings.low_usage_threshold),
        "sales_after": r["sales_after"],
        "sales_per_member": d.sales_per_member(r["sales_after"], r["grants"]),
        "incremental": incremental,
        "cost": r["cost"],
        "roi": d.roi(incremental, r["cost"]),
        "flag": _("low usage")
        if variant != SceneGrant.Variant.HOLDOUT and d.low_usage(usage, settings.low_usage_threshold)
        else "",
    }
