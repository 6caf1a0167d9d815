"""Referral rewards: taken back on a return, a monthly limit per inviter, a reward on sign-up as an
option, and the guard against inviting oneself (issue 15)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import ProgramRules, ReferralReward
from campaigns.services import engagement
from membership.ledger import discrepancies
from membership.models import Member, PointsEntry
from membership.services import purchases

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def events(django_capture_on_commit_callbacks):
    """Run what commits (and the outbox events they send) at once."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def balance(member):
    return Member.objects.get(pk=member.pk).points_balance


def give_back(purchase, amount, *, days=1, key="RET1"):
    return purchases.record_return(
        purchase=purchase,
        amount=amount,
        reference=key,
        idempotency_key=key,
        at=purchase.created_at + timedelta(days=days),
    )


def test_a_return_below_the_threshold_within_the_window_takes_the_reward_back(campaigns_demo, enrol, buy, events):
    inviter = enrol()
    invited = enrol(referral_code=inviter.referral_code)
    with events():
        sale = buy(invited, "80.00").purchase
    assert balance(inviter) == 100
    with events():
        give_back(sale, "20.00", key="RET1")  # ¥60 left: still over ¥50
    assert balance(inviter) == 100 and ReferralReward.objects.get().reversed_at is None
    with events():
        give_back(sale, "20.00", key="RET2")  # ¥40 left: below the threshold
    reward = ReferralReward.objects.get()
    assert reward.reversed_at is not None
    assert balance(inviter) == 0
    taken = PointsEntry.objects.get(member=inviter, kind=PointsEntry.Kind.REVERSE)
    assert (taken.amount, taken.source) == (-100, PointsEntry.Source.REFERRAL)
    # the same return delivered again takes nothing more
    from membership.models import PurchaseReturn

    assert engagement.reverse_referral(return_id=PurchaseReturn.objects.get(reference="RET2").pk) is None
    with events():
        give_back(sale, "40.00", key="RET3")
    assert balance(inviter) == 0
    assert discrepancies() == []


def test_a_return_after_the_window_leaves_the_reward(campaigns_demo, enrol, buy, events):
    inviter = enrol()
    invited = enrol(referral_code=inviter.referral_code)
    with events():
        sale = buy(invited, "60.00").purchase
    with events():
        give_back(sale, "60.00", days=31)  # the demo's window is 30 days
    assert ReferralReward.objects.get().reversed_at is None
    assert balance(inviter) == 100


def test_a_spent_reward_taken_back_leaves_a_flagged_negative_balance(campaigns_demo, enrol, buy, events):
    inviter = enrol()
    invited = enrol(referral_code=inviter.referral_code)
    with events():
        sale = buy(invited, "60.00").purchase
    from membership.services import points

    points.spend(member=inviter, points=100, source=PointsEntry.Source.MALL_ORDER, idempotency_key="spent")
    with events():
        give_back(sale, "60.00")
    member = Member.objects.get(pk=inviter.pk)
    assert member.points_balance == -100 and member.points_flagged
    assert discrepancies() == []


def test_at_most_n_rewarded_referrals_per_inviter_a_month(campaigns_demo, enrol, buy, events):
    rules = ProgramRules.load()
    rules.referral_monthly_limit = 2
    rules.save()
    inviter = enrol()
    invited = [enrol(referral_code=inviter.referral_code) for _ in range(3)]
    with events():
        for m in invited:
            buy(m, "50.00", at=at(2026, 6, 10, 10))
    assert ReferralReward.objects.filter(inviter=inviter).count() == 2
    assert balance(inviter) == 200
    # a new month: the third one's next qualifying purchase counts
    with events():
        buy(invited[2], "50.00", at=at(2026, 7, 1, 0, 5))
    assert ReferralReward.objects.filter(inviter=inviter).count() == 3
    assert balance(inviter) == 300


def test_a_reward_taken_back_frees_its_place_in_the_month(campaigns_demo, enrol, buy, events):
    rules = ProgramRules.load()
    rules.referral_monthly_limit = 1
    rules.save()
    inviter = enrol()
    first, second = enrol(referral_code=inviter.referral_code), enrol(referral_code=inviter.referral_code)
    with events():
        sale = buy(first, "50.00", at=at(2026, 6, 10, 10)).purchase
    with events():
        purchases.record_return(
            purchase=sale, amount="50.00", reference="R", idempotency_key="R", at=at(2026, 6, 11, 10)
        )
        buy(second, "50.00", at=at(2026, 6, 12, 10))
    assert ReferralReward.objects.get(invited=second).reversed_at is None
    assert balance(inviter) == 100


def test_reward_on_sign_up_when_the_program_says_so(campaigns_demo, enrol, buy, events):
    rules = ProgramRules.load()
    rules.referral_reward_on = ProgramRules.ReferralOn.SIGNUP
    rules.save()
    inviter = enrol()
    with events():
        invited = enrol(referral_code=inviter.referral_code)
    reward = ReferralReward.objects.get()
    assert (reward.invited, reward.purchase) == (invited, None)
    assert balance(inviter) == 100
    with events():
        buy(invited, "80.00")  # no second reward on the purchase
    assert ReferralReward.objects.count() == 1 and balance(inviter) == 100


def test_no_sign_up_reward_when_the_program_rewards_purchases(campaigns_demo, enrol, events):
    inviter = enrol()
    with events():
        enrol(referral_code=inviter.referral_code)
    assert not ReferralReward.objects.exists() and balance(inviter) == 0


def test_the_same_person_under_two_accounts_earns_nothing(campaigns_demo, enrol, buy, events):
    inviter = enrol(name="王五", birthday="1990-03-04")
    twin = enrol(name="王五", birthday="1990-03-04", referral_code=inviter.referral_code)
    namesake = enrol(name="王五", birthday="1991-07-08", referral_code=inviter.referral_code)
    with events():
        buy(twin, "80.00")
        buy(namesake, "80.00")
    assert list(ReferralReward.objects.values_list("invited", flat=True)) == [namesake.pk]


def test_members_who_refer_each_other_earn_nothing(campaigns_demo, enrol, buy, events):
    a = enrol()
    b = enrol(referral_code=a.referral_code)
    Member.objects.filter(pk=a.pk).update(referrer=b)  # e.g. an imported pair
    with events():
        buy(b, "80.00")
        buy(a, "80.00")
    assert not ReferralReward.objects.exists()


def test_a_merge_that_leaves_a_member_referred_by_themselves_earns_nothing(campaigns_demo, enrol, buy, events):
    member = enrol()
    Member.objects.filter(pk=member.pk).update(referrer=member)
    with events():
        buy(member, "80.00")
    assert not ReferralReward.objects.exists() and balance(member) == 80
