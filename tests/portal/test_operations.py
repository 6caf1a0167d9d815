"""Operations (issue 16): API docs that work with the network cut, Prometheus metrics for the
operator only, JSON logs as an option, Celery logging through Django's, the health check behind
the SSL redirect."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import override_settings

from tests.portal.test_settings import STRONG_SECRET, run_python

pytestmark = pytest.mark.django_db


# --- /api/docs/ with the network cut ---------------------------------------------------
def external_references(html: str) -> list[str]:
    """Every absolute URL the page would load or link (src, href, url in scripts)."""
    return sorted(set(re.findall(r"""(?:https?:)?//[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}[^\s"'<>)]*""", html)))


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_api_docs_reference_no_external_host(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert external_references(html) == []
    # ...and what it does load is our own static files, which exist
    assets = re.findall(r'(?:src|href)="/static/([^"?]+)', html)
    assert any(a.endswith(".js") for a in assets), html
    for asset in assets:
        assert finders.find(asset), asset


def test_the_old_cdn_would_have_been_caught():
    assert external_references('<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/x.js">') != []


# --- Prometheus metrics ------------------------------------------------------------------
def test_metrics_count_requests_by_view_and_status(client):
    client.get("/healthz")
    client.get("/no-such-page/")
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert re.search(r'portal_http_requests_total\{method="GET",status="200",view="healthz"\} [1-9]', body)
    assert re.search(r'portal_http_requests_total\{method="GET",status="404",view="unresolved"\} [1-9]', body)
    assert 'portal_http_request_duration_seconds_bucket{le="0.005",method="GET",view="healthz"}' in body
    assert "portal_celery_tasks_total" in body


def test_metrics_are_for_the_operator_only(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    # loopback through a proxy on the same machine is not the operator
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404
    with override_settings(METRICS_TOKEN="s3cret-token-for-the-scraper"):
        assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
        ok = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token-for-the-scraper")
        assert ok.status_code == 200 and b"portal_http_requests_total" in ok.content
    with override_settings(METRICS_TOKEN=""):  # no token configured: no bearer gets in
        assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_task_outcomes_are_counted():
    from core import metrics
    from portal.celery import app

    @app.task(name="tests.ok_task")
    def ok_task():
        return 1

    @app.task(name="tests.failing_task")
    def failing_task():
        raise ValueError("boom")

    def count(task, outcome):
        return metrics.TASKS.labels(task, outcome)._value.get()

    before_ok, before_failed = count("tests.ok_task", "success"), count("tests.failing_task", "failure")
    ok_task.delay()
    failing_task.apply(throw=False)  # as in a worker: the error is recorded, not raised
    assert count("tests.ok_task", "success") == before_ok + 1
    assert count("tests.failing_task", "failure") == before_failed + 1


# --- logs -----------------------------------------------------------------------------------
LOG_ONE_LINE = (
    "import django, logging; django.setup(); logging.getLogger('portal.test').warning('stock low %s', 'S001')"
)


def test_json_logs_as_an_option(tmp_path):
    result = run_python(LOG_ONE_LINE, LOG_FORMAT="json", PORTAL_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["message"] == "stock low S001"
    assert record["level"] == "WARNING" and record["logger"] == "portal.test" and record["time"]


def test_plain_logs_by_default(tmp_path):
    result = run_python(LOG_ONE_LINE, PORTAL_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.endswith("WARNING portal.test stock low S001") and not line.startswith("{")


def test_celery_logs_through_djangos_configuration(tmp_path):
    """Celery's setup_logging is taken: the worker's loggers use settings.LOGGING (JSON here)."""
    result = run_python(
        "from portal.celery import app; from celery import signals;"
        "signals.setup_logging.send(sender=None, loglevel='INFO', logfile=None, format='', colorize=False);"
        "import logging; logging.getLogger('celery.worker').warning('worker says hi')",
        LOG_FORMAT="json",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["message"] == "worker says hi" and record["logger"] == "celery.worker"
    assert app_hijacks_no_root_logger(tmp_path)


def app_hijacks_no_root_logger(tmp_path) -> bool:
    result = run_python(
        "from portal.celery import app; print(app.conf.worker_hijack_root_logger)", PORTAL_VAR_DIR=str(tmp_path)
    )
    return result.stdout.strip() == "False"


# --- health check behind the SSL redirect ---------------------------------------------------
def test_healthz_is_not_redirected_to_https_in_production(tmp_path):
    result = run_python(
        "import django; django.setup(); from django.test import Client;"
        "c = Client(raise_request_exception=False); print(c.get('/healthz').status_code, c.get('/accounts/login/').status_code)",
        DEBUG="0",
        SECRET_KEY=STRONG_SECRET,
        ALLOWED_HOSTS="testserver",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    healthz, login = result.stdout.split()
    assert login == "301"  # everything else still goes to HTTPS
    assert healthz in ("200", "500", "503")  # answered, not redirected (this test has no database tables)


def test_metrics_are_served_to_their_token_over_plain_http_in_production(tmp_path):
    """Issue 30: Prometheus scrapes a web machine over plain HTTP; SECURE_SSL_REDIRECT sent it to https."""
    result = run_python(
        "import django; django.setup(); from django.core.management import call_command;"
        "call_command('migrate', verbosity=0); from django.test import Client;"
        "c = Client(REMOTE_ADDR='203.0.113.9');"
        "print(c.get('/metrics', HTTP_AUTHORIZATION='Bearer scrape-token-0123456789').status_code,"
        " c.get('/accounts/login/').status_code)",
        DEBUG="0",
        SECRET_KEY=STRONG_SECRET,
        ALLOWED_HOSTS="testserver",
        METRICS_TOKEN="scrape-token-0123456789",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "301"]  # the token reads over HTTP; everything else goes to HTTPS


def test_metrics_show_the_outbox_backlog_and_its_age(client, db):
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from core.models import OutboxEvent
    from core.outbox import flush_marks

    flush_marks()
    OutboxEvent.objects.all().delete()
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert re.search(r"^portal_outbox_backlog(\{[^}]*\})? 0\.0$", body, re.M)
    OutboxEvent.objects.create(
        id=uuid.uuid4(),
        type="member.enrolled",
        payload={"member_id": 1},
        occurred_at=timezone.now() - timedelta(minutes=5),
    )
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert re.search(r"^portal_outbox_backlog(\{[^}]*\})? 1\.0$", body, re.M)
    age = float(re.search(r"^portal_outbox_oldest_pending_seconds(?:\{[^}]*\})? (\S+)$", body, re.M).group(1))
    assert 290 < age < 400
