"""Property-based calls generated from the OpenAPI schema (/api/schema/): no 500s, and every
response matches the schema (status codes, content type, body)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from portal.wsgi import application

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def token(demo_staff, program, settings):
    from rest_framework.authtoken.models import Token

    from membership.models import Store
    from membership.services import enrolment

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"lookup": "10000/min", "lookup_ip": "10000/min", "write": "10000/min"},
    }
    enrolment.enrol(phone="13800138000", name="张三", store=Store.objects.get(code="S001"))
    return Token.objects.get_or_create(user=demo_staff["manager1"])[0].key


@pytest.fixture
def keep_test_connection():
    """Calls go straight to the WSGI app, not through Django's test client, so the request signals
    would close the test's database connection (inside its transaction) after each call; the test
    client unhooks them the same way."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_api_conforms_to_its_schema(token, keep_test_connection):
    # schemathesis's own pytest plugin does not run under pytest 9, so each operation's strategy
    # is driven with hypothesis directly
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    headers = {"Authorization": f"Token {token}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        call()
