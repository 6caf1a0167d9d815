"""Every dashboard table as CSV or XLSX (tablib, as django-import-export uses it)."""

from datetime import date
from decimal import Decimal

import tablib
from django.http import HttpResponse

from core.money import to_cents
from core.spreadsheets import escape_formula

from .selectors import DAY, MONEY, PCT, RATIO, TEXT, Table

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXPORT_LIMIT = 100_000  # rows in one export (a drill-down of a large class)


def cell(kind: str, value):
    """A value as the spreadsheet should hold it: numbers as numbers, rates in percent, text that a
    spreadsheet would run as a formula (a member named "=HYPERLINK(...)") escaped."""
    if value is None or value == "":
        return ""
    if kind == PCT:
        return to_cents(Decimal(value) * 100)
    if kind in (MONEY, RATIO):
        return to_cents(value)
    if kind == DAY:
        return value if isinstance(value, date) else str(value)
    if kind == TEXT:
        return escape_formula(str(value))
    return escape_formula(value)


def headers(table: Table) -> list[str]:
    return [escape_formula(f"{c.label} (%)" if c.kind == PCT else str(c.label)) for c in table.columns]


def dataset(table: Table) -> tablib.Dataset:
    data = tablib.Dataset(headers=headers(table), title=table.name[:31])
    for row in table.rows[:EXPORT_LIMIT]:
        data.append([cell(c.kind, row.get(c.key)) for c in table.columns])
    return data


def response(table: Table, fmt: str, stem: str) -> HttpResponse:
    data = dataset(table)
    if fmt == "csv":
        # a byte-order mark, so that Excel opens the Chinese text as UTF-8
        body = "\ufeff" + data.export("csv")
    else:
        body = data.export("xlsx")
    response = HttpResponse(body, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return response
