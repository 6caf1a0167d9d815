"""PgBouncer in transaction mode (issue 30): each transaction of a client may run on another server
connection, so nothing may outlive a transaction on the server. Through a real PgBouncer (Debian's
package; the test starts its own on a free loopback port, in front of the test database), with
DATABASE_POOLER=pgbouncer the till's sales, `check_ledger`, the member export and the expiry notices
work; without it, the ledger check's `.iterator()` cursor is fetched on a server that never declared it,
and the statements psycopg prepares on one client's server are found by another's."""

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from .gunicorn_run import ROOT, free_port, gunicorn, log_text, post_json

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

POOL_SIZE = 2


class Bouncer:
    def __init__(self, port: int, log: Path):
        self.port, self.log = port, log

    @property
    def url(self) -> str:
        d = connection.settings_dict
        return f"postgres://{d['USER']}:{d['PASSWORD']}@127.0.0.1:{self.port}/{d['NAME']}"

    def log_text(self) -> str:
        return self.log.read_text()[-3000:]

    def open_every_server_connection(self):
        """Open the pool's server connections (two clients in a transaction at once): with
        server_round_robin each next transaction of one client then runs on the other one."""
        clients = [psycopg.connect(self.url) for _ in range(POOL_SIZE)]
        for client in clients:
            client.execute("SELECT 1")  # a transaction holds its server until it ends
        for client in clients:
            client.commit()  # a client gone in a transaction would take its server with it
            client.close()


def _binary() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if not found:
        pytest.skip("needs PgBouncer: apt-get install pgbouncer (CI does)")
    return found


@contextmanager
def _config_dir():
    """A directory for the ini and the user list. PgBouncer refuses to run as root: as root it runs as
    the postgres user, who must read them (test-only password)."""
    if os.geteuid() != 0:
        with tempfile.TemporaryDirectory(prefix="pgbouncer-") as path:
            yield Path(path), ""
        return
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("PgBouncer does not run as root and there is no postgres user to run it as")
    path = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    path.chmod(0o755)
    try:
        yield path, "user = postgres\n"
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pgbouncer(on_postgres, tmp_path):
    binary = _binary()
    d = connection.settings_dict
    port = free_port()
    with _config_dir() as (conf, user_line):
        (conf / "userlist.txt").write_text(f'"{d["USER"]}" "{d["PASSWORD"]}"\n')
        (conf / "pgbouncer.ini").write_text(
            f"[databases]\n{d['NAME']} = host={d['HOST'] or '127.0.0.1'} port={d['PORT'] or 5432} dbname={d['NAME']}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = plain\nauth_file = {conf / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {POOL_SIZE}\nserver_round_robin = 1\n"
            "max_client_conn = 200\nignore_startup_parameters = extra_float_digits\n" + user_line
        )
        (conf / "userlist.txt").chmod(0o644)
        log = tmp_path / "pgbouncer.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([binary, str(conf / "pgbouncer.ini")], stdout=out, stderr=subprocess.STDOUT)
        bouncer = Bouncer(port, log)
        try:
            deadline = time.monotonic() + 20
            while True:
                if proc.poll() is not None:
                    raise AssertionError("pgbouncer exited: " + bouncer.log_text())
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "pgbouncer did not start: " + bouncer.log_text()
                    time.sleep(0.2)
            yield bouncer
        finally:
            proc.terminate()  # its server connections close with it, before the test database is dropped
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _env(bouncer: Bouncer, tmp_path, **overrides) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": bouncer.url,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(tmp_path),
        **overrides,
    }
    return {k: v for k, v in env.items() if v is not None}


def _manage(bouncer, tmp_path, *args, **env) -> subprocess.CompletedProcess:
    return _run([sys.executable, "manage.py", *args], bouncer, tmp_path, **env)


def _python(bouncer, tmp_path, code: str, **env) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-c", code], bouncer, tmp_path, **env)


