"""Hostile input against the API and the pages (issue 12): each is a 4xx (in pos-api.md's envelope
on /api/, naming the field), never a 500, and nothing is stored."""

import json

import pytest
from django.test import Client, override_settings

from membership.models import Member
from pos.models import Sale

pytestmark = pytest.mark.django_db


def error(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def post_raw(client, path, body: str | bytes, content_type="application/json"):
    return client.post(path, body, content_type=content_type)


def test_json_nested_1000_deep_is_400_and_stores_nothing(api):
    body = '{"receipt_no": "R1", "amount": "10.00", "lines": ' + "[" * 1000 + "]" * 1000 + "}"
    err = error(post_raw(api("clerk1"), "/api/v1/sales/", body), 400)
    assert err["code"] == "invalid" and list(err["fields"]) == ["lines"] and "10" in err["message"]
    assert not Sale.objects.exists()


def test_json_nested_just_too_deep_names_the_field(api):
    body = {"phone": "13800138000", "name": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {}}}}}}}}}}}
    err = error(api("clerk1").post("/api/v1/members/", body, format="json"), 400)
    assert err["code"] == "invalid" and list(err["fields"]) == ["name"]
    assert not Member.objects.exists()


@override_settings(API_MAX_BODY_BYTES=1000)
def test_a_body_over_the_limit_is_413(api):
    body = json.dumps({"phone": "13800138000", "name": "x" * 2000})
    err = error(post_raw(api("clerk1"), "/api/v1/members/", body), 413)
    assert err["code"] == "too_large" and "1000" in err["message"]
    assert not Member.objects.exists()


