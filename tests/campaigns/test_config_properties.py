"""Issue 29, "Done when": whatever configuration the models accept (tiers, staged rates, category
multipliers, programme settings, scenes of every kind with their packages, coupon templates), a sale
with a coupon and points, a return, the daily scene run and the member's home page never fail.

Hypothesis draws a configuration; each piece is saved only when its model's full_clean() accepts it
(what admin does); each example runs in a savepoint that is rolled back."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from campaigns import kinds
from campaigns.models import BenefitPackage, CouponTemplate, Scene
from campaigns.services import coupons, scenes
from membership import config
from membership.models import EarnMultiplier, EarnStage, Member, ProgramSettings, Tier

pytestmark = pytest.mark.django_db
PASSWORD = "plum-blossom-88"

money = st.decimals(min_value=0, max_value=2000, places=2, allow_nan=False, allow_infinity=False)
small = st.none() | st.integers(min_value=0, max_value=40)


def when_value(name):
    field = Scene._meta.get_field(name)
    if field.get_internal_type() == "BooleanField":
        return st.booleans()
    if field.choices:
        return st.sampled_from([value for value, _label in field.choices])
    if name == "offsets":
        return st.sampled_from(["", "0", "1,3,7", "2, 30", "x", "400", "7,7"])
    return RANGES.get(name, small)


def near(low, high):
    """Mostly values the kind accepts, some just outside."""
    return st.none() | st.integers(min_value=low, max_value=high) | st.sampled_from([0, high + 1])


RANGES = {
    "month": near(1, 12),
    "end_month": st.none() | near(1, 12),
    "day": near(1, 31),
    "end_day": st.none() | near(1, 31),
    "nth": near(1, 5),
    "weekday": near(0, 6),
    "days_before": st.integers(min_value=0, max_value=10),  # not null, 0 by default
    "days_after": st.integers(min_value=0, max_value=10),
    "inactive_days": near(1, 400),
    "cooldown_days": near(1, 400),
    "step": near(1, 5000),
}


scene_st = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(list(kinds.KINDS)),
        "when": st.fixed_dictionaries({name: when_value(name) for name in kinds.WHEN_FIELDS}),
        "bonus_points": st.integers(min_value=0, max_value=500),
        "multiplier": st.none()
        | st.sampled_from([Decimal("1.5"), Decimal("2"), Decimal("10"), Decimal("0.5"), Decimal("11")]),
        "holdout": st.integers(min_value=0, max_value=60),
        "starts": st.none() | st.integers(min_value=-400, max_value=30),
        "budget": st.none() | st.integers(min_value=0, max_value=3),
    }
)
tier_st = st.fixed_dictionaries(
    {
        "code": st.sampled_from(["NORMAL", "SILVER", "GOLD", "DIAMOND"]),
        "reach_growth": st.integers(min_value=0, max_value=30000),
        "keep_growth": st.integers(min_value=0, max_value=30000),
        "points_multiplier": st.decimals(min_value=0, max_value=20, places=2),
        "discount_rate": st.decimals(min_value=0, max_value=120, places=2),
    }
)
coupon_st = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["cash_off", "percent_off", "gift"]),
        "value": st.decimals(min_value=0, max_value=200, places=2),
        "threshold": money,
        "max_discount": st.none() | money,
        "valid_days": st.none() | st.integers(min_value=0, max_value=60),
        "stackable": st.booleans(),
        "gift_description": st.sampled_from(["", "帆布袋"]),
    }
)
programme_st = st.fixed_dictionaries(
    {
        "earn_rate": st.decimals(min_value=0, max_value=200, places=4),
        "redeem_points_per_yuan": st.integers(min_value=0, max_value=1000),
        "redeem_cap_percent": st.decimals(min_value=0, max_value=150, places=2),
        "per_sale_cap": st.none() | st.integers(min_value=0, max_value=500),
        "pending_days": st.integers(min_value=0, max_value=3),
        "birthday_month_discount": st.decimals(min_value=0, max_value=100, places=2),
    }
)
stage_st = st.lists(
    st.tuples(money, st.decimals(min_value=0, max_value=200, places=4)), max_size=3, unique_by=lambda t: t[0]
)
category_st = st.lists(
    st.tuples(
        st.sampled_from(["category", "sku"]),
        st.decimals(min_value=0, max_value=20, places=2),
        st.none() | st.integers(min_value=-5, max_value=5),
        st.none() | st.integers(min_value=-5, max_value=5),
    ),
    max_size=2,
)


def skipped() -> float:
    """How many times a scene failed and was skipped (portal_scene_errors_total, all places)."""
    return sum(
        s.value
        for m in REGISTRY.collect()
        if m.name == "portal_scene_errors"
        for s in m.samples
        if s.name.endswith("_total")
    )


def accepted(obj, **clean) -> bool:
    """Saved when full_clean() accepts it, as admin would."""
    try:
        obj.full_clean(**clean)
    except ValidationError:
        return False
    obj.save()
    return True


@pytest.fixture
def counter(program, enrol, api):
    from django.contrib.auth.hashers import make_password

    today = date.today()
    member = enrol(phone="13800138009", name="李四", birthday=f"1990-{today.month:02d}-{min(today.day, 28):02d}")
    Member.objects.filter(pk=member.pk).update(password=make_password(PASSWORD), points_balance=0)
    web = Client()
    assert web.post("/m/login/", {"phone": member.phone, "password": PASSWORD}).status_code == 302
    return member, api("clerk1"), web


def configure(member, programme, tiers, stages, categories, scene_rows, coupon_rows, today):
    program = ProgramSettings.load()
    for name, value in programme.items():
        setattr(program, name, value)
    accepted(program)
    for row in tiers:
        tier = Tier.objects.get(code=row["code"])
        for name, value in row.items():
            setattr(tier, name, value)
        accepted(tier)
    for from_amount, rate in stages:
        accepted(EarnStage(from_amount=from_amount, rate=rate))
    for kind, multiplier, start, end in categories:
        on = {None: None}
        accepted(
            EarnMultiplier(
                kind=kind,
                key="FOOD" if kind == "category" else "A1",
                multiplier=multiplier,
                starts_on=on.get(start, today + timedelta(days=start or 0)),
                ends_on=on.get(end, today + timedelta(days=end or 0)),
            )
        )
    for n, row in enumerate(scene_rows):
        package = BenefitPackage(name=f"包{n}", bonus_points=row["bonus_points"], multiplier=row["multiplier"])
        if not accepted(package):
            continue
        scene = Scene(
            name=f"场景{n}",
            kind=row["kind"],
            package=package,
            holdout_percent=row["holdout"],
            starts_on=None if row["starts"] is None else today + timedelta(days=row["starts"]),
            budget_grants=row["budget"],
            **row["when"],
        )
        accepted(scene)
    codes = []
    for n, row in enumerate(coupon_rows):
        template = CouponTemplate(code=f"HC{n}", name=f"券{n}", **row)
        if accepted(template):
            codes.append(coupons.grant(template=template, member=member, source="test", idempotency_key=f"hc{n}").code)
    config.clear()
    scenes.clear_cache()
    return codes


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    programme=programme_st,
    tiers=st.lists(tier_st, max_size=3),
    stages=stage_st,
    categories=category_st,
    scene_rows=st.lists(scene_st, min_size=1, max_size=5),
    coupon_rows=st.lists(coupon_st, max_size=2),
    day=st.integers(min_value=0, max_value=365),
    pay_points=st.sampled_from([0, 100, 150]),
)
def test_no_accepted_configuration_fails_a_sale_a_return_the_daily_run_or_the_home_page(
    counter, programme, tiers, stages, categories, scene_rows, coupon_rows, day, pay_points
):
    member, clerk, web = counter
    skipped_before = skipped()
    today = date.today()
    with transaction.atomic():
        codes = configure(member, programme, tiers, stages, categories, scene_rows, coupon_rows, today)
        Member.objects.filter(pk=member.pk).update(points_balance=1000)  # to pay with
        sale = {"receipt_no": "H1", "member": member.member_no, "amount": "300.00", "pay_points": pay_points}
        if codes:
            sale["coupon_code"] = codes[0]
        answer = clerk.post("/api/v1/sales/", sale, format="json")
        # a coupon or a points payment the configuration does not allow is a clear 4xx, never a 5xx
        assert answer.status_code in (201, 400, 409, 422), answer.content
        if answer.status_code != 201:
            answer = clerk.post(
                "/api/v1/sales/", {"receipt_no": "H2", "member": member.member_no, "amount": "300.00"}, format="json"
            )
        assert answer.status_code == 201, answer.content
        sale_id = answer.json()["sale_id"]
        back = clerk.post(f"/api/v1/sales/{sale_id}/returns/", {"receipt_no": "B1", "amount": "10.00"}, format="json")
        assert back.status_code == 201, back.content
        assert clerk.get(f"/api/v1/members/lookup/?q={member.phone}").status_code == 200
        scenes.run_daily(on=today + timedelta(days=day))
        assert web.get("/m/").status_code == 200
        # nor was any scene the models accepted skipped as failing, in the sale or the run
        assert skipped() == skipped_before
        transaction.set_rollback(True)
    config.clear()
    scenes.clear_cache()
