"""A member's WeChat: web sign-in inside WeChat (product.md, "Who uses it": members read their
messages and open member pages in WeChat). WeChat's OAuth gives the member's openid; the first
time, the member proves their phone with a one-time code and the openid is bound to their
account; from then on the openid alone signs them in, and messages reach them in WeChat
(campaigns' WeChat channel). The OAuth and the access token are core.wechat's."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from core.errors import Invalid, NotFound

from ..identity import normalise_phone
from ..models import Member, OneTimeCode
from . import otp
from .accounts import MSG_NOT_MEMBER
from .common import audit, lock_member
from .enrolment import active_member_by_phone

Purpose = OneTimeCode.Purpose
MSG_OPENID_TAKEN = _("This WeChat account is already bound to a member.")


def member_for_openid(openid: str) -> Member | None:
    """The active member this openid is bound to, if any."""
    if not openid:
        return None
    return Member.objects.filter(wechat_openid=openid, status=Member.Status.ACTIVE).first()


def send_bind_code(*, phone, ip: str | None = None) -> otp.SentCode:
    """A code to bind WeChat to the member of `phone`. The same answer and limits for a phone that is
    no member's, which is sent no SMS (as for password codes)."""
    phone = normalise_phone(phone)
    member = active_member_by_phone(phone)
    return otp.request_code(phone=phone, purpose=Purpose.BIND_WECHAT, ip=ip, send=member is not None)


def bind(*, openid: str, phone, code, ip: str | None = None) -> Member:
    """Bind `openid` to the member who proves `phone` with its code (the code first, for members and
    strangers alike); a WeChat account belongs to one member, a member has one WeChat account (a
    new one replaces the old)."""
    if not openid:
        raise Invalid(_("Open this page from WeChat."), field="phone")
    phone = normalise_phone(phone)
    member = active_member_by_phone(phone)
    code_id = otp.check_code(phone=phone, purpose=Purpose.BIND_WECHAT, code=code)
    if member is None:
        raise NotFound(MSG_NOT_MEMBER, field="phone")
    other = member_for_openid(openid)
    if other is not None and other.pk != member.pk:
        raise Invalid(MSG_OPENID_TAKEN, field="phone")
    try:
        with transaction.atomic():
            otp.consume(code_id)
            member = lock_member(member)
            member.wechat_openid = openid
            member.save(update_fields=["wechat_openid"])
            audit("member.wechat_bound", member=member, ip=ip)
    except IntegrityError as exc:  # bound to another member in the meantime
        raise Invalid(MSG_OPENID_TAKEN, field="phone") from exc
    return member
