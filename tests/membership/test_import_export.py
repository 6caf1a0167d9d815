"""Member and card-stock import and export in admin (django-import-export): rows go through the
services, errors are reported per row, and a file with a bad row writes nothing unless the user
chose to skip bad rows (product.md, "Membership and cards", "What bad input gets")."""

import csv
import io
from datetime import date, datetime
from html import escape
from zoneinfo import ZoneInfo

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from membership import identity
from membership.models import AuditLog, Card, Member, TierChange
from membership.resources import CardStockResource, MemberResource
from membership.services import cards, enrolment

pytestmark = pytest.mark.django_db

MEMBER_IMPORT = "/admin/membership/member/import/"
MEMBER_PROCESS = "/admin/membership/member/process_import/"
CARD_IMPORT = "/admin/membership/card/import/"
CARD_PROCESS = "/admin/membership/card/process_import/"
CSV_FORMAT = "0"  # the import formats are CSV and XLSX, in that order
XLSX_FORMAT = "1"
SHANGHAI = ZoneInfo("Asia/Shanghai")

HEADER = "phone,name,gender,birthday,home_store,marketing_consent,joined_at\n"
GOOD_ROWS = "13811110001,甲,F,1990-05-20,S001,1,2024-03-01\n+86 138-1111-0002,乙,M,--07-08,S002,0,\n"
BAD_ROW = "12345,丙,,,S001,,\n"
FIXED_ROW = "13811110003,丙,,,S001,,\n"
FILE_PHONES = ["13811110001", "13811110002", "13811110003"]


@pytest.fixture
def hq(signed_in, program):
    client = signed_in("admin")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def en(message) -> str:
    with translation.override("en"):
        return str(message)


def upload(client, url, content, *, name="file.csv", fmt=CSV_FORMAT, skip=False):
    data = content.encode("utf-8") if isinstance(content, str) else content
    payload = {"import_file": SimpleUploadedFile(name, data), "format": fmt, "resource": "0"}
    if skip:
        payload["skip_invalid_rows"] = "on"
    return client.post(url, payload)


