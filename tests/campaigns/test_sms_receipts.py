"""Delivery receipts pushed by the SMS providers mark the Notification delivered or undelivered;
a receipt settles a send that timed out; the endpoint needs its secret token."""

import json

import pytest

from campaigns.models import Notification

pytestmark = pytest.mark.django_db

TOKEN = "receipt-secret-123"


@pytest.fixture(autouse=True)
def receipts_on(settings):
    settings.SMS_RECEIPT_TOKEN = TOKEN


def row(member, status, provider_id="", sent=True):
    return Notification.objects.create(
        member=member,
        channel="sms",
        title="t",
        body="b",
        status=status,
        provider_id=provider_id,
        created_at="2026-11-24T10:00:00Z",
        sent_at="2026-11-24T10:00:01Z" if sent else None,
    )


def post(client, provider, payload, token=TOKEN):
    return client.post(f"/hooks/sms/{provider}/{token}/", json.dumps(payload), content_type="application/json")


def test_aliyun_receipts_by_out_id_and_by_biz_id(client, enrol):
    member = enrol(phone="13912345678")
    timed_out = row(member, "timeout", sent=False)
    sent = row(member, "sent", provider_id="900619746936498440^0")
    payload = [
        {
            "phone_number": "13912345678",
            "success": True,
            "err_code": "DELIVERED",
            "err_msg": "用户接收成功",
            "biz_id": "111^0",
            "out_id": f"n{timed_out.pk}",
        },
        {
            "phone_number": "13912345678",
            "success": False,
            "err_code": "MK:0001",
            "err_msg": "停机",
            "biz_id": "900619746936498440^0",
            "out_id": "",
        },
    ]

    response = post(client, "aliyun", payload)

    assert response.status_code == 200 and response.json() == {"code": 0, "msg": "成功"}
    timed_out.refresh_from_db()
    sent.refresh_from_db()
    assert (timed_out.status, timed_out.provider_id) == ("delivered", "111^0") and timed_out.sent_at is not None
    assert (sent.status, sent.error) == ("undelivered", "MK:0001: 停机")

    post(client, "aliyun", payload[:1] + [dict(payload[1], success=True)])  # a late duplicate changes nothing
    sent.refresh_from_db()
    assert sent.status == "undelivered"


def test_tencent_receipts_by_serial_no(client, enrol):
    member = enrol(phone="13912345678")
    sent = row(member, "sent", provider_id="5000:1045710669157053657849499619")
    payload = [
        {
            "mobile": "13912345678",
            "report_status": "SUCCESS",
            "errmsg": "DELIVRD",
            "description": "用户短信送达成功",
            "sid": "5000:1045710669157053657849499619",
        }
    ]

    response = post(client, "tencent", payload)

    assert response.status_code == 200 and response.json() == {"result": 0, "errmsg": "OK"}
    sent.refresh_from_db()
    assert sent.status == "delivered"


def test_a_wrong_token_or_provider_is_not_found(client, enrol, settings):
    member = enrol(phone="13912345678")
    sent = row(member, "sent", provider_id="x1")
    payload = [{"report_status": "FAIL", "sid": "x1"}]
    assert post(client, "tencent", payload, token="guess").status_code == 404
    assert post(client, "other", payload).status_code == 404
    settings.SMS_RECEIPT_TOKEN = ""
    assert post(client, "tencent", payload, token="").status_code == 404
    sent.refresh_from_db()
    assert sent.status == "sent"
