"""Demo program, analytics part: a few recent enrolments (the membership demo's members all joined
more than a month ago), a year of campaign history (welcome coupons for each week's new members,
monthly win-back runs with a holdout, some of the coupons used at the till), then every
roll-up from the first enrolment to yesterday and the member snapshot, so the dashboards show real
figures right after `make run` (demo-program.md: "every dashboard show[s] real figures").

The campaign history goes through the campaigns app's own services (run_scene at past dates) and the
counter's sale service, like the rest of the demo. Idempotent: the history is made once (its sales
are marked DEMO-C…), and the roll-ups are rebuilt only when yesterday is not rolled up yet."""

import math
import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef

from campaigns.models import Coupon, Scene, SceneGrant
from campaigns.services import scenes
from core.clock import now
from membership.demo import KNOWN_MEMBER, demo_clerks
from membership.models import Channel, Store
from membership.services import enrolment
from pos.models import Sale
from pos.services import sales

from . import definitions as d
from .models import RollupRun
from .services import rollups

MARK = "DEMO-C"


def _use_coupons(
    scene: Scene, *, since: datetime, rate: float, holdout_rate: float, spend, rng, counter, stores, clerks, end
) -> None:
    """Some of the members granted since `since` come back with the scene's coupon; a few of the
    held-out ones come back on their own (the baseline of incremental sales)."""
    grants = (
        SceneGrant.objects.filter(scene=scene, created_at__gte=since, member__home_store__in=stores.values())
        .exclude(member__phone=KNOWN_MEMBER["phone"])
        .select_related("member__home_store")
        .order_by("pk")
    )
    coupons = {
        c.member_id: c
        for c in Coupon.objects.filter(
            source=f"scene:{scene.pk}", granted_at__gte=since, status=Coupon.Status.AVAILABLE
        )
    }
    for grant in grants:
        member = grant.member
        held = grant.variant == SceneGrant.Variant.HOLDOUT
        if rng.random() >= (holdout_rate if held else rate):
            continue
        at = grant.created_at + timedelta(days=rng.uniform(1, 20), hours=rng.uniform(0, 8))
        if at >= end:
            continue
        code = member.home_store.code
        coupon = None if held else coupons.get(member.pk)
        amount = Decimal(rng.randint(*spend)) + Decimal(rng.choice(["0.00", "0.50"]))
        counter[0] += 1
        receipt = f"{MARK}{counter[0]:05d}"
        sales.record_sale(
            store=stores[code],
            clerk=clerks[code],
            receipt_no=receipt,
            amount=amount,
            member=member,
            coupon_code=coupon.code if coupon else None,
            at=at,
            lines=[{"sku": "C100", "category": "food", "qty": 1, "amount": amount}],
            digest=sales.request_hash({"demo-campaign": receipt}),
        )


