"""Lockouts (issue 12): staff sign-in on the web, in admin and at the token endpoint, per account and
per address; stored-value PINs at a sale (API and counter); API tokens that expire and die with a
password change."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import LoginThrottle
from membership.models import Member, ProgramSettings
from membership.services import stored_value
from pos.authentication import issue_token
from pos.models import Sale

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def fresh_throttles():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def signed_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


def web_login(client, username, password, url="/accounts/login/"):
    return client.post(url, {"username": username, "password": password})


def token_call(username, password, ip="10.0.0.1"):
    return APIClient(REMOTE_ADDR=ip).post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )


# --- staff sign-in ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,username,password", [("/accounts/login/", "clerk1", "clerk1-demo"), ("/admin/login/", "admin", "admin-demo")]
)
def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(demo_staff, url, username, password):
    client = Client()
    for _ in range(4):
        assert web_login(client, username, "wrong-password", url).status_code == 200
    locked = web_login(client, username, "wrong-password", url)
    assert "15" in locked.content.decode() and signed_in_as(client) is None
    again = web_login(client, username, password, url)
    assert again.status_code == 200 and signed_in_as(client) is None  # the right password, locked
    assert "15" in again.content.decode()
    other = Client()  # another person at another till signs in to another account
    assert web_login(other, "manager1", "manager1-demo").status_code == 302
    with time_machine.travel(timezone.now() + timedelta(minutes=15, seconds=5)):
        assert web_login(client, username, password, url).status_code == 302
        assert signed_in_as(client) == str(demo_staff[username].pk)


def test_a_right_password_resets_the_count(demo_staff):
    client = Client()
    for _ in range(4):
        web_login(client, "clerk1", "wrong-password")
    assert web_login(client, "clerk1", "clerk1-demo").status_code == 302
    client = Client()
    for _ in range(4):
        web_login(client, "clerk1", "wrong-password")
    assert web_login(client, "clerk1", "clerk1-demo").status_code == 302


def test_thirty_wrong_passwords_from_one_address_lock_the_address(demo_staff):
    client = Client(REMOTE_ADDR="10.9.9.9")
    for i in range(30):  # spraying: a few tries on many names, no account reaches 5
        web_login(client, f"user{i % 10}", "wrong-password")
    assert web_login(client, "manager1", "manager1-demo").status_code == 200 and signed_in_as(client) is None
    response = token_call("manager1", "manager1-demo", ip="10.9.9.9")
    assert response.status_code == 429 and response.json()["error"]["code"] == "throttled"
    assert web_login(Client(REMOTE_ADDR="10.9.9.10"), "manager1", "manager1-demo").status_code == 302


def test_a_locked_address_slows_a_known_device_down_instead_of_refusing_it(demo_staff):
    """R7: thirty wrong usernames from a store's NAT lock unknown devices there; the manager's own
    computer, which signed in before, still signs in with the right password, one try per 10 s."""
    manager = Client(REMOTE_ADDR="10.9.9.9")
    assert web_login(manager, "manager1", "manager1-demo").status_code == 302  # known from now on
    assert manager.cookies["staff_device"]["httponly"]
    del manager.cookies[settings.SESSION_COOKIE_NAME]  # signed out; its device cookie stays
    for i in range(30):
        web_login(Client(REMOTE_ADDR="10.9.9.9"), f"user{i % 10}", "wrong-password")
    assert web_login(Client(REMOTE_ADDR="10.9.9.9"), "manager1", "manager1-demo").status_code == 200
    first = web_login(manager, "manager1", "wrong-password")  # a typo: allowed, counted on the device
    assert first.status_code == 200 and signed_in_as(manager) is None
    held = web_login(manager, "manager1", "manager1-demo")  # within 10 s of the last try: wait
    assert held.status_code == 200 and signed_in_as(manager) is None and "10" in held.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=11)):
        assert web_login(manager, "manager1", "manager1-demo").status_code == 302
        assert signed_in_as(manager) == str(demo_staff["manager1"].pk)
    # the cookie is the account's own: it does not make the device known for another account
    del manager.cookies[settings.SESSION_COOKIE_NAME]
    other = web_login(manager, "clerk1", "clerk1-demo")
    assert other.status_code == 200 and signed_in_as(manager) is None


def test_five_wrong_passwords_lock_the_account_at_that_address_only(demo_staff):
    """R7: five anonymous requests no longer lock a manager out of sign-in from everywhere."""
    for _ in range(5):
        token_call("manager1", "wrong-password", ip="203.0.113.7")
    assert token_call("manager1", "manager1-demo", ip="203.0.113.7").status_code == 429
    assert web_login(Client(REMOTE_ADDR="203.0.113.7"), "manager1", "manager1-demo").status_code == 200
    assert token_call("manager1", "manager1-demo", ip="10.0.0.5").status_code == 200
    assert web_login(Client(REMOTE_ADDR="10.0.0.6"), "manager1", "manager1-demo").status_code == 302


def test_twenty_wrong_passwords_from_many_addresses_lock_the_account_for_unknown_devices(demo_staff):
    manager = Client(REMOTE_ADDR="10.0.0.8")
    assert web_login(manager, "manager1", "manager1-demo").status_code == 302
    del manager.cookies[settings.SESSION_COOKIE_NAME]  # signed out; its device cookie stays
    for i in range(20):  # four tries each from five addresses: no (account, address) reaches 5
        token_call("manager1", "wrong-password", ip=f"198.51.100.{i % 5}")
    locked = token_call("manager1", "manager1-demo", ip="10.0.0.9")
    assert locked.status_code == 429 and 0 < int(locked["Retry-After"]) <= 900
    assert web_login(manager, "manager1", "manager1-demo").status_code == 302  # its own computer


def test_token_endpoint_locks_after_five_wrong_passwords(demo_staff):
    for _ in range(4):
        bad = token_call("clerk1", "wrong-password")
        assert bad.status_code == 400, bad.json()
        assert bad.json()["error"]["fields"] == {"password": [bad.json()["error"]["message"]]}
    fifth = token_call("clerk1", "wrong-password")
    assert fifth.status_code == 429 and fifth.json()["error"]["code"] == "throttled"
    right = token_call("clerk1", "clerk1-demo")  # from the same address: locked even for the right one
    assert right.status_code == 429 and right.json()["error"]["code"] == "throttled"
    assert "password" in right.json()["error"]["fields"] and 0 < int(right["Retry-After"]) <= 900
    assert not Token.objects.filter(user=demo_staff["clerk1"]).exists()
    # the web sign-in shares the count: the account is locked there too, from that address
    assert web_login(Client(REMOTE_ADDR="10.0.0.1"), "clerk1", "clerk1-demo").status_code == 200
    assert LoginThrottle.objects.filter(key="staff:clerk1@10.0.0.1", locked_until__isnull=False).exists()


def test_the_token_endpoint_marks_the_till_known(demo_staff):
    till = APIClient(REMOTE_ADDR="10.0.0.1")
    assert till.post("/api/v1/auth/token/", {"username": "clerk1", "password": "clerk1-demo"}).status_code == 200
    for _ in range(5):
        token_call("clerk1", "wrong-password", ip="10.0.0.1")  # someone else at the same address
    assert token_call("clerk1", "clerk1-demo", ip="10.0.0.1").status_code == 429
    again = till.post("/api/v1/auth/token/", {"username": "clerk1", "password": "clerk1-demo"})
    assert again.status_code == 200  # the till keeps its cookie: slowed, not refused


# --- tokens -----------------------------------------------------------------------------


def test_tokens_expire_after_the_program_setting(demo_staff, program):
    clerk = demo_staff["clerk1"]
    token = issue_token(clerk)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/mall/items/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=29, hours=23)):
        assert api.get("/api/v1/mall/items/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=30, minutes=1)):
        expired = api.get("/api/v1/mall/items/")
        assert expired.status_code == 401 and expired.json()["error"]["code"] == "unauthenticated"
        fresh = token_call("clerk1", "clerk1-demo")
        assert fresh.status_code == 200 and fresh.json()["token"] != token.key
    ProgramSettings.objects.filter(pk=1).update(api_token_days=1)
    from membership import config

    config.clear()
    with time_machine.travel(timezone.now() + timedelta(days=31, minutes=2)):  # the fresh one is 1 day old
        api.credentials(HTTP_AUTHORIZATION=f"Token {fresh.json()['token']}")
        assert api.get("/api/v1/mall/items/").status_code == 401


def test_a_password_change_ends_the_users_tokens(demo_staff, program):
    clerk = demo_staff["clerk1"]
    key = token_call("clerk1", "clerk1-demo").json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/mall/items/").status_code == 200
    clerk.set_password("a-new-password-for-clerk1")
    clerk.save()
    assert api.get("/api/v1/mall/items/").status_code == 401
    assert token_call("clerk1", "clerk1-demo").status_code == 400
    assert token_call("clerk1", "a-new-password-for-clerk1").json()["token"] != key
    clerk.first_name = "Li"  # an ordinary save keeps the token
    clerk.save()
    assert Token.objects.filter(user=clerk).exists()


# --- stored-value PIN -------------------------------------------------------------------


@pytest.fixture
def member_with_pin(enrol, demo_staff):
    member = enrol(phone="13800138000")
    stored_value.top_up(member=member, amount=Decimal("300.00"), acting_user=demo_staff["clerk1"])
    stored_value.set_pin(member=member, pin="135790")
    return Member.objects.get(pk=member.pk)


def api_sale(receipt, member, pin, **extra):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(member.enrolled_by).key}")  # clerk1's token
    return api.post(
        "/api/v1/sales/",
        {"receipt_no": receipt, "member": member.member_no, "amount": "10.00", "pay_stored_value": "10.00", "pin": pin},
        format="json",
        **extra,
    )


def balance(member):
    member.refresh_from_db()
    return member.sv_principal + member.sv_bonus


def test_wrong_pins_lock_the_stored_value_for_15_minutes(member_with_pin, program):
    member = member_with_pin
    before = balance(member)
    for i in range(5):
        wrong = api_sale(f"R{i}", member, "000000")
        assert wrong.status_code == 403, wrong.json()
        assert wrong.json()["error"]["code"] == "forbidden" and "pin" in wrong.json()["error"]["fields"]
    locked = api_sale("R9", member, "135790")
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "pin_locked"
    assert "pin" in locked.json()["error"]["fields"] and int(locked["Retry-After"]) > 0
    again = api_sale("R10", member, "135790", HTTP_IDEMPOTENCY_KEY="k-10")  # the idempotent path too
    assert again.status_code == 429 and again.json()["error"]["code"] == "pin_locked"
    assert not Sale.objects.exists() and balance(member) == before
    # a sale that does not use stored value is not held up
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(member.enrolled_by).key}")
    cash = api.post(
        "/api/v1/sales/", {"receipt_no": "C1", "member": member.member_no, "amount": "10.00"}, format="json"
    )
    assert cash.status_code == 201
    with time_machine.travel(timezone.now() + timedelta(minutes=15, seconds=5)):
        paid = api_sale("R11", member, "135790")
        assert paid.status_code == 201 and paid.json()["stored_value_paid"] == "10.00"
    assert balance(member) == before - Decimal("10.00")


def test_wrong_pins_with_idempotency_keys_are_counted_too(member_with_pin, program):
    for i in range(5):
        assert api_sale(f"R{i}", member_with_pin, "000000", HTTP_IDEMPOTENCY_KEY=f"k{i}").status_code == 403
    assert api_sale("R9", member_with_pin, "135790", HTTP_IDEMPOTENCY_KEY="k9").status_code == 429


def test_one_stores_till_cannot_keep_the_stored_value_locked_everywhere(member_with_pin, program, demo_staff):
    """R15: five wrong PINs from one till lock the member's stored value at that store only; the
    member pays with the right PIN at another store. Wrong PINs from three stores lock it everywhere."""
    from membership.models import Store

    member = member_with_pin
    for i in range(5):
        assert api_sale(f"R{i}", member, "000000").status_code == 403  # clerk1's till, S001
    assert api_sale("R9", member, "135790").status_code == 429
    clerk2 = APIClient()
    clerk2.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(demo_staff['clerk2']).key}")  # S002
    body = {"member": member.member_no, "amount": "10.00", "pay_stored_value": "10.00", "pin": "135790"}
    paid = clerk2.post("/api/v1/sales/", {**body, "receipt_no": "S2-1"}, format="json")
    assert paid.status_code == 201 and paid.json()["stored_value_paid"] == "10.00"
    wrong = [
        clerk2.post("/api/v1/sales/", {**body, "receipt_no": f"W{i}", "pin": "0"}, format="json") for i in range(5)
    ]
    assert {response.status_code for response in wrong} == {403}
    third = Store.objects.create(code="S009", name="third", parent=Store.objects.get(code="S001").parent)
    fourth = Store.objects.create(code="S010", name="fourth")
    for store, times in ((third, 5), (fourth, 4)):  # after the right PIN at S002: 14 wrong in three stores
        for _ in range(times):
            stored_value.count_wrong_pin(member, store)
    with pytest.raises(stored_value.WrongPin):  # not locked everywhere yet
        stored_value.check_pin(member, "000000", store=fourth)
    stored_value.count_wrong_pin(member, fourth)  # the 15th
    with pytest.raises(stored_value.PinLocked):
        stored_value.check_pin(member, "135790", store=fourth)


def test_a_new_pin_unlocks(member_with_pin, program, demo_staff):
    for i in range(5):
        api_sale(f"R{i}", member_with_pin, "000000")
    assert api_sale("R9", member_with_pin, "135790").status_code == 429
    stored_value.set_pin(member=member_with_pin, pin="246800", acting_user=demo_staff["manager1"])
    assert api_sale("R10", member_with_pin, "246800").status_code == 201


def test_the_counter_counts_wrong_pins_and_locks(member_with_pin, signed_in):
    clerk = signed_in("clerk1")
    member = member_with_pin
    before = balance(member)

    def sell(receipt, pin):
        return clerk.post(
            "/counter/sale/",
            {
                "member_no": member.member_no,
                "receipt_no": receipt,
                "amount": "10.00",
                "pay_stored_value": "10.00",
                "pin": pin,
            },
            **HX,
        )

    for i in range(5):
        wrong = sell(f"R{i}", "000000")
        assert wrong.status_code >= 400 and "密码" in re.sub(r"\s+", " ", wrong.content.decode())
    locked = sell("R9", "135790")
    assert locked.status_code >= 400 and "15" in locked.content.decode()
    assert not Sale.objects.exists() and balance(member) == before
    with time_machine.travel(timezone.now() + timedelta(minutes=15, seconds=5)):
        assert sell("R10", "135790").status_code == 200
    assert Sale.objects.count() == 1
