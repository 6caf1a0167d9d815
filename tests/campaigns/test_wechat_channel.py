"""The WeChat channel against a local fake of WeChat's API: the access token fetched once and
kept until shortly before it expires, the template message we send, and how success, rejection
and timeout are recorded (a retry after a timeout sends nothing)."""

import pytest
import time_machine
from django.core.cache import cache

from campaigns.models import BenefitPackage, Notification, Scene
from campaigns.services import notifications
from tests.fake_provider import HANG, FakeProvider

pytestmark = pytest.mark.django_db

OPENID = "oAbCd-openid-0001"
TEMPLATE_PATH = "/cgi-bin/message/template/send"


@pytest.fixture
def wechat(settings):
    fake = FakeProvider()
    settings.WECHAT_APP_ID = "wx1234567890"
    settings.WECHAT_APP_SECRET = "app-secret"
    settings.WECHAT_API_BASE = fake.url
    settings.WECHAT_TIMEOUT_SECONDS = 0.5
    settings.WECHAT_TEMPLATE_NOTICE = "NOTICE_TPL:first=title,remark=body"
    tokens = iter(f"token-{n}" for n in range(1, 10))
    fake.routes["/cgi-bin/token"] = lambda: (200, {"access_token": next(tokens), "expires_in": 7200})
    fake.routes[TEMPLATE_PATH] = (200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332})
    cache.clear()
    yield fake
    cache.clear()
    fake.close()


@pytest.fixture
def member(enrol):
    m = enrol(phone="13912345678", name="韩梅梅")
    m.wechat_openid = OPENID
    m.save(update_fields=["wechat_openid"])
    return m


@pytest.fixture
def scene(program):
    return Scene.objects.create(
        name="Member day",
        kind=Scene.Kind.MEMBER_DAY,
        package=BenefitPackage.objects.create(name="p"),
        channel="wechat",
        wechat_template="TPL_MEMBER_DAY:thing1=scene,thing2=name,character_string3=points",
    )


def queued(member, scene):
    return Notification.objects.create(
        member=member,
        channel="wechat",
        title="会员日",
        body="本周会员日双倍积分",
        scene=scene,
        status="queued",
        created_at="2026-11-24T10:00:00Z",
    )


def sends(fake):
    return [r for r in fake.requests if r.path == TEMPLATE_PATH]


def tokens_fetched(fake):
    return [r for r in fake.requests if r.path == "/cgi-bin/token"]


def test_template_message_request_and_the_recorded_msgid(wechat, member, scene):
    row = queued(member, scene)

    delivery = notifications._deliver(member, "wechat", row.title, row.body, notification=row, params={"points": 300})

    [token] = tokens_fetched(wechat)
    assert token.method == "GET"
    assert token.query == {"grant_type": "client_credential", "appid": "wx1234567890", "secret": "app-secret"}
    [send] = sends(wechat)
    assert send.method == "POST" and send.query == {"access_token": "token-1"}
    assert send.json == {
        "touser": OPENID,
        "template_id": "TPL_MEMBER_DAY",
        "data": {
            "thing1": {"value": "Member day"},
            "thing2": {"value": "韩梅梅"},
            "character_string3": {"value": "300"},
        },
    }
    assert delivery == notifications.Delivery("sent", provider_id="200228332")
    row.refresh_from_db()
    assert (row.status, row.provider_id) == ("sent", "200228332") and row.sent_at is not None


def test_the_access_token_is_cached_until_shortly_before_it_expires(wechat, member, scene):
    with time_machine.travel("2026-11-24 10:00:00 +0000", tick=False) as clock:
        notifications._deliver(member, "wechat", "a", "b", scene=scene)
        notifications._deliver(member, "wechat", "a", "b", scene=scene)
        assert len(tokens_fetched(wechat)) == 1
        assert [s.query["access_token"] for s in sends(wechat)] == ["token-1", "token-1"]

        clock.shift(7200 - 300 - 10)  # still inside its life less the margin
        notifications._deliver(member, "wechat", "a", "b", scene=scene)
        assert len(tokens_fetched(wechat)) == 1

        clock.shift(20)  # past it: a fresh token
        notifications._deliver(member, "wechat", "a", "b", scene=scene)
        assert len(tokens_fetched(wechat)) == 2
        assert sends(wechat)[-1].query["access_token"] == "token-2"


def test_a_token_wechat_refuses_is_fetched_again_once(wechat, member, scene):
    wechat.answer((200, {"access_token": "stale", "expires_in": 7200}))
    wechat.answer((200, {"errcode": 40001, "errmsg": "invalid credential"}))

    delivery = notifications._deliver(member, "wechat", "a", "b", scene=scene)

    assert delivery.status == "sent"
    assert [s.query["access_token"] for s in sends(wechat)] == ["stale", "token-1"]


def test_rejection_records_wechats_code_and_message(wechat, member, scene):
    row = queued(member, scene)
    cache.set("wechat:access_token:wx1234567890", "cached", 600)
    wechat.answer((200, {"errcode": 43004, "errmsg": "require subscribe"}))

    assert notifications._deliver(member, "wechat", "a", "b", notification=row).status == "rejected"

    row.refresh_from_db()
    assert (row.status, row.error, row.sent_at) == ("rejected", "43004: require subscribe", None)


def test_timeout_is_recorded_and_a_retry_does_not_send_again(wechat, member, scene):
    row = queued(member, scene)
    cache.set("wechat:access_token:wx1234567890", "cached", 600)
    wechat.answer(HANG)

    assert notifications._deliver(member, "wechat", "a", "b", notification=row).status == "timeout"
    again = notifications._deliver(member, "wechat", "a", "b", notification=row)

    assert again.status == "timeout"
    assert len(sends(wechat)) == 1
    row.refresh_from_db()
    assert row.status == "timeout" and row.sent_at is None


def test_a_member_without_wechat_is_recorded_no_address(wechat, enrol, scene):
    other = enrol(phone="13711112222")
    row = queued(other, scene)
    assert notifications._deliver(other, "wechat", "a", "b", notification=row).status == "no_address"
    assert wechat.requests == []
    row.refresh_from_db()
    assert row.status == "no_address"


def test_subscribe_messages_go_to_bizsend_with_the_same_data(settings, wechat, member, scene):
    settings.WECHAT_MESSAGE_API = "subscribe"
    wechat.answer((200, {"access_token": "t", "expires_in": 7200}), (200, {"errcode": 0, "errmsg": "ok"}))
    assert notifications._deliver(member, "wechat", "a", "b", scene=scene).status == "sent"
    assert wechat.requests[-1].path == "/cgi-bin/message/subscribe/bizsend"
    assert wechat.requests[-1].json["template_id"] == "TPL_MEMBER_DAY"


def test_without_a_scene_template_the_notice_template_carries_title_and_body(wechat, member):
    notifications._deliver(member, "wechat", "积分即将过期", "100 积分将于月底过期")
    [send] = sends(wechat)
    assert send.json["template_id"] == "NOTICE_TPL"
    assert send.json["data"] == {"first": {"value": "积分即将过期"}, "remark": {"value": "100 积分将于月底过期"}}
