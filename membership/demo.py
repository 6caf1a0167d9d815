"""Demo program, membership part (demo-program.md): stores and staff, tiers, program settings,
top-up plans, and 200+ members with a year of history made through the real services."""

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password

from core.clock import now

from .models import Channel, Gender, Member, PaidCardProduct, ProgramSettings, Role, Store, Tier, TopUpPlan, User
from .services import enrolment, stored_value

STORES = [("HQ", "总部", None), ("S001", "旗舰店", "HQ"), ("S002", "社区店", "HQ")]
STAFF = [
    # username, password, role, store, display name
    ("admin", "admin-demo", Role.HQ, None, "总部运营"),
    ("manager1", "manager1-demo", Role.MANAGER, "S001", "王店长"),
    ("clerk1", "clerk1-demo", Role.CLERK, "S001", "李导购"),
    ("clerk2", "clerk2-demo", Role.CLERK, "S002", "赵导购"),
]
STAFF_PASSWORDS = {username: password for username, password, *_rest in STAFF}  # published: production refuses


def staff_with_demo_password(usernames=None) -> list[str]:
    """The active demo accounts (of `usernames`, default all) whose password is still the published one."""
    names = STAFF_PASSWORDS.keys() if usernames is None else set(usernames) & STAFF_PASSWORDS.keys()
    users = User.objects.filter(username__in=names, is_active=True)
    return sorted(u.username for u in users if u.check_password(STAFF_PASSWORDS[u.username]))


TIERS = [
    # code, name, rank, reach, keep, points ×, discount %, coupons/month, birthday gift, benefits
    ("NORMAL", "普通会员", 1, 0, 0, "1.0", "0", 1, False, "消费积分\n每月 1 张优惠券"),
    ("SILVER", "银卡会员", 2, 1000, 800, "1.2", "2", 2, False, "积分 1.2 倍\n98 折\n每月 2 张优惠券"),
    ("GOLD", "金卡会员", 3, 5000, 4000, "1.5", "5", 3, True, "积分 1.5 倍\n95 折\n每月 3 张优惠券\n生日礼"),
    (
        "DIAMOND",
        "钻石会员",
        4,
        20000,
        16000,
        "2.0",
        "10",
        4,
        True,
        "积分 2 倍\n9 折\n每月 4 张优惠券\n生日礼\n专属客服",
    ),
]
PLANS = [
    ("TOPUP100", "充100送10", "100", "10", 0),
    ("TOPUP300", "充300送40", "300", "40", 100),
    ("TOPUP500", "充500送80", "500", "80", 200),
]  # code, name, pay, bonus ¥, bonus points
INSTANT = {"GOLD": Decimal("999.00")}  # one sale of ¥999 or more lifts NORMAL and SILVER to GOLD (满999送金卡)
KNOWN_MEMBER = {"phone": "13800138000", "name": "张三", "password": "member-demo", "birthday": "1990-05-20"}  # nosec B105
DEMO_MEMBERS = 220
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"


def demo_phones() -> list[str]:
    """The phones of the demo's own members: the known member and the generated ones. Other members
    in the database (bench.generate's chain of stores S001…S200, an import) are not the demo's."""
    return [KNOWN_MEMBER["phone"], *(f"139{n:08d}" for n in range(DEMO_MEMBERS))]


def demo_clerks() -> dict:
    """The demo's clerks by store code (clerk1 at S001, clerk2 at S002), not any other clerk there."""
    names = [username for username, _pw, role, _store, _display in STAFF if role == Role.CLERK]
    return {u.store.code: u for u in User.objects.filter(username__in=names).select_related("store")}


def seed_stores_and_staff(*, out=None) -> None:
    stores = {}
    for code, name, parent in STORES:
        stores[code], _ = Store.objects.get_or_create(code=code, defaults={"name": name, "parent": stores.get(parent)})
    for username, password, role, store, display in STAFF:
        if User.objects.filter(username=username).exists():
            continue
        user = User(
            username=username, role=role, store=stores.get(store), first_name=display, is_superuser=username == "admin"
        )
        user.set_password(password)
        user.save()


