"""Issue 31 ("What people met", Analytics): target completion and the month's repurchase rate compare
like with like, and the demo has monthly targets.

The demo stores (HQ → S001, S002), March 2026: S001 has a target (4 new members, ¥1,000 member
sales), S002 none. S001 enrols 2 members who buy ¥600; S002 enrols 2 who buy ¥500."""

from datetime import date
from decimal import Decimal

import pytest

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
