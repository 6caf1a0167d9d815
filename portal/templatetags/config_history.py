"""Rows of one configuration change for the history page: (field, before, after)."""

from django import template
from django.utils.translation import pgettext_lazy

register = template.Library()

ACTIONS = {
    0: pgettext_lazy("history", "created"),
    1: pgettext_lazy("history", "changed"),
    2: pgettext_lazy("history", "deleted"),
    3: pgettext_lazy("history", "viewed"),
}
M2M_OPERATIONS = {
    "add": pgettext_lazy("history", "added"),
    "delete": pgettext_lazy("history", "removed"),
    "clear": pgettext_lazy("history", "cleared"),
}


@register.filter
def action_label(entry):
    return ACTIONS.get(entry.action, entry.action)


@register.filter
def change_rows(entry):
    rows = []
    for field, values in entry.changes_display_dict.items():
        if isinstance(values, dict):  # a many-to-many change: which objects were added or removed
            operation = M2M_OPERATIONS.get(values.get("operation"), values.get("operation"))
            rows.append((field, "", "%s: %s" % (operation, ", ".join(str(o) for o in values.get("objects", [])))))
            continue
        before, after = (list(values) + ["", ""])[:2]
        rows.append((field, "" if before in (None, "None") else before, "" if after in (None, "None") else after))
    return rows
