"""The member file as HQ has it (issue 28, R11, R12, R19): encodings Excel writes (GBK/GB18030,
UTF-16), files that are no table, absurd numbers, huge cells, year-1 dates, long names and XLSX
formulas are read or refused with row and column errors (or one file-level error), never a
traceback; the card import reads the same encodings."""

import io
import re
import zipfile
from datetime import date

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from membership import migration
from membership.ledger import discrepancies
from membership.models import Card, Member, MemberImportJob

from .test_import_export import CARD_IMPORT, CARD_PROCESS, MEMBER_IMPORT, XLSX_FORMAT, confirm, upload
from .test_import_export import card_number as stock_number
from .test_migration import HEADER, NEXT_YEAR, good_file, line, state

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def hq(signed_in, program):
    client = signed_in("admin")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def run_bytes(data: bytes, name: str = "members.csv", **options) -> migration.Result:
    options.setdefault("tier_floor_until", date(NEXT_YEAR, 12, 31))
    return migration.import_file(io.BytesIO(data), name, **options)


def errors_of(result) -> dict:
    return {(number, column): message for number, column, message in result.errors}


def imported_as_the_utf8_file(data: bytes, name: str = "members.csv") -> None:
    result = run_bytes(data, name)
    assert result.base_errors == [] and result.errors == [] and result.committed
    first = Member.objects.get(phone="13911110001")
    assert (first.name, first.points_balance) == ("甲", 700)
    assert set(first.tags.values_list("name", flat=True)) == {"VIP", "老客"}
    assert Member.objects.get(phone="13911110002").name == "乙"
    assert discrepancies() == []


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_a_gbk_or_gb18030_file_from_excel_on_chinese_windows_is_read_as_such(program, encoding):
    imported_as_the_utf8_file(good_file().encode(encoding))


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),  # a BOM, then little-endian
        lambda text: b"\xfe\xff" + text.replace(",", "\t").encode("utf-16-be"),  # Excel's "Unicode text": tabs
    ],
    ids=["utf-16-le-comma", "utf-16-be-tab"],
)
def test_a_utf16_file_with_bom_is_read_comma_or_tab_separated(program, encode):
    imported_as_the_utf8_file(encode(good_file()))


def test_utf8_with_a_bom_still_reads(program):
    imported_as_the_utf8_file(b"\xef\xbb\xbf" + good_file().encode())


def test_a_file_in_no_known_encoding_is_one_clear_error(program):
    before = state()
    data = HEADER.encode() + line(phone="13911110001", home_store="S001", name="甲").encode("gbk") + b"\xff\xfe\x80\n"
    result = run_bytes(data)
    assert state() == before and result.errors == [] and not result.committed
    assert [str(e) for e in result.base_errors] == [
        "The file's characters are neither UTF-8, UTF-16 nor GB18030 (GBK): save it as CSV UTF-8 or as XLSX."
    ]


# ---------------------------------------------------------------- files that are no table


@pytest.mark.parametrize("kind", ["png", "zip", "xlsx"])
def test_a_picture_or_zip_renamed_csv_is_one_clear_error(program, tmp_path, kind):
    if kind == "png":
        data = PNG
    else:
        buffer = io.BytesIO()
        if kind == "zip":
            with zipfile.ZipFile(buffer, "w") as z:
                z.writestr("members.csv", good_file())
        else:
            workbook().save(buffer)
        data = buffer.getvalue()
    before = state()
    result = run_bytes(data, "members.csv")
    assert state() == before and not result.committed
    assert [str(e) for e in result.base_errors] == [
        "The file is not CSV text (it holds a picture, a ZIP or an Excel workbook): save it as CSV or as XLSX, "
        "and upload an Excel workbook with its .xlsx name."
    ]
    path = tmp_path / "members.csv"
    path.write_bytes(data)
    out = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_members", str(path), stdout=out, stderr=io.StringIO())
    assert "error: The file is not CSV text" in out.getvalue()


def test_a_file_named_xlsx_that_is_no_workbook_is_one_clear_error(program):
    for data in (PNG, good_file().encode()):
        result = run_bytes(data, "members.xlsx")
        assert [str(e) for e in result.base_errors] == [
            "The file is not an Excel workbook (XLSX): save it as XLSX or CSV."
        ]
        assert not result.committed


