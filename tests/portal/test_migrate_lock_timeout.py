"""Issue 30: a migration whose ALTER waited behind a long transaction held every later query on that
table in the queue behind it. `manage.py migrate` (core's, around Django's) gives up a lock not granted
within MIGRATION_LOCK_TIMEOUT, rolls the migration back and tries again, then fails saying so."""

import time

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BEFORE, TARGET = ("campaigns", "0014_validation_scene"), ("campaigns", "0015_coupon_void_reason")


def coupon_columns():
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, "campaigns_coupon")}


@pytest.fixture
def a_long_reader(on_postgres):
    """Another session inside a transaction that has read the coupons (an ACCESS SHARE lock)."""
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"],
        dbname=settings["NAME"],
    )
    MigrationExecutor(connection).migrate([BEFORE])
    other.execute("SELECT count(*) FROM campaigns_coupon")  # psycopg opened a transaction: held
    yield other
    other.close()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_migrate_gives_up_a_lock_in_time_and_then_succeeds(a_long_reader, settings, capsys):
    settings.MIGRATION_LOCK_TIMEOUT, settings.MIGRATION_LOCK_RETRIES = 0.5, 2
    assert "void_reason" not in coupon_columns()
    started = time.monotonic()
    with pytest.raises(CommandError, match="stayed locked"):
        call_command("migrate", *TARGET, verbosity=0)
    assert time.monotonic() - started < 15  # two tries of half a second and a pause, not a hang
    assert "a lock was not granted within 0.5 s" in capsys.readouterr().err
    assert "void_reason" not in coupon_columns()  # rolled back whole
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"  # the session's timeout is reset for what runs next
    a_long_reader.rollback()  # the reader is done
    call_command("migrate", *TARGET, verbosity=0)
    assert "void_reason" in coupon_columns()


def test_the_outbox_index_is_built_without_blocking_the_sales_writes(on_postgres):
    """Every sale writes an outbox row: its partial index is built CONCURRENTLY (core.constraints)."""
    from io import StringIO

    out = StringIO()
    call_command("sqlmigrate", "core", "0002", stdout=out)
    assert 'CREATE INDEX CONCURRENTLY "outbox_awaiting"' in out.getvalue()
    executor = MigrationExecutor(connection)
    executor.migrate([("core", "0001_initial")])  # backwards (DROP INDEX CONCURRENTLY) and forwards again
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert "outbox_awaiting" in connection.introspection.get_constraints(connection.cursor(), "membership_outboxevent")
