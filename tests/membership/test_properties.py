"""Property-based tests of the membership engine (product.md: Points, Stored value, Tiers).

A Hypothesis state machine runs random sequences of counter and back-office operations (sales
paying with points and stored value, partial and full returns, manual adjustments, bonus
grants, top-ups, expiry, pending release, replayed requests) on a simulated clock that only
moves forward, and checks the ledger invariants after every step. A domain error is an allowed
answer, but it must leave every balance, lot and ledger exactly as it was."""

import random
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import Q, Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.errors import InsufficientPoints, InsufficientStoredValue, Invalid, PointsCapExceeded
from membership import config, ledger
from membership.models import (
    GrowthEntry,
    Member,
    PointsEntry,
    ProgramSettings,
    Purchase,
    PurchaseReturn,
    Store,
    StoredValueEntry,
    Tier,
    TierChange,
    User,
)
from membership.services import enrolment, points, purchases, stored_value
from membership.services.pricing import Line

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 3, 1, 10, 0, tzinfo=SH)
EXPECTED = (InsufficientPoints, PointsCapExceeded, InsufficientStoredValue, Invalid)
Kind, Source = PointsEntry.Kind, PointsEntry.Source
CENT = Decimal("0.01")


def configure(**fields):
    """Change program settings as admin does (a save, so per-process copies are dropped)."""
    program = ProgramSettings.load()
    for name, value in fields.items():
        setattr(program, name, value)
    program.save()


@pytest.fixture
def world(db):
    """Stores, staff, tiers, settings and top-up plans of the demo program (demo-program.md)."""
    from membership.demo import seed_program, seed_stores_and_staff

    seed_stores_and_staff()
    seed_program()
    return {
        "store": Store.objects.get(code="S001"),
        "clerk": User.objects.get(username="clerk1"),
        "manager": User.objects.get(username="manager1"),
    }


def fen(value) -> Decimal:
    """A database sum of money, exact to the fen (SQLite adds decimals as floats)."""
    return Decimal(value or 0).quantize(CENT)


def money_between(lo: Decimal, hi: Decimal):
    """Whole-fen amounts in [lo, hi]."""
    return st.integers(int(lo * 100), int(hi * 100)).map(lambda fen: Decimal(fen) / 100)


# ---------------------------------------------------------------------------------------
# What must hold at every moment
# ---------------------------------------------------------------------------------------


def state_snapshot():
    """Everything a failed call must leave untouched."""
    return {
        "members": list(
            Member.objects.order_by("pk").values_list(
                "pk",
                "points_balance",
                "points_pending",
                "points_flagged",
                "sv_principal",
                "sv_bonus",
                "growth_value",
                "tier_id",
                "purchase_count",
                "last_purchase_at",
            )
        ),
        "lots": list(PointsEntry.objects.order_by("pk").values_list("pk", "amount", "remaining", "pending")),
        "sv": StoredValueEntry.objects.count(),
        "growth": GrowthEntry.objects.count(),
        "purchases": list(
            Purchase.objects.order_by("pk").values_list(
                "pk",
                "returned_amount",
                "points_reversed",
                "points_refunded",
                "growth_reversed",
                "sv_principal_refunded",
                "sv_bonus_refunded",
            )
        ),
        "returns": PurchaseReturn.objects.count(),
        "tier_changes": TierChange.objects.count(),
    }