def test_a_body_over_djangos_upload_limit_is_413_in_the_envelope(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api("clerk1").post("/api/v1/members/", {"phone": "13800138000", "name": "x" * 500})
    err = error(response, 413)  # a form body: Django's own limit, answered by the /api/ 400 handler
    assert err["code"] == "too_large"
    assert not Member.objects.exists()


def test_malformed_json_is_400_in_the_envelope(api):
    err = error(post_raw(api("clerk1"), "/api/v1/sales/", '{"receipt_no": "R1", "amount": '), 400)
    assert err["code"] == "invalid"
    err = error(post_raw(api("clerk1"), "/api/v1/sales/", '{"receipt_no": "R1", "amount": NaN}'), 400)
    assert err["code"] == "invalid"
    assert not Sale.objects.exists()


@pytest.mark.parametrize(
    "field,value",
    [("name", "张\x00三"), ("name", "bad\x1bname"), ("phone", "138\x0000138000"), ("referral_code", "AB\x07CD")],
)
def test_control_characters_in_a_field_are_400_naming_it(api, field, value):
    body = {"phone": "13800138000", "name": "张三", field: value}
    err = error(api("clerk1").post("/api/v1/members/", body, format="json"), 400)
    assert err["code"] == "invalid" and field in err["fields"]
    assert not Member.objects.exists()


def test_control_characters_in_a_sale_line_name_the_line(api):
    body = {"receipt_no": "R1", "amount": "10.00", "lines": [{"sku": "A\x001", "amount": "10.00"}]}
    err = error(api("clerk1").post("/api/v1/sales/", body, format="json"), 400)
    assert "lines[0].sku" in err["fields"]
    assert not Sale.objects.exists()


def test_nul_in_an_api_path_is_404_and_in_a_query_400(api):
    err = error(api("clerk1").get("/api/v1/members/%00/"), 404)
    assert err["code"] == "not_found"
    err = error(api("clerk1").get("/api/v1/members/lookup/?q=%00"), 400)
    assert err["code"] == "invalid" and "q" in err["fields"]


def test_nul_in_page_paths_and_queries_is_4xx(signed_in, program):
    clerk = signed_in("clerk1")
    assert clerk.get("/counter/?m=%00").status_code == 400
    assert clerk.get("/counter/lookup/?q=1380013%1f8000").status_code == 400
    assert Client().get("/m/join/%00/").status_code == 404
    assert Client().post("/m/login/", {"phone": "13800138000\x00", "password": "x"}).status_code == 400


def test_unknown_api_path_wrong_method_are_in_the_envelope(api):
    assert error(api("clerk1").get("/api/v1/nothing-here/"), 404)["code"] == "not_found"
    assert error(api().get("/api/nothing/"), 404)["code"] == "not_found"
    assert error(api("clerk1").put("/api/v1/sales/", {}, format="json"), 405)["code"] == "method_not_allowed"


def test_unknown_api_paths_are_in_the_envelope_with_debug_on_too(api, settings):
    """Issue 31: with DEBUG on (what `make run` gives) Django answered its HTML debug page."""
    settings.DEBUG = True
    for path in ("/api/v1/nothing-here/", "/api/nothing/", "/api/v2/members/"):
        answer = api("clerk1").get(path)
        assert answer["Content-Type"].startswith("application/json"), path
        assert error(answer, 404)["code"] == "not_found"
    assert api("clerk1").get("/api/v1/members/lookup").status_code == 301  # the slash redirect stands
    assert "text/html" in Client().get("/no-such-page/")["Content-Type"]  # pages keep Django's page


def test_a_server_error_on_the_api_is_500_in_the_envelope(api, monkeypatch):
    from membership import selectors

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(selectors, "lookup_summary", broken)  # what the lookup view calls
    client = api("clerk1")
    client.raise_request_exception = False
    err = error(client.get("/api/v1/members/lookup/?q=13800138000"), 500)
    assert err["code"] == "server_error" and "database" not in err["message"]


@pytest.mark.parametrize("kind", ["database", "redis", "broker"])
def test_an_unreachable_dependency_is_503_with_retry_after(api, client, demo_staff, monkeypatch, kind):
    """Issue 28, R2: a database, cache or broker that cannot be reached is not a bug in the request:
    503 with Retry-After, which the offline counter treats like a network cut (it queues)."""
    import django.db
    import kombu.exceptions
    import redis.exceptions

    from membership import selectors

    errors = {
        "database": django.db.OperationalError("could not connect to server"),
        "redis": redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        "broker": kombu.exceptions.OperationalError("Connection refused"),
    }

    def broken(*args, **kwargs):
        raise errors[kind]

    monkeypatch.setattr(selectors, "lookup_summary", broken)  # the API's lookup
    monkeypatch.setattr(selectors, "find_members", broken)  # the counter's
    till = api("clerk1")
    till.raise_request_exception = False
    response = till.get("/api/v1/members/lookup/?q=13800138000")
    err = error(response, 503)
    assert err["code"] == "unavailable" and "6379" not in err["message"]
    assert int(response["Retry-After"]) > 0
    client.raise_request_exception = False
    client.force_login(demo_staff["clerk1"])
    page = client.get("/counter/lookup/?q=13800138000", HTTP_HX_REQUEST="true")
    assert page.status_code == 503 and int(page["Retry-After"]) > 0


def test_full_width_digits_are_the_same_phone(api):
    clerk = api("clerk1")
    first = clerk.post("/api/v1/members/", {"phone": "13800138000", "name": "A"}, format="json")
    assert first.status_code == 201
    again = clerk.post("/api/v1/members/", {"phone": "138００138000", "name": "B"}, format="json")
    assert error(again, 409)["code"] == "phone_taken"
    wide = clerk.post("/api/v1/members/", {"phone": "＋８６ １３９００１３９０００", "name": "C"}, format="json")
    assert wide.status_code == 201
    assert sorted(Member.objects.values_list("phone", flat=True)) == ["13800138000", "13900139000"]
    found = clerk.get("/api/v1/members/lookup/", {"q": "１３９００１３９０００"})
    assert found.status_code == 200 and found.json()["member_no"] == wide.json()["member_no"]


def test_other_unicode_digits_are_not_a_phone(api):
    err = error(api("clerk1").post("/api/v1/members/", {"phone": "١٣٨٠٠١٣٨٠٠٠", "name": "A"}, format="json"), 400)
    assert "phone" in err["fields"]
    assert not Member.objects.exists()


def test_api_errors_are_json_even_for_a_browser(api):
    browser = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert error(api().get("/api/v1/members/lookup/?q=1", **browser), 401)["code"] == "unauthenticated"
    assert error(api("clerk1").get("/api/v1/members/lookup/?q=13900000000", **browser), 404)["code"] == "not_found"
    assert error(api("clerk1").post("/api/v1/sales/", "{", content_type="application/json", **browser), 400)