def confirm(client, url, preview):
    form = preview.context["confirm_form"]
    data = {name: form.initial.get(name) for name in form.fields}
    data["skip_invalid_rows"] = "on" if data.get("skip_invalid_rows") else ""
    return client.post(url, {k: v for k, v in data.items() if v is not None}, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def row_errors(result) -> dict[int, dict]:
    return {row.number: row.error_dict for row in result.invalid_rows}


# ---------------------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------------------


def test_member_import_with_one_bad_row_writes_nothing_and_reports_that_row(hq):
    members, cards_before, audits = Member.objects.count(), Card.objects.count(), AuditLog.objects.count()
    preview = upload(hq, MEMBER_IMPORT, HEADER + GOOD_ROWS + BAD_ROW)
    assert preview.status_code == 200
    result = preview.context["result"]
    assert row_errors(result) == {3: {"phone": [en(identity.MSG_PHONE)]}}  # the service's message
    assert "confirm_form" not in preview.context  # nothing to confirm: the file is refused
    body = preview.content.decode()
    assert escape(en(identity.MSG_PHONE)) in body
    assert "3 rows read: 2 valid, 1 with errors." in body
    assert (Member.objects.count(), Card.objects.count(), AuditLog.objects.count()) == (members, cards_before, audits)


def test_the_same_file_with_the_bad_row_fixed_imports_every_row_through_enrolment(hq, demo_staff):
    preview = upload(hq, MEMBER_IMPORT, HEADER + GOOD_ROWS + FIXED_ROW)
    assert preview.status_code == 200
    assert not preview.context["result"].has_validation_errors()
    assert "3 rows read: 3 valid, 0 with errors." in preview.content.decode()
    assert not Member.objects.filter(phone__in=FILE_PHONES).exists()  # the preview was a dry run

    done = confirm(hq, MEMBER_PROCESS, preview)
    assert done.status_code == 200
    assert done.redirect_chain[-1][0] == "/admin/membership/member/"
    assert any("3 new" in m for m in messages_of(done))

    imported = {m.phone: m for m in Member.objects.filter(phone__in=FILE_PHONES).select_related("home_store")}
    assert set(imported) == set(FILE_PHONES)  # '+86 138-1111-0002' normalised by the service
    for member in imported.values():
        assert member.channel == "import" and member.enrolled_by == demo_staff["admin"]
        card = member.cards.get()
        assert (card.kind, card.status) == (Card.Kind.VIRTUAL, Card.Status.ACTIVE)
        assert identity.is_valid_number(card.number)
        assert member.tier.code == "NORMAL"
        assert TierChange.objects.filter(member=member, reason=TierChange.Reason.ENROL).count() == 1
        assert AuditLog.objects.filter(action="member.enrol", member=member, data__channel="import").count() == 1
    first, second, third = (imported[p] for p in FILE_PHONES)
    assert (first.name, first.gender, first.birth_year, first.birth_month, first.birth_day) == ("甲", "F", 1990, 5, 20)
    assert first.marketing_consent and first.consent_at is not None
    assert first.joined_at == datetime(2024, 3, 1, tzinfo=SHANGHAI)
    assert (first.home_store.code, second.home_store.code) == ("S001", "S002")
    assert (second.birth_year, second.birth_month, second.birth_day) == (None, 7, 8)
    assert not second.marketing_consent
    assert (third.gender, third.birth_month) == ("U", None)


def test_phones_already_taken_or_repeated_in_the_file_are_the_services_error(hq, enrol):
    enrol(phone="13811110001")
    preview = upload(
        hq, MEMBER_IMPORT, HEADER + "13811110001,甲,F,,S001,1,\n13811110009,乙,,,S001,,\n138 1111 0009,丙,,,S002,,\n"
    )
    taken = {"phone": [en("This mobile number already belongs to a member.")]}
    assert row_errors(preview.context["result"]) == {1: taken, 3: taken}
    assert not Member.objects.filter(phone="13811110009").exists()


def test_each_bad_column_of_a_row_is_reported(hq):
    preview = upload(hq, MEMBER_IMPORT, HEADER + "13811110001,甲,X,1990-02-30,S999,maybe,2099-01-01\n")
    errors = row_errors(preview.context["result"])[1]
    assert set(errors) == {"birthday", "home_store", "marketing_consent", "joined_at"}
    assert errors["birthday"] == [en(enrolment.MSG_BIRTHDAY)]
    assert errors["home_store"] == ["No store has the code S999."]
    assert errors["joined_at"] == ["The joining time cannot be in the future."]
    # gender X passes the shape check and is refused by the service once the rest is right
    fixed = upload(hq, MEMBER_IMPORT, HEADER + "13811110001,甲,X,1990-02-28,S001,1,\n")
    assert row_errors(fixed.context["result"]) == {1: {"gender": [en("Gender is F, M or U.")]}}
    assert not Member.objects.filter(phone="13811110001").exists()


def test_a_file_without_the_required_columns_imports_nothing(hq):
    preview = upload(hq, MEMBER_IMPORT, "phone,name\n13811110001,甲\n")
    result = preview.context["result"]
    assert result.has_errors() and "confirm_form" not in preview.context
    assert "home_store" in str(result.base_errors[0].error)
    assert not Member.objects.filter(phone="13811110001").exists()


def test_skipping_bad_rows_imports_only_the_valid_rows_when_chosen(hq):
    preview = upload(hq, MEMBER_IMPORT, HEADER + GOOD_ROWS + BAD_ROW, skip=True)
    assert preview.status_code == 200
    assert row_errors(preview.context["result"]) == {3: {"phone": [en(identity.MSG_PHONE)]}}
    assert preview.context["confirm_form"].initial["skip_invalid_rows"] is True
    done = confirm(hq, MEMBER_PROCESS, preview)
    assert set(Member.objects.filter(phone__in=FILE_PHONES).values_list("phone", flat=True)) == set(FILE_PHONES[:2])
    notes = messages_of(done)
    assert any("2 new" in m for m in notes)
    assert any("1 row with errors was left out" in m and "row 3" in m for m in notes)


def test_a_row_that_fails_between_preview_and_confirm_rolls_back_the_whole_file(hq, enrol):
    preview = upload(hq, MEMBER_IMPORT, HEADER + GOOD_ROWS + FIXED_ROW)
    assert "confirm_form" in preview.context
    enrol(phone="13811110002")  # enrolled at a counter meanwhile
    done = confirm(hq, MEMBER_PROCESS, preview)
    assert done.redirect_chain[-1][0] == MEMBER_IMPORT
    [note] = messages_of(done)
    assert note.startswith("Nothing was imported.") and "row 2" in note
    assert list(Member.objects.filter(phone__in=FILE_PHONES).values_list("phone", flat=True)) == ["13811110002"]


def test_member_import_reads_excel_files(hq):
    book = tablib.Dataset(
        headers=["phone", "name", "gender", "birthday", "home_store", "marketing_consent", "joined_at"]
    )
    book.append([13811110001, "甲", "F", date(1991, 1, 2), "S001", 1, datetime(2023, 6, 1, 9, 30)])
    preview = upload(hq, MEMBER_IMPORT, book.export("xlsx"), name="members.xlsx", fmt=XLSX_FORMAT)
    assert not preview.context["result"].has_validation_errors(), row_errors(preview.context["result"])
    confirm(hq, MEMBER_PROCESS, preview)
    member = Member.objects.get(phone="13811110001")
    assert (member.birth_year, member.birth_month, member.birth_day, member.channel) == (1991, 1, 2, "import")
    assert member.joined_at == datetime(2023, 6, 1, 9, 30, tzinfo=SHANGHAI)


def test_the_resource_alone_also_writes_nothing_for_a_failed_batch(demo_staff, program):
    dataset = tablib.Dataset()
    dataset.csv = HEADER + GOOD_ROWS + BAD_ROW
    result = MemberResource().import_data(dataset, user=demo_staff["admin"])
    assert result.has_validation_errors()
    assert not Member.objects.filter(phone__in=FILE_PHONES).exists()


def test_the_import_page_explains_the_file_and_shows_progress(hq):
    page = hq.get(MEMBER_IMPORT)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="import-progress"' in body and "<progress" in body
    assert "--MM-DD" in body and 'name="skip_invalid_rows"' in body
    for column in ("phone", "home_store", "marketing_consent", "joined_at"):
        assert column in body


def test_member_export_has_number_phone_tier_store_points_stored_value_and_joined(hq, enrol, demo_staff):
    from decimal import Decimal

    from membership.services import points, stored_value

    member = enrol(phone="13811110001", name="甲")
    points.adjust(member=member, points=120, reason="seed", acting_user=demo_staff["admin"])
    stored_value.top_up(member=member, amount=Decimal("300"), acting_user=demo_staff["clerk1"])
    form = hq.get("/admin/membership/member/export/").context["form"]
    data = {"format": CSV_FORMAT, "resource": "0"}
    data.update({name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)})
    response = hq.post("/admin/membership/member/export/", data)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0]) == ["member_no", "phone", "name", "tier", "home_store", "points", "sv", "joined_at"]
    row = next(r for r in rows if r["member_no"] == member.member_no)
    assert (row["phone"], row["name"], row["tier"], row["home_store"], row["points"], row["sv"]) == (
        "13811110001",
        "甲",
        "NORMAL",
        "S001",
        "220",
        "340.00",
    )  # TOPUP300: ¥300 + ¥40 and 100 points


