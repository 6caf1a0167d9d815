"""History of configuration changes (django-auditlog): who changed a program setting, when, and
each field before and after. Which models are tracked is AUDITLOG_INCLUDE_TRACKING_MODELS in
settings; the admin's own "History" button of those models opens this page."""

from auditlog.middleware import AuditlogMiddleware as BaseAuditlogMiddleware
from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib.admin.utils import unquote
from django.utils.translation import gettext_lazy as _

from core.client_ip import client_ip


class ConfigHistoryAdmin(AuditlogHistoryAdminMixin):
    """Mix into a ModelAdmin of a tracked model: History lists auditlog's entries, newest first."""

    auditlog_history_template = "portal/config_history.html"
    auditlog_history_per_page = 20

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        context = {"title": _("Change history: %(object)s") % {"object": obj}, **(extra_context or {})}
        return self.auditlog_history_view(request, object_id, extra_context=context)


class AuditlogMiddleware(BaseAuditlogMiddleware):
    """auditlog's middleware (the operator of each change), with the client's address read by the
    portal's one rule (NUM_PROXIES), not from whatever a client writes into X-Forwarded-For."""

    @staticmethod
    def _get_remote_addr(request):
        from django.conf import settings

        return None if settings.AUDITLOG_DISABLE_REMOTE_ADDR else client_ip(request)