def assert_ledger_invariants():
    assert ledger.discrepancies() == []
    growth = dict(GrowthEntry.objects.values("member").annotate(s=Sum("amount")).values_list("member", "s"))
    entries = {}
    for e in PointsEntry.objects.order_by("pk"):
        entries.setdefault(e.member_id, []).append(e)
    tiers = list(Tier.objects.order_by("rank"))
    for m in Member.objects.select_related("tier"):
        assert m.sv_principal >= 0 and m.sv_bonus >= 0, m
        assert m.points_pending >= 0, m
        assert m.growth_value == growth.get(m.pk, 0)
        # upgrades happen at once; only the periodic review (not run here) moves a member down
        assert not [t for t in tiers if t.rank > m.tier.rank and t.reach_growth <= m.growth_value], m
        assert not TierChange.objects.filter(member=m).exclude(reason__in=["enrol", "upgrade"]).exists()
        mine = entries.get(m.pk, [])
        # every entry that leaves the balance negative is a flagged return reversal
        for e in mine:
            if e.amount < 0 and e.balance_after < 0:
                assert e.kind == Kind.REVERSE and e.source == Source.RETURN and e.flagged, e
        if m.points_balance < 0:
            assert m.points_flagged, m
            previous, negative_making = 0, None
            for e in mine:
                if e.balance_after < 0 <= previous:
                    negative_making = e
                previous = e.balance_after
            assert negative_making is not None
            assert negative_making.kind == Kind.REVERSE and negative_making.flagged
        else:
            assert not m.points_flagged, f"{m.member_no} is flagged with balance {m.points_balance}"


def assert_purchase_totals():
    returns = {
        row["purchase"]: row
        for row in PurchaseReturn.objects.values("purchase").annotate(
            amount=Sum("amount"),
            reversed=Sum("points_reversed"),
            refunded=Sum("points_refunded"),
            growth=Sum("growth_reversed"),
            sv=Sum("sv_refunded"),
        )
    }
    ledger_points = {
        row["purchase"]: row
        for row in PointsEntry.objects.filter(purchase__isnull=False)
        .values("purchase")
        .annotate(
            redeemed=Sum("amount", filter=Q(kind=Kind.REDEEM)),
            earned=Sum("amount", filter=Q(kind=Kind.EARN)),
            reversed=Sum("amount", filter=Q(kind=Kind.REVERSE, amount__lt=0)),
            refunded=Sum("amount", filter=Q(kind=Kind.REVERSE, amount__gt=0)),
        )
    }
    growth = dict(
        GrowthEntry.objects.filter(purchase__isnull=False)
        .values("purchase")
        .annotate(s=Sum("amount"))
        .values_list("purchase", "s")
    )
    sv = {
        row["purchase"]: row
        for row in StoredValueEntry.objects.filter(purchase__isnull=False)
        .values("purchase")
        .annotate(pr=Sum("principal"), bo=Sum("bonus"))
    }
    for p in Purchase.objects.all():
        r = returns.get(p.pk, {})
        assert fen(r.get("amount")) == p.returned_amount <= p.amount
        assert (r.get("reversed") or 0) == p.points_reversed
        assert (r.get("refunded") or 0) == p.points_refunded
        assert (r.get("growth") or 0) == p.growth_reversed
        assert fen(r.get("sv")) == p.sv_principal_refunded + p.sv_bonus_refunded
        assert 0 <= p.points_reversed <= p.points_earned
        assert 0 <= p.points_refunded <= p.points_paid
        assert 0 <= p.growth_reversed <= p.growth
        assert 0 <= p.sv_principal_refunded <= p.sv_principal_paid
        assert 0 <= p.sv_bonus_refunded <= p.sv_bonus_paid
        if p.returned_amount == p.amount:
            assert p.points_reversed == p.points_earned
            assert p.points_refunded == p.points_paid
            assert p.growth_reversed == p.growth
            assert p.sv_principal_refunded == p.sv_principal_paid
            assert p.sv_bonus_refunded == p.sv_bonus_paid
        # the ledgers say the same as the purchase's running totals
        lp = ledger_points.get(p.pk, {})
        assert (lp.get("redeemed") or 0) == -p.points_paid
        assert (lp.get("earned") or 0) == p.points_earned
        assert (lp.get("reversed") or 0) == -p.points_reversed
        assert (lp.get("refunded") or 0) == p.points_refunded
        assert growth.get(p.pk, 0) == p.growth - p.growth_reversed
        s = sv.get(p.pk, {})
        assert fen(s.get("pr")) == p.sv_principal_refunded - p.sv_principal_paid
        assert fen(s.get("bo")) == p.sv_bonus_refunded - p.sv_bonus_paid