def _run(command, bouncer, tmp_path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=ROOT,
        env=_env(bouncer, tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


EXPORT_AND_NOTICES = """
import django, json
django.setup()
from django.db.models import Max
from datetime import timedelta
from membership.migration import export_rows
from membership.models import PointsEntry
from membership.services import points
rows = list(export_rows())
last = PointsEntry.objects.filter(remaining__gt=0).aggregate(m=Max("expires_at"))["m"]
print(json.dumps({"exported": len(rows), "notices": points.send_expiry_notices(at=last - timedelta(days=1))}))
"""


def _sell(base: str, token: str, members, count: int) -> list[int]:
    """`count` sales of ¥100 spread over `members`, 16 tills at once; their statuses."""

    def sale(i):
        body = {"receipt_no": f"PGB-{i:05d}", "member": members[i % len(members)].member_no, "amount": "100.00"}
        headers = {"Authorization": f"Token {token}", "Idempotency-Key": f"pgb-sale-{i}"}
        return post_json(f"{base}/api/v1/sales/", body, headers)[0]

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(sale, range(count)))


def _clerk_token(demo_staff) -> str:
    for user in demo_staff.values():  # the deploy check refuses the published demo passwords
        user.set_password("not-the-demo-password-7781")
        user.save()
    return Token.objects.create(user=demo_staff["clerk1"]).key


def test_sales_ledger_export_and_notices_work_through_pgbouncer(pgbouncer, enrol, demo_staff, tmp_path):
    from membership.models import ExpiryNotice, Purchase

    token = _clerk_token(demo_staff)
    members = [enrol(phone=f"1390001{i:04d}") for i in range(8)]
    env = {"DATABASE_URL": pgbouncer.url, "DATABASE_POOLER": "pgbouncer", "GUNICORN_THREADS": "4"}
    with gunicorn(tmp_path, workers=2, env=env) as base:
        statuses = _sell(base, token, members, 120)
    assert statuses == [201] * 120, (statuses, log_text(tmp_path))
    assert Purchase.objects.count() == 120

    pgbouncer.open_every_server_connection()  # as in the failing test below: each FETCH on the other server
    ledger = _manage(pgbouncer, tmp_path, "check_ledger", DATABASE_POOLER="pgbouncer")
    assert ledger.returncode == 0, ledger.stderr[-3000:]
    assert "Ledger OK: 8 members balance." in ledger.stdout

    done = _python(pgbouncer, tmp_path, EXPORT_AND_NOTICES, DATABASE_POOLER="pgbouncer")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["exported"] >= 8 and result["notices"] == 8, result
    assert ExpiryNotice.objects.count() == 8


def test_without_the_switch_iterator_cursors_break_behind_pgbouncer(pgbouncer, enrol, buy, tmp_path):
    """What broke: Django's .iterator() outside a transaction declares a cursor WITH HOLD and fetches
    it in later transactions, which PgBouncer runs on whichever server is free."""
    for i in range(3):
        buy(enrol(phone=f"1390002{i:04d}"), "100.00")
    pgbouncer.open_every_server_connection()
    ledger = _manage(pgbouncer, tmp_path, "check_ledger", DATABASE_POOLER=None, DB_SERVER_SIDE_BINDING="0")
    assert ledger.returncode != 0, ledger.stdout
    assert "InvalidCursorName" in ledger.stderr and '"_django_curs_' in ledger.stderr, ledger.stderr[-3000:]
    export = _python(pgbouncer, tmp_path, EXPORT_AND_NOTICES, DATABASE_POOLER=None, DB_SERVER_SIDE_BINDING="0")
    assert export.returncode != 0, export.stdout
    assert "InvalidCursorName" in export.stderr, export.stderr[-3000:]


def test_without_the_switch_prepared_statements_collide_behind_pgbouncer(pgbouncer, enrol, demo_staff, tmp_path):
    """What broke: psycopg prepares a statement a connection ran 5 times (server-side binding, the
    default without a pooler) under a name of its own numbering (_pg3_0, …); behind PgBouncer 1.18
    it lands on a server where another client's statement has that name, or none."""
    token = _clerk_token(demo_staff)
    members = [enrol(phone=f"1390003{i:04d}") for i in range(8)]
    env = {"DATABASE_URL": pgbouncer.url, "DATABASE_POOLER": "", "GUNICORN_THREADS": "4"}
    with gunicorn(tmp_path, workers=2, env=env) as base:
        statuses = _sell(base, token, members, 120)
    failed = sum(1 for status in statuses if status != 201)
    assert failed, (statuses, log_text(tmp_path))
    assert "prepared statement" in log_text(tmp_path) + (tmp_path / "gunicorn.log").read_text()
