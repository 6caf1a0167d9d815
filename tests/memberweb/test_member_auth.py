"""Member accounts on the web (issue 5): sign-up with an SMS code (web and store poster), first
password for a counter member, sign-in, lockout, reset, sign-out, and the wall between member and
staff sessions."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from core.models import LoginThrottle
from core.sms import LocmemSmsBackend
from membership.models import Channel, Member, OneTimeCode
from membership.services import accounts, otp

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
PHONE = "13912345678"
PASSWORD = "plum-blossom-88"


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend.outbox
    LocmemSmsBackend.outbox.clear()


def last_code(phone=PHONE) -> str:
    sent = [text for to, text in LocmemSmsBackend.outbox if to == phone]
    assert sent, f"no SMS to {phone}"
    return re.search(r"\b(\d{6})\b", sent[-1]).group(1)


def ask_code(client, phone=PHONE, purpose="signup"):
    return client.post("/m/code/", {"phone": phone, "purpose": purpose}, **HTMX)


def sign_up(client, url="/m/signup/", phone=PHONE, **extra):
    data = {
        "phone": phone,
        "code": last_code(phone),
        "name": "王小明",
        "birth_month": "8",
        "birth_day": "15",
        "birth_year": "",
        "password": PASSWORD,
        "terms": "on",
        "marketing_consent": "on",
        **extra,
    }
    return client.post(url, data)


def sign_in(client, phone=PHONE, password=PASSWORD, **extra):
    return client.post("/m/login/", {"phone": phone, "password": password, **extra})


# --- sign-up ---------------------------------------------------------------------------------


def test_sign_up_with_a_code_makes_a_web_member_and_signs_them_in(client, program, sms_outbox):
    response = ask_code(client)
    assert response.status_code == 200 and "139****5678" in response.content.decode()
    assert len(sms_outbox) == 1 and sms_outbox[0][0] == PHONE
    assert OneTimeCode.objects.get().code_hash != last_code()  # only a hash is stored

    response = sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/m/"
    member = Member.objects.get(phone=PHONE)
    assert member.channel == Channel.WEB and member.home_store.code == "S001"  # web sign-up store
    assert member.enrolled_by is None and member.name == "王小明"
    assert (member.birth_month, member.birth_day, member.birth_year) == (8, 15, None)
    assert member.marketing_consent and member.consent_at is not None
    assert check_password(PASSWORD, member.password)
    assert member.cards.filter(status="active").count() == 1
    home = client.get("/m/")
    assert home.status_code == 200 and "王小明" in home.content.decode()


def test_sign_up_from_a_store_poster_belongs_to_that_store(client, program):
    assert client.get("/m/join/S002/").status_code == 200
    ask_code(client)
    response = sign_up(client, url="/m/join/S002/")
    assert response.status_code == 302
    member = Member.objects.get(phone=PHONE)
    assert member.channel == Channel.POSTER and member.home_store.code == "S002"


def test_the_poster_has_its_own_printable_qr_code(client, program):
    svg = client.get("/m/join/S001/qr.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<?xml") and b"<path" in svg.content
    poster = client.get("/m/join/S001/poster/")
    assert poster.status_code == 200 and "http://testserver/m/join/S001/" in poster.content.decode()
    assert client.get("/m/join/HQ/").status_code == 404  # HQ is not a shop
    assert client.get("/m/join/NOPE/qr.svg").status_code == 404


def test_sign_up_with_a_referral_link_records_the_referrer(client, enrol, program):
    inviter = enrol(phone="13700000001", name="李四")
    assert f'value="{inviter.referral_code}"' in client.get(f"/m/signup/?ref={inviter.referral_code}").content.decode()
    ask_code(client)
    sign_up(client, referral_code=inviter.referral_code)
    assert Member.objects.get(phone=PHONE).referrer == inviter


def test_a_wrong_code_is_refused_and_five_wrong_codes_use_it_up(client, program):
    ask_code(client)
    good = last_code()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _attempt in range(4):
        response = sign_up(client, code=wrong)
        assert response.status_code == 400 and str(otp.MSG_CODE_WRONG) in response.content.decode()
    assert str(otp.MSG_CODE_ATTEMPTS) in sign_up(client, code=wrong).content.decode()
    # the right code is no good any more either
    response = sign_up(client, code=good)
    assert response.status_code == 400 and not Member.objects.filter(phone=PHONE).exists()


def test_a_code_lasts_ten_minutes_and_works_once(client, program):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        ask_code(client)
        traveller.shift(timedelta(minutes=10, seconds=1))
        response = sign_up(client)
        assert response.status_code == 400 and str(otp.MSG_CODE_EXPIRED) in response.content.decode()
        ask_code(client)
        assert sign_up(client).status_code == 302
    client.post("/m/logout/")
    # the same code cannot set a password later
    response = client.post("/m/password/", {"phone": PHONE, "code": last_code(), "password": "another-pass-99"})
    assert response.status_code == 400


def test_one_code_per_phone_per_minute(client, program, sms_outbox):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert ask_code(client).status_code == 200
        again = ask_code(client)
        assert again.status_code == 409 and "60" in again.content.decode()
        assert len(sms_outbox) == 1
        traveller.shift(timedelta(seconds=61))
        assert ask_code(client).status_code == 200
        assert len(sms_outbox) == 2


def test_a_wrong_form_says_which_field(client, program):
    response = client.post("/m/signup/", {"phone": "12345", "code": "", "name": "", "password": "1", "terms": ""})
    html = response.content.decode()
    assert response.status_code == 400
    for field in ("code", "name", "terms"):
        assert f'data-testid="error-{field}"' in html
    # a phone in the wrong format is the service's message
    assert ask_code(client, phone="12345").status_code == 400


def test_sign_up_refuses_a_phone_that_is_already_a_member(client, enrol, program, sms_outbox):
    """Issue 12: /m/code/ answers a member's phone exactly as a stranger's (no enumeration); the
    member is sent no sign-up code, and the page points to setting a password."""
    stranger = ask_code(client, phone="13912340000")
    enrol(phone=PHONE)  # enrolled at the counter: no password yet
    response = ask_code(client)
    assert response.status_code == stranger.status_code == 200
    assert response.content.decode().replace("5678", "0000") == stranger.content.decode()
    assert 'href="/m/password/?phone=' in response.content.decode()
    assert [to for to, _text in sms_outbox] == ["13912340000"]  # the member got no sign-up code
    guess = client.post(
        "/m/signup/", {"phone": PHONE, "code": "123456", "name": "王小明", "password": PASSWORD, "terms": "on"}
    )
    assert guess.status_code == 400  # no code signs them up again, and the answer is about the code
    assert str(otp.MSG_CODE_WRONG) in guess.content.decode()
    assert Member.objects.filter(phone=PHONE).count() == 1


def test_a_counter_member_sets_a_password_with_a_code(client, enrol, program):
    member = enrol(phone=PHONE, name="赵六")
    assert member.password == ""
    assert sign_in(client).status_code == 400  # no password yet
    assert ask_code(client, purpose="password").status_code == 200
    assert OneTimeCode.objects.get(phone=PHONE).purpose == OneTimeCode.Purpose.SET_PASSWORD
    response = client.post("/m/password/", {"phone": PHONE, "code": last_code(), "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/m/"
    client.post("/m/logout/")
    assert sign_in(client).status_code == 302


def test_a_password_code_for_an_unknown_phone_answers_as_for_a_member(client, enrol, program, sms_outbox):
    """Issue 12: the same answer and the same limits for a stranger's phone (who gets no SMS)."""
    response = ask_code(client, purpose="password")
    enrol(phone="13912340000", name="赵六")
    member = ask_code(client, phone="13912340000", purpose="password")
    assert response.status_code == member.status_code == 200
    assert response.content.decode().replace("5678", "0000") == member.content.decode()
    assert [to for to, _text in sms_outbox] == ["13912340000"]
    again = ask_code(client, purpose="password")  # the resend limit holds for strangers too
    assert again.status_code == 409 and 'data-resend="' in again.content.decode()
    wrong = client.post("/m/password/", {"phone": PHONE, "code": "123456", "password": "another-pass-99"})
    assert wrong.status_code == 400 and str(accounts.MSG_NOT_MEMBER) not in wrong.content.decode()


