"""The SMS adapters (Alibaba Cloud, Tencent Cloud) through their official SDKs against a local
fake of each provider's endpoint: the request we send (template, parameters, phone, sign), how
success, rejection and timeout are recorded on the Notification row, and that a retry after a
timeout or a success sends nothing."""

import json

import pytest

from campaigns.models import BenefitPackage, Notification, Scene
from campaigns.services import notifications
from core.errors import Invalid
from membership.services import otp
from tests.fake_provider import HANG, FakeProvider

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture
def fake():
    provider = FakeProvider()
    yield provider
    provider.close()


@pytest.fixture
def aliyun(settings, fake):
    settings.SMS_BACKEND = "aliyun"
    settings.SMS_ENDPOINT = fake.url
    settings.SMS_ACCESS_KEY_ID = "LTAI-test-key"
    settings.SMS_ACCESS_KEY_SECRET = "secret"
    settings.SMS_SIGN_NAME = "星河会员"
    settings.SMS_TIMEOUT_SECONDS = 0.5
    settings.SMS_TEMPLATES = {"otp": "SMS_OTP_1:code", "notice": "SMS_NOTICE_1:title"}
    fake.routes["/"] = ALIYUN_OK
    return fake


@pytest.fixture
def tencent(settings, fake):
    settings.SMS_BACKEND = "tencent"
    settings.SMS_ENDPOINT = fake.url
    settings.SMS_ACCESS_KEY_ID = "AKID-test"
    settings.SMS_ACCESS_KEY_SECRET = "secret"
    settings.SMS_SDK_APP_ID = "1400000001"
    settings.SMS_SIGN_NAME = "星河会员"
    settings.SMS_TIMEOUT_SECONDS = 0.5
    settings.SMS_TEMPLATES = {"otp": "2000001:code,minutes", "notice": ""}
    fake.routes["/"] = TENCENT_OK
    return fake


@pytest.fixture
def member(enrol):
    return enrol(phone=PHONE, name="李雷")


@pytest.fixture
def scene(program):
    return Scene.objects.create(
        name="Upgrade thanks",
        kind=Scene.Kind.TIER_UPGRADE,
        package=BenefitPackage.objects.create(name="p"),
        channel="sms",
        sms_template="SMS_9001:name,points",
        wechat_template="",
    )


def queued(member, scene, channel="sms"):
    """The row the queue writes before delivery (its status is the queue's; delivery claims it)."""
    return Notification.objects.create(
        member=member,
        channel=channel,
        title="Hi",
        body="Thanks",
        scene=scene,
        status="queued",
        created_at="2026-11-24T10:00:00Z",
    )


ALIYUN_OK = (200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "r1"})


def test_aliyun_sends_the_scene_template_with_its_parameters_and_records_the_biz_id(aliyun, member, scene):
    row = queued(member, scene)
    aliyun.answer(ALIYUN_OK)

    delivery = notifications._deliver(member, "sms", "Hi", "Thanks", notification=row, params={"points": 200})

    [request] = aliyun.requests
    assert request.method == "POST"
    assert request.headers["x-acs-action"] == "SendSms"
    assert "LTAI-test-key" in request.headers["authorization"]  # signed with our access key
    assert request.query["PhoneNumbers"] == PHONE
    assert request.query["SignName"] == "星河会员"
    assert request.query["TemplateCode"] == "SMS_9001"
    assert json.loads(request.query["TemplateParam"]) == {"name": "李雷", "points": "200"}
    assert request.query["OutId"] == f"n{row.pk}"
    assert delivery == notifications.Delivery("sent", provider_id="900619746936498440^0")
    row.refresh_from_db()
    assert (row.status, row.provider_id, row.error) == ("sent", "900619746936498440^0", "")
    assert row.sent_at is not None


