"""Delivery receipts (状态回执) the SMS providers push to us: Alibaba Cloud's SmsReport HTTP push
and Tencent Cloud's status callback, at /hooks/sms/<provider>/<SMS_RECEIPT_TOKEN>/ (the providers
do not sign their callbacks, so the path carries a secret). Each receipt marks its Notification
delivered or undelivered (notifications.record_receipt)."""

import json
import logging

from django.conf import settings
from django.http import Http404, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .services import notifications

log = logging.getLogger(__name__)


def _aliyun(item: dict) -> dict:
    ok = item.get("success") in (True, "true", "True")
    code = str(item.get("err_code") or "")
    return {
        "provider_id": str(item.get("biz_id") or ""),
        "reference": str(item.get("out_id") or ""),
        "delivered": ok,
        "error": f"{code}: {item.get('err_msg') or ''}".strip(": "),
    }


def _tencent(item: dict) -> dict:
    ok = str(item.get("report_status") or "").upper() == "SUCCESS"
    code = str(item.get("errmsg") or "")
    return {
        "provider_id": str(item.get("sid") or ""),
        "reference": "",
        "delivered": ok,
        "error": f"{code}: {item.get('description') or ''}".strip(": "),
    }


PROVIDERS = {
    "aliyun": (_aliyun, {"code": 0, "msg": "成功"}),
    "tencent": (_tencent, {"result": 0, "errmsg": "OK"}),
}


@csrf_exempt
@require_POST
def sms_receipt(request, provider: str, token: str):
    expected = getattr(settings, "SMS_RECEIPT_TOKEN", "")
    if provider not in PROVIDERS or not expected or not constant_time_compare(token, expected):
        raise Http404
    parse, answer = PROVIDERS[provider]
    try:
        items = json.loads(request.body or b"[]")
    except ValueError:
        return JsonResponse({"error": "invalid JSON"}, status=400)
    if isinstance(items, dict):
        items = [items]
    changed = 0
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            changed += notifications.record_receipt(**parse(item))
    log.info("%s SMS receipts: %d received, %d recorded", provider, len(items), changed)
    return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})
