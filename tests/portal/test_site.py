"""Sign-in, the site shell, health, translations and the heartbeat."""

from pathlib import Path
from unittest import mock

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.db.utils import OperationalError
from django.test import override_settings

from core.models import Heartbeat
from portal.tasks import heartbeat

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


def test_sign_in_page_is_chinese_by_default(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "员工登录" in html and "Staff sign-in" not in html


def test_sign_in_page_in_english_on_request(client):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Staff sign-in" in html and "员工登录" not in html


def test_language_switch_sets_the_language(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert "Staff sign-in" in client.get("/accounts/login/").content.decode()


def test_clerk_signs_in_and_sees_store_and_role(client, demo_staff):
    response = client.post("/accounts/login/", {"username": "clerk1", "password": "clerk1-demo"}, follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/counter/"  # a clerk's day starts at the counter
    assert "李导购" in html and "旗舰店 · 导购" in html


def test_wrong_password_says_so_and_stays_signed_out(client, demo_staff):
    response = client.post("/accounts/login/", {"username": "clerk1", "password": "wrong"})
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()
    assert client.get("/").status_code == 302


def test_a_manager_lands_on_the_home_page_with_their_sections(signed_in):
    html = signed_in("manager1").get("/").content.decode()
    assert 'href="/counter/"' in html and "报表" in html and 'href="/admin/"' not in html


def test_sign_out_needs_post_and_ends_the_session(signed_in):
    client = signed_in("clerk1")
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_every_message_is_translated_to_chinese():
    with open(ROOT / "locale/zh_Hans/LC_MESSAGES/django.po", "rb") as fh:
        catalog = read_po(fh)
    untranslated = [
        m.id
        for m in catalog
        if m.id and (not m.string or m.fuzzy or (isinstance(m.string, tuple) and not all(m.string)))
    ]
    assert untranslated == []
    assert len(catalog) > 20
    assert (ROOT / "locale/zh_Hans/LC_MESSAGES/django.mo").exists(), "run `make messages`"


def test_healthz_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok" and response.json()["broker"] == "ok"


def test_healthz_503_when_the_broker_is_down(client):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0", CELERY_BROKER_TRANSPORT_OPTIONS={}):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "down", "database": "ok", "broker": "down", "heartbeat": None}


def test_healthz_503_when_the_database_is_down(client):
    with mock.patch("portal.views.connection.cursor", side_effect=OperationalError("gone")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_heartbeat_records_each_beat_and_healthz_reports_it(client):
    heartbeat()
    heartbeat()
    row = Heartbeat.objects.get()
    assert row.beats == 2
    assert client.get("/healthz").json()["heartbeat"]["age_seconds"] >= 0


def test_heartbeat_schedule_is_in_the_database():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="heartbeat")
    assert task.task == "portal.tasks.heartbeat" and task.enabled
    assert task.interval.every == 60


def test_vendored_front_end_libraries_are_served_locally(client):
    html = client.get("/accounts/login/").content.decode()
    assert "/static/vendor/htmx-2.0.11.min.js" in html
    assert "//unpkg" not in html and "cdn" not in html.lower()


def test_favicon_ico_leads_to_the_icon_and_pages_name_it(client):
    """Browsers ask /favicon.ico where a page names no icon; it was a 404 (issue 31)."""
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("/static/img/favicon.ico")
    icon = Path(finders.find("img/favicon.ico")).read_bytes()
    assert icon[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    html = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/img/favicon.ico"' in html
    assert '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in html
