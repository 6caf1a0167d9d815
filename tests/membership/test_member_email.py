"""The member's optional e-mail (so the e-mail channel can deliver): validated, edited on the
profile page, shown in admin, erased on close; WeChat's binding follows a merge and a close."""

import pytest
from django.core import mail
from django.utils import translation

from campaigns.services import notifications
from membership.models import Member
from membership.services import accounts, enrolment
from tests.memberweb.test_member_pages import member_client, with_password

pytestmark = pytest.mark.django_db


def test_profile_sets_a_valid_email_and_clears_it(enrol, program):
    member = with_password(enrol(phone="13800138005", name="李雷"))
    client = member_client(member)

    response = client.post("/m/profile/", {"name": "李雷", "email": " Li.Lei@Example.COM "})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.email == "Li.Lei@example.com"
    assert 'value="Li.Lei@example.com"' in client.get("/m/profile/").content.decode()

    client.post("/m/profile/", {"name": "李雷", "email": ""})
    member.refresh_from_db()
    assert member.email == ""


def test_an_invalid_email_is_refused_on_its_field(enrol, program):
    member = with_password(enrol(phone="13800138005"))
    response = member_client(member).post("/m/profile/", {"name": "", "email": "not-an-address"})
    assert response.status_code == 400
    with translation.override(response.context["LANGUAGE_CODE"]):
        assert response.context["form"].errors["email"] == [str(accounts.MSG_EMAIL_INVALID)]
    member.refresh_from_db()
    assert member.email == ""


def test_the_email_channel_delivers_to_the_members_address(enrol, program):
    member = enrol(phone="13800138005", name="李雷")
    assert notifications._deliver(member, "email", "Hello", "Body").status == "no_address"
    assert mail.outbox == []

    Member.objects.filter(pk=member.pk).update(email="li@example.com")
    member.refresh_from_db()
    assert notifications._deliver(member, "email", "Hello", "Body").status == "sent"
    [sent] = mail.outbox
    assert sent.to == ["li@example.com"] and sent.subject == "Hello" and sent.body == "Body"


def test_admin_shows_the_email_and_finds_the_member_by_it(enrol, signed_in):
    member = enrol(phone="13800138005")
    Member.objects.filter(pk=member.pk).update(email="li@example.com")
    client = signed_in("admin")
    page = client.get(f"/admin/membership/member/{member.pk}/change/").content.decode()
    assert "li@example.com" in page
    found = client.get("/admin/membership/member/", {"q": "li@example.com"}).content.decode()
    assert member.member_no in found


def test_close_erases_email_and_wechat_binding(enrol, demo_staff):
    member = enrol(phone="13800138005")
    Member.objects.filter(pk=member.pk).update(email="li@example.com", wechat_openid="oOPENID")
    enrolment.close(member=member, reason="member asked", acting_user=demo_staff["manager1"])
    member.refresh_from_db()
    assert (member.email, member.wechat_openid) == ("", "")


def test_merge_moves_the_wechat_binding_and_email_to_the_kept_member(enrol, demo_staff):
    source, target = enrol(phone="13800138005"), enrol(phone="13800138006")
    Member.objects.filter(pk=source.pk).update(email="li@example.com", wechat_openid="oOPENID")

    enrolment.merge(source=source, target=target, acting_user=demo_staff["manager1"], reason="same person")

    source.refresh_from_db()
    target.refresh_from_db()
    assert (target.email, target.wechat_openid) == ("li@example.com", "oOPENID")
    assert source.wechat_openid == ""
