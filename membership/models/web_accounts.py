"""Member web accounts: one-time codes (the sign-in lockout is core/lockout.py)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OneTimeCode(models.Model):
    """A 6-digit code sent by SMS to prove a member holds a phone (sign-up, password reset, first
    password after a counter enrolment). Only a keyed hash is stored; a code is good for one use,
    a few attempts and a few minutes (membership/services/otp.py)."""

    class Purpose(models.TextChoices):
        SIGNUP = "signup", _("Sign-up")
        RESET = "reset", _("Password reset")
        SET_PASSWORD = "set_password", _("First password")
        CHANGE_PHONE = "change_phone", _("Phone change")
        SET_PIN = "set_pin", _("Stored-value PIN")
        BIND_WECHAT = "bind_wechat", _("WeChat binding")

    phone = models.CharField(_("mobile"), max_length=11)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(_("sent"))
    expires_at = models.DateTimeField(_("expires"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [
            models.Index(fields=["phone", "-created_at"], name="otp_phone_recent"),
            models.Index(fields=["ip", "-created_at"], name="otp_ip_recent"),
        ]
