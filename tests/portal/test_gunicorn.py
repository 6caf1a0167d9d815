"""The project's gunicorn config under a parallel burst (issue 12): the master reads the database
for its deploy check before it forks, and a connection shared by the workers broke the first burst
(8 × 500 out of 40)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.authtoken.models import Token

from .gunicorn_run import get, gunicorn, log_text

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _staff_without_demo_passwords(demo_staff):
    for user in demo_staff.values():  # the deploy check refuses the published demo passwords
        user.set_password("not-the-demo-password-7781")
        user.save()
    return Token.objects.create(user=demo_staff["clerk1"]).key


def test_a_parallel_burst_of_lookups_gets_no_server_error(on_postgres, enrol, demo_staff, tmp_path):
    token = _staff_without_demo_passwords(demo_staff)
    members = [enrol(phone=f"1390000{i:04d}") for i in range(5)]
    with gunicorn(tmp_path, workers=3) as base:
        urls = [f"{base}/api/v1/members/lookup/?q={members[i % 5].phone}" if i % 4 else
                f"{base}/api/v1/members/{members[i % 5].member_no}/" for i in range(40)]
        with ThreadPoolExecutor(max_workers=40) as pool:
            results = list(pool.map(lambda u: get(u, {"Authorization": f"Token {token}"}), urls))
    statuses = [status for status, _body in results]
    assert statuses == [200] * 40, (statuses, log_text(tmp_path))
