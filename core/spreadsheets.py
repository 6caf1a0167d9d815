"""Spreadsheet cells that a spreadsheet program will not run (CSV/formula injection, OWASP).

A text cell that starts with = + - @ or a tab/carriage return is a formula to Excel and WPS
(`=HYPERLINK(...)`, `+cmd|' /C calc'!A0`, `@SUM(...)`); it is written with a leading apostrophe,
which the spreadsheet shows as text. Numbers stay numbers ("-50", "-12.30" are not escaped). One
rule for every export: the admin's django-import-export formats and the analytics tables.

Uploaded tables are read here too, for every import (the member migration, the admin's member and
card imports): `decode_table` is the one rule for a CSV file's characters (UTF-8 with or without
BOM, UTF-16 by its BOM, else GB18030, which GBK files are), `csv_rows` reads its rows and
`read_xlsx` a workbook's first sheet, formulas read as the result the spreadsheet saved. A file that
is no table raises `UnreadableFile`, whose message is the user's."""

import codecs
import csv
import io
import re
import zipfile

import tablib
from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy
from import_export.formats import base_formats
from import_export.forms import SelectableFieldsExportForm

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


# ---------------------------------------------------------------- reading uploaded tables

MSG_NOT_TEXT = gettext_lazy(
    "The file is not CSV text (it holds a picture, a ZIP or an Excel workbook): save it as CSV or as XLSX, "
    "and upload an Excel workbook with its .xlsx name."
)
MSG_ENCODING = gettext_lazy(
    "The file's characters are neither UTF-8, UTF-16 nor GB18030 (GBK): save it as CSV UTF-8 or as XLSX."
)
MSG_NOT_XLSX = gettext_lazy("The file is not an Excel workbook (XLSX): save it as XLSX or CSV.")
MSG_CSV_LINE = gettext_lazy(
    'Line %(line)s of the file cannot be read: a cell is longer than %(limit)s characters, or a quote (") is '
    "left open. Check the file around that line."
)
MSG_WIDTH = gettext_lazy("Row %(row)s of the file has more cells than its first line names columns.")
MSG_FORMULA = gettext_lazy(
    "The cell holds a formula with no saved result: paste its values (Paste Special, Values) and save again."
)
# how files that are no text begin: PNG, JPEG, GIF, PDF, ZIP (XLSX, DOCX…), OLE2 (XLS, DOC)
BINARY_STARTS = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class UnreadableFile(ValueError):
    """An uploaded file that is no table; its message says why, for the user."""