def test_the_background_import_reports_a_picture_instead_of_failing(program, demo_staff):
    from membership.migration import run_job

    job = MemberImportJob.objects.create(file=ContentFile(PNG, name="members.csv"), created_by=demo_staff["admin"])
    state_ = run_job(job.pk)
    job.refresh_from_db()
    assert job.status == MemberImportJob.Status.DONE
    assert state_["base_errors"][0].startswith("The file is not CSV text")


# ---------------------------------------------------------------- huge cells


def test_a_10_mb_cell_in_a_csv_is_one_error_naming_its_line(program):
    before = state()
    data = (
        HEADER
        + line(phone="13911110001", home_store="S001")
        + line(phone="13911110002", home_store="S001", name="x" * 10_000_000)
    ).encode()
    result = run_bytes(data)
    assert state() == before and not result.committed
    assert [str(e) for e in result.base_errors] == [
        'Line 3 of the file cannot be read: a cell is longer than 131072 characters, or a quote (") is left '
        "open. Check the file around that line."
    ]


def test_a_cell_longer_than_any_column_takes_is_its_columns_error(program):
    long = "1" * 5000
    result = run_bytes(
        (HEADER + line(phone="13911110001", home_store=long, tags="VIP;" + "x" * 5000, card_no=long)).encode()
    )
    assert not result.committed and result.base_errors == []
    assert errors_of(result) == {
        (1, "card_no"): "This cell holds 5000 characters; a cell of this column holds at most 1000.",
        (1, "home_store"): "This cell holds 5000 characters; a cell of this column holds at most 1000.",
        (1, "tags"): "This cell holds 5004 characters; a cell of this column holds at most 1000.",
    }
    assert all(len(message) < 200 for message in errors_of(result).values())  # the cell is not repeated


# ---------------------------------------------------------------- numbers out of range


TOO_MANY_POINTS = "Enter a whole number of at most 2147483647."
TOO_MUCH_MONEY = "Enter an amount of at most 9999999999.99."
TOO_LONG_5000 = "This cell holds 5000 characters; a cell of this column holds at most 1000."


@pytest.mark.parametrize(
    "cells, errors",
    [
        (dict(points="99999999999999999999"), {(1, "points"): TOO_MANY_POINTS}),
        (dict(points="2147483648"), {(1, "points"): TOO_MANY_POINTS}),
        (dict(growth_value="2147483648"), {(1, "growth_value"): TOO_MANY_POINTS}),
        (dict(sv_principal="1" + "0" * 30), {(1, "sv_principal"): TOO_MUCH_MONEY}),
        (dict(sv_bonus="10000000000.00"), {(1, "sv_bonus"): TOO_MUCH_MONEY}),
        (dict(points="9" * 5000), {(1, "points"): TOO_LONG_5000}),
    ],
)
def test_absurd_points_and_amounts_are_row_errors_not_a_database_error(program, cells, errors):
    """Each row alone: before, PostgreSQL's COPY refused it (integer out of range, numeric field
    overflow) and SQLite raised OverflowError, both as a traceback."""
    before = state()
    result = run_bytes((HEADER + line(phone="13911110001", home_store="S001", **cells)).encode())
    assert state() == before and not result.committed
    assert errors_of(result) == errors


def test_the_largest_points_and_amounts_import(program):
    result = run_bytes(
        (
            HEADER + line(phone="13911110004", home_store="S001", points="2147483647", sv_principal="9999999999.99")
        ).encode()
    )
    assert result.errors == [] and result.committed
    member = Member.objects.get(phone="13911110004")
    assert (member.points_balance, str(member.sv_principal)) == (2147483647, "9999999999.99")


def test_a_spreadsheets_1e30_is_an_error_of_its_column(program):
    book = workbook([dict(phone="13911110001", home_store="S001", sv_principal=1e30, points=1e20)])
    result = run_xlsx(book)
    assert not result.committed
    assert errors_of(result) == {
        (1, "points"): "Enter a whole number of at most 2147483647.",
        (1, "sv_principal"): "Enter an amount of at most 9999999999.99.",
    }


