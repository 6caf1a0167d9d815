"""Demo program, membership part (demo-program.md): stores and staff, tiers, program settings,
top-up plans, and 200+ members with a year of history made through the real services."""

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password

from .models import Channel, Gender, Member, ProgramSettings, Role, Store, Tier, TopUpPlan, User
from .services import enrolment, purchases, stored_value
from .services.common import now

STORES = [("HQ", "总部", None), ("S001", "旗舰店", "HQ"), ("S002", "社区店", "HQ")]
STAFF = [
    # username, password, role, store, display name
    ("admin", "admin-demo", Role.HQ, None, "总部运营"),
    ("manager1", "manager1-demo", Role.MANAGER, "S001", "王店长"),
    ("clerk1", "clerk1-demo", Role.CLERK, "S001", "李导购"),
    ("clerk2", "clerk2-demo", Role.CLERK, "S002", "赵导购"),
]
TIERS = [
    # code, name, rank, reach, keep, points ×, discount %, coupons/month, birthday gift, benefits
    ("NORMAL", "普通会员", 1, 0, 0, "1.0", "0", 1, False, "消费积分\n每月 1 张优惠券"),
    ("SILVER", "银卡会员", 2, 1000, 800, "1.2", "2", 2, False, "积分 1.2 倍\n98 折\n每月 2 张优惠券"),
    ("GOLD", "金卡会员", 3, 5000, 4000, "1.5", "5", 3, True, "积分 1.5 倍\n95 折\n每月 3 张优惠券\n生日礼"),
    ("DIAMOND", "钻石会员", 4, 20000, 16000, "2.0", "10", 4, True,
     "积分 2 倍\n9 折\n每月 4 张优惠券\n生日礼\n专属客服"),
]
PLANS = [("TOPUP100", "充100送10", "100", "10"), ("TOPUP300", "充300送40", "300", "40"),
         ("TOPUP500", "充500送80", "500", "80")]
KNOWN_MEMBER = {"phone": "13800138000", "name": "张三", "password": "member-demo", "birthday": "1990-05-20"}
DEMO_MEMBERS = 220
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
CATEGORIES = [("food", "F"), ("drink", "D"), ("home", "H"), ("beauty", "B")]


def seed_stores_and_staff(*, out=None) -> None:
    stores = {}
    for code, name, parent in STORES:
        stores[code], _ = Store.objects.get_or_create(code=code, defaults={"name": name, "parent": stores.get(parent)})
    for username, password, role, store, display in STAFF:
        if User.objects.filter(username=username).exists():
            continue
        user = User(username=username, role=role, store=stores.get(store), first_name=display,
                    is_superuser=username == "admin")
        user.set_password(password)
        user.save()


def seed_program() -> None:
    for code, name, rank, reach, keep, mult, disc, coupons, gift, benefits in TIERS:
        Tier.objects.get_or_create(code=code, defaults=dict(
            name=name, rank=rank, reach_growth=reach, keep_growth=keep, points_multiplier=Decimal(mult),
            discount_rate=Decimal(disc), monthly_coupons=coupons, birthday_gift=gift, benefits=benefits))
    ProgramSettings.objects.get_or_create(pk=1, defaults=dict(
        earn_rate=Decimal(1), redeem_points_per_yuan=100, redeem_cap_percent=Decimal(50), expiry_policy="year_end",
        expiry_notice_days=30, pending_days=0, review_period="monthly", review_window="rolling_12m",
        reset_growth_on_promotion=False, adjustment_limit=1000))
    for code, name, pay, bonus in PLANS:
        TopUpPlan.objects.get_or_create(code=code, defaults=dict(name=name, pay_amount=Decimal(pay),
                                                                 bonus_amount=Decimal(bonus)))