def test_the_password_rules_apply(client, program):
    ask_code(client)
    response = sign_up(client, password="12345678")
    assert response.status_code == 400 and 'data-testid="error-password"' in response.content.decode()
    assert not Member.objects.filter(phone=PHONE).exists()


# --- sign-in, lockout, reset, sign-out ---------------------------------------------------------


@pytest.fixture
def web_member(client, program):
    ask_code(client)
    sign_up(client)
    client.post("/m/logout/")
    return Member.objects.get(phone=PHONE)


def test_sign_in_with_phone_and_password_rotates_the_session(client, web_member):
    client.get("/m/login/")
    before = client.session.session_key
    response = sign_in(client, phone="+86 139-1234-5678")
    assert response.status_code == 302 and response["Location"] == "/m/"
    assert client.session.session_key != before
    assert client.session["member_id"] == web_member.pk
    assert client.get("/m/login/").status_code == 302  # already signed in


def test_a_wrong_password_says_so_without_telling_who_is_a_member(client, web_member):
    wrong = sign_in(client, password="nope-nope-nope")
    unknown = sign_in(client, phone="13900000000")
    assert wrong.status_code == unknown.status_code == 400
    assert str(accounts.MSG_BAD_LOGIN) in wrong.content.decode()
    assert str(accounts.MSG_BAD_LOGIN) in unknown.content.decode()
    assert client.get("/m/").status_code == 302