# ---------------------------------------------------------------------------------------
# The state machine
# ---------------------------------------------------------------------------------------


class MembershipMachine(RuleBasedStateMachine):
    world: dict = {}

    def __init__(self):
        super().__init__()
        # every example runs in its own savepoint, rolled back in teardown()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.clock = START
        self.n = 0
        self.members: list[int] = []
        self.sales: list[dict] = []  # kwargs of successful record_purchase calls (for replays)
        self.return_calls: list[dict] = []

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        config.clear()  # the settings this example saved were rolled back

    # -- helpers ----------------------------------------------------------------------

    def key(self, what):
        self.n += 1
        return f"prop:{what}:{self.n}"

    def tick(self, data, scales=("minutes", "hours", "days")):
        """Move the clock forward (never back): a few minutes, hours, days or months."""
        scale = data.draw(st.sampled_from(scales), label="clock scale")
        step = {
            "minutes": timedelta(minutes=1),
            "hours": timedelta(hours=1),
            "days": timedelta(days=1),
            "months": timedelta(days=30),
        }[scale]
        self.clock += step * data.draw(st.integers(1, 15), label=f"clock {scale}")
        return self.clock

    def member(self, data) -> Member:
        return Member.objects.get(pk=data.draw(st.sampled_from(self.members), label="member"))

    def attempt(self, call):
        """Run a service call; an expected domain error must change nothing."""
        before = state_snapshot()
        try:
            return call()
        except EXPECTED as exc:
            self.last_error = exc
            assert state_snapshot() == before, "a failed call changed the state"
            return None

    # -- set-up -----------------------------------------------------------------------

    @initialize(
        pending_days=st.integers(0, 3),
        expiry=st.sampled_from([("year_end", 12), ("rolling", 1), ("rolling", 4), ("never", 12)]),
        pay_order=st.sampled_from(["principal_first", "proportional"]),
        first_sales=st.lists(st.integers(100, 300_000), min_size=2, max_size=2),
    )
    def setup(self, pending_days, expiry, pay_order, first_sales):
        configure(
            pending_days=pending_days,
            expiry_policy=expiry[0],
            expiry_months=expiry[1],
            stored_value_pay_order=pay_order,
        )
        for i in range(2):
            member = enrolment.enrol(
                phone=f"1390000{i:04d}",
                store=self.world["store"],
                acting_user=self.world["clerk"],
                joined_at=self.clock,
            )
            self.members.append(member.pk)
        for pk, fen in zip(self.members, first_sales):  # something to return from the first step on
            kwargs = dict(
                member=Member.objects.get(pk=pk),
                store=self.world["store"],
                reference=f"R{self.n}",
                amount=Decimal(fen) / 100,
                idempotency_key=self.key("sale"),
                acting_user=self.world["clerk"],
                at=self.clock,
            )
            purchases.record_purchase(**kwargs)
            self.sales.append(kwargs)

    # -- operations -------------------------------------------------------------------

    @rule(data=st.data())
    def purchase(self, data):
        member = self.member(data)
        amount = data.draw(
            st.one_of(money_between(Decimal("0.01"), Decimal("50")), money_between(Decimal("0.01"), Decimal("3000"))),
            label="amount",
        )
        cap_points = int((amount / 2).quantize(CENT, rounding="ROUND_DOWN") * 100)
        mode = data.draw(st.sampled_from(["none", "valid", "most", "any"]), label="points mode")
        pay_points = 0
        if mode == "valid" and min(cap_points, member.points_balance) > 0:
            pay_points = data.draw(st.integers(1, min(cap_points, member.points_balance)), label="pay_points")
        elif mode == "most":
            pay_points = max(0, min(cap_points, member.points_balance))
        elif mode == "any":
            most = max(1, member.points_balance, cap_points) + 500
            pay_points = data.draw(st.integers(0, most), label="pay_points")
        sv_total = member.sv_principal + member.sv_bonus
        room = amount - Decimal(pay_points) / 100
        sv_mode = data.draw(st.sampled_from(["none", "valid", "all", "any"]), label="sv mode")
        pay_sv = Decimal("0.00")
        if sv_mode == "valid" and min(sv_total, room) >= CENT:
            pay_sv = data.draw(money_between(CENT, min(sv_total, room)), label="pay_sv")
        elif sv_mode == "all" and min(sv_total, room) >= CENT:
            pay_sv = min(sv_total, room)
        elif sv_mode == "any":
            pay_sv = data.draw(money_between(Decimal(0), sv_total + 50), label="pay_sv")
        at = self.tick(data)
        # a till's own price (`amount`) or the shelf price with the member discount (`list_amount`),
        # sometimes with a line kept out of the discount
        priced_by = data.draw(st.sampled_from(["amount", "list_amount"]), label="priced by")
        lines = None
        if priced_by == "list_amount" and amount >= 2 * CENT and data.draw(st.booleans(), label="lines"):
            cut = data.draw(money_between(CENT, amount - CENT), label="not discountable")
            lines = [Line(amount=amount - cut, sku="A"), Line(amount=cut, sku="CIG", discountable=False)]
        sale = dict(pay_points=pay_points, pay_stored_value=pay_sv, lines=lines, **{priced_by: amount})
        try:
            quoted = purchases.quote(member=member, at=at, **sale)
        except EXPECTED as exc:
            quoted = exc
        kwargs = dict(
            member=member,
            store=self.world["store"],
            reference=f"R{self.n}",
            idempotency_key=self.key("sale"),
            acting_user=self.world["clerk"],
            at=at,
            **sale,
        )
        result = self.attempt(lambda: purchases.record_purchase(**kwargs))
        if result is not None:
            assert not result.replayed
            p = result.purchase
            assert p.points_paid == pay_points
            assert p.sv_paid == pay_sv
            # the member discount: none on a till's own price; the tier's rate on the discountable part
            discountable = amount if lines is None else lines[0].amount
            rate = member.tier.discount_rate if priced_by == "list_amount" else 0
            assert p.member_discount == (discountable * rate / 100).quantize(CENT, rounding="ROUND_HALF_UP")
            assert p.amount == amount - p.member_discount
            # earned at the tier held before this sale, on what was not paid with points (demo rate 1/¥1)
            eligible = p.amount - Decimal(pay_points) / 100
            assert p.tier_at_sale_id == member.tier_id
            assert p.points_earned == int(eligible * member.tier.points_multiplier)
            assert p.growth == int(eligible)
            # the preview priced it exactly as it was recorded
            assert not isinstance(quoted, Exception), quoted
            assert (
                quoted.amount,
                quoted.member_discount,
                quoted.points_value,
                quoted.coupon_value,
                quoted.stored_value_paid,
                quoted.eligible,
                quoted.points_to_earn,
                quoted.growth_to_earn,
                quoted.cash_due,
            ) == (
                p.amount,
                p.member_discount,
                p.points_value,
                p.coupon_value,
                p.sv_paid,
                p.eligible_amount,
                p.points_earned,
                p.growth,
                result.cash_due,
            )
            self.sales.append(kwargs)
        elif isinstance(quoted, Exception):
            pass  # refused by both
        else:  # the preview accepted it: only lots that expired since (the sale expires them first) differ
            assert isinstance(self.last_error, InsufficientPoints), self.last_error

    def _return(self, data, modes):
        open_sales = [k for k in self.sales if not k.get("closed")] or self.sales
        sale = data.draw(st.sampled_from(open_sales), label="sale")
        purchase = Purchase.objects.get(idempotency_key=sale["idempotency_key"])
        left = purchase.amount - purchase.returned_amount
        mode = data.draw(st.sampled_from(modes), label="return mode")
        if mode == "all" or (mode == "part" and left < 2 * CENT):
            amount = left if left > 0 else CENT
        elif mode == "part":
            amount = data.draw(money_between(CENT, left - CENT), label="return amount")
        else:
            amount = left + CENT
        at = self.tick(data, scales=("minutes", "hours", "days", "months"))
        kwargs = dict(
            purchase=purchase,
            amount=amount,
            reference=f"RR{self.n}",
            idempotency_key=self.key("return"),
            acting_user=self.world["clerk"],
            at=at,
        )
        result = self.attempt(lambda: purchases.record_return(**kwargs))
        if result is not None:
            assert not result.replayed
            self.return_calls.append(kwargs)
            sale["closed"] = amount == left
        else:
            assert amount > left, "a return within what is left failed"

    @precondition(lambda self: self.sales)
    @rule(data=st.data())
    def return_part(self, data):
        self._return(data, ["part", "part", "too much"])

    @precondition(lambda self: self.sales)
    @rule(data=st.data())
    def return_rest(self, data):
        self._return(data, ["all"])

    @rule(data=st.data())
    def adjust(self, data):
        member = self.member(data)
        modes = ["add", "take", "take all", "take all", "take too much", "zero", "no reason"]
        mode = data.draw(st.sampled_from(modes), label="adjust mode")
        balance = member.points_balance
        pts = {
            "add": lambda: data.draw(st.integers(1, 3000), label="points"),
            "take": lambda: -data.draw(st.integers(1, max(1, balance)), label="points"),
            "take all": lambda: -max(1, balance),
            "take too much": lambda: -(max(0, balance) + data.draw(st.integers(1, 500), label="points")),
            "zero": lambda: 0,
            "no reason": lambda: data.draw(st.integers(-100, 100), label="points"),
        }[mode]()
        reason = " " if mode == "no reason" else "goodwill"
        at = self.tick(data)
        self.attempt(
            lambda: points.adjust(
                member=member,
                points=pts,
                reason=reason,
                acting_user=self.world["manager"],
                idempotency_key=self.key("adjust"),
                at=at,
            )
        )

    @rule(data=st.data())
    def grant_bonus(self, data):
        member = self.member(data)
        pts = data.draw(st.integers(0, 2000), label="bonus points")
        at = self.tick(data)
        self.attempt(
            lambda: points.grant(
                member=member, points=pts, source=Source.SCENE, idempotency_key=self.key("grant"), at=at
            )
        )

    @rule(data=st.data())
    def top_up(self, data):
        member = self.member(data)
        amount = data.draw(
            st.one_of(
                st.sampled_from([Decimal("100"), Decimal("300"), Decimal("500")]),
                money_between(Decimal("0.01"), Decimal("800")),
                st.sampled_from([Decimal("0"), Decimal("-5"), Decimal("60000")]),
            ),
            label="top-up",
        )
        at = self.tick(data)
        self.attempt(
            lambda: stored_value.top_up(
                member=member,
                amount=amount,
                store=self.world["store"],
                acting_user=self.world["clerk"],
                idempotency_key=self.key("topup"),
                at=at,
            )
        )

    @rule(data=st.data())
    def expire(self, data):
        at = self.tick(data, scales=("hours", "days", "months"))
        points.expire_due(at=at)
        assert not PointsEntry.objects.filter(remaining__gt=0, pending=False, expires_at__lte=at).exists()

    @rule(data=st.data())
    def release_pending(self, data):
        at = self.tick(data, scales=("hours", "days"))
        points.release_pending(at=at)
        assert not PointsEntry.objects.filter(pending=True, available_at__lte=at).exists()

    @rule(data=st.data())
    def advance_clock(self, data):
        self.tick(data, scales=("days", "months"))

    @precondition(lambda self: self.sales)
    @rule(data=st.data())
    def replay_sale(self, data):
        """A replayed POS request returns the first result and changes nothing."""
        kwargs = dict(data.draw(st.sampled_from(self.sales), label="replayed sale"))
        kwargs.pop("closed", None)
        kwargs["at"] = self.tick(data)
        before = state_snapshot()
        result = purchases.record_purchase(**kwargs)
        assert result.replayed
        assert state_snapshot() == before

    @precondition(lambda self: self.return_calls)
    @rule(data=st.data())
    def replay_return(self, data):
        kwargs = dict(data.draw(st.sampled_from(self.return_calls), label="replayed return"))
        kwargs["at"] = self.tick(data)
        before = state_snapshot()
        result = purchases.record_return(**kwargs)
        assert result.replayed
        assert state_snapshot() == before

    # -- after every step ---------------------------------------------------------------

    @invariant()
    def ledger_is_consistent(self):
        if self.members:
            assert_ledger_invariants()
            assert_purchase_totals()


