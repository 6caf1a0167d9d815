"""Number formats of the dashboards: ¥ with two places, thousands grouped, rates in percent."""

from datetime import date
from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

register = template.Library()


def fmt(kind: str, value) -> str:
    if value is None or value == "":
        return "—"
    if kind == "money":
        return f"¥{Decimal(value):,.2f}"
    if kind == "pct":
        return f"{Decimal(value) * 100:,.1f}%"
    if kind == "ratio":
        return f"{Decimal(value):,.2f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "day" and isinstance(value, date):
        return value.isoformat()
    return str(value)


@register.filter
def cell(pair):
    kind, value = pair
    return fmt(kind, value)


@register.filter
def figure(kpi):
    return fmt(kpi.kind, kpi.value)


@register.filter
def previous(kpi):
    return fmt(kpi.kind, kpi.previous)


@register.filter
def change(kpi) -> str:
    delta = kpi.change
    if delta is None:
        return "—"
    if kpi.change_kind == "points":
        return _("%(sign)s%(value)s pts") % {"sign": "+" if delta >= 0 else "−", "value": f"{abs(delta) * 100:.1f}"}
    return f"{'+' if delta >= 0 else '−'}{abs(delta) * 100:.1f}%"


@register.filter
def trend(kpi) -> str:
    delta = kpi.change
    if delta is None or delta == 0:
        return "flat"
    return "up" if delta > 0 else "down"


@register.filter
def money(value):
    return fmt("money", value)


@register.filter
def pct(value):
    return fmt("pct", value)


@register.filter
def num(value):
    return fmt("int", value)


@register.filter
def fmt_pair(kind, value):
    """{{ kind|fmt_pair:value }}: a value in the format of its kind (the targets' figures)."""
    return fmt(kind, value)