def test_five_wrong_passwords_lock_the_phone_for_fifteen_minutes(client, web_member):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _attempt in range(4):
            assert sign_in(client, password="wrong-password").status_code == 400
        locked = sign_in(client, password="wrong-password")
        assert locked.status_code == 429
        assert "15" in locked.content.decode()
        # the right password does not help while locked, and the lock is in the database
        assert sign_in(client).status_code == 429
        assert LoginThrottle.objects.get(key=f"phone:{PHONE}").locked_until > timezone.now()
        traveller.shift(timedelta(minutes=14))
        assert sign_in(client).status_code == 429
        traveller.shift(timedelta(minutes=1, seconds=1))
        assert sign_in(client).status_code == 302


def test_failures_spread_over_more_than_the_window_do_not_lock(client, web_member):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _attempt in range(4):
            sign_in(client, password="wrong-password")
        traveller.shift(timedelta(minutes=16))
        for _attempt in range(4):
            assert sign_in(client, password="wrong-password").status_code == 400
        assert sign_in(client).status_code == 302


def test_many_failures_from_one_address_lock_that_address(client, enrol, program, settings):
    settings.MEMBER_LOGIN_MAX_IP_FAILURES = 6
    for n in range(5):
        assert sign_in(client, phone=f"1390000{n:04d}", password="guess-123456").status_code == 400
    assert sign_in(client, phone="13900000099", password="guess-123456").status_code == 429


def test_a_reset_by_code_lifts_the_lock_and_signs_out_other_sessions(client, web_member, settings):
    from django.test import Client

    settings.MEMBER_OTP_RESEND_SECONDS = 0  # the sign-up code went out a moment ago
    other_phone = Client()
    assert sign_in(other_phone).status_code == 302
    for _attempt in range(5):
        sign_in(client, password="wrong-password")
    assert sign_in(client).status_code == 429
    assert ask_code(client, purpose="password").status_code == 200
    assert OneTimeCode.objects.filter(phone=PHONE).latest("created_at").purpose == OneTimeCode.Purpose.RESET
    response = client.post("/m/password/", {"phone": PHONE, "code": last_code(), "password": "new-secret-2027"})
    assert response.status_code == 302
    assert client.get("/m/").status_code == 200
    # the session signed in with the old password is over
    assert other_phone.get("/m/").status_code == 302
    client.post("/m/logout/")
    assert sign_in(client, password=PASSWORD).status_code == 400
    assert sign_in(client, password="new-secret-2027").status_code == 302