def test_aliyun_rejection_records_the_providers_code_and_message(aliyun, member, scene):
    row = queued(member, scene)
    aliyun.answer((200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控", "RequestId": "r2"}))

    delivery = notifications._deliver(member, "sms", "Hi", "Thanks", notification=row)

    assert delivery.status == "rejected"
    row.refresh_from_db()
    assert row.status == "rejected" and row.sent_at is None and row.provider_id == ""
    assert row.error == "isv.BUSINESS_LIMIT_CONTROL: 触发分钟级流控"


def test_aliyun_http_error_is_a_rejection_with_its_code(aliyun, member, scene):
    row = queued(member, scene)
    aliyun.answer((400, {"Code": "SignatureDoesNotMatch", "Message": "bad signature", "RequestId": "r3"}))

    notifications._deliver(member, "sms", "Hi", "Thanks", notification=row)

    row.refresh_from_db()
    assert row.status == "rejected" and row.error.startswith("SignatureDoesNotMatch")


def test_aliyun_timeout_is_recorded_and_a_retry_does_not_send_again(aliyun, member, scene):
    row = queued(member, scene)
    aliyun.answer(HANG)

    first = notifications._deliver(member, "sms", "Hi", "Thanks", notification=row)
    assert first.status == "timeout"
    row.refresh_from_db()
    assert row.status == "timeout" and row.sent_at is None and "timed out" in row.error.lower()

    aliyun.answer(ALIYUN_OK)
    again = notifications._deliver(member, "sms", "Hi", "Thanks", notification=row)

    assert len(aliyun.requests) == 1  # the retry sent nothing: the first may have gone out
    assert again.status == "timeout"


def test_a_sent_notification_is_never_sent_twice(aliyun, member, scene):
    row = queued(member, scene)
    aliyun.answer(ALIYUN_OK, ALIYUN_OK)
    notifications._deliver(member, "sms", "Hi", "Thanks", notification=row)
    again = notifications._deliver(member, "sms", "Hi", "Thanks", notification=row)
    assert len(aliyun.requests) == 1
    assert again == notifications.Delivery("sent", provider_id="900619746936498440^0")


def test_an_unreachable_provider_fails_and_may_be_retried(settings, aliyun, member, scene):
    row = queued(member, scene)
    settings.SMS_ENDPOINT = "http://127.0.0.1:9"  # discard port: connection refused, nothing went out
    assert notifications._deliver(member, "sms", "Hi", "Thanks", notification=row).status == "failed"
    settings.SMS_ENDPOINT = aliyun.url
    aliyun.answer(ALIYUN_OK)
    assert notifications._deliver(member, "sms", "Hi", "Thanks", notification=row).status == "sent"
    assert len(aliyun.requests) == 1


def test_notify_sends_a_scene_sms_through_the_provider_and_records_it(
    aliyun, member, scene, django_capture_on_commit_callbacks
):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    member.marketing_consent = True
    member.save(update_fields=["marketing_consent"])
    aliyun.answer(ALIYUN_OK)
    daytime = datetime(2026, 6, 5, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # outside the quiet hours

    with django_capture_on_commit_callbacks(execute=True):  # queued with the commit, sent after it
        sent = notifications.notify(member=member, channel="sms", title="Hi", body="Thanks", scene=scene, at=daytime)
    sent.refresh_from_db()

    assert aliyun.requests[0].query["TemplateCode"] == "SMS_9001"
    assert (sent.status, sent.provider_id) == ("sent", "900619746936498440^0")


def test_one_time_code_goes_out_as_the_otp_template_with_the_code(aliyun):
    otp.request_code(phone=PHONE, purpose="signup")

    [request] = aliyun.requests
    assert request.query["TemplateCode"] == "SMS_OTP_1"
    code = json.loads(request.query["TemplateParam"])["code"]
    assert code.isdigit() and len(code) == 6
    assert otp.check_code(phone=PHONE, purpose="signup", code=code)  # the code we sent is the one stored


def test_a_refused_one_time_code_is_an_error_on_the_phone_field(aliyun):
    aliyun.answer((200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": "r4"}))
    with pytest.raises(Invalid) as caught:
        otp.request_code(phone=PHONE, purpose="signup")
    assert caught.value.field == "phone"


TENCENT_OK = (
    200,
    {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": "5000:1045710669157053657849499619",
                    "PhoneNumber": f"+86{PHONE}",
                    "Fee": 1,
                    "SessionContext": "",
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
            ],
            "RequestId": "a0aabda6",
        }
    },
)


def test_tencent_sends_the_template_parameters_in_order_and_records_the_serial_no(tencent, member, scene):
    scene.sms_template = "1234567:points,name"
    scene.save()
    row = queued(member, scene)
    tencent.answer(TENCENT_OK)

    delivery = notifications._deliver(member, "sms", "Hi", "Thanks", notification=row, params={"points": 200})

    [request] = tencent.requests
    assert request.headers["x-tc-action"] == "SendSms"
    assert request.headers["authorization"].startswith("TC3-HMAC-SHA256 Credential=AKID-test/")
    assert request.json == {
        "PhoneNumberSet": [f"+86{PHONE}"],
        "SmsSdkAppId": "1400000001",
        "SignName": "星河会员",
        "TemplateId": "1234567",
        "TemplateParamSet": ["200", "李雷"],
        "SessionContext": f"n{row.pk}",
    }
    assert delivery == notifications.Delivery("sent", provider_id="5000:1045710669157053657849499619")
    row.refresh_from_db()
    assert row.status == "sent" and row.provider_id == "5000:1045710669157053657849499619"


def test_tencent_rejection_per_number_and_per_request(tencent, member, scene):
    row = queued(member, scene)
    refused = {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": "",
                    "PhoneNumber": f"+86{PHONE}",
                    "Code": "LimitExceeded.PhoneNumberDailyLimit",
                    "Message": "daily limit",
                }
            ],
            "RequestId": "b1",
        }
    }
    tencent.answer((200, refused))
    assert notifications._deliver(member, "sms", "Hi", "Thanks", notification=row).status == "rejected"
    row.refresh_from_db()
    assert row.error == "LimitExceeded.PhoneNumberDailyLimit: daily limit"

    other = queued(member, scene)
    tencent.answer(
        (
            200,
            {
                "Response": {
                    "Error": {"Code": "FailedOperation.SignatureIncorrectOrUnapproved", "Message": "sign"},
                    "RequestId": "b2",
                }
            },
        )
    )
    assert notifications._deliver(member, "sms", "Hi", "Thanks", notification=other).status == "rejected"
    other.refresh_from_db()
    assert other.error.startswith("FailedOperation.SignatureIncorrectOrUnapproved")


def test_tencent_timeout_is_recorded_and_a_retry_does_not_send_again(tencent, member, scene):
    row = queued(member, scene)
    tencent.answer(HANG)
    assert notifications._deliver(member, "sms", "Hi", "Thanks", notification=row).status == "timeout"
    tencent.answer(TENCENT_OK)
    assert notifications._deliver(member, "sms", "Hi", "Thanks", notification=row).status == "timeout"
    assert len(tencent.requests) == 1
    row.refresh_from_db()
    assert row.status == "timeout" and row.sent_at is None


def test_tencent_one_time_code_parameters_are_the_code_and_minutes(tencent):
    otp.request_code(phone=PHONE, purpose="signup")
    [request] = tencent.requests
    assert request.json["TemplateId"] == "2000001"
    code, minutes = request.json["TemplateParamSet"]
    assert len(code) == 6 and minutes == "10"
