"""Backup drill (issue 16): scripts/backup.sh, then scripts/restore.sh into a new database;
`check_ledger` passes on the restored copy and every table has the same number of rows."""

import os
import subprocess
import sys
import urllib.parse
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.apps import apps
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def url_for(name: str) -> str:
    db = connection.settings_dict
    netloc = f"{urllib.parse.quote(db['USER'])}:{urllib.parse.quote(db['PASSWORD'])}@{db['HOST']}:{db['PORT'] or 5432}"
    return f"postgres://{netloc}/{name}"


def table_counts(url: str) -> dict[str, int]:
    tables = sorted({m._meta.db_table for m in apps.get_models(include_auto_created=True)})
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.fixture
def new_database(on_postgres):
    name = f"{connection.settings_dict['NAME']}_restored"
    admin = psycopg.connect(url_for("postgres").replace("postgres://", "postgresql://", 1), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_for(name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def run(argv, database_url, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE",)}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="portal.settings", **kw)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def make_some_history(enrol, demo_staff):
    from membership.models import Store
    from membership.services import points, purchases, stored_value

    store = Store.objects.get(code="S001")
    for n in range(3):
        member = enrol()
        purchases.record_purchase(
            member=member,
            store=store,
            reference=f"R{n}",
            amount=Decimal("300.00"),
            idempotency_key=f"sale-{n}",
            acting_user=demo_staff["clerk1"],
        )
        stored_value.top_up(member=member, amount="300.00", plan_code="TOPUP300", idempotency_key=f"top-{n}")
    points.adjust(member=member, points=-50, reason="drill", acting_user=demo_staff["manager1"])


@pytest.mark.django_db
def test_backups_are_readable_by_their_owner_only(on_postgres, tmp_path):
    """Issue 30: with the usual umask 022 the dump of every member's data was world-readable."""
    dump = tmp_path / "backups" / "portal.dump"
    command = f"umask 022; exec scripts/backup.sh {dump}"
    backup = run(["bash", "-c", command], url_for(connection.settings_dict["NAME"]))
    assert backup.returncode == 0, backup.stderr
    assert oct(dump.stat().st_mode & 0o777) == oct(0o600)
    assert oct(dump.parent.stat().st_mode & 0o777) == oct(0o700)


def test_backup_restores_into_a_new_database_with_a_balanced_ledger(enrol, demo_staff, new_database, tmp_path):
    make_some_history(enrol, demo_staff)
    source = url_for(connection.settings_dict["NAME"])
    dump = tmp_path / "portal.dump"

    backup = run(["scripts/backup.sh", str(dump)], source)
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0 and not Path(f"{dump}.partial").exists()

    restore = run(["scripts/restore.sh", str(dump)], new_database)
    assert restore.returncode == 0, restore.stderr

    ledger = run([sys.executable, "manage.py", "check_ledger"], new_database)
    assert ledger.returncode == 0, ledger.stderr
    assert "Ledger OK: 3 members balance." in ledger.stdout

    before, after = table_counts(source), table_counts(new_database)
    assert after == before
    assert before["membership_member"] == 3 and before["membership_pointsentry"] > 3

    # a second restore into the now filled database is refused unless asked to replace it
    again = run(["scripts/restore.sh", str(dump)], new_database)
    assert again.returncode == 3 and "--replace" in again.stderr
    replaced = run(["scripts/restore.sh", str(dump), "--replace"], new_database)
    assert replaced.returncode == 0, replaced.stderr
    assert table_counts(new_database) == before


def test_backup_refuses_a_database_that_is_not_postgresql(tmp_path, on_postgres):
    result = run(["scripts/backup.sh", str(tmp_path / "x.dump")], f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert result.returncode == 2 and "not PostgreSQL" in result.stderr
