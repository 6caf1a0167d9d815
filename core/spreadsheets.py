"""Spreadsheet cells that a spreadsheet program will not run (CSV/formula injection, OWASP).

A text cell that starts with = + - @ or a tab/carriage return is a formula to Excel and WPS
(`=HYPERLINK(...)`, `+cmd|' /C calc'!A0`, `@SUM(...)`); it is written with a leading apostrophe,
which the spreadsheet shows as text. Numbers stay numbers ("-50", "-12.30" are not escaped). One
rule for every export: the admin's django-import-export formats and the analytics tables."""

import re

from import_export.formats import base_formats

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def escape_formula(value):
    """`value` made safe for a spreadsheet cell; anything but text is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.match(value):
        return "'" + value
    return value


def escape_dataset(dataset) -> None:
    """Escape every cell of a tablib Dataset in place (headers included)."""
    if dataset.headers:
        dataset.headers = [escape_formula(h) for h in dataset.headers]
    for _ in range(dataset.height):  # first row out, escaped row in at the end: the order is kept
        dataset.append([escape_formula(cell) for cell in dataset.lpop()])


class _Escaping:
    """django-import-export calls `_escape_formulae` when IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT is
    on; its own only strips one leading "=" (and turns empty cells into "None"): ours is the rule above."""

    def _escape_formulae(self, dataset):
        escape_dataset(dataset)


class CSV(_Escaping, base_formats.CSV):
    pass


class XLSX(_Escaping, base_formats.XLSX):
    pass
