"""The member row for HOT updates (issue 17): a sale's balance update writes no index entry.

- drop the indexes no query needs: the second index on the tier (the foreign key has one), the
  home store's own index ((home_store, joined_at) serves it), and on PostgreSQL the
  varchar_pattern_ops copies Django adds for LIKE 'prefix%' on member_no, phone and referral_code
  (nothing filters them by prefix; the admin's search is a contains, which no b-tree serves);
- drop the index on last_purchase_at, a column every sale writes (the post-purchase and win-back
  scenes scan the table once a day instead);
- fillfactor 90 on PostgreSQL: room in each page for the new row version. It applies to pages
  written from now on; `VACUUM FULL membership_member` (or pg_repack) rewrites existing ones.

Every constraint stays. docs/decisions.md lists the member table's indexes and the query that
needs each."""

import django.db.models.deletion
from django.db import migrations, models

LIKE_COLUMNS = ["member_no", "phone", "referral_code"]


def _like_names(schema_editor, table):
    return [schema_editor._create_index_name(table, [column], suffix="_like") for column in LIKE_COLUMNS]


def drop_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("membership", "Member")._meta.db_table
    for name in _like_names(schema_editor, table):
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")
    schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = 90)")


def restore_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("membership", "Member")
    for column in LIKE_COLUMNS:
        sql = schema_editor._create_like_index_sql(model, model._meta.get_field(column))
        if sql is not None:
            schema_editor.execute(sql)
    schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(model._meta.db_table)} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("membership", "0017_user_role_regional_manager"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="member",
            name="membership__tier_id_7a12c2_idx",
        ),
        migrations.RemoveIndex(
            model_name="member",
            name="membership__last_pu_c09632_idx",
        ),
        migrations.AlterField(
            model_name="member",
            name="home_store",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="members",
                to="membership.store",
                verbose_name="home store",
            ),
        ),
        migrations.RunPython(drop_like_indexes, restore_like_indexes, elidable=False),
    ]