def seed_program() -> None:
    for code, name, rank, reach, keep, mult, disc, coupons, gift, benefits in TIERS:
        Tier.objects.get_or_create(
            code=code,
            defaults=dict(
                name=name,
                rank=rank,
                reach_growth=reach,
                keep_growth=keep,
                points_multiplier=Decimal(mult),
                discount_rate=Decimal(disc),
                monthly_coupons=coupons,
                birthday_gift=gift,
                benefits=benefits,
                instant_sale_amount=INSTANT.get(code),
            ),
        )
    ProgramSettings.objects.get_or_create(
        pk=1,
        defaults=dict(
            earn_rate=Decimal(1),
            redeem_points_per_yuan=100,
            redeem_cap_percent=Decimal(50),
            expiry_policy="year_end",
            expiry_notice_days=30,
            pending_days=0,
            review_period="monthly",
            review_window="rolling_12m",
            reset_growth_on_promotion=False,
            adjustment_limit=1000,
        ),
    )
    PaidCardProduct.objects.get_or_create(
        code="PLUS",
        defaults=dict(
            name="PLUS 付费会员卡",
            price=Decimal("99.00"),
            points_price=9900,
            days=365,
            points_multiplier=Decimal("1.5"),
            monthly_coupon_code="PLUS20",
        ),
    )
    for code, name, pay, bonus, bonus_points in PLANS:
        TopUpPlan.objects.get_or_create(
            code=code,
            defaults=dict(name=name, pay_amount=Decimal(pay), bonus_amount=Decimal(bonus), bonus_points=bonus_points),
        )


def seed_members(*, out=None) -> None:
    """Members across both stores, joined over the past year (their sales history is the
    counter's: pos/demo.py). Known member 张三 with the member password of demo-program.md."""
    if Member.objects.filter(phone=KNOWN_MEMBER["phone"]).exists():
        return  # members are loaded once
    rng = random.Random(20261123)  # nosec B311
    stores = {s.code: s for s in Store.objects.filter(code__in=["S001", "S002"])}
    clerks = demo_clerks()
    start = now() - timedelta(days=365)
    known = enrolment.enrol(
        phone=KNOWN_MEMBER["phone"],
        name=KNOWN_MEMBER["name"],
        gender=Gender.MALE,
        birthday=KNOWN_MEMBER["birthday"],
        store=stores["S001"],
        marketing_consent=True,
        acting_user=clerks["S001"],
        joined_at=start,
    )
    Member.objects.filter(pk=known.pk).update(password=make_password(KNOWN_MEMBER["password"]))
    for n in range(DEMO_MEMBERS):
        store_code = "S001" if n % 3 else "S002"
        year = rng.choice(["-", str(rng.randint(1960, 2005))])
        member = enrolment.enrol(
            phone=f"139{n:08d}",
            name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN]),
            gender=rng.choice([Gender.FEMALE, Gender.FEMALE, Gender.MALE, Gender.UNKNOWN]),
            birthday=f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            store=stores[store_code],
            marketing_consent=rng.random() < 0.7,
            channel=rng.choice([Channel.COUNTER, Channel.COUNTER, Channel.WEB, Channel.POSTER]),
            acting_user=clerks[store_code],
            joined_at=start + timedelta(days=rng.randint(0, 330)),
        )
        if rng.random() < 0.3:
            plan = rng.choice(PLANS)
            stored_value.top_up(
                member=member,
                amount=Decimal(plan[2]),
                store=stores[store_code],
                acting_user=clerks[store_code],
                idempotency_key=f"demo:{member.member_no}:topup",
                at=member.joined_at + timedelta(hours=1),
            )
    if out:
        out.write(f"members: {Member.objects.count()}")


def seed(*, out=None) -> None:
    seed_stores_and_staff(out=out)
    seed_program()
    seed_members(out=out)