def test_clerks_and_managers_cannot_import_or_export(signed_in, program):
    for username in ("clerk1", "manager1"):
        client = signed_in(username)
        for url in (MEMBER_IMPORT, "/admin/membership/member/export/", CARD_IMPORT):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]


# ---------------------------------------------------------------------------------------
# Card stock
# ---------------------------------------------------------------------------------------


def card_number(payload: str) -> str:
    return payload + identity.luhn_check_digit(payload)


def test_card_stock_import_rejects_a_bad_check_digit_and_writes_nothing(hq):
    good = card_number("620000000001")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    preview = upload(hq, CARD_IMPORT, f"number,batch\n{good},B2026-01\n{bad},B2026-01\n,B2026-01\n")
    assert preview.status_code == 200
    format_error = {"number": [en(cards.MSG_CARD_FORMAT)]}
    assert row_errors(preview.context["result"]) == {2: format_error, 3: format_error}
    assert "confirm_form" not in preview.context
    assert not Card.objects.filter(number=good).exists()


def test_card_stock_import_adds_physical_cards_to_stock(hq, enrol):
    numbers = [card_number(f"62000000000{n}") for n in range(1, 4)]
    spaced = f"{numbers[2][:4]} {numbers[2][4:]}"  # as printed on the card
    content = "number,batch\n" + "".join(f"{n},B2026-02\n" for n in numbers[:2]) + f"{spaced},B2026-02\n"
    preview = upload(hq, CARD_IMPORT, content)
    assert not preview.context["result"].has_validation_errors()
    assert not Card.objects.filter(number__in=numbers).exists()
    done = confirm(hq, CARD_PROCESS, preview)
    assert any("3 new" in m for m in messages_of(done))
    stock = Card.objects.filter(number__in=numbers)
    assert stock.count() == 3
    assert set(stock.values_list("kind", "status", "batch", "member")) == {("physical", "stock", "B2026-02", None)}
    # the stock card is then bound at the counter by the service
    member = enrol(phone="13811110001", card_no=numbers[0])
    assert Card.objects.get(number=numbers[0]).member == member


