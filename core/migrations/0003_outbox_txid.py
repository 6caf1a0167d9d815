"""The event feed's order (issue 32): each outbox row keeps the id of the transaction that inserted it.

Expand-only and without rewriting the table every sale writes to: a nullable column (instant), then on
PostgreSQL its default `pg_current_xact_id()` set apart (a volatile default given with ADD COLUMN would
rewrite the table under its lock), and the feed's index built CONCURRENTLY. The previous release's
inserts name their columns and leave this one to its default. Rows from before stay null and are not
in the feed (they have no public data either)."""

from django.db import migrations, models

from core.constraints import AddIndexConcurrently
from core.db_functions import CurrentTransactionId


def set_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE membership_outboxevent ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )


def drop_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE membership_outboxevent ALTER COLUMN txid DROP DEFAULT")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("core", "0002_outbox_awaiting")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="outboxevent",
                    name="txid",
                    field=models.BigIntegerField(db_default=CurrentTransactionId(), editable=False, null=True),
                ),
            ],
            database_operations=[
                migrations.AddField(
                    model_name="outboxevent", name="txid", field=models.BigIntegerField(editable=False, null=True)
                ),
                migrations.RunPython(set_default, drop_default),
            ],
        ),
        AddIndexConcurrently(
            model_name="outboxevent",
            index=models.Index(
                condition=models.Q(("txid__isnull", False)), fields=["txid", "occurred_at", "id"], name="outbox_feed"
            ),
        ),
    ]