def test_a_members_lots_adding_up_past_the_balances_range_are_refused_on_the_row_that_passes_it(program):
    before = state()
    rows = [
        line(member_no="M1", phone="13911110001", home_store="S001", points=2_000_000_000, sv_principal="6000000000"),
        line(member_no="M1", phone="13911110001", home_store="S001", points=100_000_000),
        line(member_no="M1", phone="13911110001", home_store="S001", points=100_000_000, sv_principal="4000000000"),
    ]
    result = run_bytes((HEADER + "".join(rows)).encode())
    assert state() == before and not result.committed
    assert errors_of(result) == {
        (3, "points"): "The member's points in this file add up to more than 2147483647.",
        (3, "sv_principal"): "The member's stored value in this file adds up to more than 9999999999.99.",
    }


# ---------------------------------------------------------------- dates and names


@pytest.mark.parametrize(
    "cells, column",
    [
        (dict(joined_at="0001-01-01"), "joined_at"),
        (dict(marketing_consent="1", consent_at="0001-01-01 00:00"), "consent_at"),
        (dict(points=5, points_pending_until="0001-01-01"), "points_pending_until"),
        (dict(points=5, points_expire_on="0001-01-01"), "points_expire_on"),
        (dict(joined_at="1899-12-31 23:59"), "joined_at"),
    ],
)
def test_year_1_dates_are_row_errors(program, cells, column):
    """Each row alone: before, a year-1 time was an OverflowError on SQLite (out of range once moved to UTC)."""
    before = state()
    result = run_bytes((HEADER + line(phone="13911110001", home_store="S001", **cells)).encode())
    assert state() == before and not result.committed
    assert errors_of(result) == {(1, column): "Enter a date in 1900 or later."}


def test_a_name_longer_than_50_characters_is_a_row_error_not_cut(program):
    before = state()
    result = run_bytes((HEADER + line(phone="13911110001", home_store="S001", name="张" * 51)).encode())
    assert state() == before and not result.committed
    assert errors_of(result) == {(1, "name"): "A name is at most 50 characters."}
    assert run_bytes((HEADER + line(phone="13911110001", home_store="S001", name="张" * 50)).encode()).committed
    assert Member.objects.get(phone="13911110001").name == "张" * 50


# ---------------------------------------------------------------- XLSX formulas (R19)


def workbook(rows=()) -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(migration.COLUMNS))
    for cells in rows:
        sheet.append([cells.get(c) for c in migration.COLUMNS])
    return book


def xlsx_bytes(book, cached: dict | None = None) -> bytes:
    """The workbook's file; `cached` gives formula cells (by reference) the result a spreadsheet
    program saves with them (openpyxl writes none)."""
    buffer = io.BytesIO()
    book.save(buffer)
    if not cached:
        return buffer.getvalue()
    source, out = zipfile.ZipFile(buffer), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                for ref, value in cached.items():
                    data = re.sub(
                        rf'(<c r="{ref}"[^>]*><f>[^<]*</f>)<v ?/>'.encode(), rf"\1<v>{value}</v>".encode(), data
                    )
            target.writestr(item, data)
    return out.getvalue()


def run_xlsx(book, cached=None, **options):
    return run_bytes(xlsx_bytes(book, cached), "members.xlsx", **options)


def column_ref(column: str, row: int) -> str:
    return openpyxl.utils.get_column_letter(migration.COLUMNS.index(column) + 1) + str(row)


def test_a_formula_with_no_saved_result_is_an_error_of_its_cell(program):
    book = workbook([dict(phone="13911110001", home_store="S001", points="=200+300", sv_principal="=10*3")])
    result = run_xlsx(book)
    assert not result.committed
    message = "The cell holds a formula with no saved result: paste its values (Paste Special, Values) and save again."
    assert errors_of(result) == {(1, "points"): message, (1, "sv_principal"): message}


def test_a_formulas_saved_result_is_read_as_excel_shows_it(program):
    book = workbook([dict(phone="13911110001", home_store="S001", points="=200+300", sv_principal="=10*3")])
    result = run_xlsx(book, cached={column_ref("points", 2): 500, column_ref("sv_principal", 2): 30})
    assert result.errors == [] and result.committed
    member = Member.objects.get(phone="13911110001")
    assert (member.points_balance, str(member.sv_principal)) == (500, "30.00")


