"""History of configuration changes (django-auditlog): who changed a program setting, when, and
each field before and after. Which models are tracked is AUDITLOG_INCLUDE_TRACKING_MODELS in
settings; the admin's own "History" button of those models opens this page."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib.admin.utils import unquote
from django.utils.translation import gettext_lazy as _


class ConfigHistoryAdmin(AuditlogHistoryAdminMixin):
    """Mix into a ModelAdmin of a tracked model: History lists auditlog's entries, newest first."""

    auditlog_history_template = "portal/config_history.html"
    auditlog_history_per_page = 20

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        context = {"title": _("Change history: %(object)s") % {"object": obj}, **(extra_context or {})}
        return self.auditlog_history_view(request, object_id, extra_context=context)