def test_card_stock_import_refuses_numbers_already_known(hq):
    number = card_number("620000000009")
    cards.add_stock([number], batch="B2025-12")
    fresh = card_number("620000000010")
    preview = upload(hq, CARD_IMPORT, f"number,batch\n{fresh},B2026-03\n{number},B2026-03\n{fresh},B2026-03\n")
    errors = row_errors(preview.context["result"])
    assert set(errors) == {2, 3}
    assert errors[2]["number"] == [en("These cards exist already: %s") % number]
    assert not Card.objects.filter(number=fresh).exists()


def test_card_stock_needs_a_batch(hq):
    preview = upload(hq, CARD_IMPORT, f"number,batch\n{card_number('620000000011')},\n")
    assert row_errors(preview.context["result"]) == {1: {"batch": ["Give the stock batch."]}}


def test_card_stock_resource_alone_writes_nothing_for_a_failed_batch(demo_staff):
    dataset = tablib.Dataset(headers=["number", "batch"])
    dataset.append([card_number("620000000012"), "B1"])
    dataset.append(["1234", "B1"])
    result = CardStockResource().import_data(dataset, user=demo_staff["admin"])
    assert result.has_validation_errors()
    assert not Card.objects.filter(batch="B1").exists()


def test_card_export_lists_numbers_status_and_members(hq, enrol):
    member = enrol(phone="13811110001")
    cards.add_stock([card_number("620000000013")], batch="B9")
    form = hq.get("/admin/membership/card/export/").context["form"]
    data = {"format": CSV_FORMAT, "resource": "0"}
    data.update({name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)})
    response = hq.post("/admin/membership/card/export/", data)
    assert response.status_code == 200
    rows = {r["number"]: r for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    virtual = member.cards.get()
    assert rows[virtual.number]["member_no"] == member.member_no and rows[virtual.number]["status"] == "active"
    assert rows[card_number("620000000013")]["batch"] == "B9"
    assert rows[card_number("620000000013")]["member_no"] == ""


def test_a_closed_membership_leaves_no_personal_data_in_the_export_or_on_the_member_pages(hq, enrol, demo_staff):
    from django.contrib.auth.hashers import make_password
    from django.test import Client

    from membership.ledger import discrepancies
    from membership.models import Member
    from membership.services import enrolment, points

    member = enrol(phone="13811119999", name="待注销", birthday="1990-05-20")
    points.adjust(member=member, points=50, reason="seed", acting_user=demo_staff["admin"])
    Member.objects.filter(pk=member.pk).update(password=make_password("pw-123456"))
    enrolment.close(member=member, reason="asked", acting_user=demo_staff["manager1"])
    form = hq.get("/admin/membership/member/export/").context["form"]
    data = {"format": CSV_FORMAT, "resource": "0"}
    data.update({name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)})
    exported = hq.post("/admin/membership/member/export/", data).content.decode("utf-8-sig")
    assert "13811119999" not in exported and "待注销" not in exported
    mobile = Client()
    assert mobile.post("/m/login/", {"phone": "13811119999", "password": "pw-123456"}).status_code != 302
    assert Member.objects.get(pk=member.pk).points_balance == 50 and discrepancies() == []
