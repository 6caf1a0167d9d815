"""The channels a message goes out by, one small class each (Scene.Channel): the on-site inbox,
e-mail (Django's e-mail backends, to the member's optional address), SMS (core.sms: console,
Alibaba Cloud, Tencent Cloud) and WeChat (core.wechat: template or subscribe messages to the
member's bound openid). Each answers a Delivery; notifications._deliver is the one caller.

SMS and WeChat carry an approved template and its variables: the scene's template if it names
one, otherwise the general notice template of settings; the variables are filled from the
message's fields (name, tier, scene, title, body, plus what the caller passes, e.g. points).

Statuses: sent (with the provider's id), no_address (no e-mail or openid), rejected (the provider
said no: its code and message in `error`), failed (not reached: nothing went out), timeout (no
answer: it may have gone out, so it is never sent again)."""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail

from core import sms, wechat


@dataclass(frozen=True)
class Delivery:
    """What a channel answered: `status` (sent, failed, no_address, skipped …), the provider's
    message id and, when it failed, why."""

    status: str
    provider_id: str = ""
    error: str = ""


@dataclass(frozen=True)
class Message:
    member: object
    title: str
    body: str
    scene: object = None
    template: str = ""  # "CODE:var=field,…", overriding the scene's and the settings'
    params: dict = field(default_factory=dict)
    reference: str = ""

    def fields(self) -> dict:
        member = self.member
        tier = getattr(member, "tier", None)
        base = {
            "name": member.name or member.masked_phone,
            "tier": getattr(tier, "name", ""),
            "scene": getattr(self.scene, "name", ""),
            "title": self.title,
            "body": self.body,
        }
        return {**base, **self.params}


class Channel:
    code = ""

    def deliver(self, message: Message) -> Delivery:
        raise NotImplementedError


class Inbox(Channel):
    code = "inbox"

    def deliver(self, message):
        return Delivery("sent")


class Email(Channel):
    code = "email"

    def deliver(self, message):
        address = getattr(message.member, "email", "")
        if not address:
            return Delivery("no_address")
        send_mail(message.title, message.body, None, [address])
        return Delivery("sent")


def _error(exc) -> str:
    return f"{exc.code}: {exc.message}"[:200] if exc.message else str(exc.code)[:200]


class Sms(Channel):
    code = "sms"

    def deliver(self, message):
        spec = message.template or getattr(message.scene, "sms_template", "") or sms.template_for("notice")
        template, pairs = sms.parse_template(spec)
        text = f"{message.title} {message.body}".strip()
        try:
            provider_id = sms.send_sms(
                message.member.phone,
                text,
                template=template,
                params=sms.fill(pairs, message.fields()),
                reference=message.reference,
            )
        except sms.SmsTimeout as exc:
            return Delivery("timeout", error=_error(exc))
        except sms.SmsRejected as exc:
            return Delivery("rejected", error=_error(exc))
        except sms.SmsUnreachable as exc:
            return Delivery("failed", error=_error(exc))
        return Delivery("sent", provider_id=provider_id or "")


class WeChat(Channel):
    code = "wechat"

    def deliver(self, message):
        openid = getattr(message.member, "wechat_openid", "")
        if not openid:
            return Delivery("no_address")
        spec = message.template or getattr(message.scene, "wechat_template", "") or settings.WECHAT_TEMPLATE_NOTICE
        template, pairs = sms.parse_template(spec)
        if not (template and wechat.configured()):
            return Delivery("failed", error="WeChat is not configured (app id, secret, template)")
        try:
            msgid = wechat.send_template(openid, template, sms.fill(pairs, message.fields()))
        except wechat.WeChatTimeout as exc:
            return Delivery("timeout", error=_error(exc))
        except wechat.WeChatUnreachable as exc:
            return Delivery("failed", error=_error(exc))
        except wechat.WeChatError as exc:
            return Delivery("rejected", error=_error(exc))
        return Delivery("sent", provider_id=msgid)


CHANNELS: dict[str, Channel] = {c.code: c for c in (Inbox(), Email(), Sms(), WeChat())}


def get(code: str) -> Channel | None:
    return CHANNELS.get(code)
