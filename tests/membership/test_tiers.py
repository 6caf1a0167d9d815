"""Tiers and growth (product.md, "Tiers and growth value")."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.errors import Forbidden, Invalid
from membership import config
from membership.models import Member, Tier, TierChange
from membership.services import tiers
from membership.signals import tier_changed

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


def fresh(member):
    return Member.objects.select_related("tier").get(pk=member.pk)


def test_upgrade_is_immediate_and_recorded(enrol, buy, django_capture_on_commit_callbacks):
    events = []
    tier_changed.connect(lambda **kw: events.append(kw), weak=False, dispatch_uid="t")
    try:
        member = enrol()
        with django_capture_on_commit_callbacks(execute=True):
            result = buy(member, "5200.00", at=at(2026, 3, 1, 10))
    finally:
        tier_changed.disconnect(dispatch_uid="t")
    assert result.upgraded and result.tier.code == "GOLD"  # straight past SILVER
    change = TierChange.objects.get(member=member, reason="upgrade")
    assert (change.from_tier.code, change.to_tier.code) == ("NORMAL", "GOLD")
    assert [(e["reason"], e["to_tier_id"]) for e in events] == [("upgrade", change.to_tier_id)]


def test_redeeming_points_never_lowers_the_tier(enrol, buy):
    member = enrol()
    buy(member, "1000.00")
    buy(member, "200.00", pay_points=1000)
    member = fresh(member)
    assert member.tier.code == "SILVER" and member.points_balance == 228  # floor(190 × 1.2)


def test_review_drops_to_the_highest_tier_the_window_growth_keeps(enrol, buy):
    old_gold = enrol()
    buy(old_gold, "6000.00", at=at(2025, 3, 1, 10))  # GOLD, outside the rolling 12 months by 2026-06
    buy(old_gold, "900.00", at=at(2025, 12, 1, 10))  # inside the window: keeps SILVER (800)
    kept_gold = enrol()
    buy(kept_gold, "6000.00", at=at(2025, 9, 1, 10))  # GOLD, inside the window
    idle = enrol()
    buy(idle, "1000.00", at=at(2025, 1, 1, 10))  # SILVER, nothing in the window

    assert tiers.review(at=at(2026, 6, 1, 3)) == 2
    assert fresh(old_gold).tier.code == "SILVER"
    assert fresh(kept_gold).tier.code == "GOLD"
    assert fresh(idle).tier.code == "NORMAL"
    assert TierChange.objects.filter(reason="review").count() == 2
    assert tiers.review(at=at(2026, 6, 1, 3)) == 0  # re-run: nothing more
    assert tiers.review(at=at(2026, 7, 1, 3)) == 0


def test_review_windows(program):
    assert tiers.window_start(at(2026, 6, 15, 3), "all_time") is None
    assert tiers.window_start(at(2026, 6, 15, 3), "calendar_year") == at(2026, 1, 1)
    assert tiers.window_start(at(2028, 2, 29, 3), "rolling_12m") == at(2027, 2, 28, 3)


def test_a_manual_tier_is_a_floor_until_its_date(enrol, buy, demo_staff):
    member = enrol()
    gold = Tier.objects.get(code="GOLD")
    with pytest.raises(Forbidden):
        tiers.set_manual(member=member, tier=gold, reason="VIP", acting_user=demo_staff["manager1"])
    with pytest.raises(Invalid):
        tiers.set_manual(member=member, tier=gold, reason="", acting_user=demo_staff["admin"])
    tiers.set_manual(
        member=member, tier=gold, reason="VIP guest", acting_user=demo_staff["admin"], floor_until=date(2026, 12, 31)
    )
    assert tiers.review(at=at(2026, 7, 1, 3)) == 0
    assert fresh(member).tier.code == "GOLD"
    assert tiers.review(at=at(2027, 1, 1, 3)) == 1
    assert fresh(member).tier.code == "NORMAL"
    manual = TierChange.objects.get(reason="manual")
    assert manual.operator == demo_staff["admin"] and manual.note == "VIP guest"


def test_growth_resets_on_promotion_when_set(enrol, buy, program):
    program.reset_growth_on_promotion = True
    program.save()
    member = enrol()
    assert buy(member, "1200.00").growth_value == 0
    assert fresh(member).tier.code == "SILVER"
    assert buy(member, "300.00").growth_value == 300


def test_a_yearly_review_runs_only_in_january(enrol, buy, program):
    program.review_period = "yearly"
    program.save()
    member = enrol()
    buy(member, "1000.00", at=at(2024, 1, 1, 10))
    assert tiers.review(at=at(2026, 6, 1, 3)) == 0
    assert tiers.review(at=at(2027, 1, 1, 3)) == 1


def test_growth_to_next_tier(enrol, buy):
    member = enrol()
    buy(member, "1200.00")
    nxt, needed = config.growth_to_next(fresh(member))
    assert (nxt.code, needed) == ("GOLD", 3800)
