"""SMS as a pluggable backend, like Django's e-mail backends (settings.SMS_BACKEND).

The default console backend prints the message, so one-time codes can be read in development.
Production uses Alibaba Cloud (AliyunSmsBackend) or Tencent Cloud (TencentSmsBackend) through
their official SDKs: mainland SMS goes out only as an approved template with its parameters, so a
message names its template and carries its fields; the text is what the console shows.

A backend's send() returns the provider's message id, or raises SmsRejected (the provider said
no: its code and message), SmsUnreachable (nothing went out) or SmsTimeout (no answer in time: the
message may or may not have gone out, so it must not be sent again blindly)."""

import json
import logging
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    """One SMS: `template` is the provider's template code (Alibaba) or id (Tencent); `params` its
    variables in the template's order (a dict keeps the order, which Tencent needs); `reference`
    our own id for it (the Notification row), sent along so a delivery receipt can name it."""

    phone: str
    text: str = ""
    template: str = ""
    params: dict = field(default_factory=dict)
    reference: str = ""


class SmsError(Exception):
    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class SmsRejected(SmsError):
    """The provider answered and refused the message (bad number, template, sign, limits …)."""


class SmsUnreachable(SmsError):
    """The provider could not be reached (refused, no route, connect timeout): nothing went out."""


class SmsTimeout(SmsError):
    """No answer in time after the request went out: the provider may have sent the message."""


class BaseSmsBackend(ABC):
    @abstractmethod
    def send_message(self, message: SmsMessage) -> str:
        """Deliver `message` to the mainland mobile number `message.phone`; returns the provider's id."""

    def send(self, phone: str, text: str) -> str:
        return self.send_message(SmsMessage(phone=phone, text=text))


class ConsoleSmsBackend(BaseSmsBackend):
    def send_message(self, message: SmsMessage) -> str:
        template = f" [{message.template} {json.dumps(message.params, ensure_ascii=False)}]" if message.template else ""
        sys.stdout.write(f"[SMS to {message.phone}] {message.text}{template}\n")
        sys.stdout.flush()
        return ""


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps messages in `outbox` as (phone, text) and whole in `messages`, for tests."""

    outbox: list[tuple[str, str]] = []
    messages: list[SmsMessage] = []

    def send_message(self, message: SmsMessage) -> str:
        self.outbox.append((message.phone, message.text))
        self.messages.append(message)
        return f"locmem-{len(self.messages)}"


def _setting(name: str, default=""):
    return getattr(settings, name, default)


def _is_read_timeout(text: str) -> bool:
    text = text.lower()
    return "read timed out" in text or "timed out" in text and "connect" not in text


class AliyunSmsBackend(BaseSmsBackend):
    """Alibaba Cloud SMS (dysmsapi 2017-05-25, SendSms) through alibabacloud_dysmsapi20170525.
    Settings: SMS_ACCESS_KEY_ID, SMS_ACCESS_KEY_SECRET, SMS_SIGN_NAME, SMS_REGION (cn-hangzhou),
    SMS_ENDPOINT (empty: the SDK's for the region), SMS_TIMEOUT_SECONDS."""

    def client(self):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.models import Config

        endpoint = _setting("SMS_ENDPOINT")
        timeout_ms = int(float(_setting("SMS_TIMEOUT_SECONDS", 5)) * 1000)
        config = Config(
            access_key_id=_setting("SMS_ACCESS_KEY_ID"),
            access_key_secret=_setting("SMS_ACCESS_KEY_SECRET"),
            region_id=_setting("SMS_REGION") or "cn-hangzhou",
            endpoint=endpoint.split("://", 1)[-1] or None,
            protocol="http" if endpoint.startswith("http://") else "https",
            connect_timeout=timeout_ms,
            read_timeout=timeout_ms,
        )
        return Client(config)

    def send_message(self, message: SmsMessage) -> str:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util.models import RuntimeOptions
        from Tea.exceptions import TeaException, UnretryableException

        timeout_ms = int(float(_setting("SMS_TIMEOUT_SECONDS", 5)) * 1000)
        request = models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=_setting("SMS_SIGN_NAME"),
            template_code=message.template,
            template_param=json.dumps({k: str(v) for k, v in message.params.items()}, ensure_ascii=False)
            if message.params
            else None,
            out_id=message.reference or None,
        )
        # no automatic retry inside the SDK: a second attempt after a lost answer could send twice
        runtime = RuntimeOptions(autoretry=False, connect_timeout=timeout_ms, read_timeout=timeout_ms)
        try:
            body = self.client().send_sms_with_options(request, runtime).body
        except UnretryableException as exc:  # the network: no answer
            text = str(getattr(exc, "message", "") or exc)
            if _is_read_timeout(text):
                raise SmsTimeout("timeout", text[:150]) from exc
            raise SmsUnreachable("network", text[:150]) from exc
        except TeaException as exc:  # an HTTP error with the provider's code
            raise SmsRejected(str(exc.code or "error"), str(exc.message or "")[:150]) from exc
        if (body.code or "").upper() != "OK":
            raise SmsRejected(body.code or "error", body.message or "")
        return body.biz_id or ""


