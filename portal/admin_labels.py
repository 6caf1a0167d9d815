"""Admin pages of third-party apps in the user's language (issue 31): the columns and words that
django-celery-beat, django-auditlog and django-import-export show in English (a column made from a
property's name, an untranslated message), and the msgids of theirs that their own Chinese
catalogues lack, translated in ours (LOCALE_PATHS comes before the apps' catalogues).

Installed by PortalConfig.ready(), after the admin's autodiscovery registered their admins."""

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

# their msgids that their catalogues leave untranslated in Chinese (import-export's export form;
# auditlog's app, filters and actions)
VENDOR_MSGIDS = [
    gettext_noop("Resource"),
    gettext_noop("Select all"),
    gettext_noop("Audit log"),
    gettext_noop("Resource Type"),
    gettext_noop("Changes"),
    gettext_noop("Correlation ID"),
    gettext_noop("create"),
    gettext_noop("update"),
    gettext_noop("delete"),
    gettext_noop("access"),
    gettext_noop("log entry"),
    gettext_noop("log entries"),
    gettext_noop("actor"),
    gettext_noop("timestamp"),
    gettext_noop("change message"),
    gettext_noop("Click to filter by records with this correlation id"),
]


class PeriodicTaskLabels(PeriodicTaskAdmin):
    list_display = ("name", "enabled", "schedule", "interval", "start_time", "last_run_at", "one_off")

    @admin.display(description=_("schedule"))
    def schedule(self, obj):
        return obj.scheduler


class LogEntryLabels(LogEntryAdmin):
    @admin.display(description=_("Changes"))
    def msg_short(self, obj):
        if obj.action in (LogEntry.Action.DELETE, LogEntry.Action.ACCESS):
            return ""
        changes = obj.changes_dict
        fields = ", ".join(changes)
        if len(fields) > 64:
            fields = fields[: fields.rfind(" ", 0, 64)] + " .."
        return ngettext("%(count)d change: %(fields)s", "%(count)d changes: %(fields)s", len(changes)) % {
            "count": len(changes),
            "fields": fields,
        }


def install() -> None:
    for model, labelled in ((PeriodicTask, PeriodicTaskLabels), (LogEntry, LogEntryLabels)):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
        admin.site.register(model, labelled)