def test_random_operation_sequences_keep_the_ledger_consistent(world):
    MembershipMachine.world = world
    run_state_machine_as_test(
        MembershipMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        ),
    )


# ---------------------------------------------------------------------------------------
# Returning in parts gives the same totals as returning whole
# ---------------------------------------------------------------------------------------


def _history(member, world, *, amount, pay_points, pay_sv, spend_after):
    """One identical history: bonus points, a top-up, the sale, then points spent elsewhere."""
    at = START
    points.grant(member=member, points=20_000, source=Source.SCENE, idempotency_key=f"h:{member.pk}:grant", at=at)
    stored_value.top_up(
        member=member,
        amount=Decimal("500"),
        store=world["store"],
        acting_user=world["clerk"],
        idempotency_key=f"h:{member.pk}:topup",
        at=at + timedelta(minutes=1),
    )
    sale = purchases.record_purchase(
        member=member,
        store=world["store"],
        reference="SALE",
        amount=amount,
        pay_points=pay_points,
        pay_stored_value=pay_sv,
        idempotency_key=f"h:{member.pk}:sale",
        acting_user=world["clerk"],
        at=at + timedelta(minutes=2),
    ).purchase
    if spend_after:
        points.spend(
            member=member,
            points=spend_after,
            source=Source.MALL_ORDER,
            idempotency_key=f"h:{member.pk}:spend",
            at=at + timedelta(minutes=3),
        )
    return sale