def _quiet_then(scene: Scene, at: datetime) -> list[int]:
    """Members of the win-back audience who, at `at`, had bought before but not in the scene's
    inactive days, and were not won back within its cooldown (as of then, from the sales)."""
    since = at - timedelta(days=scene.inactive_days or 90)
    recent = Sale.objects.filter(member=OuterRef("pk"), created_at__gte=since, created_at__lt=at)
    before = Sale.objects.filter(member=OuterRef("pk"), created_at__lt=since)
    cooled = SceneGrant.objects.filter(
        scene=scene, member=OuterRef("pk"), created_at__gte=at - timedelta(days=scene.cooldown_days or 0)
    )
    return list(
        scenes.audience(scene)
        .filter(Exists(before), ~Exists(recent), ~Exists(cooled))
        .exclude(phone=KNOWN_MEMBER["phone"])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _recent_members(rng, stores, clerks, end, counter) -> int:
    """A few enrolments a week over the last eight weeks, most of them buying soon after: the
    membership demo's members all joined before that, and the dashboards should show new members."""
    made = 0
    for week in range(8, 0, -1):
        for _k in range(rng.randint(2, 5)):
            made += 1
            code = "S001" if made % 3 else "S002"
            joined = end - timedelta(days=7 * week - rng.uniform(0, 6), hours=rng.uniform(0, 8))
            name = rng.choice("王李张刘陈杨黄赵") + rng.choice("伟芳娜敏静")
            member = enrolment.enrol(
                phone=f"1360000{made:04d}",
                name=name,
                store=stores[code],
                acting_user=clerks[code],
                joined_at=joined,
                channel=Channel.COUNTER,
                marketing_consent=rng.random() < 0.7,
            )
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                at = joined + timedelta(days=rng.uniform(0, 20))
                if at >= end:
                    continue
                counter[0] += 1
                receipt = f"{MARK}{counter[0]:05d}"
                amount = Decimal(rng.randint(40, 300))
                sales.record_sale(
                    store=stores[code],
                    clerk=clerks[code],
                    receipt_no=receipt,
                    amount=amount,
                    member=member,
                    at=at,
                    digest=sales.request_hash({"demo-recent": receipt}),
                    lines=[{"sku": "N100", "category": "food", "qty": 1, "amount": amount}],
                )
    return made


def seed_campaign_history(*, out=None) -> None:
    if Sale.objects.filter(receipt_no__startswith=MARK).exists():
        return
    welcome = Scene.objects.filter(kind=Scene.Kind.WELCOME, is_active=True).first()
    winback = Scene.objects.filter(kind=Scene.Kind.WINBACK, is_active=True).first()
    if welcome is None and winback is None:
        return
    rng = random.Random(7007)  # nosec B311
    stores = {s.code: s for s in Store.objects.filter(code__in=["S001", "S002"])}
    clerks = demo_clerks()  # the demo's tills; members of other stores (bench.generate's) are granted, not sold to
    end = now() - timedelta(hours=2)
    first = d.local_day(end) - timedelta(days=364)
    counter = [0]
    recent = _recent_members(rng, stores, clerks, end, counter)
    day = first + timedelta(days=6 - first.weekday())  # the first Sunday
    while day < d.local_day(end):
        at = datetime.combine(day, time(9, 30), tzinfo=d.tz())
        if welcome is not None:
            # the week's new members (run_scene's welcome query has no upper bound: it is meant for today)
            joined = list(
                scenes.audience(welcome)
                .filter(joined_at__gte=at - timedelta(days=7), joined_at__lt=at)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            if joined:
                scenes.grant_batch(welcome, "welcome", joined, at=at)
            _use_coupons(
                welcome,
                since=at,
                rate=0.45,
                holdout_rate=0.0,
                spend=(60, 180),
                rng=rng,
                counter=counter,
                stores=stores,
                clerks=clerks,
                end=end,
            )
        if winback is not None and day.day <= 7:  # the first Sunday of each month
            quiet = _quiet_then(winback, at)
            if quiet:
                scenes.grant_batch(winback, day.isoformat(), quiet, at=at)
            _use_coupons(
                winback,
                since=at,
                rate=0.2,
                holdout_rate=0.08,
                spend=(90, 260),
                rng=rng,
                counter=counter,
                stores=stores,
                clerks=clerks,
                end=end,
            )
        day += timedelta(days=7)
    if out:
        out.write(
            f"analytics: {recent} recent members; campaign history: {SceneGrant.objects.count()} grants; "
            f"{counter[0]} more sales"
        )


TARGET_MONTHS = 12  # months before this one with targets (this one has its target too)


def seed_targets(*, out=None) -> int:
    """Monthly targets for the demo stores (issue 31: a newcomer sees the target cards), the last 12
    months and this one: each store's average month of its whole rolled-up months (new members,
    member net sales) plus a tenth, rounded (a member, ¥100), and a repurchase rate of the chain's
    average month rounded up to 5 %, so some months are met and some are not. A store and month that
    has a target already keeps it (HQ's edits stay); targets are ordinary admin rows."""
    from django.db.models import Sum

    from .models import MonthStats, StoreDay, Target

    last = rollups.last_rolled_day()
    if last is None:
        return 0
    this_month = d.month_start(d.local_day(now()))
    whole = d.month_start(last + timedelta(days=1))  # rolled-up months end before this one
    months = list(MonthStats.objects.filter(store=None, month__lt=whole).values_list("month", flat=True))
    if not months:
        return 0
    first = min(months)
    rates = [
        d.repurchase_rate(m.repeat_buyers, m.buyers)
        for m in MonthStats.objects.filter(store=None, month__gte=first, month__lt=whole)
    ]
    rates = [r for r in rates if r is not None]
    rate = Decimal(math.ceil(sum(rates) / len(rates) * 20) * 5) if rates else None
    made = 0
    for store in Store.objects.filter(code__in=["S001", "S002"]).order_by("code"):
        got = StoreDay.objects.filter(store=store, day__gte=first, day__lt=whole).aggregate(
            new=Sum("new_members"), sales=Sum("member_sales_amount"), back=Sum("member_returns_amount")
        )
        n = len(months)
        new_members = max(1, round((got["new"] or 0) / n * 1.1))
        net = d.net_sales(got["sales"] or 0, got["back"] or 0)
        sales = max(Decimal(100), (Decimal(net) / n * Decimal("1.1") / 100).quantize(Decimal(1)) * 100)
        month = this_month
        for _k in range(TARGET_MONTHS + 1):
            _target, created = Target.objects.get_or_create(
                store=store,
                month=month,
                defaults={"new_members": new_members, "member_sales": sales, "repurchase_rate": rate},
            )
            made += created
            month = d.month_start(month - timedelta(days=1))
    if out and made:
        out.write(f"analytics: {made} monthly targets for S001 and S002")
    return made


def seed(*, out=None) -> None:
    seed_campaign_history(out=out)
    end = rollups.yesterday()
    if not RollupRun.objects.filter(kind="store", day=end).exists() and (start := rollups.first_day()) is not None:
        report = rollups.rebuild(start, end)
        if out:
            out.write(f"analytics: rolled up {report.days} days ({start} to {end}) and the member snapshot")
    seed_targets(out=out)