def test_sign_out_needs_post_and_ends_the_member_session(client, web_member):
    sign_in(client)
    assert client.get("/m/logout/").status_code == 405
    assert client.post("/m/logout/").status_code == 302
    assert client.get("/m/").status_code == 302


def test_next_goes_only_to_member_pages(client, web_member):
    assert sign_in(client, next="https://evil.example/").headers["Location"] == "/m/"
    client.post("/m/logout/")
    assert sign_in(client, next="/admin/").headers["Location"] == "/m/"
    client.post("/m/logout/")
    assert sign_in(client, next="/m/history/").headers["Location"] == "/m/history/"


# --- member and staff sessions grant each other nothing --------------------------------------


def test_a_member_never_reaches_admin_counter_staff_pages_or_the_api(client, web_member):
    sign_in(client)
    for url in ["/admin/", "/admin/membership/member/", "/counter/", "/counter/today/", "/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"] and not response["Location"].startswith("/m/"), url
    assert client.get("/api/v1/members/lookup/", {"q": PHONE}).status_code in (401, 403)
    assert client.post("/counter/enrol/", {"phone": "13911112222"}).status_code == 302
    assert not Member.objects.filter(phone="13911112222").exists()


def test_a_staff_user_on_member_pages_is_an_anonymous_member(signed_in, program):
    clerk = signed_in("clerk1")
    response = clerk.get("/m/")
    assert response.status_code == 302 and response["Location"].startswith("/m/login/")
    assert "李导购" not in clerk.get("/m/login/").content.decode()


def test_a_member_signing_in_on_a_staff_browser_signs_the_staff_user_out(client, web_member, demo_staff):
    client.force_login(demo_staff["clerk1"])
    assert client.get("/counter/").status_code == 200
    assert sign_in(client).status_code == 302
    assert client.get("/counter/").status_code == 302
    assert client.get("/m/").status_code == 200


def test_a_closed_member_is_signed_out(client, web_member):
    sign_in(client)
    Member.objects.filter(pk=web_member.pk).update(status=Member.Status.CLOSED)
    assert client.get("/m/").status_code == 302


def test_a_password_rehashed_at_sign_in_keeps_the_member_signed_in(client, enrol, settings):
    from django.contrib.auth.hashers import make_password

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    member = enrol(phone=PHONE)
    Member.objects.filter(pk=member.pk).update(
        password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )  # an older hasher than the preferred one
    assert sign_in(client).status_code == 302
    member.refresh_from_db()
    assert member.password.startswith("md5$")  # upgraded
    assert client.get("/m/").status_code == 200  # and the session still matches it


def test_behind_a_proxy_the_address_limit_counts_each_forwarded_address(client, enrol, program, settings):
    """With NUM_PROXIES=1 (nginx in front) members behind one proxy are not locked out together, and a
    client's own X-Forwarded-For does not give it a fresh address."""
    settings.MEMBER_LOGIN_MAX_IP_FAILURES = 3
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def attempt(phone, forwarded_for):
        return client.post(
            "/m/login/", {"phone": phone, "password": "guess-123456"}, HTTP_X_FORWARDED_FOR=forwarded_for
        ).status_code

    assert [attempt(f"1390000{n:04d}", f"198.51.100.{n}, 10.1.1.1") for n in range(3)] == [400, 400, 429]
    assert attempt("13900000098", "198.51.100.77, 10.1.1.1") == 429  # what came before the proxy's entry is not trusted
    assert attempt("13900000099", "10.2.2.2") == 400  # another member behind the same proxy
    assert set(LoginThrottle.objects.filter(key__startswith="ip:").values_list("key", flat=True)) == {
        "ip:10.1.1.1",
        "ip:10.2.2.2",
    }