def _split(total: Decimal, parts: int, rng: random.Random) -> list[Decimal]:
    fen = int(total * 100)
    cuts = sorted(rng.sample(range(1, fen), parts - 1))
    bounds = [0, *cuts, fen]
    return [Decimal(b - a) / 100 for a, b in zip(bounds, bounds[1:])]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("pending_days", [0, 2])
def test_returning_in_three_parts_equals_returning_whole(world, seed, pending_days):
    rng = random.Random(seed)
    configure(pending_days=pending_days)
    amount = Decimal(rng.randint(300, 250_000)) / 100
    pay_points = rng.randint(1, min(20_000, int(amount * 50)))
    pay_sv = min(Decimal("580.00"), amount - Decimal(pay_points) / 100) * Decimal(rng.random())
    pay_sv = pay_sv.quantize(CENT, rounding="ROUND_DOWN")
    spend_after = rng.choice([0, 20_000 - pay_points])  # sometimes the earned lot is all that is left
    members = [
        enrolment.enrol(phone=f"1391111{i:04d}", store=world["store"], acting_user=world["clerk"], joined_at=START)
        for i in range(2)
    ]
    sales = [
        _history(m, world, amount=amount, pay_points=pay_points, pay_sv=pay_sv, spend_after=spend_after)
        for m in members
    ]
    later = START + timedelta(days=1)
    for i, part in enumerate(_split(amount, 3, rng)):
        purchases.record_return(
            purchase=sales[0],
            amount=part,
            reference=f"P{i}",
            idempotency_key=f"parts:{i}",
            at=later + timedelta(minutes=i),
        )
    purchases.record_return(purchase=sales[1], amount=amount, reference="W", idempotency_key="whole", at=later)

    def totals(purchase):
        purchase.refresh_from_db()
        rets = PurchaseReturn.objects.filter(purchase=purchase).aggregate(
            reversed=Sum("points_reversed"),
            refunded=Sum("points_refunded"),
            growth=Sum("growth_reversed"),
            sv=Sum("sv_refunded"),
        )
        rets["sv"] = fen(rets["sv"])
        return {
            "returns": rets,
            "purchase": (
                purchase.returned_amount,
                purchase.points_reversed,
                purchase.points_refunded,
                purchase.growth_reversed,
                purchase.sv_principal_refunded,
                purchase.sv_bonus_refunded,
            ),
        }

    parts, whole = totals(sales[0]), totals(sales[1])
    assert PurchaseReturn.objects.filter(purchase=sales[0]).count() == 3
    assert parts == whole
    p = sales[1]
    assert whole["purchase"] == (
        p.amount,
        p.points_earned,
        p.points_paid,
        p.growth,
        p.sv_principal_paid,
        p.sv_bonus_paid,
    )
    balances = [
        Member.objects.filter(pk=m.pk)
        .values_list("points_balance", "points_pending", "points_flagged", "sv_principal", "sv_bonus", "growth_value")
        .get()
        for m in members
    ]
    assert balances[0] == balances[1]
    assert ledger.discrepancies() == []