def test_text_that_starts_with_an_equals_sign_is_text_not_a_formula(program):
    book = workbook([dict(phone="13911110001", home_store="S001", name="=甲")])
    book.active["C2"].data_type = "s"  # a text cell
    result = run_xlsx(book)
    assert result.errors == [] and Member.objects.get(phone="13911110001").name == "=甲"


def test_the_admin_member_import_reports_a_formula_cell(hq):
    book = openpyxl.Workbook()
    book.active.append(["phone", "name", "gender", "birthday", "home_store", "marketing_consent", "joined_at"])
    book.active.append(["13811110001", "甲", "F", None, "=A1", 1, None])
    preview = upload(hq, MEMBER_IMPORT, xlsx_bytes(book), name="members.xlsx", fmt=XLSX_FORMAT)
    errors = {row.number: row.error_dict for row in preview.context["result"].invalid_rows}
    assert errors == {
        1: {
            "home_store": [
                "The cell holds a formula with no saved result: paste its values (Paste Special, Values) and save again."
            ]
        }
    }


# ---------------------------------------------------------------- the admin's imports, members and cards


def test_the_card_import_reads_gbk_and_utf16_files(hq):
    numbers = [stock_number(f"62000000000{n}") for n in range(1, 4)]
    for number, encoding in zip(numbers, ("gbk", "utf-16", "utf-8-sig")):
        preview = upload(hq, CARD_IMPORT, f"number,batch\n{number},二〇二六年一批\n".encode(encoding))
        assert not preview.context["result"].has_validation_errors(), encoding
        confirm(hq, CARD_PROCESS, preview)
        assert Card.objects.get(number=number).batch == "二〇二六年一批", encoding


def test_the_admin_member_import_reads_a_gbk_file_and_refuses_a_picture_in_words(hq):
    preview = upload(hq, MEMBER_IMPORT, "phone,name,home_store\n13811110001,甲,S001\n".encode("gbk"))
    assert not preview.context["result"].has_validation_errors()
    confirm(hq, "/admin/membership/member/process_import/", preview)
    assert Member.objects.get(phone="13811110001").name == "甲"
    page = upload(hq, MEMBER_IMPORT, PNG)
    assert page.status_code == 200 and "result" not in page.context
    assert page.context["form"].errors["import_file"] == [
        "The file is not CSV text (it holds a picture, a ZIP or an Excel workbook): save it as CSV or as XLSX, "
        "and upload an Excel workbook with its .xlsx name."
    ]
    page = upload(hq, MEMBER_IMPORT, ("phone,name,home_store\n13811110002," + "x" * 200_000 + ",S001\n").encode())
    assert page.context["form"].errors["import_file"][0].startswith("Line 2 of the file cannot be read")


def test_the_card_import_reports_a_formula_cell(hq):
    book = openpyxl.Workbook()
    book.active.append(["number", "batch"])
    book.active.append(["=A1", "B2026-01"])
    preview = upload(hq, CARD_IMPORT, xlsx_bytes(book), name="cards.xlsx", fmt=XLSX_FORMAT)
    errors = {row.number: row.error_dict for row in preview.context["result"].invalid_rows}
    assert errors == {
        1: {
            "number": [
                "The cell holds a formula with no saved result: paste its values (Paste Special, Values) and save again."
            ]
        }
    }


def test_the_targets_import_reads_a_utf16_file(hq):
    content = "store,month,new_members,member_sales,repurchase_rate\nS001,2026-03,40,12000.00,35\n"
    preview = upload(hq, "/admin/analytics/target/import/", content.encode("utf-16"))
    assert not preview.context["form"].errors
    assert not preview.context["result"].has_validation_errors()


def test_the_errors_read_in_chinese(program):
    with translation.override("zh-hans"):
        result = run_bytes(PNG)
        assert str(result.base_errors[0]).startswith("文件不是 CSV 文本")
        result = run_bytes((HEADER + line(phone="13911110001", home_store="S001", points="2147483648")).encode())
        assert errors_of(result) == {(1, "points"): "请输入不超过 2147483647 的整数。"}
