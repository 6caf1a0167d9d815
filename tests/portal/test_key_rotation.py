"""Rotating SECRET_KEY (issue 30): with the former key in SECRET_KEY_FALLBACKS, what it signed stays
valid: staff and member sessions, one-time codes, member QR cards and top-up references. Without
it, each of them is refused (so the first test proves the fallbacks do the work)."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from core.sms import LocmemSmsBackend
from membership import qr
from membership.models import OneTimeCode
from membership.services import otp, stored_value

pytestmark = pytest.mark.django_db
KEY_A = "rotation-test-key-A-" + "Qz7xK2pW9mR4tV8nB3cL6hJ1" * 2
KEY_B = "rotation-test-key-B-" + "fG5sD0aY3uE7iO2wX9qT4kN8" * 2
PHONE = "13912345678"
PASSWORD = "plum-blossom-88"


def signed_with_key_a(settings, enrol, demo_staff):
    """Everything a key signs, signed with KEY_A: a member and a manager signed in, a QR card, a
    password-reset code sent by SMS and a top-up reference."""
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_A, []
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    member = enrol(phone=PHONE)
    member.password = make_password(PASSWORD)
    member.save(update_fields=["password"])
    member_browser = Client()
    assert member_browser.post("/m/login/", {"phone": PHONE, "password": PASSWORD}).status_code == 302
    assert member_browser.get("/m/").status_code == 200
    staff_browser = Client()
    staff_browser.force_login(demo_staff["manager1"])
    assert staff_browser.get("/counter/").status_code == 200
    otp.request_code(phone=PHONE, purpose=OneTimeCode.Purpose.RESET)
    code = re.search(r"\b(\d{6})\b", LocmemSmsBackend.outbox[-1][1]).group(1)
    return {
        "member": member,
        "member_browser": member_browser,
        "staff_browser": staff_browser,
        "qr": qr.make_token(member.member_no),
        "code": code,
        "topup_ref": stored_value.topup_ref(stored_value.top_up(member=member, amount=Decimal("100.00")).entry.pk),
    }


def test_the_former_key_as_a_fallback_keeps_sessions_codes_and_qr_cards(settings, enrol, demo_staff, api):
    signed = signed_with_key_a(settings, enrol, demo_staff)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_B, [KEY_A]

    assert signed["member_browser"].get("/m/").status_code == 200  # still signed in
    assert signed["member_browser"].get("/m/card/").status_code == 200  # and its session now carries KEY_B's hash
    settings.SECRET_KEY_FALLBACKS = []
    assert signed["member_browser"].get("/m/").status_code == 200
    settings.SECRET_KEY_FALLBACKS = [KEY_A]

    assert signed["staff_browser"].get("/counter/").status_code == 200
    found = api("clerk1").get("/api/v1/members/lookup/", {"q": signed["qr"]})
    assert found.status_code == 200 and found.json()["member_no"] == signed["member"].member_no
    assert otp.check_code(phone=PHONE, purpose=OneTimeCode.Purpose.RESET, code=signed["code"])
    assert stored_value.topup_entry(signed["topup_ref"]).member_id == signed["member"].pk


def test_without_the_fallback_what_the_former_key_signed_is_refused(settings, enrol, demo_staff, api):
    signed = signed_with_key_a(settings, enrol, demo_staff)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = KEY_B, []

    assert signed["member_browser"].get("/m/").status_code == 302  # to the sign-in page
    assert signed["staff_browser"].get("/counter/").status_code == 302
    refused = api("clerk1").get("/api/v1/members/lookup/", {"q": signed["qr"]})
    assert refused.status_code == 400 and refused.json()["error"]["fields"] == {"q": [str(qr.MSG_FORGED)]}
    with pytest.raises(otp.Invalid):
        otp.check_code(phone=PHONE, purpose=OneTimeCode.Purpose.RESET, code=signed["code"])
    with pytest.raises(stored_value.NotFound):
        stored_value.topup_entry(signed["topup_ref"])


def test_the_fallbacks_come_from_the_environment():
    from tests.portal.test_settings import run_python

    code = "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY_FALLBACKS)"
    assert run_python(code).stdout.split("\n")[-2] == "[]"
    assert run_python(code, SECRET_KEY_FALLBACKS=f"{KEY_A},{KEY_B}").stdout.split("\n")[-2] == str([KEY_A, KEY_B])
