"""R17 (issue 28): parallel sign-in attempts cannot pass the lockout limit: each attempt is counted
before its password is hashed, on PostgreSQL with real parallel requests."""

import threading
import time

import pytest
from django.contrib.auth import authenticate as django_authenticate
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_wrong_passwords_are_counted_before_hashing(on_postgres, demo_staff, monkeypatch):
    checked = []

    def slow_authenticate(request=None, **credentials):  # hashing takes its time: the window of the race
        checked.append(credentials["password"])
        time.sleep(0.3)
        return django_authenticate(request, **credentials)

    monkeypatch.setattr("membership.services.staff_signin.authenticate", slow_authenticate)
    n = 8
    barrier = threading.Barrier(n)
    statuses = [None] * n

    def attempt(i):
        try:
            barrier.wait()
            response = APIClient(REMOTE_ADDR="10.0.0.1").post(
                "/api/v1/auth/token/", {"username": "clerk1", "password": f"wrong-{i}"}, format="json"
            )
            statuses[i] = response.status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(checked) == 5  # the limit: the three past it were refused without a password check
    assert sorted(statuses).count(429) >= 3 and set(statuses) <= {400, 429}
    right = APIClient(REMOTE_ADDR="10.0.0.1").post(
        "/api/v1/auth/token/", {"username": "clerk1", "password": "clerk1-demo"}, format="json"
    )
    assert right.status_code == 429 and len(checked) == 5
    assert not Token.objects.filter(user=demo_staff["clerk1"]).exists()