# ---------------------------------------------------------------------------------------
# Found by the state machine, kept as fixed examples
# ---------------------------------------------------------------------------------------


def test_return_after_lots_fell_due_but_before_the_expiry_run(world):
    """A return whose reversal finds the sale's own lot spent, at a time when another lot has passed
    its expiry but the nightly expiry has not run yet. The reversal used to skip the due lot without
    expiring it, so the cached balance no longer equalled the points left in the lots."""
    configure(expiry_policy="rolling", expiry_months=1)
    member = enrolment.enrol(phone="13922220001", store=world["store"], acting_user=world["clerk"], joined_at=START)
    sale = purchases.record_purchase(
        member=member,
        store=world["store"],
        reference="S",
        amount=Decimal("100.00"),
        idempotency_key="due:sale",
        acting_user=world["clerk"],
        at=START,
    ).purchase
    points.adjust(
        member=member, points=-100, reason="spent", acting_user=world["manager"], at=START + timedelta(minutes=1)
    )  # the sale's own lot is used up
    points.grant(
        member=member, points=300, source=Source.SCENE, idempotency_key="due:grant", at=START + timedelta(minutes=2)
    )  # expires a month later
    when = START + timedelta(days=45)
    purchases.record_return(
        purchase=sale, amount=Decimal("100.00"), reference="RT", idempotency_key="due:return", at=when
    )
    assert ledger.discrepancies() == []
    member.refresh_from_db()
    # the 300 expired at the return (as the nightly run would have done), then the 100 earned on the
    # sale were reversed into a flagged debt
    assert PointsEntry.objects.filter(member=member, kind=Kind.EXPIRE).aggregate(s=Sum("amount"))["s"] == -300
    assert (member.points_balance, member.points_flagged) == (-100, True)
    assert points.expire_due(at=when) == 0  # the nightly run afterwards finds nothing left to expire
    assert ledger.discrepancies() == []


def test_check_ledger_sums_money_exactly_on_every_database(world):
    """SQLite adds DECIMAL columns as floats: ¥500.00 − ¥499.80 came back as 0.199999999999989 and
    check_ledger reported a stored-value discrepancy that was not there."""
    member = enrolment.enrol(phone="13922220002", store=world["store"], acting_user=world["clerk"], joined_at=START)
    stored_value.top_up(
        member=member,
        amount=Decimal("500.00"),
        store=world["store"],
        acting_user=world["clerk"],
        idempotency_key="fen:topup",
        at=START,
    )
    purchases.record_purchase(
        member=member,
        store=world["store"],
        reference="S",
        amount=Decimal("499.80"),
        pay_stored_value=Decimal("499.80"),
        idempotency_key="fen:sale",
        acting_user=world["clerk"],
        at=START + timedelta(minutes=1),
    )
    member.refresh_from_db()
    assert (member.sv_principal, member.sv_bonus) == (Decimal("0.20"), Decimal("80.00"))
    assert ledger.discrepancies() == []
