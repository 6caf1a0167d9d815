from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MemberwebConfig(AppConfig):
    """The member's channel: the mobile pages at /m/. It reads membership and campaigns through
    their selectors and changes them through their services; neither of them imports it."""

    name = "memberweb"
    verbose_name = _("Member pages")
