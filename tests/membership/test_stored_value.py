"""Stored value (product.md, "Stored value")."""

from decimal import Decimal

import pytest

from core.errors import Forbidden, InsufficientStoredValue, Invalid
from membership.ledger import discrepancies
from membership.models import Member, StoredValueEntry
from membership.services import purchases, stored_value

pytestmark = pytest.mark.django_db
D = Decimal


def fresh(member):
    return Member.objects.get(pk=member.pk)


def test_top_up_by_plan_keeps_principal_and_bonus_apart(enrol):
    member = enrol()
    result = stored_value.top_up(member=member, amount="300.00", plan_code="TOPUP300", idempotency_key="t1")
    assert (result.principal_added, result.bonus_added, result.principal, result.bonus) == (
        D("300.00"),
        D("40.00"),
        D("300.00"),
        D("40.00"),
    )
    # a top-up of a plan's exact amount gets its bonus without naming it
    assert stored_value.top_up(member=member, amount="100.00", idempotency_key="t2").bonus_added == D("10.00")
    assert stored_value.top_up(member=member, amount="150.00", idempotency_key="t3").bonus_added == D("0.00")
    with pytest.raises(Invalid) as err:
        stored_value.top_up(member=member, amount="299.00", plan_code="TOPUP300", idempotency_key="t4")
    assert err.value.field == "amount"
    again = stored_value.top_up(member=member, amount="300.00", plan_code="TOPUP300", idempotency_key="t1")
    assert again.entry.pk == result.entry.pk
    assert (fresh(member).sv_principal, fresh(member).sv_bonus) == (D("550.00"), D("50.00"))


@pytest.mark.parametrize("amount", ["0", "-10", "10.001", "abc", "NaN"])
def test_top_up_rejects_bad_amounts(enrol, amount):
    with pytest.raises(Invalid):
        stored_value.top_up(member=enrol(), amount=amount, idempotency_key="x")
    assert StoredValueEntry.objects.count() == 0


def test_paying_uses_principal_first_then_bonus(enrol, buy):
    member = enrol()
    stored_value.top_up(member=member, amount="100.00", idempotency_key="t")
    buy(member, "105.00", pay_stored_value="105.00")
    member = fresh(member)
    assert (member.sv_principal, member.sv_bonus) == (D("0.00"), D("5.00"))
    with pytest.raises(InsufficientStoredValue):
        buy(member, "10.00", pay_stored_value="5.01")
    assert discrepancies() == []


def test_paying_in_proportion_when_set(enrol, buy, program):
    program.stored_value_pay_order = "proportional"
    program.save()
    member = enrol()
    stored_value.top_up(member=member, amount="100.00", idempotency_key="t")  # 100 + 10
    sale = buy(member, "55.00", pay_stored_value="55.00").purchase
    assert (sale.sv_principal_paid, sale.sv_bonus_paid) == (D("50.00"), D("5.00"))


def test_stored_value_counts_for_points_and_growth(enrol, buy):
    member = enrol()
    stored_value.top_up(member=member, amount="300.00", idempotency_key="t")
    result = buy(member, "200.00", pay_stored_value="150.00")
    assert (result.points_earned, result.purchase.growth, result.cash_due) == (200, 200, D("50.00"))


def test_pin_is_asked_when_set(enrol, buy):
    member = enrol()
    stored_value.top_up(member=member, amount="100.00", idempotency_key="t")
    with pytest.raises(Invalid):
        stored_value.set_pin(member=member, pin="12ab")
    stored_value.set_pin(member=member, pin="135790")
    with pytest.raises(Forbidden):
        buy(member, "10.00", pay_stored_value="10.00")
    with pytest.raises(Forbidden):
        buy(member, "10.00", pay_stored_value="10.00", pin="000000")
    assert buy(member, "10.00", pay_stored_value="10.00", pin="135790").stored_value_paid == D("10.00")


def test_refunding_a_top_up_returns_principal_and_removes_its_bonus(enrol):
    member = enrol()
    topup = stored_value.top_up(member=member, amount="300.00", idempotency_key="t").entry
    entry = stored_value.refund_top_up(topup=topup)
    assert (entry.principal, entry.bonus) == (D("-300.00"), D("-40.00"))
    assert (fresh(member).sv_principal, fresh(member).sv_bonus) == (D("0.00"), D("0.00"))
    with pytest.raises(Invalid):
        stored_value.refund_top_up(topup=topup)


def test_a_partly_spent_top_up_is_not_refunded(enrol, buy):
    """pos-api.md: "refund an unspent top-up … 409 insufficient_stored_value when spent" (issue 31: a
    partly spent one was refunded with what was left). Nothing is written."""
    member = enrol()
    topup = stored_value.top_up(member=member, amount="300.00", idempotency_key="t").entry
    buy(member, "20.00", pay_stored_value="20.00")
    with pytest.raises(InsufficientStoredValue) as refused:
        stored_value.preview_top_up_refund(topup=topup)
    assert refused.value.status == 409
    with pytest.raises(InsufficientStoredValue):
        stored_value.refund_top_up(topup=topup)
    assert not topup.refunds.exists()
    assert fresh(member).sv_principal + fresh(member).sv_bonus == D("320.00")
    assert discrepancies() == []


def test_the_refund_preview_gives_the_refund_s_figures_and_writes_nothing(enrol):
    member = enrol()
    topup = stored_value.top_up(member=member, amount="300.00", plan_code="TOPUP300", idempotency_key="t").entry
    preview = stored_value.preview_top_up_refund(topup=topup)
    assert not topup.refunds.exists()
    entry = stored_value.refund_top_up(topup=topup)
    assert (preview.principal, preview.bonus) == (-entry.principal, -entry.bonus) == (D("300.00"), D("40.00"))
    with pytest.raises(Invalid):
        stored_value.preview_top_up_refund(topup=topup)


def test_a_return_refunds_stored_value_in_proportion(enrol, buy):
    member = enrol()
    stored_value.top_up(member=member, amount="100.00", idempotency_key="t")
    sale = buy(member, "110.00", pay_stored_value="110.00").purchase
    r = purchases.record_return(purchase=sale, amount=D("55.00"), reference="RR", idempotency_key="r1")
    assert r.purchase_return.sv_refunded == D("55.00")
    member = fresh(member)
    assert (member.sv_principal, member.sv_bonus) == (D("50.00"), D("5.00"))
    assert discrepancies() == []