def _history(member: Member, rng: random.Random, *, sales: int, spend: tuple[int, int], store, clerk, start) -> None:
    """A year of purchases (some paid partly with points), a top-up and the odd return."""
    days = sorted(rng.sample(range(1, 360), sales))
    for i, day in enumerate(days):
        at = start + timedelta(days=day, hours=rng.randint(1, 11), minutes=rng.randint(0, 59))
        amount = Decimal(rng.randint(*spend)) + Decimal(rng.choice(["0.00", "0.50", "0.90"]))
        member.refresh_from_db(fields=["points_balance"])
        pay_points = 0
        if member.points_balance >= 500 and rng.random() < 0.25:
            pay_points = min(member.points_balance, int(amount * 50)) // 100 * 100
        cat, prefix = rng.choice(CATEGORIES)
        lines = [purchases.points_service.Line(amount=amount, sku=f"{prefix}{rng.randint(100, 130)}", category=cat)]
        result = purchases.record_purchase(
            member=member, store=store, reference=f"D{member.member_no[-6:]}-{i:03d}", amount=amount, lines=lines,
            pay_points=pay_points, idempotency_key=f"demo:{member.member_no}:{i}", acting_user=clerk, at=at)
        if rng.random() < 0.05:
            purchases.record_return(purchase=result.purchase, amount=(amount / 2).quantize(Decimal("0.01")),
                                    reference=f"DR{member.member_no[-6:]}-{i:03d}", acting_user=clerk,
                                    idempotency_key=f"demo:{member.member_no}:{i}:return", at=at + timedelta(days=2))
    if rng.random() < 0.3:
        plan = rng.choice(PLANS)
        stored_value.top_up(member=member, amount=Decimal(plan[2]), store=store, acting_user=clerk,
                            idempotency_key=f"demo:{member.member_no}:topup", at=start + timedelta(days=days[0]))


def seed_members(*, out=None) -> None:
    if Member.objects.filter(phone=KNOWN_MEMBER["phone"]).exists():
        return  # members and their history are loaded once
    rng = random.Random(20261123)
    stores = {s.code: s for s in Store.objects.filter(code__in=["S001", "S002"])}
    clerks = {u.store.code: u for u in User.objects.filter(role=Role.CLERK).select_related("store")}
    start = now() - timedelta(days=365)
    # 张三: SILVER (growth between 1,000 and 5,000), birthday 05-20, member password member-demo
    known = enrolment.enrol(phone=KNOWN_MEMBER["phone"], name=KNOWN_MEMBER["name"], gender=Gender.MALE,
                            birthday=KNOWN_MEMBER["birthday"], store=stores["S001"], marketing_consent=True,
                            acting_user=clerks["S001"], joined_at=start)
    Member.objects.filter(pk=known.pk).update(password=make_password(KNOWN_MEMBER["password"]))
    _history(known, rng, sales=12, spend=(120, 260), store=stores["S001"], clerk=clerks["S001"], start=start)
    profiles = [(0.45, 1, 4, (20, 120)), (0.3, 4, 10, (60, 200)), (0.17, 8, 16, (200, 500)),
                (0.08, 20, 30, (600, 1200))]
    for n in range(DEMO_MEMBERS):
        store_code = "S001" if n % 3 else "S002"
        weights = [p[0] for p in profiles]
        _w, lo, hi, spend = rng.choices(profiles, weights=weights)[0]
        joined = start + timedelta(days=rng.randint(0, 200))
        member = enrolment.enrol(
            phone=f"139{n:08d}", name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN]),
            gender=rng.choice([Gender.FEMALE, Gender.FEMALE, Gender.MALE, Gender.UNKNOWN]),
            birthday=f"{rng.choice(['-', str(rng.randint(1960, 2005))])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            store=stores[store_code], marketing_consent=rng.random() < 0.7,
            channel=rng.choice([Channel.COUNTER, Channel.COUNTER, Channel.WEB, Channel.POSTER]),
            acting_user=clerks[store_code], joined_at=joined)
        if rng.random() < 0.12:
            continue  # enrolled, never bought: shows up as inactive in the dashboards
        sales = min(rng.randint(lo, hi), 350 - (joined - start).days)
        _history(member, rng, sales=max(1, sales), spend=spend, store=stores[store_code], clerk=clerks[store_code],
                 start=joined)
    if out:
        out.write(f"members: {Member.objects.count()}")


def seed(*, out=None) -> None:
    seed_stores_and_staff(out=out)
    seed_program()
    seed_members(out=out)
