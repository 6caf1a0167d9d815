"""Issue 31 ("What people met", Analytics): target completion and the month's repurchase rate compare
like with like, and the demo has monthly targets.

The demo stores (HQ → S001, S002), March 2026: S001 has a target (4 new members, ¥1,000 member
sales), S002 none. S001 enrols 2 members who buy ¥600; S002 enrols 2 who buy ¥500."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from analytics import selectors
from analytics.models import Target
from analytics.services import rollups

from .conftest import sh

pytestmark = pytest.mark.django_db
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def one_store_with_a_target(program, demo_staff, shop):
    from membership.models import Store

    s001 = Store.objects.get(code="S001")
    Target.objects.create(store=s001, month=date(2026, 3, 1), new_members=4, member_sales=Decimal("1000"))
    for n, (store, amount) in enumerate([("S001", 400), ("S001", 200), ("S002", 300), ("S002", 200)]):
        member = shop.join(sh(2026, 3, 2 + n), store)
        shop.sell(amount, sh(2026, 3, 10 + n), store, member=member)
    rollups.rebuild(date(2026, 3, 1), date(2026, 3, 31))
    return s001


def test_the_chain_target_is_measured_on_the_stores_that_have_targets(one_store_with_a_target):
    chain = {t["key"]: t for t in selectors.target_progress(selectors.Scope(date(2026, 3, 1), date(2026, 3, 31)))}
    # before issue 31: the whole chain's 4 new members and ¥1,100 against S001's targets (100 %, 110 %)
    assert (chain["new_members"]["actual"], chain["new_members"]["target"]) == (2, 4)
    assert chain["new_members"]["progress"] == Decimal("0.5")
    assert chain["member_sales"]["actual"] == Decimal("600.00")
    assert chain["member_sales"]["progress"] == Decimal("0.6")
    # S001's own card is the same figures, and says nothing more
    s001 = selectors.Scope(date(2026, 3, 1), date(2026, 3, 31), one_store_with_a_target)
    assert [t["actual"] for t in selectors.target_progress(s001)] == [2, Decimal("600.00")]
    assert selectors.target_coverage(s001) == ""


def test_the_card_says_which_stores_it_compares(signed_in, one_store_with_a_target):
    html = signed_in("admin").get("/analytics/", MARCH, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="target-coverage"' in html
    assert "Only S001 旗舰店 have targets (1 of 2 stores)" in html
    assert 'aria-valuenow="50"' in html and 'aria-valuenow="60"' in html
    zh = signed_in("admin").get("/analytics/", MARCH, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "仅 S001 旗舰店 设有目标" in zh


# ---------------------------------------------------------------------------------------------
# the month's repurchase rate: like periods
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def february_and_early_march(program, demo_staff, shop):
    """a buys on 02-02 and 02-04, b on 02-03 and 02-20, c on 02-25 (all at S001): February as a whole
    has 2 repeat buyers of 3, its first five days 1 of 2. In March, a buys on 03-02 and 03-03, b on
    03-04: 1 repeat buyer of 2 in the first five days."""
    a, b, c = (shop.join(sh(2026, 1, 10 + n), "S001") for n in range(3))
    for member, days in [(a, [2, 4]), (b, [3, 20]), (c, [25])]:
        for day in days:
            shop.sell(100, sh(2026, 2, day), "S001", member=member)
    for member, day in [(a, 2), (a, 3), (b, 4)]:
        shop.sell(100, sh(2026, 3, day), "S001", member=member)
    rollups.rebuild(date(2026, 2, 1), date(2026, 3, 5))


def repurchase(scope):
    with translation.override("en"):
        return next(k for k in selectors.kpis(scope) if k.key == "repurchase_rate")


def test_month_to_date_repurchase_compares_the_same_days_of_the_month_before(february_and_early_march):
    from membership.models import Store

    chain = repurchase(selectors.Scope(date(2026, 3, 1), date(2026, 3, 5)))
    # before issue 31: 1 of 2 in five days against 2 of 3 over the whole of February
    assert (chain.value, chain.previous) == (Decimal("0.5"), Decimal("0.5"))
    assert chain.change == 0
    assert str(chain.note) == "2026-03-01 to 03-05, against the same days of the month before (02-01 to 02-05)"
    s001 = repurchase(selectors.Scope(date(2026, 3, 1), date(2026, 3, 5), Store.objects.get(code="S001")))
    assert (s001.value, s001.previous) == (Decimal("0.5"), Decimal("0.5"))
    s002 = repurchase(selectors.Scope(date(2026, 3, 1), date(2026, 3, 5), Store.objects.get(code="S002")))
    assert (s002.value, s002.previous) == (None, None)  # no buyers there, in either stretch


def test_a_whole_month_compares_with_the_whole_month_before(february_and_early_march, shop):
    from analytics.models import MonthSameDays

    rollups.rebuild(date(2026, 3, 6), date(2026, 3, 31))
    assert not MonthSameDays.objects.exists()  # the completed month's comparison rows are gone
    chain = repurchase(selectors.Scope(date(2026, 3, 1), date(2026, 3, 31)))
    assert (chain.value, chain.previous) == (Decimal("0.5"), Decimal(2) / 3)
    assert str(chain.note) == "2026-03, against the month before"


def test_the_same_days_of_a_shorter_month_end_with_it():
    assert rollups.same_days_before(date(2026, 3, 5)) == date(2026, 2, 5)
    assert rollups.same_days_before(date(2026, 3, 30)) == date(2026, 2, 28)
    assert rollups.same_days_before(date(2026, 3, 31)) is None
    assert rollups.same_days_before(date(2026, 1, 15)) == date(2025, 12, 15)


def test_the_overview_card_says_which_days_it_compares(signed_in, february_and_early_march):
    html = signed_in("admin").get("/analytics/", {"start": "2026-03-01", "end": "2026-03-05"}).content.decode()
    assert "2026-03-01 至 03-05，对比上月同期（02-01 至 02-05）" in html


def test_a_chain_whose_stores_all_have_targets_is_measured_whole(one_store_with_a_target):
    from membership.models import Store

    Target.objects.create(
        store=Store.objects.get(code="S002"), month=date(2026, 3, 1), new_members=2, member_sales=Decimal("500")
    )
    chain = selectors.Scope(date(2026, 3, 1), date(2026, 3, 31))
    assert [(t["actual"], t["target"]) for t in selectors.target_progress(chain)] == [
        (4, 6),
        (Decimal("1100.00"), Decimal("1500")),
    ]
    assert selectors.target_coverage(chain) == ""  # HQ itself has no target, but it sells nothing