class TencentSmsBackend(BaseSmsBackend):
    """Tencent Cloud SMS (2021-01-11, SendSms) through tencentcloud-sdk-python-sms. Settings:
    SMS_ACCESS_KEY_ID (SecretId), SMS_ACCESS_KEY_SECRET (SecretKey), SMS_SDK_APP_ID, SMS_SIGN_NAME,
    SMS_REGION (ap-guangzhou), SMS_ENDPOINT (empty: sms.tencentcloudapi.com), SMS_TIMEOUT_SECONDS.
    Tencent's template parameters are a list: `params` in its order."""

    def client(self):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        endpoint = _setting("SMS_ENDPOINT")
        http = HttpProfile(
            endpoint=endpoint.split("://", 1)[-1] or "sms.tencentcloudapi.com",
            reqTimeout=float(_setting("SMS_TIMEOUT_SECONDS", 5)),
        )
        if endpoint.startswith("http://"):
            http.scheme = "http"
        cred = credential.Credential(_setting("SMS_ACCESS_KEY_ID"), _setting("SMS_ACCESS_KEY_SECRET"))
        return sms_client.SmsClient(cred, _setting("SMS_REGION") or "ap-guangzhou", ClientProfile(httpProfile=http))

    def send_message(self, message: SmsMessage) -> str:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = [message.phone if message.phone.startswith("+") else f"+86{message.phone}"]
        request.SmsSdkAppId = _setting("SMS_SDK_APP_ID")
        request.SignName = _setting("SMS_SIGN_NAME")
        request.TemplateId = message.template
        request.TemplateParamSet = [str(v) for v in message.params.values()]
        if message.reference:
            request.SessionContext = message.reference
        try:
            response = self.client().SendSms(request)
        except TencentCloudSDKException as exc:
            code, text = exc.get_code() or "error", exc.get_message() or ""
            if code == "ClientNetworkError":
                if _is_read_timeout(text):
                    raise SmsTimeout("timeout", text[:150]) from exc
                raise SmsUnreachable("network", text[:150]) from exc
            raise SmsRejected(code, text[:150]) from exc
        status = (response.SendStatusSet or [None])[0]
        if status is None:
            raise SmsRejected("error", "no send status in the answer")
        if (status.Code or "").lower() != "ok":
            raise SmsRejected(status.Code or "error", status.Message or "")
        return status.SerialNo or ""


ALIASES = {
    "console": "core.sms.ConsoleSmsBackend",
    "locmem": "core.sms.LocmemSmsBackend",
    "aliyun": "core.sms.AliyunSmsBackend",
    "tencent": "core.sms.TencentSmsBackend",
}


def get_backend() -> BaseSmsBackend:
    name = settings.SMS_BACKEND
    if name.startswith("portal.sms."):  # the path before the backends moved to core (a release's .env)
        name = "core.sms." + name.removeprefix("portal.sms.")
    return import_string(ALIASES.get(name, name))()


def send_sms(phone: str, text: str, *, template: str = "", params: dict | None = None, reference: str = "") -> str:
    """Send one SMS through the configured backend; returns the provider's message id. Raises
    SmsRejected or SmsTimeout (see the module's docstring)."""
    message = SmsMessage(phone=phone, text=text, template=template, params=dict(params or {}), reference=reference)
    return get_backend().send_message(message)


def parse_template(spec: str) -> tuple[str, list[tuple[str, str]]]:
    """A template as configured: "CODE:var=field,var=field" (or "CODE:field,field" when the
    template's variables are named like our fields), e.g. "SMS_123:code,minutes" or
    "1234567:name,points". Returns the code and (variable, field) pairs in order."""
    code, _sep, names = (spec or "").partition(":")
    pairs = []
    for item in names.split(","):
        var, _eq, name = item.strip().partition("=")
        if var.strip():
            pairs.append((var.strip(), (name or var).strip()))
    return code.strip(), pairs


def fill(pairs: list[tuple[str, str]], fields: dict) -> dict:
    """The template's parameters in order from our fields (a missing field is empty)."""
    return {var: str(fields.get(name, "")) for var, name in pairs}


def template_for(purpose: str) -> str:
    """The template configured for a purpose (settings.SMS_TEMPLATES, e.g. "otp")."""
    return (_setting("SMS_TEMPLATES", {}) or {}).get(purpose, "")