class Formula:
    """An XLSX cell holding a formula with no saved result (a file no spreadsheet program calculated
    and saved): never read as empty. Its text is the formula."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"


def decode_table(raw: bytes | str) -> str:
    """An uploaded CSV file's text: UTF-8 with or without BOM, UTF-16 by its BOM (Excel's "Unicode
    text"), else GB18030 (a superset of GBK: "CSV" saved by Excel on Chinese Windows). Raises
    UnreadableFile for a picture, a ZIP or a workbook (or any file holding NUL characters) and for
    bytes none of these decodes cleanly."""
    if isinstance(raw, str):
        text = raw.lstrip("\ufeff")
    elif raw.startswith(BINARY_STARTS):
        raise UnreadableFile(MSG_NOT_TEXT)
    else:
        if raw.startswith(codecs.BOM_UTF8):
            encodings = ("utf-8-sig",)
        elif raw.startswith(UTF16_BOMS):
            encodings = ("utf-16",)
        else:
            encodings = ("utf-8", "gb18030")
        text = None
        for encoding in encodings:
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        if text is None:
            raise UnreadableFile(MSG_ENCODING)
    if "\x00" in text:
        raise UnreadableFile(MSG_NOT_TEXT)
    return text


def delimiter(text: str) -> str:
    """Tab when the first line has tabs and no commas (Excel's "Unicode text"), else comma."""
    first = text.split("\n", 1)[0]
    return "\t" if "\t" in first and "," not in first else ","


def csv_rows(text: str):
    """The rows of a CSV text (lists of cells), blank lines left out. A line the csv module cannot read
    (a cell over its limit, mostly a quote left open that swallows the rest of the file) raises
    UnreadableFile naming the line, rather than csv.Error."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter(text))
    try:
        for row in reader:
            if row:
                yield row
    except csv.Error as exc:
        raise UnreadableFile(MSG_CSV_LINE % {"line": reader.line_num, "limit": csv.field_size_limit()}) from exc


FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


def read_xlsx(raw: bytes) -> tuple[list, list[list]]:
    """(header cells, rows of cells) of a workbook's active sheet. A formula cell gives the result the
    spreadsheet program saved with it (what Excel shows), or a `Formula` when there is none (a file
    written by a program that does not calculate). Raises UnreadableFile for a file that is no XLSX."""
    import openpyxl

    try:
        values = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True).active
        rows = [list(row) for row in values.iter_rows(values_only=True)]
        if _has_formulas(raw):
            sheet = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=False).active
            for row, cells in zip(rows, sheet.iter_rows()):
                for i, cell in enumerate(cells):
                    if cell.data_type == "f" and i < len(row) and row[i] is None:
                        row[i] = Formula(str(cell.value))
    except Exception as exc:  # zipfile.BadZipFile, openpyxl's InvalidFileException, KeyError, XML errors…
        raise UnreadableFile(MSG_NOT_XLSX) from exc
    if not rows:
        return [], []
    return rows[0], rows[1:]


def _has_formulas(raw: bytes) -> bool:
    """Whether a worksheet of the workbook holds a formula (a second reading is needed only then)."""
    with zipfile.ZipFile(io.BytesIO(raw)) as book:
        return any(
            FORMULA_TAG.search(book.read(name))
            for name in book.namelist()
            if name.startswith("xl/worksheets/") and name.endswith(".xml")
        )


def is_formula(value) -> bool:
    return isinstance(value, Formula)


def as_dataset(headers: list, rows) -> tablib.Dataset:
    """A tablib Dataset of these rows: short rows filled with empty cells, empty cells past the last
    column dropped; a row with more cells than columns raises UnreadableFile."""
    data = tablib.Dataset(headers=headers)
    width = len(headers)
    for number, row in enumerate(rows, start=1):
        row = list(row)
        while len(row) > width and row[-1] in (None, ""):
            row.pop()
        if len(row) > width:
            raise UnreadableFile(MSG_WIDTH % {"row": number})
        data.append(row + [""] * (width - len(row)))
    return data


class CSVImport(base_formats.CSV):
    """The admin's CSV upload: read as bytes and decoded by `decode_table` (django-import-export's own
    reads UTF-8 only)."""

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        rows = csv_rows(decode_table(in_stream))
        return as_dataset(next(rows, []), rows)


class XLSXImport(base_formats.XLSX):
    """The admin's XLSX upload, read by `read_xlsx` (formulas as their saved results)."""

    def create_dataset(self, in_stream):
        headers, rows = read_xlsx(in_stream)
        return as_dataset(headers, rows)


# Export columns that are no model field of their resource's model (issue 31: the export form lists
# columns by name; django-import-export titles the code name, "Sv Principal", in every language).
COLUMN_LABELS = {
    "points": gettext_lazy("points"),
    "sv": gettext_lazy("stored value"),
    "sv_principal": gettext_lazy("stored value principal"),
    "sv_bonus": gettext_lazy("stored value bonus"),
    "points_expire_on": gettext_lazy("points expire on"),
    "points_pending_until": gettext_lazy("points pending until"),
    "referrer_phone": gettext_lazy("referrer's phone"),
    "card_no": gettext_lazy("card number"),
    "growth_value": gettext_lazy("growth value"),
    "consent_at": gettext_lazy("consent given at"),
    "member_no": gettext_lazy("member number"),
    "tags": gettext_lazy("tags"),
}


def column_label(resource, field_name: str) -> str:
    """The export form's words for a column: the resource's own `labels`, the model field's verbose
    name, or COLUMN_LABELS; with the column's name in the file after it."""
    field = resource.fields.get(field_name)
    column = field.column_name if field else field_name
    label = getattr(resource, "labels", {}).get(field_name) or COLUMN_LABELS.get(field_name)
    model = getattr(getattr(resource, "_meta", None), "model", None)
    if label is None and model is not None:
        for name in ((field.attribute or "").split("__")[0] if field else "", field_name, column):
            try:
                label = model._meta.get_field(name).verbose_name
                break
            except FieldDoesNotExist:
                continue
    if label is None:
        label = field_name.replace("_", " ")
    return f"{capfirst(label)} ({column})"


class LabelledExportForm(SelectableFieldsExportForm):
    """django-import-export's export form with each column named in the user's language."""

    def _get_field_label(self, resource, field_name: str) -> str:
        return column_label(resource, field_name)


class ReadsUploads:
    """For an admin's ImportMixin: uploads read by the formats above, and a file that is no table
    refused on the upload form in words (django-import-export names the exception's class); the
    export form names its columns in the user's language (LabelledExportForm)."""

    import_formats = [CSVImport, XLSXImport]
    export_form_class = LabelledExportForm

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, UnreadableFile):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)
