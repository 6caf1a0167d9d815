"""Demo program, campaigns part (demo-program.md: campaign scenes, coupons, points mall, referral,
check-in). Every value is an ordinary admin-editable row."""

from decimal import Decimal

from membership.models import Tier

from .models import BenefitPackage, CouponTemplate, MallItem, ProgramRules, Scene

COUPONS = [
    # code, name, value, threshold, valid days, stacks with the member discount
    ("WELCOME10", "入会礼 满50减10", "10", "50", 30, True),
    ("UPGRADE20", "升级礼 满100减20", "20", "100", 7, True),
    ("COMEBACK15", "回归礼 满80减15", "15", "80", 30, False),
    ("MALL10", "积分兑换 10元券", "10", "0", 90, True),
    ("TIER5", "会员月券 满30减5", "5", "30", 30, True),
    ("PLUS20", "PLUS 月券 满150减20", "20", "150", 30, True),
]
MALL = [
    ("MUG", "定制马克杯", 1500, 100, 2, None, 1),
    ("BAG", "环保购物袋", 500, 500, 5, None, 2),
    ("CPN10", "¥10 优惠券", 900, None, 10, "MALL10", 3),
]


def package(name, **kwargs):
    coupons = kwargs.pop("coupons", [])
    pkg, created = BenefitPackage.objects.get_or_create(name=name, defaults=kwargs)
    if created and coupons:
        pkg.coupons.set(CouponTemplate.objects.filter(code__in=coupons))
    return pkg


def scene(name, kind, pkg, tiers=(), **kwargs):
    obj, created = Scene.objects.get_or_create(name=name, defaults={"kind": kind, "package": pkg, **kwargs})
    if created and tiers:
        obj.tiers.set(Tier.objects.filter(code__in=tiers))
    return obj


def seed(*, out=None) -> None:
    seed_coupon_templates()
    seed_program_rules()
    seed_mall_items()
    seed_member_scenes()
    seed_calendar_scenes()
    if out:
        out.write(f"scenes: {Scene.objects.count()}, mall items: {MallItem.objects.count()}")


def seed_coupon_templates() -> None:
    """The coupon templates of COUPONS (cash off), each created once."""
    for code, name, value, threshold, days, stackable in COUPONS:
        CouponTemplate.objects.get_or_create(
            code=code,
            defaults=dict(
                name=name,
                kind=CouponTemplate.Kind.CASH_OFF,
                value=Decimal(value),
                threshold=Decimal(threshold),
                valid_days=days,
                stackable=stackable,
            ),
        )


def seed_program_rules() -> None:
    """Check-in, referral and the monthly tier coupon, set once: while no monthly coupon is chosen."""
    rules = ProgramRules.load()
    if rules.monthly_coupon_template_id is None:
        rules.checkin_points, rules.checkin_streak_every, rules.checkin_streak_bonus = 5, 7, 30
        rules.referral_points, rules.referral_min_purchase = 100, Decimal(50)
        rules.monthly_coupon_template = CouponTemplate.objects.get(code="TIER5")
        rules.save()


def seed_mall_items() -> None:
    """The points mall's items of MALL, each created once."""
    for code, name, price, stock, limit, coupon, sort in MALL:
        MallItem.objects.get_or_create(
            code=code,
            defaults=dict(
                name=name,
                points_price=price,
                stock=stock,
                per_member_limit=limit,
                sort=sort,
                coupon_template=CouponTemplate.objects.filter(code=coupon).first() if coupon else None,
            ),
        )


def seed_member_scenes() -> None:
    """Scenes on the member's own events and dates: welcome, birthday, upgrade, win-back, after a purchase."""
    scene(
        "入会有礼",
        Scene.Kind.WELCOME,
        package("WELCOME10 券", coupons=["WELCOME10"], cost_per_grant=Decimal(10)),
        channel="inbox",
        message_title="欢迎入会",
        message_body="{name}，欢迎加入！送您一张满50减10优惠券。",
    )
    scene(
        "生日礼 200 积分",
        Scene.Kind.BIRTHDAY,
        package("200 积分", bonus_points=200, cost_per_grant=Decimal(2)),
        birthday_gift_tiers=True,  # GOLD and DIAMOND: the tiers with a birthday gift
        days_before=6,
        channel="inbox",
        message_title="生日快乐",
        message_body="{name}，生日快乐！{points} 积分已到账。",
    )
    scene("生日月双倍积分", Scene.Kind.BIRTHDAY, package("积分 ×2", multiplier=Decimal(2)), whole_month=True)
    scene(
        "升级礼",
        Scene.Kind.TIER_UPGRADE,
        package("UPGRADE20 券", coupons=["UPGRADE20"], cost_per_grant=Decimal(20)),
        days_after=7,
        claim_mode=Scene.ClaimMode.CLAIM,
        claim_valid_days=7,
        channel="inbox",
        message_title="恭喜升级",
        message_body="{name}，恭喜升级为{tier}！7 天内可领取满100减20优惠券。",
    )
    scene(
        "回归礼",
        Scene.Kind.WINBACK,
        package("COMEBACK15 券", coupons=["COMEBACK15"], cost_per_grant=Decimal(15)),
        inactive_days=90,
        cooldown_days=180,
        holdout_percent=10,
        channel="inbox",
        message_title="好久不见",
        message_body="{name}，好久不见！送您一张满80减15优惠券。",
    )
    scene(
        "购后关怀",
        Scene.Kind.POST_PURCHASE,
        package("仅消息"),  # no gift: a message-only scene
        offsets="2",  # 48 hours after each purchase
        channel="inbox",
        message_title="感谢光临",
        message_body="{name}，感谢您的光临！如对商品或服务有任何意见，欢迎告诉我们。",
    )


def seed_calendar_scenes() -> None:
    """Scenes on the calendar: the mid-autumn festival and the beauty member day."""
    scene(
        "中秋 1.5 倍积分",
        Scene.Kind.LUNAR_HOLIDAY,
        package("积分 ×1.5", multiplier=Decimal("1.5")),
        month=8,
        day=15,
        days_before=7,
    )
    scene(
        "美妆偏好 会员日双倍积分",  # 产品偏好型: members whose preferred category is beauty
        Scene.Kind.MEMBER_DAY,
        package("积分 ×2", multiplier=Decimal(2)),
        day=18,
        end_day=20,
        preferred_category="beauty",
        channel="inbox",
        message_title="美妆会员日",
        message_body="{name}，本月 18–20 日美妆会员日，消费享双倍积分。",
    )
