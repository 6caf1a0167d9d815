"""Web sign-in inside WeChat against a local fake of WeChat's endpoints: OAuth code → openid →
phone code → bound → the next sign-in by openid alone."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from core.sms import LocmemSmsBackend
from membership.models import Member
from tests.fake_provider import FakeProvider

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
OPENID = "oAbCd-openid-0001"


@pytest.fixture
def wechat(settings):
    fake = FakeProvider()
    settings.WECHAT_APP_ID = "wx1234567890"
    settings.WECHAT_APP_SECRET = "app-secret"
    settings.WECHAT_API_BASE = fake.url
    settings.WECHAT_OPEN_BASE = "https://open.weixin.example"
    settings.WECHAT_TIMEOUT_SECONDS = 0.5
    fake.routes["/sns/oauth2/access_token"] = (
        200,
        {"access_token": "oauth-token", "expires_in": 7200, "openid": OPENID, "scope": "snsapi_base"},
    )
    yield fake
    fake.close()


@pytest.fixture
def sms_outbox(settings):
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    yield LocmemSmsBackend.outbox
    LocmemSmsBackend.outbox.clear()


def oauth(client, wechat, *, code, next_url="/m/card/"):
    """What WeChat's browser does: our redirect to WeChat, WeChat's redirect back with a code."""
    start = client.get("/m/wechat/", {"next": next_url})
    assert start.status_code == 302
    target = urlsplit(start["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://open.weixin.example/connect/oauth2/authorize"
    assert target.fragment == "wechat_redirect"
    query = parse_qs(target.query)
    assert query["appid"] == ["wx1234567890"]
    assert query["redirect_uri"] == ["http://testserver/m/wechat/callback/"]
    assert query["response_type"] == ["code"] and query["scope"] == ["snsapi_base"]
    return client.get("/m/wechat/callback/", {"code": code, "state": query["state"][0]})


def test_first_visit_binds_the_openid_after_a_phone_code_and_the_next_signs_in_by_openid(
    client, enrol, wechat, sms_outbox
):
    member = enrol(phone=PHONE, name="韩梅梅")

    back = oauth(client, wechat, code="CODE-1")

    [exchange] = wechat.requests
    assert exchange.path == "/sns/oauth2/access_token"
    assert exchange.query == {
        "appid": "wx1234567890",
        "secret": "app-secret",
        "code": "CODE-1",
        "grant_type": "authorization_code",
    }
    assert back.status_code == 302 and back["Location"] == "/m/wechat/bind/"
    assert "member_id" not in client.session  # an unbound openid signs nobody in
    assert client.get("/m/wechat/bind/").status_code == 200

    client.post("/m/code/", {"purpose": "wechat", "phone": PHONE})
    [(to, text)] = sms_outbox
    code = re.search(r"\d{6}", text).group()
    bound = client.post("/m/wechat/bind/", {"phone": PHONE, "code": code})

    assert bound.status_code == 302 and bound["Location"] == "/m/card/"
    member.refresh_from_db()
    assert member.wechat_openid == OPENID
    assert client.session["member_id"] == member.pk

    client.post("/m/logout/")
    assert "member_id" not in client.session
    again = oauth(client, wechat, code="CODE-2")
    assert again.status_code == 302 and again["Location"] == "/m/card/"
    assert client.session["member_id"] == member.pk
    assert len(sms_outbox) == 1  # no second code: the openid alone signed them in


def test_a_wrong_code_binds_nothing(client, enrol, wechat, sms_outbox):
    member = enrol(phone=PHONE)
    oauth(client, wechat, code="CODE-1")
    client.post("/m/code/", {"purpose": "wechat", "phone": PHONE})
    response = client.post("/m/wechat/bind/", {"phone": PHONE, "code": "000000"})
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.wechat_openid == "" and "member_id" not in client.session


def test_a_stranger_is_sent_no_code_and_cannot_bind(client, program, wechat, sms_outbox):
    oauth(client, wechat, code="CODE-1")
    answer = client.post("/m/code/", {"purpose": "wechat", "phone": PHONE}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200  # the same answer as for a member
    assert sms_outbox == []
    response = client.post("/m/wechat/bind/", {"phone": PHONE, "code": "123456"})
    assert response.status_code == 400
    assert not Member.objects.filter(wechat_openid=OPENID).exists()


def test_a_forged_state_is_refused_before_asking_wechat(client, program, wechat):
    client.get("/m/wechat/")
    response = client.get("/m/wechat/callback/", {"code": "CODE-1", "state": "forged"})
    assert response.status_code == 400
    assert wechat.requests == []


def test_a_code_wechat_refuses_signs_nobody_in(client, program, wechat):
    wechat.answer((200, {"errcode": 40029, "errmsg": "invalid code"}))
    response = oauth(client, wechat, code="used-code")
    assert response.status_code == 302 and response["Location"] == "/m/login/"
    assert "member_id" not in client.session and "wechat_openid" not in client.session


def test_without_an_official_account_there_is_no_wechat_sign_in(client, program, settings):
    settings.WECHAT_APP_ID = ""
    assert client.get("/m/wechat/").status_code == 404


def test_the_sign_in_page_offers_wechat_inside_wechat_only(client, program, wechat):
    inside = client.get("/m/login/", HTTP_USER_AGENT="Mozilla/5.0 MicroMessenger/8.0.50")
    outside = client.get("/m/login/", HTTP_USER_AGENT="Mozilla/5.0 Safari")
    assert b'data-testid="wechat-sign-in"' in inside.content
    assert b'data-testid="wechat-sign-in"' not in outside.content
